// SPDX-License-Identifier: Apache-2.0
#include "config/validation.h"

#include "config/model.h"

#include <QHostAddress>

namespace dfproxy::config {

QList<FieldError> validateResource(const Resource &resource)
{
    QList<FieldError> errors = resource.validateEnvelope();
    // The spec of an unknown kind, or a spec that is not an object, has nothing more to check.
    if (!resource.json().value("spec").isObject())
        return errors;
    const QString kind = resource.kind();
    if (kind == QLatin1String(kinds::Gateway))
        parseGatewaySpec(resource, &errors);
    else if (kind == QLatin1String(kinds::HTTPRoute))
        parseHttpRouteSpec(resource, &errors);
    else if (kind == QLatin1String(kinds::Backend))
        parseBackendSpec(resource, &errors);
    else if (kind == QLatin1String(kinds::RateLimitPolicy))
        parseRateLimitPolicySpec(resource, &errors);
    else if (kind == QLatin1String(kinds::AuthenticationPolicy))
        parseAuthenticationPolicySpec(resource, &errors);
    else if (kind == QLatin1String(kinds::AuthorizationPolicy))
        parseAuthorizationPolicySpec(resource, &errors);
    return errors;
}

namespace {

// A wildcard address conflicts with every address of its family on the same port (and "::" with IPv4 too, as
// dual-stack sockets are the default on most systems).
bool isWildcard(const QHostAddress &a)
{
    return a == QHostAddress(QHostAddress::AnyIPv4) || a == QHostAddress(QHostAddress::AnyIPv6);
}

bool overlaps(const QHostAddress &a, const QHostAddress &b)
{
    if (a.isEqual(b, QHostAddress::ConvertV4MappedToIPv4 | QHostAddress::ConvertV4CompatToIPv4))
        return true;
    if (a == QHostAddress(QHostAddress::AnyIPv6) || b == QHostAddress(QHostAddress::AnyIPv6))
        return true;
    return (isWildcard(a) || isWildcard(b)) && a.protocol() == b.protocol();
}

} // namespace

QList<FieldError> validateConfig(const Config &config)
{
    QList<FieldError> errors;
    // The global blocks are objects by construction (Config::fromJson rejects anything else); their owners
    // (dns/, admin/, proxy/, telemetry/) check their contents. proxy.ssrf belongs to the policies (policy/).
    parseSsrfSettings(config.proxy, &errors);

    struct Bound
    {
        QHostAddress address;
        quint16 port;
        QString path;
        QString owner;
    };
    QList<Bound> bound;
    for (int i = 0; i < config.resources.size(); ++i) {
        const Resource &r = config.resources[i];
        const QString prefix = QStringLiteral("resources[%1]").arg(i);
        const auto resErrors = validateResource(r);
        for (const auto &e : resErrors)
            errors.append(FieldError{prefix + u'.' + e.path, e.message});
        if (!resErrors.isEmpty() || r.kind() != QLatin1String(kinds::Gateway))
            continue;
        const GatewaySpec g = parseGatewaySpec(r, nullptr);
        QList<QHostAddress> addresses;
        for (const auto &a : g.addresses)
            addresses.append(QHostAddress(a.value));
        if (addresses.isEmpty())
            addresses.append(QHostAddress(QHostAddress::LocalHost));
        for (int li = 0; li < g.listeners.size(); ++li) {
            const auto &l = g.listeners[li];
            const QString path = QStringLiteral("%1.spec.listeners[%2].port").arg(prefix).arg(li);
            for (const auto &addr : addresses) {
                for (const auto &b : bound) {
                    // A wildcard address conflicts with every address of its family on the same port.
                    if (b.port == l.port && overlaps(b.address, addr)) {
                        errors.append(FieldError{path, QStringLiteral("%1:%2 is already bound by %3")
                                                           .arg(addr.toString())
                                                           .arg(l.port)
                                                           .arg(b.owner)});
                        break;
                    }
                }
            }
            for (const auto &addr : addresses)
                bound.append(Bound{addr, l.port, path, QStringLiteral("Gateway %1/%2 listener %3")
                                                          .arg(r.ns(), r.name(), l.name)});
        }
    }
    return errors;
}

} // namespace dfproxy::config
