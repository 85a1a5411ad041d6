// SPDX-License-Identifier: Apache-2.0
#pragma once
// Gateway API status of the managed kinds, computed from a config snapshot (the admin API puts it in `status` when
// it answers GET). Pure functions, safe from any thread.

#include "config/config.h"

#include <QDateTime>
#include <QJsonObject>
#include <QStringList>

namespace dfproxy::routing {

/// The controllerName dfproxy writes into route status.
inline constexpr auto ControllerName = "dfproxy.dev/gateway-controller";

/// HTTPRoute status: {parents: [{parentRef, controllerName, conditions: [Accepted, ResolvedRefs]}]}.
/// Accepted reasons: Accepted, NoMatchingParent, NotAllowedByListeners, NoMatchingListenerHostname,
/// UnsupportedValue (spec invalid). ResolvedRefs reasons: ResolvedRefs, BackendNotFound, InvalidKind.
/// `now`, when valid, becomes each condition's lastTransitionTime.
QJsonObject routeStatus(const config::Config &config, const config::Resource &route, const QDateTime &now = {});

/// Gateway status: {addresses, conditions: [Accepted, Programmed], listeners: [{name, supportedKinds,
/// attachedRoutes, conditions}]}. Programmed means "valid configuration"; whether the socket bound is the proxy's
/// to report.
QJsonObject gatewayStatus(const config::Config &config, const config::Resource &gateway, const QDateTime &now = {});

/// AgentgatewayBackend status: {conditions: [Accepted]}.
QJsonObject backendStatus(const config::Config &config, const config::Resource &backend, const QDateTime &now = {});

/// Status of a RateLimitPolicy, AuthenticationPolicy, AuthorizationPolicy or AgentgatewayPolicy as Gateway API
/// policy attachment (GEP-713) has it: {ancestors: [{ancestorRef, controllerName, conditions: [Accepted]}]}, one per
/// targetRef. Accepted reasons: Accepted; Conflicted when an older policy of the same kind targets the same object
/// (AgentgatewayPolicies: and sets one of the same sections; they also get ResolvedRefs, False with reason
/// TargetNotFound when the target or its listener does not exist) (the
/// message names it: that one is in effect there); Invalid when the spec does not parse or `problems` (what the
/// policy engine could not load, e.g. an unreadable htpasswd or JWKS file) is not empty.
QJsonObject policyStatus(const config::Config &config, const config::Resource &policy, const QDateTime &now = {},
                         const QStringList &problems = {});

/// Dispatches on kind; an empty object for unknown kinds. `problems` is passed to policyStatus.
QJsonObject resourceStatus(const config::Config &config, const config::Resource &resource, const QDateTime &now = {},
                           const QStringList &problems = {});

} // namespace dfproxy::routing
