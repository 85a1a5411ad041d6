// SPDX-License-Identifier: Apache-2.0
#pragma once
// Upstream (corporate) proxy chaining, #22: which proxy a request takes (routing::BackendTunnel: the fixed
// spec.backend.tunnel.url and the bypass list), and the hop the Connector dials. docs/upstream-proxy.md describes it.

#include "routing/routetable.h"

#include <QString>
#include <QStringList>

#include <memory>

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
    QString address;                ///< "host:port", as the access log shows it
};

/// The outcome of selecting the upstream proxy of one request.
struct ProxySelection
{
    std::shared_ptr<const UpstreamProxy> proxy; ///< null: DIRECT
    QString why;                    ///< "tunnel" (the fixed proxy), "bypass <pattern>"
    QString error;                  ///< not empty: the request cannot go out (502 upstream_proxy_unsupported)
};

/// Picks the proxy for a request to `host` (lower-case, no port, IPv6 without brackets) through `tunnel`.
/// `engine` is the backend's: only the native engine speaks to upstream proxies.
ProxySelection selectUpstreamProxy(const routing::BackendTunnel &tunnel, const QString &host,
                                   routing::Backend::Engine engine = routing::Backend::Engine::Native);

/// Whether `host` matches an entry of a bypass list (dfproxy.dev/tunnel-bypass): `<local>` (a name without a dot,
/// not an IP literal), `*.corp.example` or `.corp.example` (the domain's subdomains), `corp.example` (exactly; a
/// trailing dot on either side is ignored; case-insensitive), `10.0.0.0/8` / `fd00::/8` (an IP-literal host in the
/// range), `*` (every host). `matched` (may be null) gets the entry.
bool matchesBypass(const QStringList &bypass, const QString &host, QString *matched = nullptr);

/// What keeps a tunnel from working as configured (an unsupported URL, a QNAM-engine backend, an unusable
/// credentials file); empty when it is usable. For the apply-time check of the config side.
QString tunnelProblem(const routing::BackendTunnel &tunnel, routing::Backend::Engine engine);

/// Parses spec.backend.tunnel.url: http:// or https://, a host, an optional port (default 3128 / 443 for
/// https), no userinfo, no path other than "/". Null with `error` set otherwise.
std::shared_ptr<UpstreamProxy> parseProxyUrl(const QString &url, QString *error);

} // namespace dfproxy::forward
