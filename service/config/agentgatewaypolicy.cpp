// SPDX-License-Identifier: Apache-2.0
#include "config/agentgatewaypolicy.h"

#include "config/cel.h"
#include "config/jsonreader.h"

#include <QHash>
#include <QHostAddress>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSet>
#include <QUrl>

namespace dfproxy::config {

namespace {

using namespace detail;

QString notImplemented()
{
    return QStringLiteral("dfproxy does not implement this field of AgentgatewayPolicy (see docs/agentgateway.md); "
                          "remove it or apply the policy to an agentgateway cluster");
}

QString annotationPath(const char *name)
{
    return QStringLiteral("metadata.annotations[%1]").arg(QLatin1String(name));
}

// The fields agentgateway defines in each section (its CRD, agentgateway.dev_agentgatewaypolicies.yaml): a field
// in this list that dfproxy does not honour is "not implemented", any other one is a typo ("unknown field").
const QStringList &agentgatewayFields(const QString &section)
{
    static const QHash<QString, QStringList> fields = {
        {QStringLiteral("spec"), {"targetRefs", "targetSelectors", "traffic", "frontend", "backend", "strategy"}},
        {QStringLiteral("spec.traffic"),
         {"apiKeyAuthentication", "authorization", "basicAuthentication", "buffer", "cors", "csrf", "delay",
          "directResponse", "extAuth", "extProc", "headerModifiers", "hostRewrite", "jwtAuthentication", "phase",
          "rateLimit", "retry", "timeouts", "transformation"}},
        {QStringLiteral("spec.frontend"),
         {"accessLog", "connect", "http", "metrics", "networkAuthorization", "proxyProtocol", "tcp", "tls", "tracing"}},
        {QStringLiteral("spec.backend"),
         {"ai", "auth", "extAuth", "health", "http", "mcp", "tcp", "tls", "transformation", "tunnel"}},
        {QStringLiteral("spec.backend.tunnel"), {"backendRef", "url"}},
        {QStringLiteral("spec.backend.http"), {"requestTimeout", "version"}},
        {QStringLiteral("spec.backend.tls"),
         {"alpnProtocols", "caCertificateRefs", "insecureSkipVerify", "keyExchangeGroups", "mtlsCertificateRef", "sni",
          "verifySubjectAltNames"}},
        {QStringLiteral("spec.traffic.rateLimit"), {"conditional", "global", "local"}},
        {QStringLiteral("spec.traffic.basicAuthentication"), {"location", "mode", "realm", "secretRef", "users"}},
        {QStringLiteral("spec.traffic.apiKeyAuthentication"),
         {"configMapSelector", "location", "mode", "secretRef", "secretSelector"}},
        {QStringLiteral("spec.traffic.jwtAuthentication"), {"location", "mcp", "mode", "providers"}},
        {QStringLiteral("spec.traffic.authorization"), {"action", "policy"}},
        {QStringLiteral("spec.traffic.timeouts"), {"request"}},
        {QStringLiteral("spec.frontend.connect"), {"mode"}},
    };
    static const QStringList none;
    const auto it = fields.find(section);
    return it == fields.end() ? none : *it;
}

// Reports each key of `obj` that dfproxy does not honour: "not implemented" for agentgateway's fields, "unknown
// field" for the others.
void checkSection(Reader &r, const QJsonObject &obj, const QString &path, const QStringList &honoured)
{
    const QStringList &known = agentgatewayFields(path);
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (honoured.contains(it.key()))
            continue;
        r.error(field(path, it.key().toLatin1().constData()),
                known.contains(it.key()) ? notImplemented() : QStringLiteral("unknown field"));
    }
}

QList<PolicyTargetRef> parseTargets(Reader &r, const QJsonObject &spec)
{
    QList<PolicyTargetRef> out;
    const QString sp = QStringLiteral("spec");
    if (spec.contains("targetSelectors"))
        r.error(QStringLiteral("spec.targetSelectors"),
                QStringLiteral("dfproxy does not implement targetSelectors (label selection); name the targets in "
                               "spec.targetRefs"));
    const auto refs = r.objects(spec, sp, "targetRefs", !spec.contains("targetSelectors"));
    if (spec.value("targetRefs").isArray() && refs.isEmpty())
        r.error(QStringLiteral("spec.targetRefs"), QStringLiteral("must name at least one target"));
    if (refs.size() > 16)
        r.error(QStringLiteral("spec.targetRefs"), QStringLiteral("must not name more than 16 targets"));
    static const QHash<QString, QString> groups = {
        {kinds::Gateway, GatewayGroup}, {kinds::HTTPRoute, GatewayGroup}, {kinds::Backend, BackendGroup}};
    static const QStringList notImplementedKinds = {"Service", "GRPCRoute", "ListenerSet", "InferencePool"};
    QString firstKind;
    for (const auto &[p, o] : refs) {
        r.checkKeys(o, p, {"group", "kind", "name", "sectionName", "port"});
        PolicyTargetRef t;
        const auto kind = r.string(o, p, "kind", true);
        const auto group = r.string(o, p, "group", false);
        if (!o.contains("group"))
            r.error(field(p, "group"), QStringLiteral("is required (\"gateway.networking.k8s.io\" for Gateway and "
                                                      "HTTPRoute, \"agentgateway.dev\" for AgentgatewayBackend)"));
        if (kind) {
            if (groups.contains(*kind)) {
                t.kind = *kind;
                t.group = groups.value(*kind);
                if (group && *group != t.group)
                    r.error(field(p, "group"), QStringLiteral("must be \"%1\" for kind %2").arg(t.group, *kind));
            } else if (notImplementedKinds.contains(*kind)) {
                r.error(field(p, "kind"), QStringLiteral("dfproxy does not implement %1 targets; it attaches "
                                                         "policies to Gateway, HTTPRoute and AgentgatewayBackend")
                                              .arg(*kind));
            } else {
                r.error(field(p, "kind"),
                        QStringLiteral("must be Gateway, HTTPRoute or AgentgatewayBackend, not \"%1\"").arg(*kind));
            }
            if (firstKind.isEmpty())
                firstKind = *kind;
            else if (*kind != firstKind)
                r.error(field(p, "kind"), QStringLiteral("every targetRef of one policy must have the same kind "
                                                         "(the first one is %1)")
                                              .arg(firstKind));
        }
        if (const auto n = r.string(o, p, "name", true)) {
            if (!isDns1123Subdomain(*n))
                r.error(field(p, "name"), QStringLiteral("must be a lower-case RFC 1123 subdomain"));
            t.name = *n;
        }
        if (const auto sn = r.string(o, p, "sectionName", false)) {
            if (!t.kind.isEmpty() && t.kind != QLatin1String(kinds::Gateway))
                r.error(field(p, "sectionName"),
                        QStringLiteral("dfproxy does not implement sectionName on %1 targets; it names a listener of "
                                       "a Gateway")
                            .arg(t.kind));
            t.sectionName = *sn;
        }
        if (o.contains("port"))
            r.error(field(p, "port"), QStringLiteral("dfproxy does not implement port targets (they are for "
                                                     "frontend-only policies); name the Gateway or a listener"));
        out.append(t);
    }
    return out;
}

// "http://proxy.corp:3128" -> the same, with the scheme's default port written when omitted. Refuses userinfo as
// agentgateway does (credentials never go in a URL that status, logs and exports show), paths, queries, fragments.
std::optional<QString> parseTunnelUrl(Reader &r, const QString &text, const QString &path)
{
    static const QRegularExpression shape(QStringLiteral("^(http|https)://([^/?#@\\s]+)$"));
    if (text.contains(u'@')) {
        r.error(path, QStringLiteral("must not contain credentials (user:password@); name a file holding them in "
                                     "annotation %1")
                          .arg(QLatin1String(annotations::TunnelCredentialsFile)));
        return std::nullopt;
    }
    const auto m = shape.match(text);
    if (!m.hasMatch()) {
        r.error(path, QStringLiteral("must be \"http://host:port\" or \"https://host:port\" (lower-case scheme, no "
                                     "path, query or fragment), not \"%1\"")
                          .arg(text));
        return std::nullopt;
    }
    const QString scheme = m.captured(1);
    const QString authority = m.captured(2);
    QString host = authority;
    QString portText;
    if (authority.startsWith(u'[')) {
        const qsizetype close = authority.indexOf(u']');
        host = close > 0 ? authority.mid(1, close - 1) : QString();
        const QString rest = close > 0 ? authority.mid(close + 1) : QString();
        if (close <= 0 || (!rest.isEmpty() && !rest.startsWith(u':'))) {
            r.error(path, QStringLiteral("has a malformed IPv6 address (write it as \"[::1]:3128\")"));
            return std::nullopt;
        }
        portText = rest.mid(1);
        QHostAddress a;
        if (!a.setAddress(host) || a.protocol() != QAbstractSocket::IPv6Protocol) {
            r.error(path, QStringLiteral("\"%1\" is not an IPv6 address").arg(host));
            return std::nullopt;
        }
        host = u'[' + a.toString() + u']';
    } else {
        const qsizetype colon = authority.lastIndexOf(u':');
        if (colon >= 0) {
            host = authority.left(colon);
            portText = authority.mid(colon + 1);
            if (portText.isEmpty()) {
                r.error(path, QStringLiteral("has an empty port"));
                return std::nullopt;
            }
        }
        host = host.toLower();
        QHostAddress a;
        const bool ipv4 = a.setAddress(host) && a.protocol() == QAbstractSocket::IPv4Protocol;
        if (!ipv4 && !isDns1123Subdomain(host)) {
            r.error(path, QStringLiteral("\"%1\" is not a hostname or an IPv4 address").arg(host));
            return std::nullopt;
        }
    }
    int port = scheme == QLatin1String("https") ? 443 : 80;
    if (!portText.isEmpty()) {
        bool ok = false;
        port = portText.toInt(&ok);
        static const QRegularExpression digits(QStringLiteral("^[0-9]{1,5}$"));
        if (!ok || !digits.match(portText).hasMatch() || port < 1 || port > 65535) {
            r.error(path, QStringLiteral("has an invalid port \"%1\" (1..65535)").arg(portText));
            return std::nullopt;
        }
    }
    return QStringLiteral("%1://%2:%3").arg(scheme, host).arg(port);
}

// One entry of dfproxy.dev/tunnel-bypass, as common no_proxy lists write them: "<local>" (names without a dot),
// a host ("intranet.corp"), a domain ("*.corp" or ".corp": its subdomains), an IP address or a CIDR block.
QString bypassProblem(const QString &entry)
{
    if (entry == QLatin1String("<local>") || parseCidr(entry))
        return {};
    QString host = entry;
    if (host.startsWith(QLatin1String("*.")))
        host = host.mid(2);
    else if (host.startsWith(u'.'))
        host = host.mid(1);
    if (isDns1123Subdomain(host))
        return {};
    return QStringLiteral("\"%1\" is not \"<local>\", a lower-case host name, \"*.domain\", \".domain\", an IP "
                          "address or a CIDR block")
        .arg(entry);
}

std::optional<AgentgatewayTunnelSpec> parseTunnel(Reader &r, const QJsonObject &backend, const Resource &policy)
{
    const QString p = QStringLiteral("spec.backend.tunnel");
    const auto o = r.object(backend, QStringLiteral("spec.backend"), "tunnel", false);
    if (!o)
        return std::nullopt;
    checkSection(r, *o, p, {"url"});
    AgentgatewayTunnelSpec t;
    if (o->contains("backendRef"))
        r.error(field(p, "backendRef"), QStringLiteral("dfproxy does not implement a tunnel through a backendRef; "
                                                       "give the upstream proxy as url"));
    else if (const auto u = r.string(*o, p, "url", true)) {
        if (const auto normalised = parseTunnelUrl(r, *u, field(p, "url")))
            t.url = *normalised;
    }
    const QJsonObject ann = policy.metadata().value("annotations").toObject();
    auto text = [&](const char *name) -> std::optional<QString> {
        const QJsonValue v = ann.value(QLatin1String(name));
        if (v.isUndefined())
            return std::nullopt;
        if (!v.isString() || v.toString().trimmed().isEmpty()) {
            r.error(annotationPath(name), QStringLiteral("must be a non-empty string"));
            return std::nullopt;
        }
        return v.toString().trimmed();
    };
    if (const auto f = text(annotations::TunnelCredentialsFile))
        t.credentialsFile = *f;
    if (const auto f = text(annotations::TunnelCaFile))
        t.caFile = *f;
    if (const auto b = text(annotations::TunnelBypass)) {
        for (const QString &raw : b->split(u',')) {
            const QString entry = raw.trimmed().toLower();
            if (entry.isEmpty())
                continue; // "a, b," is a common way to write a list
            const QString problem = bypassProblem(entry);
            if (!problem.isEmpty())
                r.error(annotationPath(annotations::TunnelBypass), problem);
            else
                t.bypass.append(entry);
        }
    }
    if (const auto pac = text(annotations::TunnelPacUrl)) {
        const QUrl url(*pac, QUrl::StrictMode);
        const QString scheme = url.scheme();
        if (!url.isValid() ||
            (scheme != QLatin1String("http") && scheme != QLatin1String("https") && scheme != QLatin1String("file")))
            r.error(annotationPath(annotations::TunnelPacUrl),
                    QStringLiteral("must be an http://, https:// or file:// URL, not \"%1\"").arg(*pac));
        else if (!url.userInfo().isEmpty())
            r.error(annotationPath(annotations::TunnelPacUrl),
                    QStringLiteral("must not contain credentials (user:password@)"));
        else if (scheme == QLatin1String("file") && (!url.host().isEmpty() || url.toLocalFile().isEmpty()))
            r.error(annotationPath(annotations::TunnelPacUrl),
                    QStringLiteral("must name a local file (\"file:///path/proxy.pac\")"));
        else if (scheme != QLatin1String("file") && url.host().isEmpty())
            r.error(annotationPath(annotations::TunnelPacUrl), QStringLiteral("must name a host"));
        else
            t.pacUrl = *pac;
    }
    return t;
}

// A file named by an annotation, instead of the Kubernetes object agentgateway reads (a Secret, a ConfigMap).
std::optional<QString> annotationFile(Reader &r, const Resource &policy, const char *name)
{
    const QJsonValue v = policy.metadata().value("annotations").toObject().value(QLatin1String(name));
    if (v.isUndefined())
        return std::nullopt;
    if (!v.isString() || v.toString().trimmed().isEmpty()) {
        r.error(annotationPath(name), QStringLiteral("must be a file path"));
        return std::nullopt;
    }
    return v.toString().trimmed();
}

void parseRateLimit(Reader &r, const QJsonObject &traffic, AgentgatewayPolicySpec &s)
{
    const QString p = QStringLiteral("spec.traffic.rateLimit");
    const auto o = r.object(traffic, QStringLiteral("spec.traffic"), "rateLimit", false);
    if (!o)
        return;
    checkSection(r, *o, p, {"local"});
    RateLimitPolicySpec rl;
    const auto locals = r.objects(*o, p, "local", true);
    if (o->value("local").isArray() && locals.isEmpty())
        r.error(field(p, "local"), QStringLiteral("must have at least one entry"));
    if (locals.size() > 16)
        r.error(field(p, "local"), QStringLiteral("must not have more than 16 entries"));
    int i = 0;
    for (const auto &[lp, l] : locals) {
        r.checkKeys(l, lp, {"requests", "tokens", "unit", "burst"});
        RateLimitSpec limit;
        limit.name = QStringLiteral("traffic.rateLimit.local[%1]").arg(i++);
        limit.key = RateLimitSpec::Key::Global;
        if (l.contains("tokens"))
            r.error(field(lp, "tokens"), QStringLiteral("dfproxy does not implement LLM token limits; count requests"));
        else if (const auto n = r.integer(l, lp, "requests", true, 1, 1000000))
            limit.tokens = *n;
        if (const auto unit = r.oneOf(l, lp, "unit", true, {"Seconds", "Minutes", "Hours"}))
            limit.fillIntervalMs = *unit == QLatin1String("Seconds")   ? 1000
                                   : *unit == QLatin1String("Minutes") ? 60000
                                                                       : 3600000;
        // agentgateway's burst is added to requests: the bucket holds requests + burst.
        if (const auto b = r.integer(l, lp, "burst", false, 0, 1000000))
            limit.burst = *b > 0 ? limit.tokens + *b : 0;
        rl.limits.append(limit);
    }
    s.rateLimit = rl;
    s.sections.append(QStringLiteral("traffic.rateLimit"));
}

// agentgateway's users are htpasswd lines, "name:hash".
void parseBasic(Reader &r, const QJsonObject &traffic, const Resource &policy, AuthenticationPolicySpec &a,
                QStringList &modes)
{
    const QString p = QStringLiteral("spec.traffic.basicAuthentication");
    const auto o = r.object(traffic, QStringLiteral("spec.traffic"), "basicAuthentication", false);
    if (!o)
        return;
    checkSection(r, *o, p, {"mode", "realm", "users", "secretRef"});
    a.basicEnabled = true;
    if (const auto m = r.oneOf(*o, p, "mode", false, {"Strict", "Optional"}))
        modes.append(*m);
    else
        modes.append(QStringLiteral("Strict"));
    if (const auto realm = r.string(*o, p, "realm", false)) {
        if (realm->contains(u'"') || realm->contains(u'\\') || firstControlCharacter(*realm) >= 0)
            r.error(field(p, "realm"), QStringLiteral("must not contain quotes, backslashes or control characters"));
        else
            a.realm = *realm;
    }
    const auto users = r.array(*o, p, "users", false);
    QSet<QString> seen;
    for (qsizetype i = 0; i < users.size(); ++i) {
        const QString up = index(field(p, "users"), i);
        const QString line = users[i].toString();
        const qsizetype colon = line.indexOf(u':');
        if (!users[i].isString() || colon <= 0) {
            r.error(up, QStringLiteral("must be an htpasswd line \"name:hash\""));
            continue;
        }
        BasicUser u{line.left(colon), line.mid(colon + 1)};
        if (!u.passwordHash.startsWith(u'$') && !u.passwordHash.startsWith(QLatin1String("pbkdf2-sha256$")))
            r.error(up,
                    QStringLiteral("the hash of %1 must be a crypt(3) hash (\"$2y$...\", \"$6$...\"); never a plain "
                                   "password")
                        .arg(u.name));
        else if (seen.contains(u.name))
            r.error(up, QStringLiteral("duplicate user \"%1\"").arg(u.name));
        seen.insert(u.name);
        a.users.append(u);
    }
    const auto file = annotationFile(r, policy, annotations::HtpasswdFile);
    if (file)
        a.htpasswdFile = *file;
    // secretRef names the cluster's Secret; on this desktop the annotation's file stands in for it.
    if (o->contains("secretRef") && !file)
        r.error(field(p, "secretRef"), QStringLiteral("dfproxy does not implement Kubernetes Secrets; give the users "
                                                      "inline or name an htpasswd file in annotation %1")
                                           .arg(QLatin1String(annotations::HtpasswdFile)));
    if (!o->contains("users") && !file && !o->contains("secretRef"))
        r.error(p, QStringLiteral("needs users (or an htpasswd file in annotation %1)")
                       .arg(QLatin1String(annotations::HtpasswdFile)));
    if (o->contains("users") && users.isEmpty())
        r.error(field(p, "users"), QStringLiteral("must have at least one user"));
}

// agentgateway reads the keys from Secrets (or ConfigMaps); on a desktop they are in the file the annotation
// dfproxy.dev/api-keys-file names, which stands in for the source a cluster uses (secretRef may stay, for the
// cluster). The key is read from `Authorization: Bearer <key>` unless location.header says otherwise.
void parseApiKey(Reader &r, const QJsonObject &traffic, const Resource &policy, AgentgatewayPolicySpec &s,
                 AuthenticationPolicySpec &a, QStringList &modes)
{
    const QString p = QStringLiteral("spec.traffic.apiKeyAuthentication");
    const auto o = r.object(traffic, QStringLiteral("spec.traffic"), "apiKeyAuthentication", false);
    if (!o)
        return;
    checkSection(r, *o, p, {"mode", "location", "secretRef", "secretSelector", "configMapSelector"});
    a.apiKeyEnabled = true;
    if (const auto m = r.oneOf(*o, p, "mode", false, {"Strict", "Optional", "Permissive"})) {
        if (*m == QLatin1String("Permissive"))
            r.error(field(p, "mode"), QStringLiteral("dfproxy does not implement Permissive (invalid keys let "
                                                     "through); use Strict or Optional"));
        modes.append(*m);
    } else {
        modes.append(QStringLiteral("Strict"));
    }
    const auto file = annotationFile(r, policy, annotations::ApiKeysFile);
    if (file)
        s.apiKeysFile = *file;
    else
        r.error(p, QStringLiteral("dfproxy does not implement Kubernetes Secrets or ConfigMaps; name a file of "
                                  "\"name:sha256:<hex>\" lines in annotation %1")
                       .arg(QLatin1String(annotations::ApiKeysFile)));
    a.apiKeyHeader = QStringLiteral("authorization");
    s.apiKeyPrefix = QByteArrayLiteral("Bearer ");
    if (const auto loc = r.object(*o, p, "location", false)) {
        const QString lp = field(p, "location");
        checkSection(r, *loc, lp, {"header"});
        if (const auto h = r.object(*loc, lp, "header", false)) {
            const QString hp = field(lp, "header");
            r.checkKeys(*h, hp, {"name", "prefix"});
            if (const auto n = r.string(*h, hp, "name", true)) {
                if (!isHttpToken(*n))
                    r.error(field(hp, "name"), QStringLiteral("must be a valid HTTP header name"));
                a.apiKeyHeader = n->toLower();
            }
            s.apiKeyPrefix.clear();
            if (const auto prefix = r.string(*h, hp, "prefix", false)) {
                if (!isHeaderValue(*prefix) || prefix->trimmed().isEmpty())
                    r.error(field(hp, "prefix"), QStringLiteral("must be printable text such as \"Bearer \""));
                s.apiKeyPrefix = prefix->toUtf8();
            }
        }
    }
}

void parseJwt(Reader &r, const QJsonObject &traffic, const Resource &policy, AuthenticationPolicySpec &a,
              QStringList &modes)
{
    const QString p = QStringLiteral("spec.traffic.jwtAuthentication");
    const auto o = r.object(traffic, QStringLiteral("spec.traffic"), "jwtAuthentication", false);
    if (!o)
        return;
    checkSection(r, *o, p, {"mode", "providers"});
    if (const auto m = r.oneOf(*o, p, "mode", false, {"Strict", "Optional", "Permissive"})) {
        if (*m == QLatin1String("Permissive"))
            r.error(field(p, "mode"), QStringLiteral("dfproxy does not implement Permissive (invalid tokens let "
                                                     "through); use Strict or Optional"));
        modes.append(*m);
    } else {
        modes.append(QStringLiteral("Strict"));
    }
    const auto providers = r.objects(*o, p, "providers", true);
    if (providers.size() != 1 && o->value("providers").isArray())
        r.error(field(p, "providers"), QStringLiteral("dfproxy implements exactly one provider per policy"));
    for (const auto &[pp, po] : providers) {
        r.checkKeys(po, pp, {"issuer", "audiences", "jwks"});
        JwtSpec jwt;
        if (const auto i = r.string(po, pp, "issuer", true))
            jwt.issuer = *i;
        const auto auds = r.array(po, pp, "audiences", false);
        for (qsizetype i = 0; i < auds.size(); ++i) {
            if (!auds[i].isString() || auds[i].toString().isEmpty())
                r.error(index(field(pp, "audiences"), i), QStringLiteral("must be a non-empty string"));
            else
                jwt.audiences.append(auds[i].toString());
        }
        const auto file = annotationFile(r, policy, annotations::JwksFile);
        if (const auto jo = r.object(po, pp, "jwks", !file)) {
            const QString jp = field(pp, "jwks");
            r.checkKeys(*jo, jp, {"inline", "remote"});
            if (jo->contains("remote"))
                r.error(field(jp, "remote"), QStringLiteral("dfproxy does not implement fetching a remote JWKS; give "
                                                            "it inline or name a file in annotation %1")
                                                 .arg(QLatin1String(annotations::JwksFile)));
            else if (const auto text = r.string(*jo, jp, "inline", true)) {
                QJsonParseError e{};
                const auto doc = QJsonDocument::fromJson(text->toUtf8(), &e);
                if (e.error != QJsonParseError::NoError || !doc.isObject() || !doc.object().value("keys").isArray())
                    r.error(field(jp, "inline"), QStringLiteral("must be a JWKS: a JSON object with a \"keys\" array"));
                else
                    jwt.jwks = doc.object();
            }
        } else if (file) {
            jwt.jwksFile = *file;
        }
        a.jwt = jwt;
    }
}

void parseAuthorization(Reader &r, const QJsonObject &traffic, AgentgatewayPolicySpec &s)
{
    const QString p = QStringLiteral("spec.traffic.authorization");
    const auto o = r.object(traffic, QStringLiteral("spec.traffic"), "authorization", false);
    if (!o)
        return;
    checkSection(r, *o, p, {"action", "policy"});
    AgentgatewayAuthorizationSpec a;
    if (const auto act = r.oneOf(*o, p, "action", false, {"Allow", "Deny", "Require"}))
        a.action = *act == QLatin1String("Deny")      ? AgentgatewayAuthorizationSpec::Action::Deny
                   : *act == QLatin1String("Require") ? AgentgatewayAuthorizationSpec::Action::Require
                                                      : AgentgatewayAuthorizationSpec::Action::Allow;
    if (const auto po = r.object(*o, p, "policy", true)) {
        const QString pp = field(p, "policy");
        r.checkKeys(*po, pp, {"matchExpressions"});
        const auto exprs = r.array(*po, pp, "matchExpressions", true);
        if (po->value("matchExpressions").isArray() && (exprs.isEmpty() || exprs.size() > 256))
            r.error(field(pp, "matchExpressions"), QStringLiteral("must have 1 to 256 expressions"));
        for (qsizetype i = 0; i < exprs.size(); ++i) {
            const QString ep = index(field(pp, "matchExpressions"), i);
            if (!exprs[i].isString()) {
                r.error(ep, QStringLiteral("must be a string"));
                continue;
            }
            QString problem;
            if (!cel::Program::compile(exprs[i].toString(), &problem))
                r.error(ep, QStringLiteral("CEL: %1").arg(problem));
            else
                a.matchExpressions.append(exprs[i].toString());
        }
    }
    s.authorization = a;
    s.sections.append(QStringLiteral("traffic.authorization"));
}

void parseTraffic(Reader &r, const QJsonObject &spec, const Resource &policy, AgentgatewayPolicySpec &s)
{
    const auto o = r.object(spec, QStringLiteral("spec"), "traffic", false);
    if (!o)
        return;
    const QString p = QStringLiteral("spec.traffic");
    checkSection(r, *o, p,
                 {"rateLimit", "basicAuthentication", "apiKeyAuthentication", "jwtAuthentication", "authorization",
                  "timeouts", "headerModifiers"});
    parseRateLimit(r, *o, s);
    AuthenticationPolicySpec authn;
    QStringList modes;
    parseBasic(r, *o, policy, authn, modes);
    parseApiKey(r, *o, policy, s, authn, modes);
    parseJwt(r, *o, policy, authn, modes);
    if (authn.apiKeyEnabled && authn.jwt && authn.apiKeyHeader == QLatin1String("authorization"))
        r.error(QStringLiteral("spec.traffic.apiKeyAuthentication.location"),
                QStringLiteral("dfproxy cannot tell an API key from a JWT in the same Authorization header; give the "
                               "API key its own header (location.header.name)"));
    if (!modes.isEmpty()) {
        // Optional only when every method is: a Strict one keeps requiring credentials.
        authn.optional = !modes.contains(QStringLiteral("Strict"));
        s.authentication = authn;
        s.sections.append(QStringLiteral("traffic.authentication"));
    }
    parseAuthorization(r, *o, s);
    if (const auto t = r.object(*o, p, "timeouts", false)) {
        const QString tp = field(p, "timeouts");
        checkSection(r, *t, tp, {"request"});
        if (const auto d = r.string(*t, tp, "request", true)) {
            const auto ms = parseGatewayDuration(*d);
            if (!ms || *ms < 1)
                r.error(field(tp, "request"), QStringLiteral("must be a duration of at least 1ms such as \"10s\", "
                                                             "\"500ms\" or \"1h30m\", not \"%1\"")
                                                  .arg(*d));
            else
                s.requestTimeoutMs = *ms;
        }
        s.sections.append(QStringLiteral("traffic.timeouts"));
    }
    if (const auto h = r.object(*o, p, "headerModifiers", false)) {
        const QString hp = field(p, "headerModifiers");
        r.checkKeys(*h, hp, {"request", "response"});
        if (const auto req = r.object(*h, hp, "request", false))
            s.requestHeaders = parseHeaderModifier(r, *req, field(hp, "request"));
        if (const auto resp = r.object(*h, hp, "response", false))
            s.responseHeaders = parseHeaderModifier(r, *resp, field(hp, "response"));
        s.sections.append(QStringLiteral("traffic.headerModifiers"));
    }
}

void parseFrontend(Reader &r, const QJsonObject &spec, AgentgatewayPolicySpec &s)
{
    const auto o = r.object(spec, QStringLiteral("spec"), "frontend", false);
    if (!o)
        return;
    const QString p = QStringLiteral("spec.frontend");
    checkSection(r, *o, p, {"connect"});
    if (const auto c = r.object(*o, p, "connect", false)) {
        const QString cp = field(p, "connect");
        checkSection(r, *c, cp, {"mode"});
        if (const auto m = r.oneOf(*c, cp, "mode", true, {"Deny", "Route", "Tunnel"})) {
            if (*m == QLatin1String("Route"))
                r.error(field(cp, "mode"), QStringLiteral("dfproxy does not implement Route (routing the traffic "
                                                          "inside a CONNECT tunnel); use Tunnel or Deny"));
            s.connectMode = *m;
        }
        s.sections.append(QStringLiteral("frontend.connect"));
    }
    for (qsizetype i = 0; i < s.targetRefs.size(); ++i) {
        const auto &t = s.targetRefs[i];
        const QString tp = QStringLiteral("spec.targetRefs[%1]").arg(i);
        if (!t.kind.isEmpty() && t.kind != QLatin1String(kinds::Gateway))
            r.error(field(tp, "kind"), QStringLiteral("the 'frontend' field can only target a Gateway"));
        else if (!t.sectionName.isEmpty())
            r.error(field(tp, "sectionName"),
                    QStringLiteral("frontend policies target a whole Gateway, not a listener"));
    }
}

std::optional<AgentgatewayBackendTlsSpec> parseBackendTls(Reader &r, const QJsonObject &backend, const Resource &policy)
{
    const QString p = QStringLiteral("spec.backend.tls");
    const auto o = r.object(backend, QStringLiteral("spec.backend"), "tls", false);
    if (!o)
        return std::nullopt;
    checkSection(r, *o, p, {"sni", "insecureSkipVerify", "caCertificateRefs"});
    AgentgatewayBackendTlsSpec t;
    if (const auto sni = r.string(*o, p, "sni", false)) {
        if (!isDns1123Subdomain(*sni))
            r.error(field(p, "sni"), QStringLiteral("must be a lower-case hostname"));
        t.sni = *sni;
    }
    if (const auto v = r.oneOf(*o, p, "insecureSkipVerify", false, {"All", "Hostname"})) {
        if (*v == QLatin1String("Hostname"))
            r.error(field(p, "insecureSkipVerify"), QStringLiteral("dfproxy does not implement Hostname (verify the "
                                                                   "chain but not the name); use All or remove it"));
        t.insecureSkipVerify = true;
    }
    if (o->contains("caCertificateRefs"))
        r.error(field(p, "caCertificateRefs"),
                QStringLiteral("dfproxy does not implement Kubernetes ConfigMaps; name a PEM file in annotation %1")
                    .arg(QLatin1String(annotations::BackendTlsCaFile)));
    if (const auto f = annotationFile(r, policy, annotations::BackendTlsCaFile))
        t.caFile = *f;
    if (t.insecureSkipVerify && !t.caFile.isEmpty())
        r.error(field(p, "insecureSkipVerify"),
                QStringLiteral("insecureSkipVerify All and a CA may not be set together"));
    return t;
}

std::optional<AgentgatewayBackendHttpSpec> parseBackendHttp(Reader &r, const QJsonObject &backend,
                                                             const Resource &policy)
{
    const QString p = QStringLiteral("spec.backend.http");
    const auto o = r.object(backend, QStringLiteral("spec.backend"), "http", false);
    if (!o)
        return std::nullopt;
    checkSection(r, *o, p, {"version"});
    AgentgatewayBackendHttpSpec h;
    if (const auto v = r.oneOf(*o, p, "version", false, {"HTTP1", "HTTP2"}))
        h.version = *v == QLatin1String("HTTP2") ? AgentgatewayBackendHttpSpec::Version::Http2
                                                 : AgentgatewayBackendHttpSpec::Version::Http1;
    const QJsonValue a = policy.metadata().value("annotations").toObject().value(
        QLatin1String(annotations::BackendHttpVersion));
    if (!a.isUndefined()) {
        if (a != QJsonValue(QStringLiteral("Auto")))
            r.error(annotationPath(annotations::BackendHttpVersion), QStringLiteral("must be Auto"));
        else if (h.version == AgentgatewayBackendHttpSpec::Version::Http1)
            r.error(field(p, "version"), QStringLiteral("HTTP1 contradicts annotation %1: Auto (remove one)")
                                              .arg(QLatin1String(annotations::BackendHttpVersion)));
        else
            h.autoVersion = true;
    }
    return h;
}

// dfproxy's annotations replace what agentgateway reads from the cluster; one that is misspelt, or whose section
// the policy does not set, would be ignored: refuse it.
void checkAnnotations(Reader &r, const Resource &policy, const AgentgatewayPolicySpec &s)
{
    const QList<QPair<QString, QString>> known = {
        {annotations::TunnelCredentialsFile, QStringLiteral("backend.tunnel")},
        {annotations::TunnelBypass, QStringLiteral("backend.tunnel")},
        {annotations::TunnelPacUrl, QStringLiteral("backend.tunnel")},
        {annotations::TunnelCaFile, QStringLiteral("backend.tunnel")},
        {annotations::HtpasswdFile, QStringLiteral("traffic.basicAuthentication")},
        {annotations::ApiKeysFile, QStringLiteral("traffic.apiKeyAuthentication")},
        {annotations::JwksFile, QStringLiteral("traffic.jwtAuthentication")},
        {annotations::BackendTlsCaFile, QStringLiteral("backend.tls")},
        {annotations::BackendHttpVersion, QStringLiteral("backend.http")},
    };
    const bool basic = s.authentication && s.authentication->basicEnabled;
    const bool jwt = s.authentication && s.authentication->jwt;
    const QJsonObject ann = policy.metadata().value("annotations").toObject();
    const QJsonObject traffic = policy.spec().value("traffic").toObject();
    for (auto it = ann.begin(); it != ann.end(); ++it) {
        if (!it.key().startsWith(QLatin1String("dfproxy.dev/")))
            continue;
        const QString path = QStringLiteral("metadata.annotations[%1]").arg(it.key());
        QString section;
        QStringList names;
        for (const auto &[name, sec] : known) {
            names.append(name);
            if (name == it.key())
                section = sec;
        }
        if (section.isEmpty()) {
            r.error(
                path,
                QStringLiteral("unknown annotation (dfproxy reads %1 on an AgentgatewayPolicy)").arg(names.join(", ")));
            continue;
        }
        const bool present =
            section == QLatin1String("traffic.apiKeyAuthentication")  ? traffic.contains("apiKeyAuthentication")
            : section == QLatin1String("traffic.basicAuthentication") ? basic || traffic.contains("basicAuthentication")
            : section == QLatin1String("traffic.jwtAuthentication")   ? jwt || traffic.contains("jwtAuthentication")
            : section == QLatin1String("backend.tls")                 ? s.backendTls.has_value()
            : section == QLatin1String("backend.http")                ? s.backendHttp.has_value()
                                                                      : s.tunnel.has_value();
        if (!present)
            r.error(path, QStringLiteral("is only read together with spec.%1").arg(section));
    }
}

} // namespace

AgentgatewayPolicySpec parseAgentgatewayPolicySpec(const Resource &policy, QList<FieldError> *errors)
{
    Reader r(errors);
    AgentgatewayPolicySpec s;
    const QJsonObject spec = policy.spec();
    const QString sp = QStringLiteral("spec");
    checkSection(r, spec, sp, {"targetRefs", "targetSelectors", "traffic", "frontend", "backend"});
    s.targetRefs = parseTargets(r, spec);
    parseTraffic(r, spec, policy, s);
    parseFrontend(r, spec, s);
    if (spec.contains("traffic")) {
        for (qsizetype i = 0; i < s.targetRefs.size(); ++i) {
            if (s.targetRefs[i].kind == QLatin1String(kinds::Backend))
                r.error(QStringLiteral("spec.targetRefs[%1].kind").arg(i),
                        QStringLiteral("the 'traffic' field can only target a Gateway or an HTTPRoute"));
        }
    }
    if (!spec.contains("traffic") && !spec.contains("frontend") && !spec.contains("backend"))
        r.error(sp, QStringLiteral("at least one of traffic, frontend or backend must be set"));
    if (const auto backend = r.object(spec, sp, "backend", false)) {
        checkSection(r, *backend, QStringLiteral("spec.backend"), {"tunnel", "tls", "http"});
        s.tunnel = parseTunnel(r, *backend, policy);
        if (s.tunnel)
            s.sections.append(QStringLiteral("backend.tunnel"));
        s.backendTls = parseBackendTls(r, *backend, policy);
        if (s.backendTls)
            s.sections.append(QStringLiteral("backend.tls"));
        s.backendHttp = parseBackendHttp(r, *backend, policy);
        if (s.backendHttp)
            s.sections.append(QStringLiteral("backend.http"));
        for (qsizetype i = 0; i < s.targetRefs.size(); ++i) {
            const auto &t = s.targetRefs[i];
            const QString tp = QStringLiteral("spec.targetRefs[%1]").arg(i);
            if (t.kind == QLatin1String(kinds::HTTPRoute))
                r.error(field(tp, "kind"),
                        QStringLiteral("dfproxy applies spec.backend to an AgentgatewayBackend or to every backend "
                                       "of a Gateway's routes, not to an HTTPRoute"));
            else if (!t.sectionName.isEmpty())
                r.error(field(tp, "sectionName"), QStringLiteral("dfproxy applies spec.backend to a whole Gateway, "
                                                                 "not to one listener"));
        }
    }
    checkAnnotations(r, policy, s);
    const bool routeLevel = s.requestTimeoutMs > 0 || s.requestHeaders || s.responseHeaders;
    for (qsizetype i = 0; routeLevel && i < s.targetRefs.size(); ++i) {
        if (!s.targetRefs[i].sectionName.isEmpty())
            r.error(QStringLiteral("spec.targetRefs[%1].sectionName").arg(i),
                    QStringLiteral("dfproxy applies traffic.timeouts and traffic.headerModifiers to a whole Gateway "
                                   "or HTTPRoute, not to one listener"));
    }
    return s;
}

QString tunnelPacFile(const Resource &policy)
{
    const QString pac =
        policy.metadata().value("annotations").toObject().value(QLatin1String(annotations::TunnelPacUrl)).toString();
    const QUrl url(pac.trimmed(), QUrl::StrictMode);
    return url.isValid() && url.scheme() == QLatin1String("file") ? url.toLocalFile() : QString();
}

} // namespace dfproxy::config
