// SPDX-License-Identifier: Apache-2.0
#include "config/resource.h"

#include "config/agentgatewaypolicy.h"

#include <QRegularExpression>

namespace dfproxy::config {

const QList<KindInfo> &knownKinds()
{
    static const QList<KindInfo> kinds = {
        {kinds::Gateway, "gateway.networking.k8s.io", "v1", "gateways", {"gateway", "gateways", "gw"}},
        {kinds::HTTPRoute, "gateway.networking.k8s.io", "v1", "httproutes", {"httproute", "httproutes", "route", "routes"}},
        {kinds::Backend,
         "agentgateway.dev",
         "v1alpha1",
         "backends",
         {"agentgatewaybackend", "agentgatewaybackends", "backend", "backends", "be"}},
        {kinds::RateLimitPolicy, "dfproxy.dev", "v1alpha1", "ratelimitpolicies",
         {"ratelimitpolicy", "ratelimitpolicies", "ratelimit", "rlp"}},
        {kinds::AuthenticationPolicy, "dfproxy.dev", "v1alpha1", "authenticationpolicies",
         {"authenticationpolicy", "authenticationpolicies", "authnpolicy", "authn"}},
        {kinds::AuthorizationPolicy, "dfproxy.dev", "v1alpha1", "authorizationpolicies",
         {"authorizationpolicy", "authorizationpolicies", "authzpolicy", "authz"}},
        {kinds::AgentgatewayPolicy, "agentgateway.dev", "v1alpha1", "agentgatewaypolicies",
         {"agentgatewaypolicy", "agentgatewaypolicies", "agpol"}},
    };
    return kinds;
}

std::optional<KindInfo> findKind(const QString &nameOrAlias)
{
    const QString n = nameOrAlias.toLower();
    for (const auto &k : knownKinds()) {
        if (k.kind.toLower() == n || k.plural == n || k.aliases.contains(n))
            return k;
    }
    return std::nullopt;
}

QString Resource::ns() const
{
    const QString n = metadata().value("namespace").toString();
    return n.isEmpty() ? QStringLiteral("default") : n;
}

bool isDns1123Label(const QString &s)
{
    static const QRegularExpression re(QStringLiteral("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"));
    return re.match(s).hasMatch();
}

bool isDns1123Subdomain(const QString &s)
{
    if (s.isEmpty() || s.size() > 253)
        return false;
    const auto labels = s.split('.');
    for (const auto &l : labels) {
        if (!isDns1123Label(l))
            return false;
    }
    return true;
}

QList<FieldError> Resource::validateEnvelope() const
{
    QList<FieldError> errors;
    const auto kindInfo = findKind(kind());
    if (!m_obj.value("kind").isString() || kind().isEmpty())
        errors.append(FieldError{"kind", "is required"});
    else if (!kindInfo || kindInfo->kind != kind())
        errors.append(FieldError{"kind", QStringLiteral("unknown kind \"%1\"").arg(kind())});
    const QString av = apiVersion();
    if (av.isEmpty())
        errors.append(FieldError{"apiVersion", "is required"});
    else if (kindInfo && kindInfo->kind == kind() && !av.startsWith(kindInfo->group + "/"))
        errors.append(FieldError{"apiVersion", QStringLiteral("must be in group %1 for kind %2").arg(kindInfo->group, kind())});
    if (!m_obj.value("metadata").isObject()) {
        errors.append(FieldError{"metadata", "is required"});
    } else {
        if (name().isEmpty())
            errors.append(FieldError{"metadata.name", "is required"});
        else if (!isDns1123Subdomain(name()))
            errors.append(FieldError{"metadata.name", "must be a lower-case RFC 1123 subdomain"});
        const auto nsv = metadata().value("namespace");
        if (!nsv.isUndefined() && (!nsv.isString() || !isDns1123Label(nsv.toString())))
            errors.append(FieldError{"metadata.namespace", "must be a lower-case RFC 1123 label"});
    }
    if (!m_obj.value("spec").isObject())
        errors.append(FieldError{"spec", "is required and must be an object"});
    // A field beside these is one dfproxy does not implement: refused with its path, never kept unread (status is
    // what an exported object carries; the store writes its own).
    for (auto it = m_obj.begin(); it != m_obj.end(); ++it) {
        static const QStringList known{"apiVersion", "kind", "metadata", "spec", "status"};
        if (!known.contains(it.key()))
            errors.append(FieldError{it.key(), "is not a field of a resource"});
    }
    return errors;
}

} // namespace dfproxy::config
