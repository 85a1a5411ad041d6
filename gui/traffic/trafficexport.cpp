// SPDX-License-Identifier: Apache-2.0
#include "traffic/trafficexport.h"

#include "traffic/accesslogmodel.h"
#include "traffic/loggedrequest.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QUrlQuery>

namespace dfproxy::gui {

namespace {

QJsonArray queryString(const QString &target)
{
    QJsonArray out;
    const qsizetype q = target.indexOf(u'?');
    if (q < 0)
        return out;
    for (const auto &[name, value] : QUrlQuery(target.mid(q + 1)).queryItems(QUrl::FullyDecoded))
        out.append(QJsonObject{{"name", name}, {"value", value}});
    return out;
}

QJsonObject harEntry(const QJsonObject &r)
{
    const LoggedRequest q = LoggedRequest::fromRecord(r);
    const double total = r.value("totalMs").toDouble();
    const double dns = r.value("dnsMs").toDouble(-1);
    const double connect = r.value("connectMs").toDouble(-1);
    // HAR wants send + wait + receive (+ dns, connect when known) to add up to `time`.
    const double wait = std::max(0.0, total - std::max(0.0, dns) - std::max(0.0, connect));
    QJsonObject timings{{"send", 0}, {"wait", wait}, {"receive", 0}, {"dns", dns}, {"connect", connect},
                        {"blocked", -1}, {"ssl", -1}};
    // What the client spoke (the record's protocol, HTTP/1.1 for records from before it was logged).
    const QString version = r.value("protocol").toString().isEmpty() ? QStringLiteral("HTTP/1.1")
                                                                     : r.value("protocol").toString();
    const QJsonObject request{
        {"method", q.method},
        {"url", q.form == LoggedRequest::Form::Connect ? q.hostAndPort() : q.url()},
        {"httpVersion", version},
        {"cookies", QJsonArray{}},
        {"headers", QJsonArray{QJsonObject{{"name", "Host"}, {"value", q.authority()}}}},
        {"queryString", queryString(q.target)},
        {"headersSize", -1},
        {"bodySize", r.value("bytesIn").toDouble(0)},
    };
    const double out = r.value("bytesOut").toDouble(0);
    const QJsonObject response{
        {"status", r.value("status").toInt()},
        {"statusText", r.value("reason").toString()},
        {"httpVersion", version},
        {"cookies", QJsonArray{}},
        {"headers", QJsonArray{}},
        {"content", QJsonObject{{"size", out}, {"mimeType", ""}}},
        {"redirectURL", ""},
        {"headersSize", -1},
        {"bodySize", out},
    };
    QJsonObject entry{{"startedDateTime", r.value("time").toString()},
                      {"time", total},
                      {"request", request},
                      {"response", response},
                      {"cache", QJsonObject{}},
                      {"timings", timings},
                      {"_dfproxy", r}};
    if (!r.value("resolvedAddress").toString().isEmpty())
        entry.insert("serverIPAddress", r.value("resolvedAddress").toString());
    return entry;
}

} // namespace

QByteArray toHar(const QList<QJsonObject> &records, const QString &creatorVersion)
{
    QJsonArray entries;
    for (const QJsonObject &r : records)
        if (!AccessLogModel::isSeparator(r))
            entries.append(harEntry(r));
    const QJsonObject log{{"version", "1.2"},
                          {"creator", QJsonObject{{"name", "dfproxy console"}, {"version", creatorVersion}}},
                          {"pages", QJsonArray{}},
                          {"entries", entries}};
    return QJsonDocument(QJsonObject{{"log", log}}).toJson(QJsonDocument::Indented);
}

QByteArray toJsonLines(const QList<QJsonObject> &records)
{
    QByteArray out;
    for (const QJsonObject &r : records) {
        if (AccessLogModel::isSeparator(r))
            continue;
        out += QJsonDocument(r).toJson(QJsonDocument::Compact);
        out += '\n';
    }
    return out;
}

} // namespace dfproxy::gui
