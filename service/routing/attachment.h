// SPDX-License-Identifier: Apache-2.0
#pragma once
// How routes attach to Gateway listeners and how backendRefs resolve. Shared by RouteTable::build and the status
// functions so the table and the status a user reads never disagree. Internal to dfproxy_routing.

#include "config/config.h"
#include "config/agentgatewaypolicy.h"
#include "config/model.h"
#include "routing/routetable.h"

#include <QHash>

#include <QStringList>

#include <optional>

namespace dfproxy::routing::detail {

/// A Gateway whose spec parsed cleanly. Gateways with spec errors are left out: they program nothing.
struct GatewayInfo
{
    const config::Resource *resource = nullptr;
    config::GatewaySpec spec;
};
QList<GatewayInfo> validGateways(const config::Config &config);

/// Hostnames a route serves on a listener, Gateway API intersection of the listener hostname and the route's
/// hostnames. nullopt: no intersection (the route does not attach). An empty list: any host.
std::optional<QStringList> intersectHostnames(const QString &listenerHostname, const QStringList &routeHostnames);

/// The outcome of one parentRef.
struct Attachment
{
    QString reason;       ///< "Accepted", "NoMatchingParent", "NotAllowedByListeners", "NoMatchingListenerHostname"
    QString message;
    const GatewayInfo *gateway = nullptr;
    QList<int> listeners; ///< indexes into gateway->spec.listeners, when accepted
    QList<QStringList> hostnames; ///< per accepted listener: intersectHostnames() (empty = any)
    bool accepted() const { return !listeners.isEmpty(); }
};
Attachment attach(const QList<GatewayInfo> &gateways, const config::Resource &route,
                  const config::HttpRouteSpec &spec, const config::ParentRef &ref);

/// The outcome of one backendRef.
struct BackendResolution
{
    QString reason;       ///< "ResolvedRefs", "BackendNotFound", "InvalidKind"
    QString message;
    const config::Resource *backend = nullptr; ///< set when resolved
};
BackendResolution resolveBackend(const config::Config &config, const QString &routeNamespace,
                                 const config::BackendRef &ref);

/// GEP-713 conflict order between two policies: the older creationTimestamp wins, then namespace/name. True if `a`
/// wins over `b`.
bool policyWinsOver(const config::Resource &a, const config::Resource &b);

/// What AgentgatewayPolicies give one backend: the upstream proxy (spec.backend.tunnel), TLS (spec.backend.tls) and
/// the HTTP version (spec.backend.http).
struct BackendPolicies
{
    std::shared_ptr<const BackendTunnel> tunnel; ///< null = direct
    std::optional<config::AgentgatewayBackendTlsSpec> tls;
    std::optional<config::AgentgatewayBackendHttpSpec> http; ///< spec.backend.http (version)
};

/// What AgentgatewayPolicies give one route: traffic.timeouts and traffic.headerModifiers.
struct RoutePolicies
{
    qint64 requestTimeoutMs = 0; ///< for rules without timeouts.request of their own
    std::optional<config::HeaderModifierSpec> requestHeaders, responseHeaders;
};

/// The sections of the valid AgentgatewayPolicies, by object ("namespace/name"). Per section, a policy that
/// targets the object itself (the AgentgatewayBackend, the HTTPRoute) wins; else one that targets a Gateway the
/// object is reached through (an accepted route attaches to it; a backend shared by the routes of several
/// Gateways gets one of theirs). Among several candidates of one level the oldest wins (policyWinsOver), as the
/// policies' status says. Objects without any are absent.
struct AgentgatewayAttachments
{
    QHash<QString, BackendPolicies> backends;
    QHash<QString, RoutePolicies> routes;
};
AgentgatewayAttachments agentgatewayAttachments(const config::Config &config, const QList<GatewayInfo> &gateways);

} // namespace dfproxy::routing::detail
