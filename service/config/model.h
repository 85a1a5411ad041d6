// SPDX-License-Identifier: Apache-2.0
#pragma once
// Typed views of the kinds dfproxy manages, parsed from a Resource's JSON spec. Parsing is strict, as Kubernetes
// strict decoding: unknown fields, wrong types and bad values are reported with their field path
// ("spec.rules[0].backendRefs[0].weight") so typos are caught when a resource is applied, not at request time.
// `status` is never read. All functions are pure and thread-safe.

#include "config/resource.h"

#include <QDateTime>
#include <QPair>
#include <QStringList>

#include <optional>

namespace dfproxy::config {

inline constexpr auto GatewayGroup = "gateway.networking.k8s.io";
inline constexpr auto BackendGroup = "agentgateway.dev";

/// Parses a Gateway API duration ("10s", "500ms", "1h30m"; 1..4 groups of 1..5 digits with h|m|s|ms) into
/// milliseconds. nullopt when malformed. "0s" gives 0.
std::optional<qint64> parseGatewayDuration(const QString &text);

// ---- Gateway ---------------------------------------------------------------------------------------------------

struct GatewayAddress
{
    QString type = QStringLiteral("IPAddress");
    QString value;
};

struct GatewayListenerSpec
{
    QString name;
    quint16 port = 0;
    QString protocol;                   ///< "HTTP" or "HTTPS"
    QString hostname;                   ///< empty = any; may be a "*." wildcard
    QString tlsCertFile;                ///< dfproxy extension: tls.certFile (PEM)
    QString tlsKeyFile;                 ///< dfproxy extension: tls.keyFile (PEM)
    QList<quint16> allowedConnectPorts = {443}; ///< dfproxy extension: ports CONNECT may reach
    /// allowedRoutes.namespaces.from: "All" (dfproxy's default, so the seed's cross-namespace route attaches) or
    /// "Same".
    QString allowedRoutesFrom = QStringLiteral("All");
};

struct GatewaySpec
{
    QString gatewayClassName;
    QList<GatewayAddress> addresses;    ///< empty = bind 127.0.0.1
    QList<GatewayListenerSpec> listeners;
};

// ---- HTTPRoute -------------------------------------------------------------------------------------------------

struct ParentRef
{
    QString group = QString::fromLatin1(GatewayGroup);
    QString kind = QStringLiteral("Gateway");
    QString ns;                         ///< empty = the route's namespace
    QString name;
    QString sectionName;                ///< empty = every listener
    std::optional<quint16> port;
    QJsonObject json;                   ///< as written, echoed in status
};

enum class PathMatchType { Exact, PathPrefix, RegularExpression };
enum class ValueMatchType { Exact, RegularExpression };

struct PathMatch
{
    PathMatchType type = PathMatchType::PathPrefix;
    QString value = QStringLiteral("/");
};

struct ValueMatch
{
    ValueMatchType type = ValueMatchType::Exact;
    QString name;
    QString value;
};

struct HttpRouteMatch
{
    PathMatch path;
    QList<ValueMatch> headers;
    QList<ValueMatch> queryParams;
    QString method;                     ///< empty = any
};

struct HeaderModifierSpec
{
    QList<QPair<QString, QString>> set;
    QList<QPair<QString, QString>> add;
    QStringList remove;
};

/// HTTPPathModifier of URLRewrite / RequestRedirect.
struct PathModifier
{
    enum class Type { ReplaceFullPath, ReplacePrefixMatch };
    Type type = Type::ReplaceFullPath;
    QString value;
};

struct RequestRedirectSpec
{
    QString scheme;                     ///< empty = keep
    QString hostname;                   ///< empty = keep
    std::optional<PathModifier> path;
    std::optional<quint16> port;
    int statusCode = 302;
};

struct UrlRewriteSpec
{
    QString hostname;
    std::optional<PathModifier> path;
};

struct RouteFilter
{
    enum class Type { RequestHeaderModifier, ResponseHeaderModifier, URLRewrite, RequestRedirect };
    Type type = Type::RequestHeaderModifier;
    HeaderModifierSpec headerModifier;  ///< Request/ResponseHeaderModifier
    RequestRedirectSpec redirect;       ///< RequestRedirect
    UrlRewriteSpec rewrite;             ///< URLRewrite
};

struct BackendRef
{
    /// Omitted group and kind mean AgentgatewayBackend (dfproxy has no Services to default to).
    QString group = QString::fromLatin1(BackendGroup);
    QString kind = QString::fromLatin1(kinds::Backend);
    QString name;
    QString ns;                         ///< empty = the route's namespace
    std::optional<quint16> port;
    int weight = 1;
};

struct RouteRule
{
    QString name;
    QList<HttpRouteMatch> matches;      ///< empty = one PathPrefix "/" match
    QList<RouteFilter> filters;
    QList<BackendRef> backendRefs;
    qint64 requestTimeoutMs = 0;        ///< 0 = none
    qint64 backendRequestTimeoutMs = 0; ///< 0 = none
};

struct HttpRouteSpec
{
    QList<ParentRef> parentRefs;
    QStringList hostnames;
    QList<RouteRule> rules;
};

// ---- AgentgatewayBackend ---------------------------------------------------------------------------------------

struct BackendSpec
{
    enum class Type { DynamicForwardProxy, Static };
    Type type = Type::DynamicForwardProxy;
    QString staticHost;
    quint16 staticPort = 0;
    bool tls = false;                   ///< spec.tls present (object) or true
    QString tlsSni;
    bool tlsInsecureSkipVerify = false;
    QString tlsCaFile;
    QString lookupFamily;               ///< spec.dns.lookupFamily; empty = the global setting
    QString engine = QStringLiteral("native"); ///< "native" or "qnam"
};

// ---- Parsing ---------------------------------------------------------------------------------------------------
// Each parser appends problems to `errors` (may be null) with paths rooted at the resource ("spec.listeners[1].port")
// and returns what it could read. A result is trustworthy only when no error was added.

GatewaySpec parseGatewaySpec(const Resource &gateway, QList<FieldError> *errors);
HttpRouteSpec parseHttpRouteSpec(const Resource &route, QList<FieldError> *errors);
BackendSpec parseBackendSpec(const Resource &backend, QList<FieldError> *errors);

/// metadata.creationTimestamp (RFC 3339), invalid QDateTime when absent.
QDateTime creationTimestamp(const Resource &resource);

/// True when `host` is a valid Gateway API hostname: lower-case RFC 1123 subdomain, optionally prefixed by "*.".
bool isGatewayHostname(const QString &host);

} // namespace dfproxy::config
