// SPDX-License-Identifier: Apache-2.0
// DnsHostCache::Options: the "dns" block of the config and the per-backend overrides.
#include "dns/dnshostcache.h"

#include <QJsonValue>
#include <QRegularExpression>
#include <QSet>

#include <cmath>

namespace dfproxy::dns {

namespace {

using config::FieldError;

void addError(QList<FieldError> *errors, const QString &path, const QString &message)
{
    if (errors)
        errors->append(FieldError{path, message});
}

/// Reads a whole number in [min, max]; on error reports it and leaves `out` alone.
template <typename T>
bool readInt(const QJsonObject &o, const QString &key, const QString &path, qint64 min, qint64 max, T *out,
             QList<FieldError> *errors)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return false;
    const QString p = path + QLatin1Char('.') + key;
    if (!v.isDouble()) {
        addError(errors, p, QStringLiteral("must be a number"));
        return false;
    }
    const double d = v.toDouble();
    if (std::floor(d) != d) {
        addError(errors, p, QStringLiteral("must be a whole number, got %1").arg(d));
        return false;
    }
    if (d < double(min) || d > double(max)) {
        addError(errors, p, QStringLiteral("must be between %1 and %2, got %3").arg(min).arg(max).arg(qint64(d)));
        return false;
    }
    *out = T(qint64(d));
    return true;
}

bool isHostName(const QString &h)
{
    static const QRegularExpression label(QStringLiteral("^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$"));
    if (h.isEmpty() || h.size() > 253)
        return false;
    const QStringList labels = h.split(QLatin1Char('.'));
    for (const QString &l : labels) {
        if (!label.match(l).hasMatch())
            return false;
    }
    return true;
}

/// Splits "host:port" / "[v6]:port". Returns an error message, empty on success.
QString splitHostPort(const QString &s, QString *host, quint16 *port)
{
    QString h, p;
    if (s.startsWith(QLatin1Char('['))) {
        const qsizetype close = s.indexOf(QStringLiteral("]:"));
        if (close < 0)
            return QStringLiteral("expected \"[ipv6]:port\", got \"%1\"").arg(s);
        h = s.mid(1, close - 1);
        p = s.mid(close + 2);
        QHostAddress a;
        if (!a.setAddress(h) || a.protocol() != QAbstractSocket::IPv6Protocol)
            return QStringLiteral("\"%1\" is not an IPv6 address").arg(h);
    } else {
        const qsizetype colon = s.lastIndexOf(QLatin1Char(':'));
        if (colon < 0 || s.indexOf(QLatin1Char(':')) != colon)
            return QStringLiteral("expected \"host:port\" (IPv6 literals in brackets), got \"%1\"").arg(s);
        h = s.left(colon);
        p = s.mid(colon + 1);
        QHostAddress a;
        if (!a.setAddress(h) && !isHostName(h))
            return QStringLiteral("\"%1\" is not a valid host name").arg(h);
    }
    bool ok = false;
    const uint n = p.toUInt(&ok);
    if (!ok || n < 1 || n > 65535)
        return QStringLiteral("port \"%1\" must be a number between 1 and 65535").arg(p);
    *host = h.toLower();
    *port = quint16(n);
    return QString();
}

/// Parses one nameserver entry. Returns an error message, empty on success.
QString parseServer(const QString &s, QHostAddress *out)
{
    const QString t = s.trimmed();
    QHostAddress v6;
    const QString bare = t.startsWith(QLatin1Char('[')) ? t.mid(1, t.indexOf(QLatin1Char(']')) - 1) : t;
    if (t.count(QLatin1Char(':')) > 1 && v6.setAddress(bare) && v6.protocol() == QAbstractSocket::IPv6Protocol) {
        return QStringLiteral("IPv6 nameserver \"%1\" is not supported: Qt 6.4's QDnsLookup silently ignores IPv6 "
                              "nameservers; use an IPv4 address")
            .arg(t);
    }
    if (t.startsWith(QLatin1Char('[')))
        return QStringLiteral("\"%1\" is not an IPv4 address").arg(t);
    QString addr = t;
    const qsizetype colon = t.indexOf(QLatin1Char(':'));
    if (colon >= 0) {
        addr = t.left(colon);
        if (t.mid(colon + 1) != QLatin1String("53"))
            return QStringLiteral("nameserver port must be 53 (QDnsLookup always queries port 53), got \"%1\"")
                .arg(t.mid(colon + 1));
    }
    static const QRegularExpression dotted(QStringLiteral("^\\d{1,3}(\\.\\d{1,3}){3}$"));
    QHostAddress a;
    if (!dotted.match(addr).hasMatch() || !a.setAddress(addr) || a.protocol() != QAbstractSocket::IPv4Protocol)
        return QStringLiteral("\"%1\" is not an IPv4 address").arg(t);
    *out = a;
    return QString();
}

bool readFamily(const QJsonObject &o, const QString &path, LookupFamily *out, QList<FieldError> *errors)
{
    const QJsonValue v = o.value(QStringLiteral("lookupFamily"));
    if (v.isUndefined() || v.isNull())
        return false;
    const QString p = path + QStringLiteral(".lookupFamily");
    const auto f = v.isString() ? lookupFamilyFromString(v.toString()) : std::nullopt;
    if (!f) {
        addError(errors, p, v.isString() ? lookupFamilyChoicesError(v.toString()) : lookupFamilyChoicesError());
        return false;
    }
    *out = *f;
    return true;
}

} // namespace

DnsHostCache::Options DnsHostCache::Options::fromJson(const QJsonObject &o, QList<FieldError> *errors,
                                                      const QString &path, bool serversElsewhere)
{
    Options opt;
    static const QSet<QString> known = {
        QStringLiteral("servers"),         QStringLiteral("lookupFamily"),      QStringLiteral("queryTimeoutMs"),
        QStringLiteral("minRefreshMs"),    QStringLiteral("maxTtlMs"),          QStringLiteral("hostTtlMs"),
        QStringLiteral("maxHosts"),        QStringLiteral("maxPendingRequests"), QStringLiteral("failureRefreshBaseMs"),
        QStringLiteral("failureRefreshMaxMs"), QStringLiteral("staleWindowMs"), QStringLiteral("preresolve"),
        QStringLiteral("hostsFilePath"),   QStringLiteral("resolver"),
    };
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!known.contains(it.key()))
            addError(errors, path + QLatin1Char('.') + it.key(), QStringLiteral("unknown field"));
    }

    const QJsonValue servers = o.value(QStringLiteral("servers"));
    if (!servers.isUndefined() && !servers.isNull()) {
        if (!servers.isArray()) {
            addError(errors, path + QStringLiteral(".servers"), QStringLiteral("must be an array of IPv4 addresses"));
        } else {
            const QJsonArray a = servers.toArray();
            for (qsizetype i = 0; i < a.size(); ++i) {
                const QString p = QStringLiteral("%1.servers[%2]").arg(path).arg(i);
                if (!a.at(i).isString()) {
                    addError(errors, p, QStringLiteral("must be a string"));
                    continue;
                }
                QHostAddress addr;
                const QString err = parseServer(a.at(i).toString(), &addr);
                if (!err.isEmpty())
                    addError(errors, p, err);
                else
                    opt.servers.append(addr);
            }
        }
    }

    const QJsonValue resolver = o.value(QStringLiteral("resolver"));
    if (!resolver.isUndefined() && !resolver.isNull()) {
        const QString p = path + QStringLiteral(".resolver");
        const QString r = resolver.toString();
        if (r == QLatin1String("auto"))
            opt.resolver = ResolverKind::Auto;
        else if (r == QLatin1String("udp"))
            opt.resolver = ResolverKind::Udp;
        else if (r == QLatin1String("qdnslookup"))
            opt.resolver = ResolverKind::QDnsLookup;
        else
            addError(errors, p, QStringLiteral("must be one of auto, udp, qdnslookup"));
        if (opt.resolver == ResolverKind::Udp && opt.servers.isEmpty() && !serversElsewhere) {
            addError(errors, p,
                     QStringLiteral("\"udp\" needs dns.servers: dfproxy's own DNS client does not read the system's "
                                    "resolver settings (leave it \"auto\" to use them through QDnsLookup)"));
        }
    }

    readFamily(o, path, &opt.lookupFamily, errors);
    readInt(o, QStringLiteral("queryTimeoutMs"), path, 10, 600'000, &opt.queryTimeoutMs, errors);
    const bool haveMin = readInt(o, QStringLiteral("minRefreshMs"), path, 0, 86'400'000, &opt.minRefreshMs, errors);
    const bool haveMax = readInt(o, QStringLiteral("maxTtlMs"), path, 1000, 604'800'000, &opt.maxTtlMs, errors);
    readInt(o, QStringLiteral("hostTtlMs"), path, 1000, 604'800'000, &opt.hostTtlMs, errors);
    readInt(o, QStringLiteral("maxHosts"), path, 1, 1'000'000, &opt.maxHosts, errors);
    readInt(o, QStringLiteral("maxPendingRequests"), path, 1, 1'000'000, &opt.maxPendingRequests, errors);
    const bool haveBase =
        readInt(o, QStringLiteral("failureRefreshBaseMs"), path, 1, 3'600'000, &opt.failureRefreshBaseMs, errors);
    const bool haveFailMax =
        readInt(o, QStringLiteral("failureRefreshMaxMs"), path, 1, 86'400'000, &opt.failureRefreshMaxMs, errors);
    readInt(o, QStringLiteral("staleWindowMs"), path, 0, 604'800'000, &opt.staleWindowMs, errors);
    if ((haveMin || haveMax) && opt.minRefreshMs > opt.maxTtlMs) {
        addError(errors, path + (haveMax ? QStringLiteral(".maxTtlMs") : QStringLiteral(".minRefreshMs")),
                 QStringLiteral("maxTtlMs (%1) must not be smaller than minRefreshMs (%2)")
                     .arg(opt.maxTtlMs)
                     .arg(opt.minRefreshMs));
    }
    if ((haveBase || haveFailMax) && opt.failureRefreshBaseMs > opt.failureRefreshMaxMs) {
        addError(errors,
                 path + (haveFailMax ? QStringLiteral(".failureRefreshMaxMs") : QStringLiteral(".failureRefreshBaseMs")),
                 QStringLiteral("failureRefreshMaxMs (%1) must not be smaller than failureRefreshBaseMs (%2)")
                     .arg(opt.failureRefreshMaxMs)
                     .arg(opt.failureRefreshBaseMs));
    }

    const QJsonValue pre = o.value(QStringLiteral("preresolve"));
    if (!pre.isUndefined() && !pre.isNull()) {
        if (!pre.isArray()) {
            addError(errors, path + QStringLiteral(".preresolve"),
                     QStringLiteral("must be an array of \"host:port\" strings"));
        } else {
            const QJsonArray a = pre.toArray();
            for (qsizetype i = 0; i < a.size(); ++i) {
                const QString p = QStringLiteral("%1.preresolve[%2]").arg(path).arg(i);
                if (!a.at(i).isString()) {
                    addError(errors, p, QStringLiteral("must be a \"host:port\" string"));
                    continue;
                }
                QString host;
                quint16 port = 0;
                const QString err = splitHostPort(a.at(i).toString().trimmed(), &host, &port);
                if (!err.isEmpty())
                    addError(errors, p, err);
                else
                    opt.preresolve.append(hostPortKey(host, port));
            }
        }
    }

    const QJsonValue hosts = o.value(QStringLiteral("hostsFilePath"));
    if (!hosts.isUndefined() && !hosts.isNull()) {
        if (!hosts.isString())
            addError(errors, path + QStringLiteral(".hostsFilePath"), QStringLiteral("must be a string"));
        else
            opt.hostsFilePath = hosts.toString();
    }
    return opt;
}

DnsHostCache::Options DnsHostCache::Options::applyOverrides(const QJsonObject &backendDns,
                                                            QList<FieldError> *errors, const QString &path) const
{
    Options opt = *this;
    for (auto it = backendDns.begin(); it != backendDns.end(); ++it) {
        if (it.key() != QLatin1String("lookupFamily"))
            addError(errors, path + QLatin1Char('.') + it.key(),
                     QStringLiteral("unknown field (a backend may only override lookupFamily)"));
    }
    readFamily(backendDns, path, &opt.lookupFamily, errors);
    return opt;
}

QString DnsHostCache::parseHostPort(const QString &text, QString *host, quint16 *port, int defaultPort)
{
    QString t = text.trimmed();
    if (defaultPort > 0) {
        // Without a port: "name", "1.2.3.4", "[v6]" or a bare IPv6 literal.
        QHostAddress a;
        if (t.count(QLatin1Char(':')) > 1 && !t.startsWith(QLatin1Char('[')) && a.setAddress(t))
            t = QLatin1Char('[') + t + QLatin1Char(']');
        if ((t.startsWith(QLatin1Char('[')) && t.endsWith(QLatin1Char(']'))) || !t.contains(QLatin1Char(':')))
            t += QLatin1Char(':') + QString::number(defaultPort);
    }
    return splitHostPort(t, host, port);
}

QString DnsHostCache::resolverKindName(ResolverKind kind)
{
    switch (kind) {
    case ResolverKind::Auto:
        return QStringLiteral("auto");
    case ResolverKind::Udp:
        return QStringLiteral("udp");
    case ResolverKind::QDnsLookup:
        return QStringLiteral("qdnslookup");
    }
    return QStringLiteral("auto");
}

DnsHostCache::ResolverKind DnsHostCache::effectiveResolver(const Options &options)
{
    if (options.resolver == ResolverKind::Auto)
        return options.servers.isEmpty() ? ResolverKind::QDnsLookup : ResolverKind::Udp;
    if (options.resolver == ResolverKind::Udp && options.servers.isEmpty())
        return ResolverKind::QDnsLookup; // refused by fromJson; a programmatic Options falls back, never crashes
    return options.resolver;
}

QJsonObject DnsHostCache::Options::toJson() const
{
    QJsonArray s;
    for (const auto &a : servers)
        s.append(a.toString());
    QJsonObject o;
    o.insert(QStringLiteral("servers"), s);
    o.insert(QStringLiteral("resolver"), DnsHostCache::resolverKindName(resolver));
    o.insert(QStringLiteral("lookupFamily"), toString(lookupFamily));
    o.insert(QStringLiteral("queryTimeoutMs"), queryTimeoutMs);
    o.insert(QStringLiteral("minRefreshMs"), minRefreshMs);
    o.insert(QStringLiteral("maxTtlMs"), maxTtlMs);
    o.insert(QStringLiteral("hostTtlMs"), hostTtlMs);
    o.insert(QStringLiteral("maxHosts"), maxHosts);
    o.insert(QStringLiteral("maxPendingRequests"), maxPendingRequests);
    o.insert(QStringLiteral("failureRefreshBaseMs"), failureRefreshBaseMs);
    o.insert(QStringLiteral("failureRefreshMaxMs"), failureRefreshMaxMs);
    o.insert(QStringLiteral("staleWindowMs"), staleWindowMs);
    o.insert(QStringLiteral("preresolve"), QJsonArray::fromStringList(preresolve));
    if (!hostsFilePath.isEmpty())
        o.insert(QStringLiteral("hostsFilePath"), hostsFilePath);
    return o;
}

} // namespace dfproxy::dns
