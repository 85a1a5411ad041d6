// SPDX-License-Identifier: Apache-2.0
#include "routing/attachment.h"

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

} // namespace dfproxy::routing::detail
