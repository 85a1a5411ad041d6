// SPDX-License-Identifier: Apache-2.0
#include "config/model.h"

#include "config/jsonreader.h"

#include <QHostAddress>
#include <QRegularExpression>
#include <QSet>

#include <functional>

namespace dfproxy::config {

namespace detail {

bool isHttpToken(const QString &s)
{
    if (s.isEmpty())
        return false;
    static const QString specials = QStringLiteral("!#$%&'*+-.^_`|~");
    for (const QChar c : s) {
        if (c.unicode() > 127)
            return false;
        if (!(c.isLetterOrNumber() || specials.contains(c)))
            return false;
    }
    return true;
}

// RFC 9110 field-value: no CTL but HTAB. CR or LF would end the header line and start a new one (header injection,
// request splitting), NUL and the others are refused by parsers downstream and would desync them from us.
bool isHeaderValue(const QString &s)
{
    for (const QChar c : s) {
        if (isControlCharacter(c) && c != u'\t')
            return false;
    }
    return true;
}

HeaderModifierSpec parseHeaderModifier(Reader &r, const QJsonObject &o, const QString &p)
{
    HeaderModifierSpec hm;
    r.checkKeys(o, p, {"set", "add", "remove"});
    auto pairs = [&](const char *key, QList<QPair<QString, QString>> &out) {
        for (const auto &[ep, e] : r.objects(o, p, key, false)) {
            r.checkKeys(e, ep, {"name", "value"});
            const auto n = r.string(e, ep, "name", true);
            const auto v = r.string(e, ep, "value", false);
            if (n && !isHttpToken(*n))
                r.error(field(ep, "name"), QStringLiteral("must be a valid HTTP header name"));
            if (!e.contains("value"))
                r.error(field(ep, "value"), QStringLiteral("is required"));
            else if (v && !isHeaderValue(*v))
                r.error(field(ep, "value"), QString::fromLatin1(kControlsInHeaderValue));
            if (n && v)
                out.append({*n, *v});
        }
    };
    pairs("set", hm.set);
    pairs("add", hm.add);
    const auto rm = r.array(o, p, "remove", false);
    for (qsizetype i = 0; i < rm.size(); ++i) {
        const QString ep = index(field(p, "remove"), i);
        if (!rm[i].isString() || !isHttpToken(rm[i].toString()))
            r.error(ep, QStringLiteral("must be a valid HTTP header name"));
        else
            hm.remove.append(rm[i].toString());
    }
    return hm;
}

} // namespace detail

namespace {

using namespace detail;

// RFC 3986 path characters only (the pattern Gateway API gives HTTPPathMatch values): the value is written into the
// request line and the Location header as it is, so a space, CR or LF would split them, "?" and "#" would change
// what the path means.
bool isUrlPath(const QString &s)
{
    static const QRegularExpression re(QStringLiteral("^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+$"));
    return re.match(s).hasMatch();
}

void checkRegex(Reader &r, const QString &pattern, const QString &path)
{
    const QRegularExpression re(pattern);
    if (!re.isValid())
        r.error(path, QStringLiteral("invalid regular expression: %1").arg(re.errorString()));
}

QList<ValueMatch> parseValueMatches(Reader &r, const QJsonObject &obj, const QString &path, const char *key,
                                    bool headerNames)
{
    QList<ValueMatch> out;
    QSet<QString> seen;
    for (const auto &[p, o] : r.objects(obj, path, key, false)) {
        r.checkKeys(o, p, {"type", "name", "value"});
        ValueMatch m;
        if (const auto t = r.oneOf(o, p, "type", false, {"Exact", "RegularExpression"}))
            m.type = *t == QLatin1String("Exact") ? ValueMatchType::Exact : ValueMatchType::RegularExpression;
        if (const auto n = r.string(o, p, "name", true)) {
            m.name = *n;
            if (headerNames && !isHttpToken(*n))
                r.error(field(p, "name"), QStringLiteral("must be a valid HTTP header name"));
            const QString key = headerNames ? n->toLower() : *n;
            if (seen.contains(key))
                r.error(field(p, "name"), QStringLiteral("duplicate name \"%1\"").arg(*n));
            seen.insert(key);
        }
        if (const auto v = r.string(o, p, "value", false)) {
            m.value = *v;
            if (m.type == ValueMatchType::RegularExpression)
                checkRegex(r, *v, field(p, "value"));
            else if (!isHeaderValue(*v))
                r.error(field(p, "value"), QString::fromLatin1(kControlsInHeaderValue));
        } else if (!o.contains("value")) {
            r.error(field(p, "value"), QStringLiteral("is required"));
        }
        out.append(m);
    }
    return out;
}

std::optional<PathModifier> parsePathModifier(Reader &r, const QJsonObject &parent, const QString &path)
{
    const auto o = r.object(parent, path, "path", false);
    if (!o)
        return std::nullopt;
    const QString p = field(path, "path");
    r.checkKeys(*o, p, {"type", "replaceFullPath", "replacePrefixMatch"});
    const auto t = r.oneOf(*o, p, "type", true, {"ReplaceFullPath", "ReplacePrefixMatch"});
    if (!t)
        return std::nullopt;
    PathModifier m;
    const bool full = *t == QLatin1String("ReplaceFullPath");
    m.type = full ? PathModifier::Type::ReplaceFullPath : PathModifier::Type::ReplacePrefixMatch;
    const char *key = full ? "replaceFullPath" : "replacePrefixMatch";
    const char *other = full ? "replacePrefixMatch" : "replaceFullPath";
    if (o->contains(QLatin1String(other)))
        r.error(field(p, other), QStringLiteral("must not be set when type is %1").arg(*t));
    const auto v = r.string(*o, p, key, true);
    if (!v)
        return std::nullopt;
    if (!v->startsWith(u'/'))
        r.error(field(p, key), QStringLiteral("must start with \"/\""));
    else if (!isUrlPath(*v))
        r.error(field(p, key),
                QStringLiteral("must be a URL path: letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes only "
                               "(no control characters such as CR or LF, no spaces, \"?\" or \"#\")"));
    m.value = *v;
    return m;
}

} // namespace

std::optional<qint64> parseGatewayDuration(const QString &text)
{
    static const QRegularExpression re(QStringLiteral("^([0-9]{1,5}(h|m|s|ms)){1,4}$"));
    if (!re.match(text).hasMatch())
        return std::nullopt;
    static const QRegularExpression part(QStringLiteral("([0-9]{1,5})(ms|h|m|s)"));
    qint64 total = 0;
    auto it = part.globalMatch(text);
    while (it.hasNext()) {
        const auto m = it.next();
        const qint64 n = m.captured(1).toLongLong();
        const QString unit = m.captured(2);
        if (unit == QLatin1String("h"))
            total += n * 3600000;
        else if (unit == QLatin1String("m"))
            total += n * 60000;
        else if (unit == QLatin1String("s"))
            total += n * 1000;
        else
            total += n;
    }
    return total;
}

bool isControlCharacter(QChar c)
{
    return c.unicode() < 0x20 || c.unicode() == 0x7f;
}

qsizetype firstControlCharacter(const QString &s, bool allowTab)
{
    for (qsizetype i = 0; i < s.size(); ++i) {
        if (isControlCharacter(s[i]) && !(allowTab && s[i] == u'\t'))
            return i;
    }
    return -1;
}

bool isGatewayHostname(const QString &host)
{
    if (host.startsWith(QLatin1String("*.")))
        return isDns1123Subdomain(host.mid(2));
    return isDns1123Subdomain(host);
}

QDateTime creationTimestamp(const Resource &resource)
{
    const QString ts = resource.metadata().value("creationTimestamp").toString();
    if (ts.isEmpty())
        return {};
    return QDateTime::fromString(ts, Qt::ISODateWithMs);
}

// ---- Gateway ---------------------------------------------------------------------------------------------------

GatewaySpec parseGatewaySpec(const Resource &gateway, QList<FieldError> *errors)
{
    Reader r(errors);
    GatewaySpec g;
    const QJsonObject spec = gateway.spec();
    const QString sp = QStringLiteral("spec");
    r.checkKeys(spec, sp, {"gatewayClassName", "addresses", "listeners", "infrastructure"});
    if (const auto c = r.string(spec, sp, "gatewayClassName", false))
        g.gatewayClassName = *c;
    if (spec.contains("infrastructure") && !spec.value("infrastructure").isObject())
        r.error(QStringLiteral("spec.infrastructure"), QStringLiteral("must be an object"));

    QSet<QString> addrSeen;
    for (const auto &[p, o] : r.objects(spec, sp, "addresses", false)) {
        r.checkKeys(o, p, {"type", "value"});
        GatewayAddress a;
        if (const auto t = r.oneOf(o, p, "type", false, {"IPAddress"}))
            a.type = *t;
        if (const auto v = r.string(o, p, "value", true)) {
            QHostAddress h;
            if (!h.setAddress(*v))
                r.error(field(p, "value"), QStringLiteral("must be an IP address, not \"%1\"").arg(*v));
            else if (addrSeen.contains(h.toString()))
                r.error(field(p, "value"), QStringLiteral("duplicate address %1").arg(*v));
            addrSeen.insert(h.toString());
            a.value = *v;
        }
        g.addresses.append(a);
    }

    const auto listeners = r.objects(spec, sp, "listeners", true);
    if (spec.value("listeners").isArray() && spec.value("listeners").toArray().isEmpty())
        r.error(QStringLiteral("spec.listeners"), QStringLiteral("must have at least one listener"));
    QSet<QString> names;
    QSet<int> ports;
    for (const auto &[p, o] : listeners) {
        r.checkKeys(o, p, {"name", "port", "protocol", "hostname", "tls", "allowedRoutes", "allowedConnectPorts"});
        GatewayListenerSpec l;
        if (const auto n = r.string(o, p, "name", true)) {
            l.name = *n;
            if (!isDns1123Subdomain(*n))
                r.error(field(p, "name"), QStringLiteral("must be a lower-case RFC 1123 subdomain"));
            else if (names.contains(*n))
                r.error(field(p, "name"), QStringLiteral("duplicate listener name \"%1\"").arg(*n));
            names.insert(*n);
        }
        if (const auto port = r.integer(o, p, "port", true, 1, 65535)) {
            l.port = static_cast<quint16>(*port);
            // One socket per listener: two listeners of one Gateway cannot share a port.
            if (ports.contains(l.port))
                r.error(field(p, "port"), QStringLiteral("port %1 is already used by another listener").arg(*port));
            ports.insert(l.port);
        }
        if (const auto proto = r.oneOf(o, p, "protocol", true, {"HTTP", "HTTPS"}))
            l.protocol = *proto;
        if (const auto h = r.string(o, p, "hostname", false)) {
            if (!isGatewayHostname(*h))
                r.error(field(p, "hostname"), QStringLiteral("must be a lower-case hostname, optionally prefixed by \"*.\""));
            l.hostname = *h;
        }
        if (const auto tls = r.object(o, p, "tls", false)) {
            const QString tp = field(p, "tls");
            r.checkKeys(*tls, tp, {"mode", "certificateRefs", "certFile", "keyFile", "options"});
            r.oneOf(*tls, tp, "mode", false, {"Terminate"});
            if (const auto c = r.string(*tls, tp, "certFile", false))
                l.tlsCertFile = *c;
            if (const auto k = r.string(*tls, tp, "keyFile", false))
                l.tlsKeyFile = *k;
            r.array(*tls, tp, "certificateRefs", false);
            r.object(*tls, tp, "options", false);
        }
        if (l.protocol == QLatin1String("HTTPS")) {
            if (l.tlsCertFile.isEmpty())
                r.error(field(field(p, "tls"), "certFile"), QStringLiteral("is required for an HTTPS listener"));
            if (l.tlsKeyFile.isEmpty())
                r.error(field(field(p, "tls"), "keyFile"), QStringLiteral("is required for an HTTPS listener"));
        } else if (l.protocol == QLatin1String("HTTP") && o.contains("tls")) {
            r.error(field(p, "tls"), QStringLiteral("must not be set for an HTTP listener"));
        }
        if (const auto ar = r.object(o, p, "allowedRoutes", false)) {
            const QString ap = field(p, "allowedRoutes");
            r.checkKeys(*ar, ap, {"namespaces", "kinds"});
            if (const auto nsObj = r.object(*ar, ap, "namespaces", false)) {
                const QString np = field(ap, "namespaces");
                r.checkKeys(*nsObj, np, {"from"});
                if (const auto from = r.oneOf(*nsObj, np, "from", false, {"All", "Same"}))
                    l.allowedRoutesFrom = *from;
            }
            for (const auto &[kp, k] : r.objects(*ar, ap, "kinds", false)) {
                r.checkKeys(k, kp, {"group", "kind"});
                r.string(k, kp, "group", false);
                if (const auto kind = r.string(k, kp, "kind", true); kind && *kind != QLatin1String("HTTPRoute"))
                    r.error(field(kp, "kind"), QStringLiteral("only HTTPRoute is supported"));
            }
        }
        if (o.contains("allowedConnectPorts")) {
            l.allowedConnectPorts.clear();
            const auto arr = r.array(o, p, "allowedConnectPorts", false);
            for (qsizetype i = 0; i < arr.size(); ++i) {
                if (const auto port = r.integer(arr[i], index(field(p, "allowedConnectPorts"), i), 1, 65535))
                    l.allowedConnectPorts.append(static_cast<quint16>(*port));
            }
        }
        g.listeners.append(l);
    }
    return g;
}

// ---- HTTPRoute -------------------------------------------------------------------------------------------------

HttpRouteSpec parseHttpRouteSpec(const Resource &route, QList<FieldError> *errors)
{
    Reader r(errors);
    HttpRouteSpec s;
    const QJsonObject spec = route.spec();
    const QString sp = QStringLiteral("spec");
    r.checkKeys(spec, sp, {"parentRefs", "hostnames", "rules"});

    for (const auto &[p, o] : r.objects(spec, sp, "parentRefs", false)) {
        r.checkKeys(o, p, {"group", "kind", "namespace", "name", "sectionName", "port"});
        ParentRef ref;
        ref.json = o;
        if (const auto g = r.string(o, p, "group", false))
            ref.group = *g;
        if (const auto k = r.string(o, p, "kind", false))
            ref.kind = *k;
        if (const auto n = r.string(o, p, "namespace", false)) {
            if (!isDns1123Label(*n))
                r.error(field(p, "namespace"), QStringLiteral("must be a lower-case RFC 1123 label"));
            ref.ns = *n;
        }
        if (const auto n = r.string(o, p, "name", true))
            ref.name = *n;
        if (const auto sn = r.string(o, p, "sectionName", false))
            ref.sectionName = *sn;
        if (const auto port = r.integer(o, p, "port", false, 1, 65535))
            ref.port = static_cast<quint16>(*port);
        s.parentRefs.append(ref);
    }

    const auto hostnames = r.array(spec, sp, "hostnames", false);
    for (qsizetype i = 0; i < hostnames.size(); ++i) {
        const QString p = index(QStringLiteral("spec.hostnames"), i);
        const QString h = hostnames[i].toString();
        if (!hostnames[i].isString() || !isGatewayHostname(h))
            r.error(p, QStringLiteral("must be a lower-case hostname, optionally prefixed by \"*.\""));
        else
            s.hostnames.append(h);
    }

    static const QStringList methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    for (const auto &[rp, ro] : r.objects(spec, sp, "rules", false)) {
        r.checkKeys(ro, rp, {"name", "matches", "filters", "backendRefs", "timeouts"});
        RouteRule rule;
        if (const auto n = r.string(ro, rp, "name", false))
            rule.name = *n;
        for (const auto &[mp, mo] : r.objects(ro, rp, "matches", false)) {
            r.checkKeys(mo, mp, {"path", "headers", "queryParams", "method"});
            HttpRouteMatch m;
            if (const auto po = r.object(mo, mp, "path", false)) {
                const QString pp = field(mp, "path");
                r.checkKeys(*po, pp, {"type", "value"});
                if (const auto t = r.oneOf(*po, pp, "type", false, {"Exact", "PathPrefix", "RegularExpression"})) {
                    m.path.type = *t == QLatin1String("Exact")        ? PathMatchType::Exact
                                  : *t == QLatin1String("PathPrefix") ? PathMatchType::PathPrefix
                                                                       : PathMatchType::RegularExpression;
                }
                if (const auto v = r.string(*po, pp, "value", false)) {
                    m.path.value = *v;
                    if (m.path.type == PathMatchType::RegularExpression) {
                        checkRegex(r, *v, field(pp, "value"));
                    } else if (!v->startsWith(u'/')) {
                        r.error(field(pp, "value"), QStringLiteral("must start with \"/\""));
                    } else if (v->contains(QLatin1String("//")) || v->contains(u'?') || v->contains(u'#')) {
                        r.error(field(pp, "value"), QStringLiteral("must not contain \"//\", \"?\" or \"#\""));
                    }
                }
            }
            m.headers = parseValueMatches(r, mo, mp, "headers", true);
            m.queryParams = parseValueMatches(r, mo, mp, "queryParams", false);
            if (const auto meth = r.oneOf(mo, mp, "method", false, methods))
                m.method = *meth;
            rule.matches.append(m);
        }

        QSet<int> filterTypes;
        for (const auto &[fp, fo] : r.objects(ro, rp, "filters", false)) {
            const auto t = r.oneOf(fo, fp, "type", true,
                                   {"RequestHeaderModifier", "ResponseHeaderModifier", "URLRewrite", "RequestRedirect"});
            if (!t) {
                r.checkKeys(fo, fp, {"type", "requestHeaderModifier", "responseHeaderModifier", "urlRewrite",
                                     "requestRedirect"});
                continue;
            }
            RouteFilter f;
            const char *key = nullptr;
            if (*t == QLatin1String("RequestHeaderModifier")) {
                f.type = RouteFilter::Type::RequestHeaderModifier;
                key = "requestHeaderModifier";
            } else if (*t == QLatin1String("ResponseHeaderModifier")) {
                f.type = RouteFilter::Type::ResponseHeaderModifier;
                key = "responseHeaderModifier";
            } else if (*t == QLatin1String("URLRewrite")) {
                f.type = RouteFilter::Type::URLRewrite;
                key = "urlRewrite";
            } else {
                f.type = RouteFilter::Type::RequestRedirect;
                key = "requestRedirect";
            }
            for (auto it = fo.begin(); it != fo.end(); ++it) {
                if (it.key() != QLatin1String("type") && it.key() != QLatin1String(key))
                    r.error(fp + u'.' + it.key(),
                            QStringLiteral("unknown field (a %1 filter takes only \"%2\")").arg(*t, QLatin1String(key)));
            }
            if (filterTypes.contains(int(f.type)))
                r.error(field(fp, "type"), QStringLiteral("%1 may appear only once per rule").arg(*t));
            filterTypes.insert(int(f.type));
            const auto body = r.object(fo, fp, key, true);
            if (!body)
                continue;
            const QString bp = field(fp, key);
            switch (f.type) {
            case RouteFilter::Type::RequestHeaderModifier:
            case RouteFilter::Type::ResponseHeaderModifier:
                f.headerModifier = parseHeaderModifier(r, *body, bp);
                break;
            case RouteFilter::Type::URLRewrite:
                r.checkKeys(*body, bp, {"hostname", "path"});
                if (const auto h = r.string(*body, bp, "hostname", false)) {
                    if (!isDns1123Subdomain(*h))
                        r.error(field(bp, "hostname"), QStringLiteral("must be a lower-case RFC 1123 hostname"));
                    f.rewrite.hostname = *h;
                }
                f.rewrite.path = parsePathModifier(r, *body, bp);
                break;
            case RouteFilter::Type::RequestRedirect:
                r.checkKeys(*body, bp, {"scheme", "hostname", "path", "port", "statusCode"});
                if (const auto sc = r.oneOf(*body, bp, "scheme", false, {"http", "https"}))
                    f.redirect.scheme = *sc;
                if (const auto h = r.string(*body, bp, "hostname", false)) {
                    if (!isDns1123Subdomain(*h))
                        r.error(field(bp, "hostname"), QStringLiteral("must be a lower-case RFC 1123 hostname"));
                    f.redirect.hostname = *h;
                }
                f.redirect.path = parsePathModifier(r, *body, bp);
                if (const auto port = r.integer(*body, bp, "port", false, 1, 65535))
                    f.redirect.port = static_cast<quint16>(*port);
                if (const auto code = r.integer(*body, bp, "statusCode", false, 0, 999)) {
                    if (*code != 301 && *code != 302 && *code != 303 && *code != 307 && *code != 308)
                        r.error(field(bp, "statusCode"), QStringLiteral("must be one of 301, 302, 303, 307, 308"));
                    else
                        f.redirect.statusCode = int(*code);
                }
                break;
            }
            // ReplacePrefixMatch needs exactly one prefix to replace: the rule must match by PathPrefix only.
            const auto &pm = f.type == RouteFilter::Type::URLRewrite ? f.rewrite.path : f.redirect.path;
            if ((f.type == RouteFilter::Type::URLRewrite || f.type == RouteFilter::Type::RequestRedirect) && pm
                && pm->type == PathModifier::Type::ReplacePrefixMatch) {
                for (const auto &m : rule.matches) {
                    if (m.path.type != PathMatchType::PathPrefix) {
                        r.error(field(field(bp, "path"), "replacePrefixMatch"),
                                QStringLiteral("requires every match of the rule to use a PathPrefix path match"));
                        break;
                    }
                }
            }
            rule.filters.append(f);
        }
        if (filterTypes.contains(int(RouteFilter::Type::URLRewrite))
            && filterTypes.contains(int(RouteFilter::Type::RequestRedirect)))
            r.error(field(rp, "filters"), QStringLiteral("URLRewrite and RequestRedirect cannot be used together"));

        for (const auto &[bp, bo] : r.objects(ro, rp, "backendRefs", false)) {
            r.checkKeys(bo, bp, {"group", "kind", "name", "namespace", "port", "weight", "filters"});
            BackendRef b;
            if (const auto g = r.string(bo, bp, "group", false))
                b.group = *g;
            if (const auto k = r.string(bo, bp, "kind", false))
                b.kind = *k;
            if (const auto n = r.string(bo, bp, "name", true)) {
                if (!isDns1123Subdomain(*n))
                    r.error(field(bp, "name"), QStringLiteral("must be a lower-case RFC 1123 subdomain"));
                b.name = *n;
            }
            if (const auto n = r.string(bo, bp, "namespace", false)) {
                if (!isDns1123Label(*n))
                    r.error(field(bp, "namespace"), QStringLiteral("must be a lower-case RFC 1123 label"));
                b.ns = *n;
            }
            if (const auto port = r.integer(bo, bp, "port", false, 1, 65535))
                b.port = static_cast<quint16>(*port);
            if (const auto w = r.integer(bo, bp, "weight", false, 0, 1000000))
                b.weight = int(*w);
            if (!r.array(bo, bp, "filters", false).isEmpty())
                r.error(field(bp, "filters"), QStringLiteral("per-backend filters are not supported"));
            rule.backendRefs.append(b);
        }

        if (const auto to = r.object(ro, rp, "timeouts", false)) {
            const QString tp = field(rp, "timeouts");
            r.checkKeys(*to, tp, {"request", "backendRequest"});
            auto duration = [&](const char *key, qint64 &out) {
                if (const auto d = r.string(*to, tp, key, false)) {
                    if (const auto ms = parseGatewayDuration(*d))
                        out = *ms;
                    else
                        r.error(field(tp, key),
                                QStringLiteral("must be a duration such as \"10s\", \"500ms\" or \"1h30m\", not \"%1\"")
                                    .arg(*d));
                }
            };
            duration("request", rule.requestTimeoutMs);
            duration("backendRequest", rule.backendRequestTimeoutMs);
            if (rule.requestTimeoutMs > 0 && rule.backendRequestTimeoutMs > rule.requestTimeoutMs)
                r.error(field(tp, "backendRequest"), QStringLiteral("must not be longer than timeouts.request"));
        }
        s.rules.append(rule);
    }
    return s;
}

// ---- AgentgatewayBackend ---------------------------------------------------------------------------------------

BackendSpec parseBackendSpec(const Resource &backend, QList<FieldError> *errors)
{
    Reader r(errors);
    BackendSpec b;
    const QJsonObject spec = backend.spec();
    const QString sp = QStringLiteral("spec");
    r.checkKeys(spec, sp, {"dynamicForwardProxy", "static", "tls", "dns", "engine", "policies"});
    const bool dfp = spec.contains("dynamicForwardProxy");
    const bool st = spec.contains("static");
    if (dfp == st)
        r.error(sp, QStringLiteral("exactly one of dynamicForwardProxy or static must be set"));
    if (dfp) {
        b.type = BackendSpec::Type::DynamicForwardProxy;
        if (const auto o = r.object(spec, sp, "dynamicForwardProxy", true))
            r.checkKeys(*o, QStringLiteral("spec.dynamicForwardProxy"), {});
    } else if (st) {
        b.type = BackendSpec::Type::Static;
        if (const auto o = r.object(spec, sp, "static", true)) {
            const QString p = QStringLiteral("spec.static");
            r.checkKeys(*o, p, {"host", "port"});
            if (const auto h = r.string(*o, p, "host", true)) {
                QHostAddress ip;
                if (!ip.setAddress(*h) && !isDns1123Subdomain(h->toLower()))
                    r.error(field(p, "host"), QStringLiteral("must be a hostname or an IP address"));
                b.staticHost = *h;
            }
            if (const auto port = r.integer(*o, p, "port", true, 1, 65535))
                b.staticPort = static_cast<quint16>(*port);
        }
    }
    const auto tlsv = spec.value("tls");
    if (tlsv.isBool()) {
        b.tls = tlsv.toBool();
        b.tlsDisabled = !b.tls;
    } else if (!tlsv.isUndefined() && !tlsv.isNull()) {
        if (const auto o = r.object(spec, sp, "tls", false)) {
            const QString p = QStringLiteral("spec.tls");
            b.tls = true;
            r.checkKeys(*o, p, {"sni", "insecureSkipVerify", "caFile"});
            if (const auto s = r.string(*o, p, "sni", false)) {
                if (!isDns1123Subdomain(s->toLower()))
                    r.error(field(p, "sni"), QStringLiteral("must be a hostname"));
                b.tlsSni = *s;
            }
            if (const auto v = r.boolean(*o, p, "insecureSkipVerify"))
                b.tlsInsecureSkipVerify = *v;
            if (const auto c = r.string(*o, p, "caFile", false))
                b.tlsCaFile = *c;
        }
    }
    // agentgateway's own place for a backend's TLS (what `export --for agentgateway` writes): spec.policies.tls.
    if (const auto pol = r.object(spec, sp, "policies", false)) {
        const QString pp = QStringLiteral("spec.policies");
        for (auto it = pol->begin(); it != pol->end(); ++it) {
            if (it.key() != QLatin1String("tls"))
                r.error(pp + u'.' + it.key(), QStringLiteral("dfproxy does not implement this backend policy of "
                                                            "agentgateway (it reads spec.policies.tls only)"));
        }
        if (const auto t = r.object(*pol, pp, "tls", false)) {
            const QString tp = QStringLiteral("spec.policies.tls");
            if (spec.contains("tls"))
                r.error(tp, QStringLiteral("set TLS in spec.tls or in spec.policies.tls, not both"));
            b.tls = true;
            for (auto it = t->begin(); it != t->end(); ++it) {
                if (it.key() != QLatin1String("sni") && it.key() != QLatin1String("insecureSkipVerify"))
                    r.error(tp + u'.' + it.key(), QStringLiteral("dfproxy does not implement this field of "
                                                                "spec.policies.tls (sni and insecureSkipVerify: All)"));
            }
            if (const auto sni = r.string(*t, tp, "sni", false)) {
                if (!isDns1123Subdomain(*sni))
                    r.error(field(tp, "sni"), QStringLiteral("must be a lower-case hostname"));
                b.tlsSni = *sni;
            }
            if (const auto v = r.oneOf(*t, tp, "insecureSkipVerify", false, {"All", "Hostname"})) {
                if (*v == QLatin1String("Hostname"))
                    r.error(field(tp, "insecureSkipVerify"), QStringLiteral("dfproxy does not implement Hostname; use "
                                                                            "All or remove it"));
                b.tlsInsecureSkipVerify = true;
            }
        }
    }
    if (const auto o = r.object(spec, sp, "dns", false)) {
        const QString p = QStringLiteral("spec.dns");
        r.checkKeys(*o, p, {"lookupFamily"});
        // The same parser as the global dns.lookupFamily: both fields accept exactly the same spellings.
        if (const auto s = r.string(*o, p, "lookupFamily", false)) {
            b.lookupFamily = lookupFamilyFromString(*s);
            if (!b.lookupFamily)
                r.error(field(p, "lookupFamily"), lookupFamilyChoicesError(*s));
        }
    }
    if (const auto e = r.oneOf(spec, sp, "engine", false, {"native", "qnam"}))
        b.engine = *e == QLatin1String("qnam") ? BackendSpec::Engine::Qnam : BackendSpec::Engine::Native;
    return b;
}

// ---- Egress policies -------------------------------------------------------------------------------------------

namespace {

QList<PolicyTargetRef> parseTargetRefs(Reader &r, const QJsonObject &spec)
{
    QList<PolicyTargetRef> out;
    const auto refs = r.objects(spec, QStringLiteral("spec"), "targetRefs", true);
    if (spec.value("targetRefs").isArray() && refs.isEmpty())
        r.error(QStringLiteral("spec.targetRefs"), QStringLiteral("must name at least one target"));
    for (const auto &[p, o] : refs) {
        r.checkKeys(o, p, {"group", "kind", "name", "sectionName"});
        PolicyTargetRef t;
        if (const auto k = r.oneOf(o, p, "kind", true, {kinds::Gateway, kinds::HTTPRoute, kinds::Backend}))
            t.kind = *k;
        const QString expected = t.kind == QLatin1String(kinds::Backend) ? QString::fromLatin1(BackendGroup)
                                                                          : QString::fromLatin1(GatewayGroup);
        t.group = expected;
        if (const auto g = r.string(o, p, "group", false)) {
            if (!t.kind.isEmpty() && *g != expected)
                r.error(field(p, "group"), QStringLiteral("must be \"%1\" for kind %2").arg(expected, t.kind));
        }
        if (const auto n = r.string(o, p, "name", true)) {
            if (!isDns1123Subdomain(*n))
                r.error(field(p, "name"), QStringLiteral("must be a lower-case RFC 1123 subdomain"));
            t.name = *n;
        }
        if (const auto sn = r.string(o, p, "sectionName", false)) {
            if (t.kind != QLatin1String(kinds::Gateway))
                r.error(field(p, "sectionName"), QStringLiteral("is supported for Gateway targets only (a listener name)"));
            t.sectionName = *sn;
        }
        out.append(t);
    }
    return out;
}

void duration(Reader &r, const QJsonObject &o, const QString &p, const char *key, qint64 &out, bool positive)
{
    if (const auto d = r.string(o, p, key, false)) {
        const auto ms = parseGatewayDuration(*d);
        if (!ms)
            r.error(field(p, key), QStringLiteral("must be a duration such as \"1s\", \"500ms\" or \"1m\", not \"%1\"").arg(*d));
        else if (positive && *ms <= 0)
            r.error(field(p, key), QStringLiteral("must be longer than 0"));
        else
            out = *ms;
    }
}

QStringList strings(Reader &r, const QJsonObject &o, const QString &p, const char *key,
                    const std::function<QString(const QString &)> &check)
{
    QStringList out;
    const auto arr = r.array(o, p, key, false);
    for (qsizetype i = 0; i < arr.size(); ++i) {
        const QString ep = index(field(p, key), i);
        if (!arr[i].isString() || arr[i].toString().isEmpty()) {
            r.error(ep, QStringLiteral("must be a non-empty string"));
            continue;
        }
        const QString problem = check ? check(arr[i].toString()) : QString();
        if (!problem.isEmpty())
            r.error(ep, problem);
        else
            out.append(arr[i].toString());
    }
    return out;
}

QString cidrProblem(const QString &s)
{
    return parseCidr(s) ? QString() : QStringLiteral("must be a CIDR block such as \"10.0.0.0/8\" or an IP address");
}

bool isAbsoluteProgramPath(const QString &s)
{
    const bool windowsDrive = s.size() >= 3 && s[0].isLetter() && s[1] == u':' && (s[2] == u'\\' || s[2] == u'/');
    return s.startsWith(u'/') || windowsDrive || s.startsWith(QLatin1String("\\\\"));
}

/// Why `value` cannot be an application entry of `kind` ("" when it can).
QString applicationProblem(ApplicationMatchSpec::Kind kind, const QString &value)
{
    using Kind = ApplicationMatchSpec::Kind;
    if (value.isEmpty())
        return QStringLiteral("must be a non-empty string");
    if (firstControlCharacter(value) >= 0)
        return QStringLiteral("must not contain control characters");
    const bool glob = value.contains(u'*') || value.contains(u'?');
    switch (kind) {
    case Kind::Name:
        if (value.contains(u'/') || value.contains(u'\\'))
            return QStringLiteral("must be a program name without slashes (\"curl\"); give an absolute path as "
                                  "{path: ...}");
        if (glob)
            return QStringLiteral("must be an exact program name; for wildcards use a path glob such as "
                                  "\"/usr/bin/*\"");
        return {};
    case Kind::Path:
    case Kind::PathGlob: {
        if (!isAbsoluteProgramPath(value))
            return QStringLiteral("must be an absolute path (\"/usr/bin/curl\", \"C:\\\\Program Files\\\\...\")");
        // The OS reports the executable's canonical path: a "." or ".." segment could never match.
        for (const QString &seg : QString(value).replace(u'\\', u'/').split(u'/')) {
            if (seg == QLatin1String(".") || seg == QLatin1String(".."))
                return QStringLiteral("must be a canonical path without \".\" or \"..\" segments");
        }
        if (value.contains(u'['))
            return QStringLiteral("supports the wildcards *, ** and ? only");
        return {};
    }
    case Kind::Publisher:
        return {};
    }
    return {};
}

/// rules[].applications: each entry a string ("curl" = a name; "/usr/bin/curl" = a path; "/usr/bin/*" = a path
/// glob) or an object with exactly one of name, path (glob allowed) or publisher.
QList<ApplicationMatchSpec> applicationMatches(Reader &r, const QJsonObject &o, const QString &p)
{
    using Kind = ApplicationMatchSpec::Kind;
    QList<ApplicationMatchSpec> out;
    const auto arr = r.array(o, p, "applications", false);
    if (o.contains(QLatin1String("applications")) && o.value(QLatin1String("applications")).isArray() && arr.isEmpty())
        r.error(field(p, "applications"), QStringLiteral("must list at least one application"));
    for (qsizetype i = 0; i < arr.size(); ++i) {
        const QString ep = index(field(p, "applications"), i);
        ApplicationMatchSpec m;
        if (arr[i].isString()) {
            m.value = arr[i].toString();
            m.kind = m.value.contains(u'/') || m.value.contains(u'\\') ? Kind::Path : Kind::Name;
        } else if (arr[i].isObject()) {
            const QJsonObject e = arr[i].toObject();
            r.checkKeys(e, ep, {"name", "path", "publisher"});
            if (e.size() != 1) {
                r.error(ep, QStringLiteral("must have exactly one of name, path or publisher"));
                continue;
            }
            const QString key = e.begin().key();
            if (!e.begin().value().isString()) {
                r.error(field(ep, key.toLatin1().constData()), QStringLiteral("must be a string"));
                continue;
            }
            m.value = e.begin().value().toString();
            m.kind = key == QLatin1String("name") ? Kind::Name
                   : key == QLatin1String("path") ? Kind::Path
                                                  : Kind::Publisher;
            if (m.kind != Kind::Name && m.kind != Kind::Path && key != QLatin1String("publisher"))
                continue; // reported by checkKeys
        } else {
            r.error(ep, QStringLiteral("must be a program name, an absolute path or {name|path|publisher: ...}"));
            continue;
        }
        const QString problem = applicationProblem(m.kind, m.value);
        if (!problem.isEmpty()) {
            r.error(arr[i].isObject() ? field(ep, arr[i].toObject().begin().key().toLatin1().constData()) : ep,
                    problem);
            continue;
        }
        if (m.kind == Kind::Path && (m.value.contains(u'*') || m.value.contains(u'?')))
            m.kind = Kind::PathGlob;
        out.append(m);
    }
    return out;
}

bool isHex(const QString &s)
{
    for (const QChar c : s) {
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f')))
            return false;
    }
    return true;
}

} // namespace

std::optional<QPair<QHostAddress, int>> parseCidr(const QString &text)
{
    const QString t = text.trimmed();
    if (!t.contains(u'/')) {
        QHostAddress a;
        if (!a.setAddress(t))
            return std::nullopt;
        return QPair<QHostAddress, int>{a, a.protocol() == QAbstractSocket::IPv4Protocol ? 32 : 128};
    }
    const auto subnet = QHostAddress::parseSubnet(t);
    if (subnet.first.isNull() || subnet.second < 0)
        return std::nullopt;
    return subnet;
}

RateLimitPolicySpec parseRateLimitPolicySpec(const Resource &policy, QList<FieldError> *errors)
{
    Reader r(errors);
    RateLimitPolicySpec s;
    const QJsonObject spec = policy.spec();
    const QString sp = QStringLiteral("spec");
    r.checkKeys(spec, sp, {"targetRefs", "limits"});
    s.targetRefs = parseTargetRefs(r, spec);
    const auto limits = r.objects(spec, sp, "limits", true);
    if (spec.value("limits").isArray() && limits.isEmpty())
        r.error(QStringLiteral("spec.limits"), QStringLiteral("must have at least one limit"));
    int i = 0;
    for (const auto &[p, o] : limits) {
        r.checkKeys(o, p, {"name", "key", "header", "tokens", "fillInterval", "burst", "maxKeys", "bytesPerSecond",
                           "burstBytes"});
        RateLimitSpec l;
        l.name = QStringLiteral("limits[%1]").arg(i++);
        if (const auto n = r.string(o, p, "name", false))
            l.name = *n;
        if (const auto k = r.oneOf(o, p, "key", false,
                                   {"clientIP", "destinationHost", "route", "identity", "header", "global",
                                    "application"})) {
            static const QStringList names = {"clientIP", "destinationHost", "route", "identity", "header", "global",
                                              "application"};
            l.key = static_cast<RateLimitSpec::Key>(names.indexOf(*k));
        }
        if (const auto h = r.string(o, p, "header", false)) {
            if (!isHttpToken(*h))
                r.error(field(p, "header"), QStringLiteral("must be a valid HTTP header name"));
            l.header = h->toLower();
        }
        if (l.key == RateLimitSpec::Key::Header && !o.contains("header"))
            r.error(field(p, "header"), QStringLiteral("is required when key is \"header\""));
        else if (l.key != RateLimitSpec::Key::Header && o.contains("header"))
            r.error(field(p, "header"), QStringLiteral("is only allowed when key is \"header\""));
        // A limit counts requests (tokens), throttles tunnels (bytesPerSecond), or both.
        const bool counts = o.contains("tokens");
        if (!counts && !o.contains("bytesPerSecond"))
            r.error(p, QStringLiteral("needs \"tokens\" (requests) or \"bytesPerSecond\" (tunnel bandwidth)"));
        // Bounds keep the token bucket's integer arithmetic (tokens x interval in ms) far from overflow.
        if (const auto t = r.integer(o, p, "tokens", false, 1, 1000000))
            l.tokens = *t;
        if (counts) {
            duration(r, o, p, "fillInterval", l.fillIntervalMs, true);
            if (l.fillIntervalMs > 86400000)
                r.error(field(p, "fillInterval"), QStringLiteral("must not be longer than 24h"));
        } else {
            for (const char *k : {"fillInterval", "burst"}) {
                if (o.contains(QLatin1String(k)))
                    r.error(field(p, k), QStringLiteral("is only allowed together with \"tokens\""));
            }
        }
        if (const auto b = r.integer(o, p, "burst", false, 1, 1000000))
            l.burst = *b;
        if (const auto m = r.integer(o, p, "maxKeys", false, 1, 10000000))
            l.maxKeys = *m;
        // Up to 10 GB/s and 1 TB of burst: the tunnel bucket counts in bytes x 1000 without overflow.
        if (const auto b = r.integer(o, p, "bytesPerSecond", false, 1, 10'000'000'000))
            l.bytesPerSecond = *b;
        if (const auto b = r.integer(o, p, "burstBytes", false, 1, 1'000'000'000'000)) {
            l.burstBytes = *b;
            if (!o.contains("bytesPerSecond"))
                r.error(field(p, "burstBytes"), QStringLiteral("is only allowed together with \"bytesPerSecond\""));
        }
        s.limits.append(l);
    }
    return s;
}

AuthenticationPolicySpec parseAuthenticationPolicySpec(const Resource &policy, QList<FieldError> *errors)
{
    Reader r(errors);
    AuthenticationPolicySpec s;
    const QJsonObject spec = policy.spec();
    const QString sp = QStringLiteral("spec");
    r.checkKeys(spec, sp, {"targetRefs", "optional", "basic", "apiKey", "jwt"});
    s.targetRefs = parseTargetRefs(r, spec);
    if (const auto o = r.boolean(spec, sp, "optional"))
        s.optional = *o;
    if (const auto b = r.object(spec, sp, "basic", false)) {
        const QString p = QStringLiteral("spec.basic");
        s.basicEnabled = true;
        r.checkKeys(*b, p, {"realm", "users", "htpasswdFile"});
        if (const auto realm = r.string(*b, p, "realm", false)) {
            if (realm->contains(u'"') || realm->contains(u'\\') || firstControlCharacter(*realm) >= 0)
                r.error(field(p, "realm"),
                        QStringLiteral("must not contain quotes, backslashes or control characters"));
            else
                s.realm = *realm;
        }
        QSet<QString> seen;
        for (const auto &[up, u] : r.objects(*b, p, "users", false)) {
            r.checkKeys(u, up, {"name", "passwordHash"});
            BasicUser user;
            if (const auto n = r.string(u, up, "name", true)) {
                if (n->contains(u':'))
                    r.error(field(up, "name"), QStringLiteral("must not contain ':'"));
                else if (seen.contains(*n))
                    r.error(field(up, "name"), QStringLiteral("duplicate user \"%1\"").arg(*n));
                seen.insert(*n);
                user.name = *n;
            }
            if (const auto h = r.string(u, up, "passwordHash", true)) {
                if (!h->startsWith(u'$') && !h->startsWith(QLatin1String("pbkdf2-sha256$")))
                    r.error(field(up, "passwordHash"),
                            QStringLiteral("must be a crypt(3) hash (\"$2b$...\", \"$6$...\") or "
                                           "\"pbkdf2-sha256$ITERATIONS$SALT$HASH\"; never a plain password"));
                user.passwordHash = *h;
            }
            s.users.append(user);
        }
        if (const auto f = r.string(*b, p, "htpasswdFile", false))
            s.htpasswdFile = *f;
        if (s.users.isEmpty() && s.htpasswdFile.isEmpty())
            r.error(p, QStringLiteral("needs users or htpasswdFile"));
    }
    if (const auto a = r.object(spec, sp, "apiKey", false)) {
        const QString p = QStringLiteral("spec.apiKey");
        s.apiKeyEnabled = true;
        r.checkKeys(*a, p, {"header", "keys"});
        if (const auto h = r.string(*a, p, "header", false)) {
            if (!isHttpToken(*h))
                r.error(field(p, "header"), QStringLiteral("must be a valid HTTP header name"));
            s.apiKeyHeader = h->toLower();
        }
        for (const auto &[kp, k] : r.objects(*a, p, "keys", true)) {
            r.checkKeys(k, kp, {"name", "sha256"});
            ApiKeySpec key;
            if (const auto n = r.string(k, kp, "name", true))
                key.name = *n;
            if (const auto h = r.string(k, kp, "sha256", true)) {
                const QString lower = h->toLower();
                if (lower.size() != 64 || !isHex(lower))
                    r.error(field(kp, "sha256"), QStringLiteral("must be the 64 hex digits of the key's SHA-256"));
                key.sha256 = lower.toLatin1();
            }
            s.apiKeys.append(key);
        }
    }
    if (const auto j = r.object(spec, sp, "jwt", false)) {
        const QString p = QStringLiteral("spec.jwt");
        JwtSpec jwt;
        r.checkKeys(*j, p, {"issuer", "audiences", "jwksFile", "jwks", "clockSkew", "identityClaim",
                                 "requireExpiration", "maxLifetime"});
        if (const auto i = r.string(*j, p, "issuer", false))
            jwt.issuer = *i;
        jwt.audiences = strings(r, *j, p, "audiences", {});
        if (const auto f = r.string(*j, p, "jwksFile", false))
            jwt.jwksFile = *f;
        if (const auto k = r.object(*j, p, "jwks", false)) {
            jwt.jwks = *k;
            if (!k->value("keys").isArray())
                r.error(field(p, "jwks") + QStringLiteral(".keys"), QStringLiteral("must be an array of JWKs"));
        }
        if (jwt.jwksFile.isEmpty() == jwt.jwks.isEmpty())
            r.error(p, QStringLiteral("exactly one of jwksFile or jwks must be set"));
        duration(r, *j, p, "clockSkew", jwt.clockSkewMs, false);
        if (const auto c = r.string(*j, p, "identityClaim", false))
            jwt.identityClaim = *c;
        if (const auto b = r.boolean(*j, p, "requireExpiration"))
            jwt.requireExpiration = *b;
        duration(r, *j, p, "maxLifetime", jwt.maxLifetimeMs, true);
        s.jwt = jwt;
    }
    if (!s.basicEnabled && !s.apiKeyEnabled && !s.jwt)
        r.error(sp, QStringLiteral("needs at least one of basic, apiKey or jwt"));
    return s;
}

AuthorizationPolicySpec parseAuthorizationPolicySpec(const Resource &policy, QList<FieldError> *errors)
{
    Reader r(errors);
    AuthorizationPolicySpec s;
    const QJsonObject spec = policy.spec();
    const QString sp = QStringLiteral("spec");
    r.checkKeys(spec, sp, {"targetRefs", "defaultAction", "rules"});
    s.targetRefs = parseTargetRefs(r, spec);
    if (const auto d = r.oneOf(spec, sp, "defaultAction", false, {"Allow", "Deny"}))
        s.defaultAllow = *d == QLatin1String("Allow");
    static const QStringList methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
    int i = 0;
    for (const auto &[p, o] : r.objects(spec, sp, "rules", false)) {
        r.checkKeys(o, p, {"name", "action", "hosts", "ports", "methods", "pathPrefixes", "clientCIDRs", "identities",
                           "applications"});
        AuthorizationRuleSpec rule;
        rule.name = QStringLiteral("rules[%1]").arg(i++);
        if (const auto n = r.string(o, p, "name", false))
            rule.name = *n;
        if (const auto a = r.oneOf(o, p, "action", true, {"Allow", "Deny"}))
            rule.allow = *a == QLatin1String("Allow");
        rule.hosts = strings(r, o, p, "hosts", [](const QString &h) {
            return h == QLatin1String("*") || isGatewayHostname(h)
                       ? QString()
                       : QStringLiteral("must be a lower-case hostname, \"*.\" wildcard or \"*\"");
        });
        const auto ports = r.array(o, p, "ports", false);
        for (qsizetype k = 0; k < ports.size(); ++k) {
            if (const auto port = r.integer(ports[k], index(field(p, "ports"), k), 1, 65535))
                rule.ports.append(static_cast<quint16>(*port));
        }
        rule.methods = strings(r, o, p, "methods", [](const QString &m) {
            return methods.contains(m) ? QString() : QStringLiteral("must be one of %1").arg(methods.join(", "));
        });
        rule.pathPrefixes = strings(r, o, p, "pathPrefixes", [](const QString &v) {
            return v.startsWith(u'/') ? QString() : QStringLiteral("must start with \"/\"");
        });
        rule.clientCIDRs = strings(r, o, p, "clientCIDRs", cidrProblem);
        rule.identities = strings(r, o, p, "identities", {});
        rule.applications = applicationMatches(r, o, p);
        s.rules.append(rule);
    }
    return s;
}

SsrfSettings parseSsrfSettings(const QJsonObject &proxyBlock, QList<FieldError> *errors)
{
    Reader r(errors);
    SsrfSettings s;
    const auto o = r.object(proxyBlock, QStringLiteral("proxy"), "ssrf", false);
    if (!o)
        return s;
    const QString p = QStringLiteral("proxy.ssrf");
    r.checkKeys(*o, p, {"preset", "deniedCIDRs", "allowedCIDRs", "denySelf", "loopDetection"});
    if (const auto preset = r.oneOf(*o, p, "preset", false, {"default", "strict", "off"}))
        s.preset = *preset;
    s.deniedCIDRs = strings(r, *o, p, "deniedCIDRs", cidrProblem);
    s.allowedCIDRs = strings(r, *o, p, "allowedCIDRs", cidrProblem);
    if (const auto b = r.boolean(*o, p, "denySelf"))
        s.denySelf = *b;
    if (const auto b = r.boolean(*o, p, "loopDetection"))
        s.loopDetection = *b;
    return s;
}

} // namespace dfproxy::config
