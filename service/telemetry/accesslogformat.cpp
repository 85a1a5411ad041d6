// SPDX-License-Identifier: Apache-2.0
#include "telemetry/accesslogformat.h"

#include <QJsonDocument>

namespace dfproxy::telemetry {
namespace {

QByteArray orDash(const QByteArray &v)
{
    return v.isEmpty() ? QByteArrayLiteral("-") : v;
}

QByteArray orDash(const QString &v)
{
    return v.isEmpty() ? QByteArrayLiteral("-") : v.toUtf8();
}

// Quoted fields of the text formats must stay on one line and keep their quotes balanced.
QByteArray sanitize(const QByteArray &v)
{
    QByteArray out;
    out.reserve(v.size());
    for (char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x" + QByteArray::number(u, 16).rightJustified(2, '0');
        } else {
            out += c;
        }
    }
    return out;
}

QByteArray hostPort(const QByteArray &host, quint16 port)
{
    if (host.isEmpty())
        return {};
    const QByteArray h = host.contains(':') ? "[" + host + "]" : host;
    return port ? h + ':' + QByteArray::number(port) : h;
}

QByteArray hostPort(const QString &host, quint16 port)
{
    return hostPort(host.toUtf8(), port);
}

QDateTime utc(const QDateTime &t)
{
    return t.isValid() ? t.toUTC() : QDateTime::fromMSecsSinceEpoch(0, Qt::UTC);
}

// Apache's %t: [10/Oct/2000:13:55:36 +0000]. English month names whatever the locale.
QByteArray apacheTime(const QDateTime &t)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const QDateTime u = utc(t);
    const QDate d = u.date();
    return QByteArray::number(d.day()).rightJustified(2, '0') + '/' + months[d.month() - 1] + '/'
           + QByteArray::number(d.year()) + ':' + u.time().toString(QStringLiteral("HH:mm:ss")).toLatin1()
           + " +0000";
}

QByteArray isoTime(const QDateTime &t)
{
    return utc(t).toString(Qt::ISODateWithMs).toLatin1();
}

} // namespace

QJsonObject AccessLogEntry::toJson() const
{
    return QJsonObject{
        {QStringLiteral("seq"), static_cast<qint64>(seq)},
        {QStringLiteral("time"), QString::fromLatin1(isoTime(time))},
        {QStringLiteral("clientAddress"), clientAddress},
        {QStringLiteral("clientPort"), clientPort},
        {QStringLiteral("identity"), identity},
        {QStringLiteral("method"), QString::fromLatin1(method)},
        {QStringLiteral("host"), QString::fromUtf8(host)},
        {QStringLiteral("port"), port},
        {QStringLiteral("path"), QString::fromUtf8(path)},
        {QStringLiteral("resolvedAddress"), resolvedAddress},
        {QStringLiteral("dnsCacheHit"), dnsCacheHit},
        {QStringLiteral("status"), status},
        {QStringLiteral("reason"), QString::fromLatin1(reason)},
        {QStringLiteral("bytesIn"), bytesIn},
        {QStringLiteral("bytesOut"), bytesOut},
        {QStringLiteral("totalMs"), totalMs},
        {QStringLiteral("dnsMs"), dnsMs},
        {QStringLiteral("connectMs"), connectMs},
        {QStringLiteral("upstreamMs"), upstreamMs},
        {QStringLiteral("gateway"), gateway},
        {QStringLiteral("route"), route},
        {QStringLiteral("backend"), backend},
        {QStringLiteral("decision"), decision},
        {QStringLiteral("upstreamReused"), upstreamReused},
        {QStringLiteral("tunnel"), tunnel},
    };
}

std::optional<AccessLogFormat> accessLogFormatFromString(const QString &name)
{
    if (name == QLatin1String("json"))
        return AccessLogFormat::Json;
    if (name == QLatin1String("envoy"))
        return AccessLogFormat::Envoy;
    if (name == QLatin1String("combined"))
        return AccessLogFormat::Combined;
    return std::nullopt;
}

QString toString(AccessLogFormat format)
{
    switch (format) {
    case AccessLogFormat::Json: return QStringLiteral("json");
    case AccessLogFormat::Envoy: return QStringLiteral("envoy");
    case AccessLogFormat::Combined: return QStringLiteral("combined");
    }
    return {};
}

QByteArray formatAccessLogLine(const AccessLogEntry &e, AccessLogFormat format)
{
    switch (format) {
    case AccessLogFormat::Json:
        return QJsonDocument(e.toJson()).toJson(QJsonDocument::Compact) + '\n';
    case AccessLogFormat::Envoy: {
        QByteArray line;
        line.reserve(256);
        line += '[' + isoTime(e.time) + "] \"";
        line += orDash(sanitize(e.method)) + ' ' + orDash(sanitize(e.path)) + " HTTP/1.1\" ";
        line += QByteArray::number(e.status) + ' ' + orDash(sanitize(e.reason)) + ' ';
        line += QByteArray::number(e.bytesIn) + ' ' + QByteArray::number(e.bytesOut) + ' ';
        line += QByteArray::number(e.totalMs) + ' ';
        line += (e.resolvedAddress.isEmpty() ? QByteArrayLiteral("-") : QByteArray::number(e.upstreamMs)) + ' ';
        line += "\"-\" \"-\" \"-\" \"" + orDash(sanitize(hostPort(e.host, e.port))) + "\" \"";
        line += orDash(hostPort(e.resolvedAddress, e.port)) + "\"\n";
        return line;
    }
    case AccessLogFormat::Combined: {
        QByteArray line;
        line.reserve(200);
        line += orDash(e.clientAddress) + " - " + orDash(sanitize(e.identity.toUtf8()).replace(' ', '_')) + ' ';
        line += '[' + apacheTime(e.time) + "] \"";
        line += sanitize(e.method) + ' ' + sanitize(e.path) + " HTTP/1.1\" ";
        line += QByteArray::number(e.status) + ' ';
        line += (e.bytesOut > 0 ? QByteArray::number(e.bytesOut) : QByteArrayLiteral("-"));
        line += " \"-\" \"-\"\n";
        return line;
    }
    }
    return {};
}

} // namespace dfproxy::telemetry
