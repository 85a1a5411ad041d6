// SPDX-License-Identifier: Apache-2.0
#pragma once
// agentgateway's own policy kind, AgentgatewayPolicy (agentgateway.dev/v1alpha1), read strictly: the fields dfproxy
// honours are parsed into the typed view below; every other field agentgateway defines is refused with its field
// path and a sentence saying that dfproxy does not implement it, and a field agentgateway does not define is an
// unknown field. Nothing is ignored silently: an egress rule that is dropped on the way in would be a hole.
// docs/agentgateway.md has the field table. Pure and thread-safe.

#include "config/model.h"

#include <optional>

namespace dfproxy::config {

namespace kinds {
inline constexpr auto AgentgatewayPolicy = "AgentgatewayPolicy"; ///< registered in config/resource.cpp
} // namespace kinds

/// The annotations dfproxy reads on an AgentgatewayPolicy with spec.backend.tunnel (the upstream proxy, #22).
namespace annotations {
inline constexpr auto TunnelCredentialsFile = "dfproxy.dev/tunnel-credentials-file";
inline constexpr auto TunnelBypass = "dfproxy.dev/tunnel-bypass";
inline constexpr auto TunnelPacUrl = "dfproxy.dev/tunnel-pac-url";
/// An https:// tunnel URL: the PEM CA bundle that verifies the proxy's certificate instead of the system's CAs
/// (agentgateway's tunnel has no TLS settings of its own).
inline constexpr auto TunnelCaFile = "dfproxy.dev/tunnel-ca-file";
/// traffic.basicAuthentication without inline users: an htpasswd file instead of agentgateway's secretRef.
inline constexpr auto HtpasswdFile = "dfproxy.dev/htpasswd-file";
/// traffic.apiKeyAuthentication on this desktop: a file of "name:sha256:<hex>" lines instead of the cluster's Secrets.
inline constexpr auto ApiKeysFile = "dfproxy.dev/api-keys-file";
/// traffic.jwtAuthentication provider without inline JWKS: a JWKS file instead of jwks.remote.
inline constexpr auto JwksFile = "dfproxy.dev/jwks-file";
/// backend.tls: a PEM CA bundle instead of caCertificateRefs (Kubernetes ConfigMaps).
inline constexpr auto BackendTlsCaFile = "dfproxy.dev/backend-tls-ca-file";
/// backend.http: "Auto" offers a TLS origin ALPN "h2" and "http/1.1" and speaks what it picks (agentgateway's
/// version enum has only HTTP1 and HTTP2, so the choice lives in an annotation and the YAML stays agentgateway's).
inline constexpr auto BackendHttpVersion = "dfproxy.dev/backend-http-version";
} // namespace annotations

/// spec.backend.tunnel with dfproxy's annotations: the upstream (corporate) proxy.
struct AgentgatewayTunnelSpec
{
    QString url;             ///< normalised "http://host:port" / "https://host:port" (port always written)
    QString credentialsFile; ///< annotation dfproxy.dev/tunnel-credentials-file; a 0600 file
    QStringList bypass;      ///< annotation dfproxy.dev/tunnel-bypass: host patterns, CIDRs, "<local>"
    QString pacUrl;          ///< annotation dfproxy.dev/tunnel-pac-url: http, https or file URL
    QString caFile;          ///< annotation dfproxy.dev/tunnel-ca-file: PEM CAs of an https:// proxy
};

/// spec.traffic.authorization: CEL matchExpressions (config/cel.h) with agentgateway's actions. Allow: the request
/// must match one of them; Deny: it must match none (an expression that cannot be evaluated denies, where
/// agentgateway lets it through); Require: it must match all.
struct AgentgatewayAuthorizationSpec
{
    enum class Action { Allow, Deny, Require };
    Action action = Action::Allow;
    QStringList matchExpressions; ///< each compiles (cel::Program::compile), checked when parsed
};

/// spec.backend.tls: TLS to the upstream, as AgentgatewayBackend spec.tls.
struct AgentgatewayBackendTlsSpec
{
    QString sni;
    bool insecureSkipVerify = false; ///< insecureSkipVerify: All
    QString caFile;                  ///< annotation dfproxy.dev/backend-tls-ca-file (caCertificateRefs name Secrets)
};

/// spec.backend.http: how requests reach the backend.
struct AgentgatewayBackendHttpSpec
{
    enum class Version { Unset, Http1, Http2 };
    /// version: HTTP1 or HTTP2 (HTTP2: h2c by prior knowledge in plaintext, ALPN "h2" over TLS); Unset = HTTP/1.1.
    Version version = Version::Unset;
    /// Annotation dfproxy.dev/backend-http-version: Auto (version unset or HTTP2): over TLS ALPN "h2,http/1.1" and
    /// the engine the origin picks; in plaintext HTTP/1.1.
    bool autoVersion = false;
};

struct AgentgatewayPolicySpec
{
    QList<PolicyTargetRef> targetRefs; ///< Gateway, HTTPRoute or AgentgatewayBackend in the policy's namespace
    std::optional<AgentgatewayTunnelSpec> tunnel;
    /// traffic.rateLimit.local: one limit per entry, counting every request the policy covers (key global).
    std::optional<RateLimitPolicySpec> rateLimit;
    /// traffic.basicAuthentication / apiKeyAuthentication / jwtAuthentication as one dfproxy authentication (a
    /// request passes with any one of the configured methods).
    std::optional<AuthenticationPolicySpec> authentication;
    QString apiKeysFile;     ///< annotation dfproxy.dev/api-keys-file (traffic.apiKeyAuthentication)
    QByteArray apiKeyPrefix; ///< location.header.prefix; "Bearer " by default, as agentgateway
    std::optional<AgentgatewayAuthorizationSpec> authorization;
    qint64 requestTimeoutMs = 0;                       ///< traffic.timeouts.request; 0 = not set
    std::optional<HeaderModifierSpec> requestHeaders;  ///< traffic.headerModifiers.request
    std::optional<HeaderModifierSpec> responseHeaders; ///< traffic.headerModifiers.response
    QString connectMode; ///< frontend.connect.mode: "Deny", "Route" or "Tunnel"; empty = not set
    std::optional<AgentgatewayBackendTlsSpec> backendTls;
    std::optional<AgentgatewayBackendHttpSpec> backendHttp;
    /// The sections the policy sets ("backend.tunnel", ...). Two policies on one target conflict only where their
    /// sections overlap; agentgateway merges the others.
    QStringList sections;
};

AgentgatewayPolicySpec parseAgentgatewayPolicySpec(const Resource &policy, QList<FieldError> *errors);

/// The local file a dfproxy.dev/tunnel-pac-url names ("file:///etc/proxy.pac" -> "/etc/proxy.pac"); empty for
/// http(s) URLs or when the annotation is absent.
QString tunnelPacFile(const Resource &policy);

} // namespace dfproxy::config
