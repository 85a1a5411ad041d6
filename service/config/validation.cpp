// SPDX-License-Identifier: Apache-2.0
#include "config/validation.h"

#include "config/agentgatewaypolicy.h"
#include "config/model.h"
#include "pac/pacsettings.h"

#include <QHostAddress>
#include <QJsonArray>
#include <QRegularExpression>

#include <functional>

namespace dfproxy::config {

namespace {

QString describeControl(QChar c)
{
    switch (c.unicode()) {
    case '\r':
        return QStringLiteral("CR");
    case '\n':
        return QStringLiteral("LF");
    case '\t':
        return QStringLiteral("TAB");
    case 0:
        return QStringLiteral("NUL");
    default:
        return QStringLiteral("U+%1").arg(c.unicode(), 4, 16, QLatin1Char('0')).toUpper();
    }
}

bool hasErrorAt(const QList<FieldError> &errors, const QString &path)
{
    for (const auto &e : errors) {
        if (e.path == path)
            return true;
    }
    return false;
}

using TabAllowed = std::function<bool(const QString &path)>;

// Every string of a config, keys included, may end up on the wire (a header, the request line, a Location, a
// reason phrase) or in a log line, so none may hold a control character; TAB only where `tabAllowed` says the HTTP
// grammar allows it. One blanket walk, so a field added later is covered without anyone remembering to. A path
// that already has an error (e.g. the precise one of the field's parser) gets no second one.
void checkControls(const QJsonValue &v, const QString &path, const TabAllowed &tabAllowed, QList<FieldError> &errors)
{
    auto report = [&](const QString &p, const QString &s, bool allowTab, const char *what) {
        const qsizetype at = firstControlCharacter(s, allowTab);
        if (at >= 0 && !hasErrorAt(errors, p))
            errors.append(FieldError{p, QStringLiteral("%1 must not contain control characters (found %2 at offset %3)")
                                            .arg(QLatin1String(what), describeControl(s[at]))
                                            .arg(at)});
    };
    if (v.isString()) {
        report(path, v.toString(), tabAllowed && tabAllowed(path), "the value");
    } else if (v.isArray()) {
        const QJsonArray a = v.toArray();
        for (qsizetype i = 0; i < a.size(); ++i)
            checkControls(a[i], path + u'[' + QString::number(i) + u']', tabAllowed, errors);
    } else if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it) {
            const QString p = path.isEmpty() ? it.key() : path + u'.' + it.key();
            report(p, it.key(), false, "the field name");
            checkControls(it.value(), p, tabAllowed, errors);
        }
    }
}

// Header values (RFC 9110 field-value) may hold TAB; nothing else may.
bool isHeaderValuePath(const QString &path)
{
    static const QRegularExpression re(QStringLiteral(
        "^spec\\.rules\\[\\d+\\]\\.(filters\\[\\d+\\]\\.(request|response)HeaderModifier\\.(set|add)"
        "|matches\\[\\d+\\]\\.headers)\\[\\d+\\]\\.value$"));
    return re.match(path).hasMatch();
}

// An AgentgatewayPolicy's inline JWKS (JSON) and CEL expressions are commonly written as YAML blocks, with line
// breaks; they never reach the wire or a log line as they are, and their own parsers check them.
QJsonObject withoutMultilineText(QJsonObject spec)
{
    QJsonObject traffic = spec.value("traffic").toObject();
    QJsonObject jwt = traffic.value("jwtAuthentication").toObject();
    QJsonArray providers = jwt.value("providers").toArray();
    for (qsizetype i = 0; i < providers.size(); ++i) {
        QJsonObject p = providers[i].toObject();
        QJsonObject jwks = p.value("jwks").toObject();
        if (jwks.value("inline").isString()) {
            jwks.insert("inline", QString());
            p.insert("jwks", jwks);
            providers[i] = p;
        }
    }
    if (jwt.contains("providers")) {
        jwt.insert("providers", providers);
        traffic.insert("jwtAuthentication", jwt);
    }
    QJsonObject authz = traffic.value("authorization").toObject();
    QJsonObject policy = authz.value("policy").toObject();
    QJsonArray exprs = policy.value("matchExpressions").toArray();
    for (qsizetype i = 0; i < exprs.size(); ++i) {
        if (exprs[i].isString())
            exprs[i] = QString();
    }
    if (policy.contains("matchExpressions")) {
        policy.insert("matchExpressions", exprs);
        authz.insert("policy", policy);
        traffic.insert("authorization", authz);
    }
    if (spec.contains("traffic"))
        spec.insert("traffic", traffic);
    return spec;
}

} // namespace

QList<FieldError> validateResource(const Resource &resource)
{
    QList<FieldError> errors = resource.validateEnvelope();
    // The spec of an unknown kind, or a spec that is not an object, has nothing more to check.
    if (!resource.json().value("spec").isObject()) {
        checkControls(resource.json().value("metadata"), QStringLiteral("metadata"), {}, errors);
        return errors;
    }
    const QString kind = resource.kind();
    if (kind == QLatin1String(kinds::Gateway)) {
        parseGatewaySpec(resource, &errors);
        // The PAC settings (dfproxy.dev/pac-*) are annotations, so the manifest stays valid Gateway API.
        QList<pac::PacSettingsError> pacErrors;
        pac::parsePacSettings(resource.metadata().value("annotations").toObject(), &pacErrors);
        for (const auto &e : pacErrors)
            errors.append(FieldError{QStringLiteral("metadata.annotations[%1]").arg(e.annotation), e.message});
    }
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
    else if (kind == QLatin1String(kinds::AgentgatewayPolicy))
        parseAgentgatewayPolicySpec(resource, &errors);
    checkControls(kind == QLatin1String(kinds::AgentgatewayPolicy) ? withoutMultilineText(resource.spec())
                                                                   : resource.spec(),
                  QStringLiteral("spec"), isHeaderValuePath, errors);
    // Annotations are free text for people and tools (descriptions may span lines) and never leave dfproxy.
    QJsonObject metadata = resource.metadata();
    QJsonObject annotations = metadata.value("annotations").toObject();
    for (auto it = annotations.begin(); it != annotations.end(); ++it)
        it.value() = QString();
    if (metadata.contains("annotations"))
        metadata.insert("annotations", annotations);
    checkControls(metadata, QStringLiteral("metadata"), {}, errors);
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

namespace {

/// An upstream proxy (AgentgatewayPolicy spec.backend.tunnel, #22) on a backend whose engine is qnam: only the native
/// engine speaks to upstream proxies, so it is refused here rather than failing every request. (A tunnel that
/// reaches a qnam backend through its Gateway needs the routes' attachment: forward::tunnelErrors refuses that one,
/// as the store's cross-resource check, ConfigStore::setCrossResourceCheck.)
void checkTunnelEngines(const Config &config, QList<FieldError> &errors)
{
    for (int i = 0; i < config.resources.size(); ++i) {
        const Resource &p = config.resources[i];
        if (p.kind() != QLatin1String(kinds::AgentgatewayPolicy))
            continue;
        QList<FieldError> ignored;
        const AgentgatewayPolicySpec spec = parseAgentgatewayPolicySpec(p, &ignored);
        if (!spec.tunnel)
            continue;
        for (const PolicyTargetRef &ref : spec.targetRefs) {
            if (ref.kind != QLatin1String(kinds::Backend))
                continue;
            for (const Resource &b : config.resources) {
                if (b.kind() != QLatin1String(kinds::Backend) || b.ns() != p.ns() || b.name() != ref.name)
                    continue;
                QList<FieldError> backendErrors;
                if (parseBackendSpec(b, &backendErrors).engine == BackendSpec::Engine::Qnam)
                    errors.append(FieldError{
                        QStringLiteral("resources[%1].spec.backend.tunnel").arg(i),
                        QStringLiteral("the backend %1/%2 uses engine: qnam, which does not speak to upstream "
                                       "proxies; use the native engine (remove spec.engine)")
                            .arg(b.ns(), b.name())});
            }
        }
    }
}

} // namespace

QList<FieldError> validateConfig(const Config &config, SsrfSettings *ssrf)
{
    QList<FieldError> errors;
    // The global blocks are objects by construction (Config::fromJson rejects anything else); their owners
    // (dns/, admin/, proxy/, telemetry/) check their contents. proxy.ssrf is run by the policies (policy/).
    SsrfSettings parsedSsrf = parseSsrfSettings(config.proxy, &errors);
    if (ssrf)
        *ssrf = std::move(parsedSsrf);
    checkControls(config.admin, QStringLiteral("admin"), {}, errors);
    checkControls(config.dns, QStringLiteral("dns"), {}, errors);
    checkControls(config.proxy, QStringLiteral("proxy"), {}, errors);
    checkControls(config.logging, QStringLiteral("logging"), {}, errors);

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
    checkTunnelEngines(config, errors);
    return errors;
}

} // namespace dfproxy::config
