// SPDX-License-Identifier: Apache-2.0
#include "routing/attachment.h"

#include "config/agentgatewaypolicy.h"

#include <QSet>

namespace dfproxy::routing::detail {

using namespace dfproxy::config;

QList<GatewayInfo> validGateways(const Config &config)
{
    QList<GatewayInfo> out;
    for (const Resource *r : config.ofKind(QString::fromLatin1(kinds::Gateway))) {
        QList<FieldError> errors;
        GatewayInfo g{r, parseGatewaySpec(*r, &errors)};
        if (errors.isEmpty())
            out.append(std::move(g));
    }
    return out;
}

namespace {

// "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com".
bool wildcardCovers(const QString &wildcard, const QString &host)
{
    const QStringView suffix = QStringView(wildcard).mid(1); // ".example.com"
    return host.size() > suffix.size() && host.endsWith(suffix);
}

} // namespace

std::optional<QStringList> intersectHostnames(const QString &listenerHostname, const QStringList &routeHostnames)
{
    if (listenerHostname.isEmpty())
        return routeHostnames;
    if (routeHostnames.isEmpty())
        return QStringList{listenerHostname};
    QStringList out;
    const bool listenerWild = listenerHostname.startsWith(u'*');
    for (const QString &h : routeHostnames) {
        const bool routeWild = h.startsWith(u'*');
        QString result;
        if (h == listenerHostname)
            result = h;
        else if (listenerWild && wildcardCovers(listenerHostname, routeWild ? h.mid(1).prepend(u'x') : h))
            result = h; // the route's hostname is the more specific one
        else if (routeWild && wildcardCovers(h, listenerWild ? listenerHostname.mid(1).prepend(u'x') : listenerHostname))
            result = listenerHostname;
        if (!result.isEmpty() && !out.contains(result))
            out.append(result);
    }
    if (out.isEmpty())
        return std::nullopt;
    return out;
}

Attachment attach(const QList<GatewayInfo> &gateways, const Resource &route, const HttpRouteSpec &spec,
                  const ParentRef &ref)
{
    Attachment a;
    const QString ns = ref.ns.isEmpty() ? route.ns() : ref.ns;
    if (ref.group != QLatin1String(GatewayGroup) || ref.kind != QLatin1String("Gateway")) {
        a.reason = QStringLiteral("NoMatchingParent");
        a.message = QStringLiteral("parentRef %1/%2 is not a Gateway (group %3)").arg(ref.kind, ref.name, GatewayGroup);
        return a;
    }
    for (const auto &g : gateways) {
        if (g.resource->ns() == ns && g.resource->name() == ref.name) {
            a.gateway = &g;
            break;
        }
    }
    if (!a.gateway) {
        a.reason = QStringLiteral("NoMatchingParent");
        a.message = QStringLiteral("Gateway %1/%2 not found").arg(ns, ref.name);
        return a;
    }
    int candidates = 0;
    int allowed = 0;
    const auto &listeners = a.gateway->spec.listeners;
    for (int i = 0; i < listeners.size(); ++i) {
        const auto &l = listeners[i];
        if (!ref.sectionName.isEmpty() && l.name != ref.sectionName)
            continue;
        if (ref.port && l.port != *ref.port)
            continue;
        ++candidates;
        if (l.allowedRoutesFrom == QLatin1String("Same") && route.ns() != a.gateway->resource->ns())
            continue;
        ++allowed;
        const auto hosts = intersectHostnames(l.hostname, spec.hostnames);
        if (!hosts)
            continue;
        a.listeners.append(i);
        a.hostnames.append(*hosts);
    }
    const QString gw = a.gateway->resource->ns() + u'/' + a.gateway->resource->name();
    if (candidates == 0) {
        a.reason = QStringLiteral("NoMatchingParent");
        if (!ref.sectionName.isEmpty())
            a.message = QStringLiteral("Gateway %1 has no listener named \"%2\"").arg(gw, ref.sectionName);
        else if (ref.port)
            a.message = QStringLiteral("Gateway %1 has no listener on port %2").arg(gw).arg(*ref.port);
        else
            a.message = QStringLiteral("Gateway %1 has no listeners").arg(gw);
    } else if (allowed == 0) {
        a.reason = QStringLiteral("NotAllowedByListeners");
        a.message = QStringLiteral("the listeners of Gateway %1 only accept routes from namespace %2")
                        .arg(gw, a.gateway->resource->ns());
    } else if (a.listeners.isEmpty()) {
        a.reason = QStringLiteral("NoMatchingListenerHostname");
        a.message = QStringLiteral("no hostname of the route matches a listener hostname of Gateway %1").arg(gw);
    } else {
        a.reason = QStringLiteral("Accepted");
        a.message = QStringLiteral("attached to Gateway %1").arg(gw);
    }
    return a;
}

BackendResolution resolveBackend(const Config &config, const QString &routeNamespace, const BackendRef &ref)
{
    BackendResolution r;
    const QString ns = ref.ns.isEmpty() ? routeNamespace : ref.ns;
    if (ref.group != QLatin1String(BackendGroup) || ref.kind != QLatin1String(kinds::Backend)) {
        r.reason = QStringLiteral("InvalidKind");
        r.message = QStringLiteral("backendRef %1 has unsupported kind %2 (group \"%3\"); use %4 in group %5")
                        .arg(ref.name, ref.kind, ref.group, kinds::Backend, BackendGroup);
        return r;
    }
    const Resource *b = config.find(ResourceKey{QString::fromLatin1(kinds::Backend), ns, ref.name});
    if (!b) {
        r.reason = QStringLiteral("BackendNotFound");
        r.message = QStringLiteral("%1 %2/%3 not found").arg(kinds::Backend, ns, ref.name);
        return r;
    }
    QList<FieldError> errors;
    parseBackendSpec(*b, &errors);
    if (!errors.isEmpty()) {
        r.reason = QStringLiteral("BackendNotFound");
        r.message = QStringLiteral("%1 %2/%3 is invalid: %4: %5")
                        .arg(kinds::Backend, ns, ref.name, errors[0].path, errors[0].message);
        return r;
    }
    r.reason = QStringLiteral("ResolvedRefs");
    r.message = QStringLiteral("resolved");
    r.backend = b;
    return r;
}

bool policyWinsOver(const Resource &a, const Resource &b)
{
    const QDateTime ta = creationTimestamp(a), tb = creationTimestamp(b);
    if (ta.isValid() && tb.isValid() && ta != tb)
        return ta < tb;
    if (ta.isValid() != tb.isValid())
        return ta.isValid();
    return a.ns() + u'/' + a.name() < b.ns() + u'/' + b.name();
}

AgentgatewayAttachments agentgatewayAttachments(const Config &config, const QList<GatewayInfo> &gateways)
{
    AgentgatewayAttachments out;
    struct Valid
    {
        const Resource *policy = nullptr;
        AgentgatewayPolicySpec spec;
    };
    QList<Valid> valid;
    for (const Resource *p : config.ofKind(QString::fromLatin1(kinds::AgentgatewayPolicy))) {
        QList<FieldError> errors;
        Valid v{p, parseAgentgatewayPolicySpec(*p, &errors)};
        if (errors.isEmpty())
            valid.append(std::move(v));
    }
    if (valid.isEmpty())
        return out;

    // The policy in effect for `section` on each target of `kind` ("namespace/name"): the oldest one setting it.
    auto winners = [&](const QString &section, const char *kind) {
        QHash<QString, const Valid *> map;
        for (const Valid &v : valid) {
            if (!v.spec.sections.contains(section))
                continue;
            for (const auto &t : v.spec.targetRefs) {
                if (t.kind != QLatin1String(kind))
                    continue;
                const QString key = v.policy->ns() + u'/' + t.name;
                auto it = map.find(key);
                if (it == map.end() || policyWinsOver(*v.policy, *(*it)->policy))
                    map.insert(key, &v);
            }
        }
        return map;
    };
    // The object's own policy, else the oldest one on a Gateway it is reached through.
    auto pick = [](const QHash<QString, const Valid *> &own, const QHash<QString, const Valid *> &onGateways,
                   const QString &key, const QSet<QString> &viaGateways) -> const Valid * {
        if (const auto it = own.constFind(key); it != own.cend())
            return *it;
        const Valid *best = nullptr;
        for (const QString &gw : viaGateways) {
            const auto it = onGateways.constFind(gw);
            if (it != onGateways.cend() && (!best || policyWinsOver(*(*it)->policy, *best->policy)))
                best = *it;
        }
        return best;
    };

    // Which Gateways each route attaches to, and each backend is reached through.
    QHash<QString, QSet<QString>> gatewaysOfRoute, gatewaysOfBackend;
    for (const Resource *route : config.ofKind(QString::fromLatin1(kinds::HTTPRoute))) {
        QList<FieldError> errors;
        const HttpRouteSpec spec = parseHttpRouteSpec(*route, &errors);
        if (!errors.isEmpty())
            continue;
        QSet<QString> &parents = gatewaysOfRoute[route->ns() + u'/' + route->name()];
        for (const auto &ref : spec.parentRefs) {
            const Attachment a = attach(gateways, *route, spec, ref);
            if (a.accepted())
                parents.insert(a.gateway->resource->ns() + u'/' + a.gateway->resource->name());
        }
        for (const auto &rule : spec.rules) {
            for (const auto &ref : rule.backendRefs) {
                const BackendResolution res = resolveBackend(config, route->ns(), ref);
                if (res.backend)
                    gatewaysOfBackend[res.backend->ns() + u'/' + res.backend->name()].unite(parents);
            }
        }
    }

    const auto tunnelOwn = winners(QStringLiteral("backend.tunnel"), kinds::Backend);
    const auto tunnelGw = winners(QStringLiteral("backend.tunnel"), kinds::Gateway);
    const auto tlsOwn = winners(QStringLiteral("backend.tls"), kinds::Backend);
    const auto tlsGw = winners(QStringLiteral("backend.tls"), kinds::Gateway);
    const auto httpOwn = winners(QStringLiteral("backend.http"), kinds::Backend);
    const auto httpGw = winners(QStringLiteral("backend.http"), kinds::Gateway);
    for (const Resource *b : config.ofKind(QString::fromLatin1(kinds::Backend))) {
        const QString key = b->ns() + u'/' + b->name();
        const QSet<QString> via = gatewaysOfBackend.value(key);
        BackendPolicies bp;
        if (const Valid *v = pick(tunnelOwn, tunnelGw, key, via)) {
            auto t = std::make_shared<BackendTunnel>();
            t->policyKey = v->policy->ns() + u'/' + v->policy->name();
            t->url = v->spec.tunnel->url;
            t->credentialsFile = v->spec.tunnel->credentialsFile;
            t->bypass = v->spec.tunnel->bypass;
            t->pacUrl = v->spec.tunnel->pacUrl;
            t->caFile = v->spec.tunnel->caFile;
            bp.tunnel = std::move(t);
        }
        if (const Valid *v = pick(tlsOwn, tlsGw, key, via))
            bp.tls = v->spec.backendTls;
        if (const Valid *v = pick(httpOwn, httpGw, key, via))
            bp.http = v->spec.backendHttp;
        if (bp.tunnel || bp.tls || bp.http)
            out.backends.insert(key, bp);
    }

    const auto timeoutOwn = winners(QStringLiteral("traffic.timeouts"), kinds::HTTPRoute);
    const auto timeoutGw = winners(QStringLiteral("traffic.timeouts"), kinds::Gateway);
    const auto headersOwn = winners(QStringLiteral("traffic.headerModifiers"), kinds::HTTPRoute);
    const auto headersGw = winners(QStringLiteral("traffic.headerModifiers"), kinds::Gateway);
    for (auto it = gatewaysOfRoute.cbegin(); it != gatewaysOfRoute.cend(); ++it) {
        RoutePolicies rp;
        if (const Valid *v = pick(timeoutOwn, timeoutGw, it.key(), it.value()))
            rp.requestTimeoutMs = v->spec.requestTimeoutMs;
        if (const Valid *v = pick(headersOwn, headersGw, it.key(), it.value())) {
            rp.requestHeaders = v->spec.requestHeaders;
            rp.responseHeaders = v->spec.responseHeaders;
        }
        if (rp.requestTimeoutMs > 0 || rp.requestHeaders || rp.responseHeaders)
            out.routes.insert(it.key(), rp);
    }
    return out;
}

} // namespace dfproxy::routing::detail
