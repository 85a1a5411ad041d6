// SPDX-License-Identifier: Apache-2.0
#include "forward/upstreamproxy.h"

#include "forward/proxyauth.h"

#include <QHash>
#include <QHostAddress>
#include <QMutex>
#include <QMutexLocker>
#include <QUrl>

namespace dfproxy::forward {

namespace {

QString withoutTrailingDot(QString s)
{
    while (s.endsWith(QLatin1Char('.')))
        s.chop(1);
    return s;
}

/// The proxies of every tunnel seen, by URL and credentials file: one ProxyAuth (one Digest session) per proxy
/// and account for the whole process, across config reloads. A good file is read once (a changed password needs a
/// restart, or another file name).
std::shared_ptr<const UpstreamProxy> proxyFor(const routing::BackendTunnel &tunnel, QString *error)
{
    static QMutex mutex;
    static QHash<QString, std::shared_ptr<const UpstreamProxy>> proxies;
    const QString key = tunnel.url + QLatin1Char('\n') + tunnel.credentialsFile;
    QMutexLocker lock(&mutex);
    if (auto it = proxies.constFind(key); it != proxies.constEnd())
        return it.value();
    std::shared_ptr<UpstreamProxy> proxy = parseProxyUrl(tunnel.url, error);
    if (!proxy)
        return nullptr; // not cached: the next request says it again
    if (!tunnel.credentialsFile.isEmpty())
        proxy->auth = ProxyAuth::fromFile(tunnel.credentialsFile, &proxy->credentialsError);
    if (proxy->credentialsError.isEmpty()) // a broken file is read again next time: fixing it needs no restart
        proxies.insert(key, proxy);
    return proxy;
}

} // namespace

std::shared_ptr<UpstreamProxy> parseProxyUrl(const QString &text, QString *error)
{
    const QUrl url(text, QUrl::StrictMode);
    const QString scheme = url.scheme().toLower();
    if (!url.isValid() || (scheme != QLatin1String("http") && scheme != QLatin1String("https"))) {
        *error = QStringLiteral("the upstream proxy URL %1 is not http://host:port or https://host:port").arg(text);
        return nullptr;
    }
    if (!url.userInfo().isEmpty()) {
        *error = QStringLiteral("the upstream proxy URL must not hold credentials; name a file with the annotation "
                                "dfproxy.dev/tunnel-credentials-file");
        return nullptr;
    }
    if (url.host().isEmpty() || (!url.path().isEmpty() && url.path() != QLatin1String("/")) || url.hasQuery()
        || url.hasFragment()) {
        *error = QStringLiteral("the upstream proxy URL %1 must be scheme://host[:port] without a path").arg(text);
        return nullptr;
    }
    auto proxy = std::make_shared<UpstreamProxy>();
    proxy->host = url.host().toLower();
    proxy->tls = scheme == QLatin1String("https");
    proxy->port = quint16(url.port(proxy->tls ? 443 : 3128));
    const bool v6 = proxy->host.contains(QLatin1Char(':'));
    proxy->address = (v6 ? QLatin1Char('[') + proxy->host + QLatin1Char(']') : proxy->host) + QLatin1Char(':')
        + QString::number(proxy->port);
    return proxy;
}

bool matchesBypass(const QStringList &bypass, const QString &hostIn, QString *matched)
{
    const QString host = withoutTrailingDot(hostIn.toLower());
    QHostAddress literal;
    const bool isLiteral = literal.setAddress(host);
    for (const QString &raw : bypass) {
        const QString entry = withoutTrailingDot(raw.trimmed().toLower());
        bool hit = false;
        if (entry.isEmpty()) {
            continue;
        } else if (entry == QLatin1String("*")) {
            hit = true;
        } else if (entry == QLatin1String("<local>")) {
            hit = !isLiteral && !host.contains(QLatin1Char('.'));
        } else if (entry.contains(QLatin1Char('/'))) {
            if (isLiteral) {
                const auto range = QHostAddress::parseSubnet(entry);
                hit = range.second >= 0 && literal.isInSubnet(range);
                // an IPv4-mapped IPv6 literal counts as its IPv4 address
                bool ok = false;
                const quint32 v4 = literal.toIPv4Address(&ok);
                if (!hit && ok && range.second >= 0)
                    hit = QHostAddress(v4).isInSubnet(range);
            }
        } else if (entry.startsWith(QLatin1String("*."))) {
            hit = host.endsWith(entry.mid(1));
        } else if (entry.startsWith(QLatin1Char('.'))) {
            hit = host.endsWith(entry);
        } else if (isLiteral) {
            QHostAddress e;
            hit = e.setAddress(entry) && e.isEqual(literal, QHostAddress::TolerantConversion);
        } else {
            hit = host == entry;
        }
        if (hit) {
            if (matched)
                *matched = raw.trimmed();
            return true;
        }
    }
    return false;
}

ProxySelection selectUpstreamProxy(const routing::BackendTunnel &tunnel, const QString &host,
                                   routing::Backend::Engine engine)
{
    ProxySelection s;
    QString pattern;
    if (matchesBypass(tunnel.bypass, host, &pattern)) {
        s.why = QStringLiteral("bypass ") + pattern;
        return s;
    }
    if (engine == routing::Backend::Engine::Qnam) {
        s.error = QStringLiteral("the backend's engine is qnam, which does not speak to upstream proxies (%1); "
                                 "use the native engine")
                      .arg(tunnel.policyKey);
        return s;
    }
    if (tunnel.url.isEmpty()) {
        s.error = QStringLiteral("the tunnel of %1 names no proxy URL").arg(tunnel.policyKey);
        return s;
    }
    s.proxy = proxyFor(tunnel, &s.error);
    s.why = QStringLiteral("tunnel");
    return s;
}

QString tunnelProblem(const routing::BackendTunnel &tunnel, routing::Backend::Engine engine)
{
    if (engine == routing::Backend::Engine::Qnam)
        return QStringLiteral("the qnam engine does not speak to upstream proxies; use the native engine");
    QString error;
    if (!tunnel.url.isEmpty() && !parseProxyUrl(tunnel.url, &error))
        return error;
    if (!tunnel.credentialsFile.isEmpty() && !ProxyAuth::fromFile(tunnel.credentialsFile, &error))
        return error;
    for (const QString &entry : tunnel.bypass) {
        if (entry.contains(QLatin1Char('/')) && QHostAddress::parseSubnet(entry.trimmed()).second < 0)
            return QStringLiteral("the bypass entry %1 is not a CIDR range").arg(entry);
    }
    return {};
}

} // namespace dfproxy::forward
