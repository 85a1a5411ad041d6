// SPDX-License-Identifier: Apache-2.0
#pragma once
// Upstream (corporate) proxy chaining, #22: which proxy a request takes (routing::BackendTunnel: the fixed
// spec.backend.tunnel.url and the bypass list), and the hop the Connector dials. docs/upstream-proxy.md describes it.

#include "forward/forwarder.h"
#include "routing/routetable.h"

#include <QSslCertificate>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>

class QObject;

namespace dfproxy::dns {
class HostCache;
}

namespace dfproxy::forward {

class ProxyAuth;

/// One upstream proxy as the Connector dials it. Shared, immutable (its ProxyAuth is thread-safe).
struct UpstreamProxy
{
    QString host;                   ///< the proxy's name or IP literal (resolved through dfproxy's DNS cache)
    quint16 port = 3128;
    bool tls = false;               ///< https:// proxy URL: TLS to the proxy itself
    std::shared_ptr<ProxyAuth> auth; ///< null: no credentials
    QString credentialsError;       ///< the credentials file could not be used: every request fails with it
    QString caFile;                 ///< dfproxy.dev/tunnel-ca-file; empty: the system's CAs verify an https:// proxy
    QList<QSslCertificate> caCertificates; ///< read from caFile once, with the rest of this proxy
    QString caError;                ///< caFile holds no PEM certificate: every TLS request to the proxy fails with it
    QString address;                ///< "host:port", as the access log shows it
    /// Named by a PAC answer, and not the tunnel's own proxy (spec.backend.tunnel.url, same host and port): its
    /// addresses pass the SSRF guard (allowedProxyAddresses) before they are dialled. The tunnel's own is trusted.
    bool guarded = false;
};

/// The outcome of selecting the upstream proxy of one request.
struct ProxySelection
{
    std::shared_ptr<const UpstreamProxy> proxy; ///< null: DIRECT
    /// What to try, in order, when `proxy` cannot be reached (a PAC result's later entries); null = DIRECT.
    QList<std::shared_ptr<const UpstreamProxy>> fallbacks;
    QString why;                    ///< "tunnel" (the fixed proxy), "bypass <pattern>", "pac <result>"
    QString error;                  ///< not empty: the request cannot go out (502, `errorKind`)
    ForwardError errorKind = ForwardError::ProxyUnsupported; ///< with `error`: ProxyDenied when the SSRF guard refused
};

/// Picks the proxy for a request to `host` (lower-case, no port, IPv6 without brackets) through `tunnel`.
/// `engine` is the backend's: only the native engine speaks to upstream proxies.
ProxySelection selectUpstreamProxy(const routing::BackendTunnel &tunnel, const QString &host,
                                   routing::Backend::Engine engine = routing::Backend::Engine::Native);

/// The same with the tunnel's PAC file (dfproxy.dev/tunnel-pac-url) taken into account: the bypass list first, then
/// FindProxyForURL("<scheme>://<host>[:<port>]/", host) — the URL without its path, so that one answer per scheme,
/// host and port holds, and is cached for 5 minutes. The PAC file is fetched on first use and again every
/// 15 minutes (1 minute after a failure); the last good copy stays in use when a fetch fails. Without any good
/// copy, or when the call fails, the fixed tunnel URL is used if there is one, else DIRECT. Returns the selection
/// when it is known at once; otherwise nullopt, and `done` runs later on `context`'s thread (not at all when
/// `context` is gone). `dns` answers the PAC's dnsResolve (may be null: nothing resolves). A PAC entry naming an IP
/// literal that allowedProxyAddresses() refuses (with `ssrf`) is left out, and `why` says so; when that leaves
/// nothing, `error` is set with ProxyDenied. (A proxy name is checked by the Connector, once it resolves.)
std::optional<ProxySelection> selectUpstreamProxy(const routing::BackendTunnel &tunnel, const QString &scheme,
                                                  const QString &host, quint16 port, routing::Backend::Engine engine,
                                                  dns::HostCache *dns, QObject *context,
                                                  std::function<void(ProxySelection)> done, SsrfFilter ssrf = {});

/// The SSRF guard for upstream proxies (docs/upstream-proxy.md, "PAC and the SSRF guard"): the addresses of `proxy`
/// that may be dialled, in their order. All of them for a proxy that is not `guarded`; for one a PAC answer named,
/// none that is always refused for a proxy (link-local 169.254.0.0/16 and fe80::/10 with the metadata addresses,
/// 0.0.0.0/8, ::, multicast, broadcast; IPv6 forms that carry such an IPv4 address too) nor any `ssrf` (the
/// configured proxy.ssrf) refuses. `refusal` (may be null) gets why, when any was left out. Thread-safe.
QList<QHostAddress> allowedProxyAddresses(const UpstreamProxy &proxy, const QList<QHostAddress> &addresses,
                                          const SsrfFilter &ssrf, QString *refusal = nullptr);

/// How long a proxy that could not be reached goes to the back of the PAC answers that name it, as browsers do.
inline constexpr qint64 kFailedProxyRetryMs = 30 * 1000;
/// Remembers that `proxy` could not be reached (refused, timed out, its name did not resolve): for
/// kFailedProxyRetryMs a PAC answer tries its other entries first, so requests do not wait for it again and again.
/// Thread-safe.
void markProxyUnreachable(const UpstreamProxy &proxy);

/// Whether `host` matches an entry of a bypass list (dfproxy.dev/tunnel-bypass): `<local>` (a name without a dot,
/// not an IP literal), `*.corp.example` or `.corp.example` (the domain's subdomains), `corp.example` (exactly; a
/// trailing dot on either side is ignored; case-insensitive), `10.0.0.0/8` / `fd00::/8` (an IP-literal host in the
/// range), `*` (every host). `matched` (may be null) gets the entry.
bool matchesBypass(const QStringList &bypass, const QString &host, QString *matched = nullptr);

/// What keeps a tunnel from carrying a backend's requests at all (a QNAM-engine backend, a URL that is not
/// http(s)://host[:port], a malformed bypass entry); empty when it can. The files it names are not read here: they
/// are read per request (a credentials or CA file that cannot be used fails those requests, and can be fixed without
/// applying the config again).
QString tunnelProblem(const routing::BackendTunnel &tunnel, routing::Backend::Engine engine);

/// The apply-time check of the upstream proxies (the service's ConfigStore::setCrossResourceCheck): tunnelProblem()
/// for every backend a tunnel applies to, through its own policy or a Gateway's (routing::tunnelUses), reported at
/// the policy's `resources[i].spec.backend.tunnel`, so such a config is refused with 422 instead of failing each
/// request.
QList<config::FieldError> tunnelErrors(const config::Config &config);

/// Parses spec.backend.tunnel.url: http:// or https://, a host, an optional port (default 3128 / 443 for
/// https), no userinfo, no path other than "/". Null with `error` set otherwise.
std::shared_ptr<UpstreamProxy> parseProxyUrl(const QString &url, QString *error);

} // namespace dfproxy::forward
