// SPDX-License-Identifier: Apache-2.0
#pragma once
// CONTRACT with the proxy engine (service/proxy, service/forward). Built from config::Config by
// RouteTable::build; immutable once built, so workers share one snapshot without locks.

#include "config/config.h"
#include "dns/dnstypes.h"
#include "pac/pacsettings.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QAnyStringView>

#include <memory>
#include <optional>

namespace dfproxy::routing {

using HeaderList = QList<QPair<QByteArray, QByteArray>>;

/// One listener of a Gateway, as the proxy binds it.
struct Listener
{
    QString gatewayNamespace;
    QString gatewayName;
    QString name;                  ///< spec.listeners[].name
    QHostAddress address;          ///< from Gateway spec.addresses (IPAddress), default 127.0.0.1
    quint16 port = 0;
    QString protocol;              ///< "HTTP" or "HTTPS"
    QString hostname;              ///< optional listener hostname filter
    QList<quint16> connectPorts;   ///< CONNECT allowed ports (default {443})
    QString tlsCertFile, tlsKeyFile;
    QString gatewayKey;            ///< "namespace/name" of the Gateway, as access logs show it (set by build())
    /// For its PAC file: the hostnames its HTTPRoutes send to a backend, canonical and sorted ("*.example.org";
    /// "*" = a route for every host), and the Gateway's dfproxy.dev/pac-* settings.
    QStringList pacHosts;
    pac::PacSettings pacSettings;
};

/// The upstream (corporate) proxy a backend's traffic goes through: an AgentgatewayPolicy's spec.backend.tunnel that
/// targets the backend (or its Gateway), with dfproxy's annotations on that policy. Built by the route table; the
/// forwarding side (connector, engines, CONNECT) reads it. Null on a Backend means direct.
struct BackendTunnel
{
    QString policyKey;             ///< "namespace/name" of the AgentgatewayPolicy, for status and logs
    QString url;                   ///< spec.backend.tunnel.url: "http://host:port" or "https://host:port"
    QString credentialsFile;       ///< annotation dfproxy.dev/tunnel-credentials-file; empty = no credentials
    QStringList bypass;            ///< annotation dfproxy.dev/tunnel-bypass: host patterns, CIDRs, "<local>"
    QString pacUrl;                ///< annotation dfproxy.dev/tunnel-pac-url (http, https or file); empty = none
    QString caFile;                ///< annotation dfproxy.dev/tunnel-ca-file: an https:// proxy's CAs; empty = system
};

/// A resolved backend (AgentgatewayBackend).
struct Backend
{
    enum class Type { DynamicForwardProxy, Static };
    enum class Engine { Native, Qnam };
    QString ns;
    QString name;
    QString key;                   ///< "namespace/name", as access logs show it
    Type type = Type::DynamicForwardProxy;
    QString staticHost;            ///< Static only
    quint16 staticPort = 0;        ///< Static only
    bool tls = false;              ///< originate TLS to the upstream
    bool tlsDisabled = false;      ///< spec.tls: false: plaintext only, absolute-form https:// requests refused
    QString tlsSni;                ///< overrides SNI (default: the target host)
    bool tlsInsecureSkipVerify = false;
    QString tlsCaFile;             ///< PEM bundle; system CAs when empty
    std::optional<dns::LookupFamily> lookupFamily; ///< per-backend DNS override
    Engine engine = Engine::Native;
    std::shared_ptr<const BackendTunnel> tunnel; ///< upstream proxy; null = direct
    /// AgentgatewayPolicy spec.backend.http.version HTTP2: requests go upstream over HTTP/2 (forward/http2forwarder.h).
    bool http2 = false;
    /// Annotation dfproxy.dev/backend-http-version Auto: a TLS origin is offered ALPN "h2,http/1.1" and gets what it
    /// picks; plaintext stays HTTP/1.1.
    bool httpAuto = false;
};

/// What the router reads of a request: views into the transaction's one request (the listener it came in on, the
/// parsed head and the canonical request, http/canonical.h), so routing copies and converts nothing. Valid only
/// while what it points at lives: build it for one match() call.
struct RequestInfo
{
    QAnyStringView gatewayNamespace; // any string type: the listener's QStrings, or literals in tests
    QAnyStringView gatewayName;
    QAnyStringView listenerName;
    QByteArrayView method;         ///< "GET"
    QByteArrayView path;           ///< canonical origin-form path without query, e.g. "/a/b"
    QByteArrayView query;          ///< canonical query without '?', may be empty
    QByteArrayView host;           ///< canonical host without port: ASCII lower case (from Host or absolute URI)
    const HeaderList *headers = nullptr; ///< request headers (names as received)
};

/// Header edits of RequestHeaderModifier / ResponseHeaderModifier.
struct HeaderModifier
{
    HeaderList set;
    HeaderList add;
    QList<QByteArray> remove;
    bool isEmpty() const { return set.isEmpty() && add.isEmpty() && remove.isEmpty(); }
};

/// RequestRedirect filter.
struct Redirect
{
    QString scheme, hostname, path; ///< empty = keep
    std::optional<QString> replacePrefixMatch;
    std::optional<quint16> port;
    int statusCode = 302;
};

/// URLRewrite filter.
struct UrlRewrite
{
    QString hostname;              ///< empty = keep
    std::optional<QString> replaceFullPath;
    std::optional<QString> replacePrefixMatch;
};

/// The outcome of routing one request.
struct RouteMatch
{
    QString routeNamespace;
    QString routeName;
    int ruleIndex = -1;
    QString routeKey;              ///< "namespace/name#rule", as access logs show it
    QString matchedPrefix;         ///< the PathPrefix that matched, for URLRewrite ReplacePrefixMatch
    std::shared_ptr<const Backend> backend; ///< after the weighted pick; null with a redirect or no backends (500)
    HeaderModifier requestHeaders;
    HeaderModifier responseHeaders;
    std::optional<Redirect> redirect;
    std::optional<UrlRewrite> rewrite;
    qint64 requestTimeoutMs = 0;        ///< rules[].timeouts.request, 0 = none
    qint64 backendRequestTimeoutMs = 0; ///< rules[].timeouts.backendRequest, 0 = none
};

class RouteTable
{
public:
    /// Compiles the routes, backends and listeners of `config`. Invalid or dangling references are skipped
    /// (routeStatus() explains why); it never throws.
    static std::shared_ptr<const RouteTable> build(const config::Config &config);

    /// Every listener of every Gateway; a Gateway with several spec.addresses lists each listener once per address.
    const QList<Listener> &listeners() const { return m_listeners; }

    /// Routes one request (Gateway API precedence). nullopt: no route matched -> 404.
    /// `randomValue` in [0,1) picks among weighted backendRefs (pass a random number; tests pass fixed ones).
    /// Hostname specificity comes first (exact, then the longest "*." wildcard, then routes for any host; a level
    /// without a matching rule falls through to the next), then path/method/header/query precedence. An empty
    /// request.listenerName means the gateway's first listener. Lock-free and allocation-free for non-regex
    /// matches; safe to call from any thread.
    std::optional<RouteMatch> match(const RequestInfo &request, double randomValue) const;

    struct Impl;
    ~RouteTable();

private:
    RouteTable();
    QList<Listener> m_listeners;
    std::unique_ptr<Impl> d;
};

/// An AgentgatewayBackend that an upstream proxy (AgentgatewayPolicy spec.backend.tunnel) applies to: through its own
/// policy, or a Gateway's that it is reached through, attached as RouteTable::build attaches them.
struct TunnelUse
{
    QString backendKey; ///< "namespace/name"
    Backend::Engine engine = Backend::Engine::Native;
    std::shared_ptr<const BackendTunnel> tunnel;
};
/// Every backend of `config` a tunnel applies to. For the apply-time check (forward::tunnelErrors).
QList<TunnelUse> tunnelUses(const config::Config &config);

} // namespace dfproxy::routing
