// SPDX-License-Identifier: Apache-2.0
#include "routing/status.h"

#include "config/agentgatewaypolicy.h"
#include "config/model.h"
#include "routing/attachment.h"

#include <QJsonArray>
#include <QSet>

#include <algorithm>

namespace dfproxy::routing {

using namespace dfproxy::config;

namespace {

QJsonObject condition(const QString &type, bool ok, const QString &reason, const QString &message,
                      const Resource &owner, const QDateTime &now)
{
    QJsonObject c{{"type", type},
                  {"status", ok ? QStringLiteral("True") : QStringLiteral("False")},
                  {"reason", reason},
                  {"message", message}};
    const auto gen = owner.metadata().value("generation");
    if (gen.isDouble())
        c.insert("observedGeneration", gen);
    if (now.isValid())
        c.insert("lastTransitionTime", now.toUTC().toString(Qt::ISODate));
    return c;
}

QString firstError(const QList<FieldError> &errors)
{
    return errors.isEmpty() ? QString() : errors[0].path + QStringLiteral(": ") + errors[0].message;
}

// The policy's targetRefs, or none when its spec does not parse (`errors` says why).
QList<PolicyTargetRef> policyTargets(const Resource &policy, QList<FieldError> *errors)
{
    const QString kind = policy.kind();
    if (kind == QLatin1String(kinds::RateLimitPolicy))
        return parseRateLimitPolicySpec(policy, errors).targetRefs;
    if (kind == QLatin1String(kinds::AuthenticationPolicy))
        return parseAuthenticationPolicySpec(policy, errors).targetRefs;
    if (kind == QLatin1String(kinds::AgentgatewayPolicy))
        return parseAgentgatewayPolicySpec(policy, errors).targetRefs;
    return parseAuthorizationPolicySpec(policy, errors).targetRefs;
}

// AgentgatewayPolicies merge section by section (agentgateway's semantics): two of them conflict on a target only
// where they set the same section. The sections `a` and `b` share; for the dfproxy.dev kinds, "the whole policy".
QStringList sharedSections(const Resource &a, const Resource &b)
{
    if (a.kind() != QLatin1String(kinds::AgentgatewayPolicy))
        return {QStringLiteral("spec")};
    const QStringList sa = parseAgentgatewayPolicySpec(a, nullptr).sections;
    const QStringList sb = parseAgentgatewayPolicySpec(b, nullptr).sections;
    QStringList out;
    for (const auto &s : sa) {
        if (sb.contains(s))
            out.append(s);
    }
    return out;
}

// What the policy engine treats as one target (policy/policyengine.cpp, targetKey): a listener (sectionName) is
// another target than its whole Gateway, so the two do not conflict — the more specific one wins.
bool sameTarget(const PolicyTargetRef &a, const PolicyTargetRef &b)
{
    return a.kind == b.kind && a.name == b.name &&
           (a.kind != QLatin1String(kinds::Gateway) || a.sectionName == b.sectionName);
}

// Gateway API conflict order (GEP-713), as the policy engine applies it. True if `a` wins over `b`.
bool winsOver(const Resource &a, const Resource &b)
{
    return detail::policyWinsOver(a, b);
}

QJsonObject targetResolution(const Config &config, const Resource &policy, const PolicyTargetRef &target,
                             const QDateTime &now)
{
    const Resource *object = config.find(ResourceKey{target.kind, policy.ns(), target.name});
    QString problem;
    if (!object) {
        problem = QStringLiteral("%1 %2/%3 not found").arg(target.kind, policy.ns(), target.name);
    } else if (!target.sectionName.isEmpty()) {
        const auto listeners = parseGatewaySpec(*object, nullptr).listeners;
        const bool found = std::any_of(listeners.begin(), listeners.end(),
                                       [&](const GatewayListenerSpec &l) { return l.name == target.sectionName; });
        if (!found)
            problem = QStringLiteral("Gateway %1/%2 has no listener named \"%3\"")
                          .arg(policy.ns(), target.name, target.sectionName);
    }
    return condition("ResolvedRefs", problem.isEmpty(), problem.isEmpty() ? "ResolvedRefs" : "TargetNotFound",
                     problem.isEmpty() ? QStringLiteral("target found") : problem, policy, now);
}

} // namespace

QJsonObject policyStatus(const Config &config, const Resource &policy, const QDateTime &now,
                         const QStringList &problems)
{
    QList<FieldError> errors;
    const QList<PolicyTargetRef> targets = policyTargets(policy, &errors);
    QJsonArray ancestors;
    for (const auto &target : targets) {
        // The oldest other policy of this kind on the same target, if it is older than this one, is in effect there.
        const Resource *winner = nullptr;
        for (const Resource *other : config.ofKind(policy.kind())) {
            if (other->key() == policy.key() || other->ns() != policy.ns() || !winsOver(*other, policy))
                continue;
            QList<FieldError> otherErrors;
            const auto otherTargets = policyTargets(*other, &otherErrors);
            // An invalid RateLimitPolicy is ignored by the engine; invalid authn/authz policies still attach.
            if (!otherErrors.isEmpty() && (policy.kind() == QLatin1String(kinds::RateLimitPolicy)
                                           || policy.kind() == QLatin1String(kinds::AgentgatewayPolicy)))
                continue;
            if (sharedSections(policy, *other).isEmpty())
                continue;
            const bool overlaps = std::any_of(otherTargets.begin(), otherTargets.end(),
                                              [&](const PolicyTargetRef &t) { return sameTarget(t, target); });
            if (overlaps && (!winner || winsOver(*other, *winner)))
                winner = other;
        }
        QJsonObject accepted;
        if (!errors.isEmpty())
            accepted = condition("Accepted", false, "Invalid", firstError(errors), policy, now);
        else if (winner)
            accepted = condition("Accepted", false, "Conflicted",
                                 QStringLiteral("%1 %2/%3 is older and targets the same %4 %5; it is in effect here, "
                                                "this policy is not")
                                     .arg(policy.kind(), winner->ns(), winner->name(), target.kind, target.name),
                                 policy, now);
        else if (!problems.isEmpty())
            accepted = condition("Accepted", false, "Invalid", problems.join("; "), policy, now);
        else
            accepted = condition("Accepted", true, "Accepted", "policy accepted", policy, now);
        QJsonObject ref{{"group", target.group}, {"kind", target.kind}, {"name", target.name},
                        {"namespace", policy.ns()}};
        if (!target.sectionName.isEmpty())
            ref.insert("sectionName", target.sectionName);
        QJsonArray conditions{accepted};
        // AgentgatewayPolicy, as routes: ResolvedRefs says whether the target exists (and its listener).
        if (policy.kind() == QLatin1String(kinds::AgentgatewayPolicy))
            conditions.append(targetResolution(config, policy, target, now));
        ancestors.append(QJsonObject{{"ancestorRef", ref},
                                     {"controllerName", QString::fromLatin1(ControllerName)},
                                     {"conditions", conditions}});
    }
    if (targets.isEmpty() && !errors.isEmpty())
        return QJsonObject{{"ancestors", ancestors},
                           {"conditions", QJsonArray{condition("Accepted", false, "Invalid", firstError(errors),
                                                               policy, now)}}};
    return QJsonObject{{"ancestors", ancestors}};
}

QJsonObject routeStatus(const Config &config, const Resource &route, const QDateTime &now)
{
    QList<FieldError> errors;
    const HttpRouteSpec spec = parseHttpRouteSpec(route, &errors);
    const QList<detail::GatewayInfo> gateways = detail::validGateways(config);

    // ResolvedRefs is a property of the route, the same for every parent: the first failing ref explains it.
    QString refReason = QStringLiteral("ResolvedRefs");
    QString refMessage = QStringLiteral("all backend references resolved");
    for (int ri = 0; ri < spec.rules.size() && refReason == QLatin1String("ResolvedRefs"); ++ri) {
        const auto &refs = spec.rules[ri].backendRefs;
        for (int bi = 0; bi < refs.size(); ++bi) {
            const auto res = detail::resolveBackend(config, route.ns(), refs[bi]);
            if (!res.backend) {
                refReason = res.reason;
                refMessage = QStringLiteral("spec.rules[%1].backendRefs[%2]: %3").arg(ri).arg(bi).arg(res.message);
                break;
            }
        }
    }

    QJsonArray parents;
    for (const auto &ref : spec.parentRefs) {
        QJsonObject parentRef = ref.json;
        if (!parentRef.contains("group"))
            parentRef.insert("group", ref.group);
        if (!parentRef.contains("kind"))
            parentRef.insert("kind", ref.kind);
        if (!parentRef.contains("namespace"))
            parentRef.insert("namespace", route.ns());
        QJsonObject accepted;
        if (!errors.isEmpty()) {
            accepted = condition("Accepted", false, "UnsupportedValue", firstError(errors), route, now);
        } else {
            const auto a = detail::attach(gateways, route, spec, ref);
            accepted = condition("Accepted", a.accepted(), a.reason, a.message, route, now);
        }
        parents.append(QJsonObject{
            {"parentRef", parentRef},
            {"controllerName", ControllerName},
            {"conditions",
             QJsonArray{accepted, condition("ResolvedRefs", refReason == QLatin1String("ResolvedRefs"), refReason,
                                            refMessage, route, now)}}});
    }
    return QJsonObject{{"parents", parents}};
}

QJsonObject gatewayStatus(const Config &config, const Resource &gateway, const QDateTime &now)
{
    QList<FieldError> errors;
    const GatewaySpec spec = parseGatewaySpec(gateway, &errors);
    if (!errors.isEmpty()) {
        const QString msg = firstError(errors);
        return QJsonObject{{"conditions", QJsonArray{condition("Accepted", false, "Invalid", msg, gateway, now),
                                                     condition("Programmed", false, "Invalid", msg, gateway, now)}}};
    }
    const QList<detail::GatewayInfo> gateways = detail::validGateways(config);
    QList<int> attached(spec.listeners.size(), 0);
    for (const Resource *route : config.ofKind(QString::fromLatin1(kinds::HTTPRoute))) {
        QList<FieldError> routeErrors;
        const HttpRouteSpec rs = parseHttpRouteSpec(*route, &routeErrors);
        if (!routeErrors.isEmpty())
            continue;
        QSet<int> listeners; // a route counts once per listener even through several parentRefs
        for (const auto &ref : rs.parentRefs) {
            const auto a = detail::attach(gateways, *route, rs, ref);
            if (a.gateway && a.gateway->resource->key() == gateway.key()) {
                for (int i : a.listeners)
                    listeners.insert(i);
            }
        }
        for (int i : listeners)
            ++attached[i];
    }
    QJsonArray addresses;
    for (const auto &a : spec.addresses)
        addresses.append(QJsonObject{{"type", a.type}, {"value", a.value}});
    if (spec.addresses.isEmpty())
        addresses.append(QJsonObject{{"type", "IPAddress"}, {"value", "127.0.0.1"}});
    QJsonArray listeners;
    for (int i = 0; i < spec.listeners.size(); ++i) {
        listeners.append(QJsonObject{
            {"name", spec.listeners[i].name},
            {"supportedKinds", QJsonArray{QJsonObject{{"group", GatewayGroup}, {"kind", "HTTPRoute"}}}},
            {"attachedRoutes", attached[i]},
            {"conditions", QJsonArray{condition("Accepted", true, "Accepted", "listener accepted", gateway, now),
                                      condition("Programmed", true, "Programmed", "listener programmed", gateway, now),
                                      condition("ResolvedRefs", true, "ResolvedRefs", "references resolved", gateway,
                                                now)}}});
    }
    return QJsonObject{
        {"addresses", addresses},
        {"conditions", QJsonArray{condition("Accepted", true, "Accepted", "gateway accepted", gateway, now),
                                  condition("Programmed", true, "Programmed", "gateway programmed", gateway, now)}},
        {"listeners", listeners}};
}

QJsonObject backendStatus(const Config &config, const Resource &backend, const QDateTime &now)
{
    Q_UNUSED(config);
    QList<FieldError> errors;
    parseBackendSpec(backend, &errors);
    const bool ok = errors.isEmpty();
    return QJsonObject{{"conditions", QJsonArray{condition("Accepted", ok, ok ? "Accepted" : "Invalid",
                                                           ok ? "backend accepted" : firstError(errors), backend,
                                                           now)}}};
}

QJsonObject resourceStatus(const Config &config, const Resource &resource, const QDateTime &now,
                           const QStringList &problems)
{
    const QString kind = resource.kind();
    if (kind == QLatin1String(kinds::RateLimitPolicy) || kind == QLatin1String(kinds::AuthenticationPolicy)
        || kind == QLatin1String(kinds::AuthorizationPolicy) || kind == QLatin1String(kinds::AgentgatewayPolicy))
        return policyStatus(config, resource, now, problems);
    if (kind == QLatin1String(kinds::HTTPRoute))
        return routeStatus(config, resource, now);
    if (kind == QLatin1String(kinds::Gateway))
        return gatewayStatus(config, resource, now);
    if (kind == QLatin1String(kinds::Backend))
        return backendStatus(config, resource, now);
    return {};
}

} // namespace dfproxy::routing
