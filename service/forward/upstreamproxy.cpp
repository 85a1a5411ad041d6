// SPDX-License-Identifier: Apache-2.0
#include "forward/upstreamproxy.h"

#include "forward/proxyauth.h"

#include "base/lazytimer.h"
#include "config/agentgatewaypolicy.h"
#include "dns/hostcache.h"
#include "pac/pacengine.h"
#include "policy/cidr.h"

#include <QEventLoop>
#include <QHash>
#include <QHostAddress>
#include <QMutex>
#include <QMutexLocker>
#include <QPointer>
#include <QTimer>
#include <QUrl>

#include <algorithm>

#include <algorithm>
#include <atomic>

namespace dfproxy::forward {

namespace {

QString withoutTrailingDot(QString s)
{
    while (s.endsWith(QLatin1Char('.')))
        s.chop(1);
    return s;
}

/// The CA certificates of dfproxy.dev/tunnel-ca-file; an empty list with `error` set when it holds none.
QList<QSslCertificate> readProxyCa(const QString &path, QString *error)
{
    const QList<QSslCertificate> certs = QSslCertificate::fromPath(path, QSsl::Pem);
    if (certs.isEmpty())
        *error = QStringLiteral("the upstream proxy CA file %1 (dfproxy.dev/tunnel-ca-file) cannot be read or holds "
                                "no PEM certificate")
                     .arg(path);
    return certs;
}

/// The proxies of every tunnel seen, by URL, credentials, CA file and whether the SSRF guard checks it: one ProxyAuth
/// (one Digest session) per proxy and account for the whole process, across config reloads. Good files are read
/// once (a changed password or CA needs a restart, or another file name).
std::shared_ptr<const UpstreamProxy> proxyFor(const routing::BackendTunnel &tunnel, QString *error,
                                              bool guarded = false)
{
    static QMutex mutex;
    static QHash<QString, std::shared_ptr<const UpstreamProxy>> proxies;
    const QString key = tunnel.url + QLatin1Char('\n') + tunnel.credentialsFile + QLatin1Char('\n') + tunnel.caFile
        + (guarded ? QStringLiteral("\nguarded") : QString());
    QMutexLocker lock(&mutex);
    if (auto it = proxies.constFind(key); it != proxies.constEnd())
        return it.value();
    std::shared_ptr<UpstreamProxy> proxy = parseProxyUrl(tunnel.url, error);
    if (!proxy)
        return nullptr; // not cached: the next request says it again
    proxy->guarded = guarded;
    if (!tunnel.credentialsFile.isEmpty())
        proxy->auth = ProxyAuth::fromFile(tunnel.credentialsFile, &proxy->credentialsError);
    if (proxy->tls && !tunnel.caFile.isEmpty()) { // (an http:// proxy of the same tunnel's PAC does not need it)
        proxy->caFile = tunnel.caFile;
        proxy->caCertificates = readProxyCa(tunnel.caFile, &proxy->caError);
    }
    if (proxy->credentialsError.isEmpty() && proxy->caError.isEmpty()) // a broken file is read again next time
        proxies.insert(key, proxy);
    return proxy;
}

constexpr qint64 kPacRefreshMs = 15 * 60 * 1000;
constexpr qint64 kPacRetryMs = 60 * 1000;
constexpr qint64 kPacResultTtlMs = 5 * 60 * 1000;
constexpr int kPacFetchTimeoutMs = 10000;
constexpr int kPacDnsTimeoutMs = 2000;

/// A name through dfproxy's DNS cache, waited for on the PAC thread (a local event loop: the cache answers there).
QList<QHostAddress> resolveOnPacThread(dns::HostCache *cache, const QString &host)
{
    if (!cache)
        return {};
    QObject context;
    QEventLoop loop;
    QList<QHostAddress> addresses;
    bool answered = false;
    dns::HostCache::Outcome outcome = cache->lookup(host, 80, dns::LookupFamily::V4Preferred, &context,
                                                    [&](const dns::ResolveResult &r) {
                                                        addresses = r.addresses;
                                                        answered = true;
                                                        loop.quit();
                                                    });
    if (outcome.ready)
        return outcome.ready->addresses;
    QTimer::singleShot(kPacDnsTimeoutMs, &loop, &QEventLoop::quit);
    if (!answered)
        loop.exec();
    return addresses;
}

/// One PAC URL: its engine, the fetch schedule and the results per scheme, host and port. Lives for the process.
class PacSource
{
public:
    explicit PacSource(QString url)
        : m_url(std::move(url))
        , m_engine(options())
    {
    }

    pac::PacEngine &engine() { return m_engine; }
    void setDns(dns::HostCache *cache) { m_dns.store(cache, std::memory_order_relaxed); }

    /// Fetches the file again when it is due (at once the first time: calls queued behind it see the script).
    void refreshIfDue()
    {
        const qint64 now = LazyTimer::nowMs();
        {
            QMutexLocker lock(&m_mutex);
            if (m_lastAttemptMs && now - m_lastAttemptMs < (m_loaded ? kPacRefreshMs : kPacRetryMs))
                return;
            m_lastAttemptMs = now;
        }
        m_engine.loadUrlAsync(m_url, kPacFetchTimeoutMs, [this](const QString &error) {
            QMutexLocker lock(&m_mutex);
            if (error.isEmpty()) {
                m_loaded = true;
                m_results.clear(); // a new script may answer otherwise
            }
            m_lastError = error;
        });
    }

    std::optional<pac::PacEngine::Result> cached(const QString &key)
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_results.constFind(key);
        if (it == m_results.constEnd() || it->second < LazyTimer::nowMs())
            return std::nullopt;
        return pac::PacEngine::Result{it->first, QString()};
    }
    void store(const QString &key, const pac::PacEngine::Result &r)
    {
        if (!r.error.isEmpty())
            return;
        QMutexLocker lock(&m_mutex);
        if (m_results.size() > 10000)
            m_results.clear();
        m_results.insert(key, {r.value, LazyTimer::nowMs() + kPacResultTtlMs});
    }
    QString lastError()
    {
        QMutexLocker lock(&m_mutex);
        return m_lastError;
    }

private:
    pac::PacEngine::Options options()
    {
        pac::PacEngine::Options o;
        o.resolve = [this](const QString &host) {
            return resolveOnPacThread(m_dns.load(std::memory_order_relaxed), host);
        };
        // o.myIpAddress stays null: the address of the default route's interface, at each call
        return o;
    }

    QString m_url;
    std::atomic<dns::HostCache *> m_dns{nullptr};
    QMutex m_mutex;
    qint64 m_lastAttemptMs = 0;
    bool m_loaded = false;
    QString m_lastError;
    QHash<QString, QPair<QString, qint64>> m_results;
    pac::PacEngine m_engine; ///< last: its thread stops before the rest goes
};

PacSource *pacSourceFor(const QString &url)
{
    static QMutex mutex;
    // Never freed: the PAC threads live as long as the process. The table itself is never destroyed either, so the
    // sources stay reachable at exit (a static QHash's destructor would orphan them: LeakSanitizer's leaks).
    static auto *sources = new QHash<QString, PacSource *>;
    QMutexLocker lock(&mutex);
    PacSource *&s = (*sources)[url];
    if (!s)
        s = new PacSource(url);
    return s;
}

/// Proxies that could not be reached, by "address tls", with the time until which they go last.
struct FailedProxies
{
    QMutex mutex;
    QHash<QString, qint64> until;
};

FailedProxies &failedProxies()
{
    static FailedProxies f;
    return f;
}

QString failedKey(const UpstreamProxy &proxy)
{
    return proxy.address + (proxy.tls ? QStringLiteral(" tls") : QString());
}

bool recentlyFailed(const UpstreamProxy &proxy)
{
    FailedProxies &f = failedProxies();
    QMutexLocker lock(&f.mutex);
    auto it = f.until.find(failedKey(proxy));
    if (it == f.until.end())
        return false;
    if (it.value() > LazyTimer::nowMs())
        return true;
    f.until.erase(it);
    return false;
}

/// When the PAC gives no answer dfproxy can use: the tunnel's own proxy (DIRECT only for a tunnel without one).
ProxySelection pacUnusable(const routing::BackendTunnel &tunnel, const QString &error, PacSource *source)
{
    ProxySelection s;
    const QString why = QStringLiteral("pac unusable (%1)").arg(source->lastError().isEmpty() ? error
                                                                                              : source->lastError());
    if (!tunnel.url.isEmpty()) {
        s.proxy = proxyFor(tunnel, &s.error);
        s.why = why + QStringLiteral(", tunnel");
    } else {
        s.why = why + QStringLiteral(", DIRECT");
    }
    return s;
}

/// Whether the tunnel's credentials may go to `proxyUrl`, a proxy its PAC file named. A PAC file fetched over plain
/// http:// can be rewritten by anyone on the network path (the WPAD attack): were the credentials sent to every
/// proxy it names, such a file naming the attacker's machine would collect the password (Basic goes before any
/// challenge). So they go to the tunnel's own proxy, and to others only when the file came over https:// or from a
/// file.
bool credentialsMayGo(const routing::BackendTunnel &tunnel, const QString &proxyUrl)
{
    const QString pacScheme = QUrl(tunnel.pacUrl).scheme().toLower();
    if (pacScheme != QLatin1String("http"))
        return true;
    QString ignored;
    const std::shared_ptr<UpstreamProxy> own = tunnel.url.isEmpty() ? nullptr : parseProxyUrl(tunnel.url, &ignored);
    const std::shared_ptr<UpstreamProxy> named = parseProxyUrl(proxyUrl, &ignored);
    return own && named && own->address == named->address && own->tls == named->tls;
}

/// The selection a FindProxyForURL answer makes (with the tunnel's credentials for the proxies credentialsMayGo()).
/// Every proxy it names other than the tunnel's own is `guarded`; one named by an IP literal the SSRF guard refuses
/// is left out here already (a name is checked by the Connector, on the addresses it dials).
ProxySelection fromPac(const routing::BackendTunnel &tunnel, const pac::PacEngine::Result &r, PacSource *source,
                       const SsrfFilter &ssrf)
{
    if (!r.error.isEmpty())
        return pacUnusable(tunnel, r.error, source);
    QString ignored;
    const std::shared_ptr<UpstreamProxy> own = tunnel.url.isEmpty() ? nullptr : parseProxyUrl(tunnel.url, &ignored);
    QList<std::shared_ptr<const UpstreamProxy>> hops;
    QStringList refused;
    bool withheld = false;
    for (const pac::PacHop &hop : pac::parsePacResult(r.value)) {
        if (hop.kind == pac::PacHop::Kind::Direct) {
            hops.append(nullptr);
            continue;
        }
        routing::BackendTunnel t = tunnel;
        const QString host = hop.host.contains(QLatin1Char(':')) ? QLatin1Char('[') + hop.host + QLatin1Char(']')
                                                                 : hop.host;
        t.url = (hop.kind == pac::PacHop::Kind::Https ? QStringLiteral("https://") : QStringLiteral("http://")) + host
            + QLatin1Char(':') + QString::number(hop.port);
        if (!t.credentialsFile.isEmpty() && !credentialsMayGo(tunnel, t.url)) {
            t.credentialsFile.clear();
            withheld = true;
        }
        const std::shared_ptr<UpstreamProxy> named = parseProxyUrl(t.url, &ignored);
        const bool guarded = !(own && named && own->address == named->address);
        QString error;
        std::shared_ptr<const UpstreamProxy> p = proxyFor(t, &error, guarded);
        if (!p)
            continue;
        QHostAddress literal;
        QString refusal;
        if (literal.setAddress(p->host) && allowedProxyAddresses(*p, {literal}, ssrf, &refusal).isEmpty()) {
            refused.append(refusal);
            continue;
        }
        hops.append(p);
    }
    // A proxy the guard refuses is unusable, as an unreachable one is: the next entry is tried; none left is an error
    // (never the tunnel's proxy or DIRECT in its place: the answer asked for these proxies).
    if (hops.isEmpty() && !refused.isEmpty()) {
        ProxySelection s;
        s.why = QStringLiteral("pac ") + r.value.simplified();
        s.error = refused.join(QStringLiteral("; "));
        s.errorKind = ForwardError::ProxyDenied;
        return s;
    }
    // An answer that names only proxies dfproxy cannot use (`SOCKS s:1080`, `PROXY proxy.corp` without a port, a
    // typo) asks for a proxy, not for DIRECT: going direct would walk past the proxy the PAC demands.
    if (hops.isEmpty())
        return pacUnusable(tunnel,
                           QStringLiteral("FindProxyForURL answered \"%1\", nothing dfproxy can use")
                               .arg(r.value.simplified().left(200)),
                           source);
    ProxySelection s;
    s.why = QStringLiteral("pac ") + r.value.simplified();
    if (withheld)
        s.why += QStringLiteral(" (credentials only to the tunnel's own proxy: the PAC file came over http://)");
    if (!refused.isEmpty())
        s.why += QStringLiteral(" (skipped: %1)").arg(refused.join(QStringLiteral("; ")));
    // A proxy that failed a moment ago is tried last (still tried: it may be the only way out).
    std::stable_partition(hops.begin(), hops.end(), [](const auto &hop) { return !hop || !recentlyFailed(*hop); });
    s.proxy = hops.takeFirst();
    s.fallbacks = hops;
    return s;
}

/// Where no proxy is, whatever proxy.ssrf says: a PAC answer naming one of these is an attack or a mistake.
bool neverAProxy(const QHostAddress &address)
{
    static const QList<QPair<QHostAddress, int>> blocks = [] {
        QList<QPair<QHostAddress, int>> b;
        for (const char *c : {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8", "::/128", "224.0.0.0/4",
                              "ff00::/8", "255.255.255.255/32"})
            b.append(QHostAddress::parseSubnet(QLatin1String(c)));
        return b;
    }();
    const auto in = [](const QHostAddress &a) {
        return std::any_of(blocks.begin(), blocks.end(), [&a](const auto &block) { return a.isInSubnet(block); });
    };
    const QHostAddress a = policy::normalizedAddress(address);
    if (in(a))
        return true;
    // The IPv4 address a NAT64 or 6to4 form carries is where a gateway on the path would connect (as for the guard).
    const QList<QHostAddress> embedded = a.protocol() == QAbstractSocket::IPv6Protocol
        ? policy::embeddedIPv4Addresses(a)
        : QList<QHostAddress>{};
    return std::any_of(embedded.begin(), embedded.end(), in);
}

} // namespace

QList<QHostAddress> allowedProxyAddresses(const UpstreamProxy &proxy, const QList<QHostAddress> &addresses,
                                          const SsrfFilter &ssrf, QString *refusal)
{
    if (!proxy.guarded)
        return addresses;
    QList<QHostAddress> kept;
    for (const QHostAddress &a : addresses) {
        if (!neverAProxy(a))
            kept.append(a);
    }
    if (ssrf && !kept.isEmpty())
        kept = ssrf(kept, proxy.port);
    if (refusal && kept.size() < addresses.size()) {
        QStringList dropped;
        for (const QHostAddress &a : addresses) {
            if (!kept.contains(a))
                dropped.append(a.toString());
        }
        *refusal = QStringLiteral("the SSRF guard refuses the upstream proxy %1 at %2")
                       .arg(proxy.address, dropped.join(QStringLiteral(", ")));
    }
    return kept;
}

void markProxyUnreachable(const UpstreamProxy &proxy)
{
    FailedProxies &f = failedProxies();
    QMutexLocker lock(&f.mutex);
    f.until.insert(failedKey(proxy), LazyTimer::nowMs() + kFailedProxyRetryMs);
}

std::optional<ProxySelection> selectUpstreamProxy(const routing::BackendTunnel &tunnel, const QString &scheme,
                                                  const QString &host, quint16 port, routing::Backend::Engine engine,
                                                  dns::HostCache *dns, QObject *context,
                                                  std::function<void(ProxySelection)> done, SsrfFilter ssrf)
{
    if (tunnel.pacUrl.isEmpty() || engine == routing::Backend::Engine::Qnam || matchesBypass(tunnel.bypass, host))
        return selectUpstreamProxy(tunnel, host, engine);
    PacSource *source = pacSourceFor(tunnel.pacUrl);
    source->setDns(dns);
    source->refreshIfDue();
    const QString authority = host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
    const bool defaultPort = (scheme == QLatin1String("https") && port == 443) || (scheme == QLatin1String("http")
                                                                                   && port == 80);
    const QString url = scheme + QStringLiteral("://") + authority
        + (defaultPort ? QString() : QLatin1Char(':') + QString::number(port)) + QLatin1Char('/');
    if (std::optional<pac::PacEngine::Result> r = source->cached(url))
        return fromPac(tunnel, *r, source, ssrf);
    source->engine().evaluateAsync(
        url, host, context,
        [tunnel, source, url, done = std::move(done), ssrf = std::move(ssrf)](const pac::PacEngine::Result &r) {
            source->store(url, r);
            done(fromPac(tunnel, r, source, ssrf));
        });
    return std::nullopt;
}

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
    for (const QString &entry : tunnel.bypass) {
        if (entry.contains(QLatin1Char('/')) && QHostAddress::parseSubnet(entry.trimmed()).second < 0)
            return QStringLiteral("the bypass entry %1 is not a CIDR range").arg(entry);
    }
    return {};
}

QList<config::FieldError> tunnelErrors(const config::Config &config)
{
    QList<config::FieldError> errors;
    for (const routing::TunnelUse &use : routing::tunnelUses(config)) {
        const QString problem = tunnelProblem(*use.tunnel, use.engine);
        if (problem.isEmpty())
            continue;
        const QString message = use.engine == routing::Backend::Engine::Qnam
            ? QStringLiteral("the backend %1 uses engine: qnam, which does not speak to upstream proxies, and this "
                             "tunnel applies to it (through a Gateway it is reached through, or its own policy); use "
                             "the native engine (remove its spec.engine), or route it through another Gateway")
                  .arg(use.backendKey)
            : QStringLiteral("the backend %1 cannot use this tunnel: %2").arg(use.backendKey, problem);
        for (int i = 0; i < config.resources.size(); ++i) {
            const config::Resource &r = config.resources[i];
            if (r.kind() != QLatin1String(config::kinds::AgentgatewayPolicy)
                || r.ns() + u'/' + r.name() != use.tunnel->policyKey)
                continue;
            const config::FieldError e{QStringLiteral("resources[%1].spec.backend.tunnel").arg(i), message};
            if (!std::any_of(errors.cbegin(), errors.cend(),
                             [&](const config::FieldError &o) { return o.path == e.path && o.message == e.message; }))
                errors.append(e);
        }
    }
    return errors;
}

} // namespace dfproxy::forward
