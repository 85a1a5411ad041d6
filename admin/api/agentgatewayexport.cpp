// SPDX-License-Identifier: Apache-2.0
#include "api/agentgatewayexport.h"

#include "config/agentgatewaypolicy.h"
#include "config/cel.h"
#include "config/configstore.h"
#include "config/model.h"
#include "http/canonical.h"
#include "routing/status.h"

#include <QJsonDocument>

namespace dfproxy::admin {

using namespace dfproxy::config;

namespace {

constexpr qsizetype kMaxExpression = 16384; // agentgateway's CRD limit

class Exporter
{
public:
    explicit Exporter(const Config &config) : m_config(config) {}

    AgentgatewayExport run()
    {
        for (const Resource &r : m_config.resources) {
            m_object = r.kind() + u' ' + r.ns() + u'/' + r.name();
            m_name = r.name();
            const QString kind = r.kind();
            if (kind == QLatin1String(kinds::RateLimitPolicy) || kind == QLatin1String(kinds::AuthenticationPolicy) ||
                kind == QLatin1String(kinds::AuthorizationPolicy)) {
                if (inEffect(r))
                    policy(r);
                continue;
            }
            QJsonObject o = withoutDfproxyAnnotations(r);
            QJsonObject spec = o.value("spec").toObject();
            if (kind == QLatin1String(kinds::Gateway))
                gateway(spec);
            else if (kind == QLatin1String(kinds::Backend))
                backend(spec);
            o.insert("spec", spec);
            m_out.items.append(o);
        }
        return m_out;
    }

private:
    void omit(const QString &field, const QString &reason) { m_out.notExported.append({m_object, field, reason}); }

    // A policy another one of its kind overrides, or one that does not parse, has no behaviour to carry over.
    bool inEffect(const Resource &r)
    {
        const QJsonObject status = routing::policyStatus(m_config, r);
        QJsonArray conditions = status.value("conditions").toArray();
        for (const auto &a : status.value("ancestors").toArray())
            conditions += a.toObject().value("conditions").toArray();
        for (const auto &c : conditions) {
            const QJsonObject o = c.toObject();
            if (o.value("status").toString() == QLatin1String("False")) {
                omit(QStringLiteral("spec"), QStringLiteral("not in effect (%1: %2), not exported")
                                                 .arg(o.value("reason").toString(), o.value("message").toString()));
                return false;
            }
        }
        return true;
    }

    QJsonObject withoutDfproxyAnnotations(const Resource &r)
    {
        QJsonObject o = ConfigStore::stripServerFields(r.json());
        QJsonObject md = o.value("metadata").toObject();
        QJsonObject ann = md.value("annotations").toObject();
        for (const QString &key : ann.keys()) {
            if (key.startsWith(QLatin1String("dfproxy.dev/"))) {
                omit(QStringLiteral("metadata.annotations[%1]").arg(key),
                     QStringLiteral("a dfproxy-only annotation (a file or setting of this desktop)"));
                ann.remove(key);
            }
        }
        if (ann.isEmpty())
            md.remove("annotations");
        else
            md.insert("annotations", ann);
        o.insert("metadata", md);
        return o;
    }

    void gateway(QJsonObject &spec)
    {
        QJsonArray listeners = spec.value("listeners").toArray();
        for (qsizetype i = 0; i < listeners.size(); ++i) {
            QJsonObject l = listeners[i].toObject();
            const QString p = QStringLiteral("spec.listeners[%1]").arg(i);
            if (l.contains("allowedConnectPorts")) {
                omit(p + ".allowedConnectPorts",
                     QStringLiteral("dfproxy's CONNECT port list has no Gateway API field"));
                l.remove("allowedConnectPorts");
            }
            QJsonObject tls = l.value("tls").toObject();
            for (const char *key : {"certFile", "keyFile"}) {
                if (tls.contains(QLatin1String(key))) {
                    omit(p + ".tls." + QLatin1String(key),
                         QStringLiteral("a file on this desktop; in a cluster the certificate is a Secret named in "
                                        "tls.certificateRefs"));
                    tls.remove(QLatin1String(key));
                }
            }
            // A cluster terminates TLS with a Secret: name one, for the user to create from the files.
            if (l.contains("tls") &&
                tls.value("mode").toString(QStringLiteral("Terminate")) == QLatin1String("Terminate") &&
                tls.value("certificateRefs").toArray().isEmpty() && tls.value("options").toObject().isEmpty()) {
                const QString secret = QStringLiteral("%1-%2-tls").arg(m_name, l.value("name").toString());
                tls.insert("certificateRefs", QJsonArray{QJsonObject{{"kind", "Secret"}, {"name", secret}}});
                omit(p + ".tls.certificateRefs",
                     QStringLiteral("names Secret %1, which the export does not contain: create it from the "
                                    "certificate and key files (kubectl create secret tls %1 --cert=... --key=...)")
                         .arg(secret));
            }
            if (l.contains("tls"))
                l.insert("tls", tls);
            listeners[i] = l;
        }
        spec.insert("listeners", listeners);
    }

    void backend(QJsonObject &spec)
    {
        for (const char *key : {"dns", "engine"}) {
            if (spec.contains(QLatin1String(key))) {
                omit(QStringLiteral("spec.") + QLatin1String(key), QStringLiteral("a dfproxy-only backend setting"));
                spec.remove(QLatin1String(key));
            }
        }
        const QJsonValue tls = spec.value("tls");
        spec.remove("tls");
        if (tls.isBool()) {
            if (tls.toBool())
                spec.insert("policies", QJsonObject{{"tls", QJsonObject{}}});
            else
                omit(QStringLiteral("spec.tls"), QStringLiteral("tls: false (refuse https:// targets) has no "
                                                                "agentgateway equivalent"));
        } else if (tls.isObject()) {
            const QJsonObject t = tls.toObject();
            QJsonObject out;
            if (t.contains("sni"))
                out.insert("sni", t.value("sni"));
            if (t.value("insecureSkipVerify").toBool())
                out.insert("insecureSkipVerify", QStringLiteral("All"));
            if (t.contains("caFile"))
                omit(QStringLiteral("spec.tls.caFile"),
                     QStringLiteral("a file on this desktop; in a cluster the CA is "
                                    "a ConfigMap in policies.tls.caCertificateRefs"));
            spec.insert("policies", QJsonObject{{"tls", out}});
        }
    }

    // targetRefs for a traffic policy: Gateway (a listener too) and HTTPRoute; agentgateway's traffic section
    // cannot target an AgentgatewayBackend.
    QJsonArray targets(const QList<PolicyTargetRef> &refs)
    {
        QJsonArray out;
        for (qsizetype i = 0; i < refs.size(); ++i) {
            const auto &t = refs[i];
            if (t.kind == QLatin1String(kinds::Backend)) {
                omit(QStringLiteral("spec.targetRefs[%1]").arg(i),
                     QStringLiteral("agentgateway's traffic policies cannot target an AgentgatewayBackend"));
                continue;
            }
            QJsonObject ref{{"group", t.group}, {"kind", t.kind}, {"name", t.name}};
            if (!t.sectionName.isEmpty())
                ref.insert("sectionName", t.sectionName);
            out.append(ref);
        }
        return out;
    }

    void policy(const Resource &r)
    {
        const QString kind = r.kind();
        QJsonObject traffic;
        QJsonArray refs;
        QString suffix;
        if (kind == QLatin1String(kinds::RateLimitPolicy)) {
            const auto spec = parseRateLimitPolicySpec(r, nullptr);
            refs = targets(spec.targetRefs);
            suffix = QStringLiteral("ratelimit");
            const QJsonArray local = rateLimits(spec);
            if (!local.isEmpty())
                traffic.insert("rateLimit", QJsonObject{{"local", local}});
        } else if (kind == QLatin1String(kinds::AuthenticationPolicy)) {
            const auto spec = parseAuthenticationPolicySpec(r, nullptr);
            refs = targets(spec.targetRefs);
            suffix = QStringLiteral("authn");
            authentication(spec, traffic);
        } else {
            const auto spec = parseAuthorizationPolicySpec(r, nullptr);
            refs = targets(spec.targetRefs);
            suffix = QStringLiteral("authz");
            authorization(spec, traffic);
        }
        if (refs.isEmpty() || traffic.isEmpty()) {
            omit(QStringLiteral("spec"), QStringLiteral("nothing of it can be expressed as an AgentgatewayPolicy; "
                                                        "not exported"));
            return;
        }
        QJsonObject md{{"name", r.name() + u'-' + suffix}, {"namespace", r.ns()}};
        const QJsonObject labels = r.metadata().value("labels").toObject();
        if (!labels.isEmpty())
            md.insert("labels", labels);
        m_out.items.append(QJsonObject{{"apiVersion", QStringLiteral("agentgateway.dev/v1alpha1")},
                                       {"kind", QString::fromLatin1(kinds::AgentgatewayPolicy)},
                                       {"metadata", md},
                                       {"spec", QJsonObject{{"targetRefs", refs}, {"traffic", traffic}}}});
    }

    // Only a limit on every request the policy covers (key global) is agentgateway's local rate limit, and only
    // with a refill of whole seconds, minutes or hours and a bucket at least as large as one refill.
    QJsonArray rateLimits(const RateLimitPolicySpec &spec)
    {
        QJsonArray out;
        for (qsizetype i = 0; i < spec.limits.size(); ++i) {
            const auto &l = spec.limits[i];
            const QString p = QStringLiteral("spec.limits[%1]").arg(i);
            if (l.bytesPerSecond > 0)
                omit(p + ".bytesPerSecond", QStringLiteral("tunnel bandwidth limits have no agentgateway equivalent"));
            if (l.tokens == 0)
                continue;
            if (l.key != RateLimitSpec::Key::Global) {
                static const QStringList names = {"clientIP", "destinationHost", "route",
                                                  "identity", "header",          "global"};
                omit(p + ".key", QStringLiteral("a limit per %1 has no local agentgateway equivalent (its local "
                                                "limits count every request; per-key limits need its global rate "
                                                "limit service)")
                                     .arg(names.value(int(l.key))));
                continue;
            }
            const QString unit = l.fillIntervalMs == 1000      ? QStringLiteral("Seconds")
                                 : l.fillIntervalMs == 60000   ? QStringLiteral("Minutes")
                                 : l.fillIntervalMs == 3600000 ? QStringLiteral("Hours")
                                                               : QString();
            if (unit.isEmpty()) {
                omit(p + ".fillInterval", QStringLiteral("agentgateway refills per second, minute or hour only"));
                continue;
            }
            const qint64 capacity = l.burst > 0 ? l.burst : l.tokens;
            if (capacity < l.tokens) {
                omit(p + ".burst", QStringLiteral("a bucket smaller than one refill has no agentgateway equivalent"));
                continue;
            }
            QJsonObject local{{"requests", l.tokens}, {"unit", unit}};
            if (capacity > l.tokens)
                local.insert("burst", capacity - l.tokens);
            out.append(local);
        }
        return out;
    }

    void authentication(const AuthenticationPolicySpec &spec, QJsonObject &traffic)
    {
        const QString mode = spec.optional ? QStringLiteral("Optional") : QStringLiteral("Strict");
        if (spec.basicEnabled) {
            if (!spec.htpasswdFile.isEmpty())
                omit(QStringLiteral("spec.basic.htpasswdFile"),
                     QStringLiteral("a file on this desktop; in a cluster use traffic.basicAuthentication.secretRef"));
            QJsonArray users;
            for (const auto &u : spec.users)
                users.append(u.name + u':' + u.passwordHash);
            if (users.isEmpty()) {
                omit(QStringLiteral("spec.basic"), QStringLiteral("no inline users to export"));
            } else {
                QJsonObject basic{{"users", users}, {"mode", mode}};
                if (spec.realm != QLatin1String("dfproxy"))
                    basic.insert("realm", spec.realm);
                traffic.insert("basicAuthentication", basic);
            }
        }
        if (spec.apiKeyEnabled)
            omit(QStringLiteral("spec.apiKey"),
                 QStringLiteral("agentgateway reads API keys from Secrets; dfproxy keeps "
                                "their SHA-256 only"));
        if (const auto &jwt = spec.jwt) {
            if (jwt->issuer.isEmpty()) {
                omit(QStringLiteral("spec.jwt"), QStringLiteral("agentgateway needs an issuer"));
            } else if (jwt->jwks.isEmpty()) {
                omit(QStringLiteral("spec.jwt.jwksFile"), QStringLiteral("a file on this desktop; in a cluster give "
                                                                         "the JWKS inline or as jwks.remote"));
            } else {
                QJsonObject provider{{"issuer", jwt->issuer},
                                     {"jwks", QJsonObject{{"inline", QString::fromUtf8(QJsonDocument(jwt->jwks).toJson(
                                                                         QJsonDocument::Compact))}}}};
                if (!jwt->audiences.isEmpty())
                    provider.insert("audiences", QJsonArray::fromStringList(jwt->audiences));
                traffic.insert("jwtAuthentication", QJsonObject{{"mode", mode}, {"providers", QJsonArray{provider}}});
            }
            const JwtSpec defaults;
            if (jwt->clockSkewMs != defaults.clockSkewMs)
                omit(QStringLiteral("spec.jwt.clockSkew"), QStringLiteral("agentgateway's clock skew is fixed"));
            if (jwt->identityClaim != defaults.identityClaim)
                omit(QStringLiteral("spec.jwt.identityClaim"),
                     QStringLiteral("dfproxy-only (the access log's identity)"));
            if (jwt->requireExpiration != defaults.requireExpiration || jwt->maxLifetimeMs != defaults.maxLifetimeMs)
                omit(QStringLiteral("spec.jwt"), QStringLiteral("requireExpiration and maxLifetime are dfproxy-only"));
        }
    }

    // One rule's conditions as CEL. A condition with no CEL form is exported as `unmatched` ("false" for an
    // Allow rule, "true" for a Deny one), so the export refuses more, never less; and listed.
    QString ruleCondition(const AuthorizationRuleSpec &rule, qsizetype index)
    {
        const QString p = QStringLiteral("spec.rules[%1]").arg(index);
        const QString unmatched = rule.allow ? QStringLiteral("false") : QStringLiteral("true");
        QStringList parts;
        if (!rule.hosts.isEmpty() && !rule.hosts.contains(QStringLiteral("*"))) {
            QStringList any;
            for (const auto &configured : rule.hosts) {
                // As the engine compares them: request.host is canonical (lower-case, IDNA).
                const QString h = http::canonicalConfiguredHost(configured);
                any.append(h.startsWith(QLatin1String("*."))
                               ? QStringLiteral("request.host.endsWith(%1)").arg(cel::quote(h.mid(1)))
                               : QStringLiteral("request.host == %1").arg(cel::quote(h)));
            }
            parts.append(any.size() == 1 ? any[0] : u'(' + any.join(QStringLiteral(" || ")) + u')');
        }
        if (!rule.methods.isEmpty()) {
            QStringList quoted;
            for (const auto &m : rule.methods)
                quoted.append(cel::quote(m));
            parts.append(QStringLiteral("request.method in [%1]").arg(quoted.join(", ")));
        }
        if (!rule.pathPrefixes.isEmpty()) {
            QStringList any;
            for (const auto &configured : rule.pathPrefixes) {
                const QString prefix = http::canonicalConfiguredPath(configured); // as request.path is
                // Element-wise, as dfproxy matches: "/api" covers "/api" and "/api/x", not "/apix".
                if (prefix.endsWith(u'/'))
                    any.append(QStringLiteral("request.path.startsWith(%1)").arg(cel::quote(prefix)));
                else
                    any.append(QStringLiteral("(request.path == %1 || request.path.startsWith(%2))")
                                   .arg(cel::quote(prefix), cel::quote(prefix + u'/')));
            }
            parts.append(any.size() == 1 ? any[0] : u'(' + any.join(QStringLiteral(" || ")) + u')');
        }
        if (!rule.clientCIDRs.isEmpty()) {
            QStringList any;
            bool exact = true;
            for (const auto &c : rule.clientCIDRs) {
                const auto cidr = parseCidr(c);
                const int full = cidr && cidr->first.protocol() == QAbstractSocket::IPv4Protocol ? 32 : 128;
                if (!cidr || cidr->second != full) {
                    exact = false;
                    break;
                }
                any.append(QStringLiteral("source.address == %1").arg(cel::quote(cidr->first.toString())));
            }
            if (exact) {
                parts.append(any.size() == 1 ? any[0] : u'(' + any.join(QStringLiteral(" || ")) + u')');
            } else {
                omit(p + ".clientCIDRs", QStringLiteral("CIDR blocks have no CEL form here (single addresses do); "
                                                        "exported as a condition that %1")
                                             .arg(rule.allow ? "never allows" : "always denies"));
                parts.append(unmatched);
            }
        }
        if (!rule.ports.isEmpty()) {
            omit(p + ".ports", QStringLiteral("agentgateway's destination.port is its listener's, not the target's; "
                                              "exported as a condition that %1")
                                   .arg(rule.allow ? "never allows" : "always denies"));
            parts.append(unmatched);
        }
        if (!rule.identities.isEmpty()) {
            omit(p + ".identities", QStringLiteral("the identity of dfproxy's authentication has no CEL attribute; "
                                                   "exported as a condition that %1")
                                        .arg(rule.allow ? "never allows" : "always denies"));
            parts.append(unmatched);
        }
        return parts.isEmpty() ? QStringLiteral("true") : parts.join(QStringLiteral(" && "));
    }

    // dfproxy's first-matching-rule-wins list, folded from the last rule to the first into one expression that holds
    // exactly when the request is allowed: an Allow rule is `m || rest`, a Deny rule `!(m) && rest`.
    void authorization(const AuthorizationPolicySpec &spec, QJsonObject &traffic)
    {
        QString rest = spec.defaultAllow ? QStringLiteral("true") : QStringLiteral("false");
        for (qsizetype i = spec.rules.size() - 1; i >= 0; --i) {
            const auto &rule = spec.rules[i];
            const QString m = ruleCondition(rule, i);
            if (rule.allow)
                rest = rest == QLatin1String("false")  ? m
                       : rest == QLatin1String("true") ? QStringLiteral("true")
                                                       : QStringLiteral("(%1) || (%2)").arg(m, rest);
            else
                rest = rest == QLatin1String("false")  ? QStringLiteral("false")
                       : rest == QLatin1String("true") ? QStringLiteral("!(%1)").arg(m)
                                                       : QStringLiteral("!(%1) && (%2)").arg(m, rest);
        }
        if (rest.size() > kMaxExpression) {
            omit(QStringLiteral("spec.rules"), QStringLiteral("the rules make a CEL expression longer than %1 "
                                                              "characters")
                                                   .arg(kMaxExpression));
            return;
        }
        QString problem;
        if (!cel::Program::compile(rest, &problem)) {
            omit(QStringLiteral("spec.rules"),
                 QStringLiteral("internal error: the CEL form does not compile (%1)").arg(problem));
            return;
        }
        traffic.insert("authorization", QJsonObject{{"action", QStringLiteral("Allow")},
                                                    {"policy", QJsonObject{{"matchExpressions", QJsonArray{rest}}}}});
    }

    const Config &m_config;
    AgentgatewayExport m_out;
    QString m_object;
    QString m_name;
};

} // namespace

AgentgatewayExport exportForAgentgateway(const Config &config)
{
    return Exporter(config).run();
}

} // namespace dfproxy::admin
