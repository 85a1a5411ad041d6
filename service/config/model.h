// SPDX-License-Identifier: Apache-2.0
#pragma once
// Typed views of the kinds dfproxy manages, parsed from a Resource's JSON spec. Parsing is strict, as Kubernetes
// strict decoding: unknown fields, wrong types and bad values are reported with their field path
// ("spec.rules[0].backendRefs[0].weight") so typos are caught when a resource is applied, not at request time.
// `status` is never read. All functions are pure and thread-safe.

#include "base/lookupfamily.h"
#include "config/resource.h"

#include <QDateTime>
#include <QHostAddress>
#include <QPair>
#include <QStringList>

#include <optional>

namespace dfproxy::config {

inline constexpr auto GatewayGroup = "gateway.networking.k8s.io";
inline constexpr auto BackendGroup = "agentgateway.dev";
inline constexpr auto PolicyGroup = "dfproxy.dev";

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
    bool tlsDisabled = false;           ///< spec.tls: false (absolute-form https:// requests are refused)
    QString tlsSni;
    bool tlsInsecureSkipVerify = false;
    QString tlsCaFile;
    std::optional<LookupFamily> lookupFamily; ///< spec.dns.lookupFamily, read once here; none = the global setting
    enum class Engine { Native, Qnam };
    Engine engine = Engine::Native;     ///< spec.engine: "native" or "qnam", read once here
};


// ---- Egress policies (dfproxy.dev/v1alpha1): RateLimitPolicy, AuthenticationPolicy, AuthorizationPolicy ---------
// Attached as Gateway API policies: spec.targetRefs name a Gateway (optionally one listener by sectionName), an
// HTTPRoute or an AgentgatewayBackend in the policy's own namespace. docs/policies.md describes the semantics.

struct PolicyTargetRef
{
    QString group;                      ///< defaulted from the kind when omitted
    QString kind;                       ///< "Gateway", "HTTPRoute" or "AgentgatewayBackend"
    QString name;
    QString sectionName;                ///< Gateway only: a listener name; empty = the whole Gateway
};

struct RateLimitSpec
{
    enum class Key { ClientIP, DestinationHost, Route, Identity, Header, Global, Application };
    QString name;                       ///< for logs; defaults to "limits[i]"
    Key key = Key::ClientIP;
    QString header;                     ///< Key::Header: the header name, lower-case
    qint64 tokens = 0;                  ///< tokens added every fillInterval; 0 = this limit does not count requests
    qint64 fillIntervalMs = 1000;
    qint64 burst = 0;                   ///< bucket capacity; 0 = tokens
    qint64 maxKeys = 10000;             ///< distinct keys remembered (least recently used are forgotten)
    qint64 bytesPerSecond = 0;          ///< each tunnel (CONNECT, websocket) is throttled to this, per direction; 0 = none
    qint64 burstBytes = 0;              ///< the tunnel bucket's capacity; 0 = bytesPerSecond
};

struct RateLimitPolicySpec
{
    QList<PolicyTargetRef> targetRefs;
    QList<RateLimitSpec> limits;
};

struct BasicUser
{
    QString name;
    QString passwordHash;               ///< "$2b$..", "$2y$..", "$6$..", "$5$.." (crypt(3)) or "pbkdf2-sha256$i$salt$hash"
};

struct ApiKeySpec
{
    QString name;                       ///< the identity of the key's holder
    QByteArray sha256;                  ///< lower-case hex SHA-256 of the key
};

struct JwtSpec
{
    QString issuer;                     ///< empty = not checked
    QStringList audiences;              ///< empty = not checked; else the token's aud must contain one
    QString jwksFile;                   ///< a JWKS JSON file ...
    QJsonObject jwks;                   ///< ... or the JWKS inline
    qint64 clockSkewMs = 60000;
    QString identityClaim = QStringLiteral("sub");
    bool requireExpiration = true;      ///< false: tokens without exp are accepted
    qint64 maxLifetimeMs = 0;           ///< > 0: refuse tokens whose exp - iat (exp - now without iat) is longer
};

struct AuthenticationPolicySpec
{
    QList<PolicyTargetRef> targetRefs;
    bool optional = false;              ///< no credentials at all = anonymous instead of 401/407
    bool basicEnabled = false;
    QString realm = QStringLiteral("dfproxy");
    QList<BasicUser> users;
    QString htpasswdFile;
    bool apiKeyEnabled = false;
    QString apiKeyHeader = QStringLiteral("x-api-key");
    QList<ApiKeySpec> apiKeys;
    std::optional<JwtSpec> jwt;
};

/// One entry of an AuthorizationPolicy rule's `applications` (docs/applications.md).
struct ApplicationMatchSpec
{
    enum class Kind { Name, Path, PathGlob, Publisher };
    Kind kind = Kind::Name;
    QString value;                      ///< "curl"; "/usr/bin/curl"; "/opt/*/bin/*"; "Mozilla Corporation"
};

struct AuthorizationRuleSpec
{
    QString name;
    bool allow = true;
    QStringList hosts;                  ///< exact, "*.example.com" or "*"
    QList<quint16> ports;
    QStringList methods;
    QStringList pathPrefixes;
    QStringList clientCIDRs;
    QStringList identities;             ///< exact names; "*" = any authenticated client
    QList<ApplicationMatchSpec> applications; ///< the program behind the connection; empty = any (or none)
};

struct AuthorizationPolicySpec
{
    QList<PolicyTargetRef> targetRefs;
    bool defaultAllow = false;          ///< spec.defaultAction, "Deny" unless set
    QList<AuthorizationRuleSpec> rules;
};

/// proxy.ssrf: the global SSRF guard (see docs/policies.md).
struct SsrfSettings
{
    QString preset = QStringLiteral("default"); ///< "default", "strict" or "off"
    QStringList deniedCIDRs;            ///< added to the preset's
    QStringList allowedCIDRs;           ///< exceptions, checked first
    bool denySelf = true;               ///< the proxy's own listeners and admin API
    bool loopDetection = true;          ///< refuse requests that already passed a dfproxy (Via)
};

RateLimitPolicySpec parseRateLimitPolicySpec(const Resource &policy, QList<FieldError> *errors);
AuthenticationPolicySpec parseAuthenticationPolicySpec(const Resource &policy, QList<FieldError> *errors);
AuthorizationPolicySpec parseAuthorizationPolicySpec(const Resource &policy, QList<FieldError> *errors);
/// Parses config.proxy.ssrf (`proxyBlock` is the whole proxy block); errors are rooted at "proxy.ssrf".
SsrfSettings parseSsrfSettings(const QJsonObject &proxyBlock, QList<FieldError> *errors);
/// Parses "10.0.0.0/8", "fe80::/10" or a single address (a /32 or /128). nullopt when malformed.
std::optional<QPair<QHostAddress, int>> parseCidr(const QString &text);

// ---- Parsing ---------------------------------------------------------------------------------------------------
// Each parser appends problems to `errors` (may be null) with paths rooted at the resource ("spec.listeners[1].port")
// and returns what it could read. A result is trustworthy only when no error was added.

GatewaySpec parseGatewaySpec(const Resource &gateway, QList<FieldError> *errors);
HttpRouteSpec parseHttpRouteSpec(const Resource &route, QList<FieldError> *errors);
BackendSpec parseBackendSpec(const Resource &backend, QList<FieldError> *errors);

/// metadata.creationTimestamp (RFC 3339), invalid QDateTime when absent.
QDateTime creationTimestamp(const Resource &resource);

/// True for the ASCII control characters (CTL in RFC 9110: 0x00-0x1F and 0x7F).
bool isControlCharacter(QChar c);
/// The index of the first control character in `s` (TAB skipped when `allowTab`), -1 when there is none.
qsizetype firstControlCharacter(const QString &s, bool allowTab = false);

/// True when `host` is a valid Gateway API hostname: lower-case RFC 1123 subdomain, optionally prefixed by "*.".
bool isGatewayHostname(const QString &host);

} // namespace dfproxy::config
