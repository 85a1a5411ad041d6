// SPDX-License-Identifier: Apache-2.0
#include "routing/routetable.h"

#include "http/canonical.h"

#include "config/model.h"
#include "routing/attachment.h"

#include <QByteArrayView>
#include <QHash>
#include <QRegularExpression>
#include <QSet>
#include <QUrl>

#include <algorithm>
#include <type_traits>
#include <vector>

namespace dfproxy::routing {

using namespace dfproxy::config;

namespace {

struct ValueCond
{
    QByteArray name;           ///< header names lower-case; query names as written
    bool regex = false;
    QByteArray value;
    QRegularExpression re;
};

// What a rule does once one of its matches won; shared by every match of the rule.
struct CompiledRule
{
    RouteMatch result;         ///< everything but backend and matchedPrefix
    struct Weighted
    {
        std::shared_ptr<const Backend> backend; ///< null: the ref did not resolve (its share answers 500)
        qint64 weight = 0;
    };
    std::vector<Weighted> backends;
    qint64 totalWeight = 0;
};

// One HTTPRouteMatch of one rule: the unit Gateway API precedence sorts.
struct Candidate
{
    PathMatchType pathType = PathMatchType::PathPrefix;
    QByteArray path;           ///< Exact value, or PathPrefix value without trailing '/' ("" for "/")
    QString prefix;            ///< PathPrefix value as RouteMatch::matchedPrefix reports it
    QRegularExpression pathRe;
    QByteArray method;
    std::vector<ValueCond> headers;
    std::vector<ValueCond> query;
    // Tie breakers.
    qint64 created = 0;
    QString routeKey;          ///< "namespace/name"
    int ruleIndex = 0;
    int matchIndex = 0;
    std::shared_ptr<const CompiledRule> rule;
};

using CandidateList = std::vector<std::shared_ptr<const Candidate>>;

int pathRank(PathMatchType t)
{
    switch (t) {
    case PathMatchType::Exact:
        return 0;
    case PathMatchType::PathPrefix:
        return 1;
    case PathMatchType::RegularExpression:
        return 2;
    }
    return 3;
}

// Gateway API precedence: Exact path, longest prefix, method, most header matches, most query matches, then the
// oldest route, then namespace/name, then rule and match order.
bool precedes(const Candidate &a, const Candidate &b)
{
    if (pathRank(a.pathType) != pathRank(b.pathType))
        return pathRank(a.pathType) < pathRank(b.pathType);
    if (a.pathType != PathMatchType::RegularExpression && a.path.size() != b.path.size())
        return a.path.size() > b.path.size();
    if (a.method.isEmpty() != b.method.isEmpty())
        return !a.method.isEmpty();
    if (a.headers.size() != b.headers.size())
        return a.headers.size() > b.headers.size();
    if (a.query.size() != b.query.size())
        return a.query.size() > b.query.size();
    if (a.created != b.created)
        return a.created < b.created;
    if (a.routeKey != b.routeKey)
        return a.routeKey < b.routeKey;
    if (a.ruleIndex != b.ruleIndex)
        return a.ruleIndex < b.ruleIndex;
    return a.matchIndex < b.matchIndex;
}

bool regexMatches(const QRegularExpression &re, QByteArrayView text)
{
    return re.match(QString::fromUtf8(text)).hasMatch();
}

bool valueMatches(const ValueCond &c, QByteArrayView value)
{
    return c.regex ? regexMatches(c.re, value) : value == QByteArrayView(c.value);
}

bool headersMatch(const std::vector<ValueCond> &conds, const HeaderList *headers)
{
    for (const auto &c : conds) {
        if (!headers)
            return false;
        bool found = false;
        for (const auto &h : *headers) {
            if (h.first.size() == c.name.size() && h.first.compare(c.name, Qt::CaseInsensitive) == 0
                && valueMatches(c, h.second)) {
                found = true;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
}

// The first occurrence of `name` in a raw query string decides, as most proxies do.
bool queryMatches(const std::vector<ValueCond> &conds, QByteArrayView query)
{
    for (const auto &c : conds) {
        bool found = false;
        qsizetype pos = 0;
        while (pos <= query.size() && !found) {
            qsizetype end = query.indexOf('&', pos);
            if (end < 0)
                end = query.size();
            const QByteArrayView part = query.sliced(pos, end - pos);
            const qsizetype eq = part.indexOf('=');
            const QByteArrayView key = eq < 0 ? part : part.first(eq);
            const QByteArrayView value = eq < 0 ? QByteArrayView() : part.sliced(eq + 1);
            const bool encoded = key.contains('%') || key.contains('+');
            const bool nameMatches = encoded ? QUrl::fromPercentEncoding(key.toByteArray().replace('+', ' ')).toUtf8()
                                                   == c.name
                                             : key == QByteArrayView(c.name);
            if (nameMatches) {
                const bool valueEncoded = value.contains('%') || value.contains('+');
                const bool ok = valueEncoded
                                    ? valueMatches(c, QUrl::fromPercentEncoding(value.toByteArray().replace('+', ' '))
                                                          .toUtf8())
                                    : valueMatches(c, value);
                if (!ok)
                    return false;
                found = true;
            }
            pos = end + 1;
        }
        if (!found)
            return false;
    }
    return true;
}

bool pathMatches(const Candidate &c, QByteArrayView path)
{
    switch (c.pathType) {
    case PathMatchType::Exact:
        return path == QByteArrayView(c.path);
    case PathMatchType::PathPrefix:
        // By path element: "/foo" matches "/foo" and "/foo/bar", not "/foobar".
        return path.startsWith(c.path) && (path.size() == c.path.size() || path[c.path.size()] == '/');
    case PathMatchType::RegularExpression:
        return regexMatches(c.pathRe, path);
    }
    return false;
}

bool candidateMatches(const Candidate &c, const RequestInfo &r, QByteArrayView path)
{
    if (!c.method.isEmpty() && r.method != c.method)
        return false;
    if (!pathMatches(c, path))
        return false;
    return headersMatch(c.headers, r.headers) && queryMatches(c.query, r.query);
}

std::shared_ptr<const Backend> compileBackend(const Resource &r, const detail::BackendPolicies &policies)
{
    const BackendSpec s = parseBackendSpec(r, nullptr);
    auto b = std::make_shared<Backend>();
    b->ns = r.ns();
    b->name = r.name();
    b->key = b->ns + u'/' + b->name;
    b->type = s.type == BackendSpec::Type::Static ? Backend::Type::Static : Backend::Type::DynamicForwardProxy;
    b->staticHost = s.staticHost;
    b->staticPort = s.staticPort;
    b->tls = s.tls;
    b->tlsSni = s.tlsSni;
    b->tlsInsecureSkipVerify = s.tlsInsecureSkipVerify;
    b->tlsDisabled = s.tlsDisabled;
    b->tlsCaFile = s.tlsCaFile;
    b->lookupFamily = s.lookupFamily; // parsed once, by parseBackendSpec
    b->engine = s.engine == config::BackendSpec::Engine::Qnam ? Backend::Engine::Qnam : Backend::Engine::Native;
    b->tunnel = policies.tunnel;
    // Auto (annotation) wins over version HTTP2: agentgateway reads the version, dfproxy negotiates.
    b->httpAuto = policies.http && policies.http->autoVersion;
    b->http2 = !b->httpAuto && policies.http
        && policies.http->version == config::AgentgatewayBackendHttpSpec::Version::Http2;
    if (const auto &tls = policies.tls) {
        // AgentgatewayPolicy spec.backend.tls: TLS to this backend, whatever its own spec.tls said.
        b->tls = true;
        b->tlsDisabled = false;
        if (!tls->sni.isEmpty())
            b->tlsSni = tls->sni;
        if (tls->insecureSkipVerify) {
            b->tlsInsecureSkipVerify = true;
            b->tlsCaFile.clear();
        }
        if (!tls->caFile.isEmpty()) {
            b->tlsCaFile = tls->caFile;
            b->tlsInsecureSkipVerify = false;
        }
    }
    return b;
}

HeaderModifier compileHeaderModifier(const HeaderModifierSpec &s)
{
    HeaderModifier m;
    for (const auto &[n, v] : s.set)
        m.set.append({n.toUtf8(), v.toUtf8()});
    for (const auto &[n, v] : s.add)
        m.add.append({n.toUtf8(), v.toUtf8()});
    for (const auto &n : s.remove)
        m.remove.append(n.toUtf8());
    return m;
}

std::shared_ptr<const CompiledRule> compileRule(const Config &config, const Resource &route, const RouteRule &rule,
                                                int ruleIndex,
                                                QHash<QString, std::shared_ptr<const Backend>> &backendCache,
                                                const detail::AgentgatewayAttachments &policies)
{
    auto c = std::make_shared<CompiledRule>();
    RouteMatch &m = c->result;
    m.routeNamespace = route.ns();
    m.routeName = route.name();
    m.ruleIndex = ruleIndex;
    m.routeKey = m.routeNamespace + u'/' + m.routeName + u'#' + QString::number(ruleIndex);
    m.requestTimeoutMs = rule.requestTimeoutMs;
    m.backendRequestTimeoutMs = rule.backendRequestTimeoutMs;
    for (const auto &f : rule.filters) {
        switch (f.type) {
        case RouteFilter::Type::RequestHeaderModifier:
            m.requestHeaders = compileHeaderModifier(f.headerModifier);
            break;
        case RouteFilter::Type::ResponseHeaderModifier:
            m.responseHeaders = compileHeaderModifier(f.headerModifier);
            break;
        case RouteFilter::Type::URLRewrite: {
            UrlRewrite u;
            u.hostname = f.rewrite.hostname;
            if (f.rewrite.path) {
                if (f.rewrite.path->type == PathModifier::Type::ReplaceFullPath)
                    u.replaceFullPath = f.rewrite.path->value;
                else
                    u.replacePrefixMatch = f.rewrite.path->value;
            }
            m.rewrite = u;
            break;
        }
        case RouteFilter::Type::RequestRedirect: {
            Redirect r;
            r.scheme = f.redirect.scheme;
            r.hostname = f.redirect.hostname;
            r.port = f.redirect.port;
            r.statusCode = f.redirect.statusCode;
            if (f.redirect.path) {
                if (f.redirect.path->type == PathModifier::Type::ReplaceFullPath)
                    r.path = f.redirect.path->value;
                else
                    r.replacePrefixMatch = f.redirect.path->value;
            }
            m.redirect = r;
            break;
        }
        }
    }
    // AgentgatewayPolicy traffic.timeouts and traffic.headerModifiers, after the rule's own.
    if (const auto it = policies.routes.constFind(route.ns() + u'/' + route.name()); it != policies.routes.cend()) {
        if (m.requestTimeoutMs == 0)
            m.requestTimeoutMs = it->requestTimeoutMs;
        auto append = [](HeaderModifier &to, const HeaderModifier &more) {
            to.set += more.set;
            to.add += more.add;
            to.remove += more.remove;
        };
        if (it->requestHeaders)
            append(m.requestHeaders, compileHeaderModifier(*it->requestHeaders));
        if (it->responseHeaders)
            append(m.responseHeaders, compileHeaderModifier(*it->responseHeaders));
    }
    if (m.redirect)
        return c; // a redirect answers without a backend
    for (const auto &ref : rule.backendRefs) {
        if (ref.weight <= 0)
            continue;
        const auto res = detail::resolveBackend(config, route.ns(), ref);
        std::shared_ptr<const Backend> backend;
        if (res.backend) {
            const QString key = res.backend->key().toString();
            auto it = backendCache.find(key);
            if (it == backendCache.end())
                it = backendCache.insert(
                    key, compileBackend(*res.backend,
                                        policies.backends.value(res.backend->ns() + u'/' + res.backend->name())));
            backend = *it;
        }
        c->backends.push_back({backend, ref.weight});
        c->totalWeight += ref.weight;
    }
    return c;
}

std::vector<ValueCond> compileConds(const QList<ValueMatch> &matches, bool lowerNames)
{
    std::vector<ValueCond> out;
    for (const auto &m : matches) {
        ValueCond c;
        c.name = lowerNames ? m.name.toLower().toUtf8() : m.name.toUtf8();
        c.regex = m.type == ValueMatchType::RegularExpression;
        c.value = m.value.toUtf8();
        if (c.regex)
            c.re = QRegularExpression(QRegularExpression::anchoredPattern(m.value));
        out.push_back(std::move(c));
    }
    return out;
}

} // namespace

namespace {
// The proxy passes its listener's own QStrings: compared as UTF-16 views (a size check, then the characters) without
// QAnyStringView::equal's general dispatch on both sides; other spellings (literals in tests) take that.
bool sameName(const QString &name, QAnyStringView v)
{
    return v.visit([&name](auto view) {
        if constexpr (std::is_same_v<decltype(view), QStringView>)
            return QStringView(name) == view;
        else
            return QAnyStringView::equal(name, view);
    });
}
} // namespace

struct RouteTable::Impl
{
    struct ListenerRoutes
    {
        QString gatewayNamespace;
        QString gatewayName;
        QString listenerName;
        // Keyed by bytes: requests' canonical hosts are ASCII, so a lookup converts nothing.
        QHash<QByteArray, CandidateList> exact;                 ///< by exact hostname
        std::vector<std::pair<QByteArray, CandidateList>> wildcard; ///< ".suffix", longest suffix first
        CandidateList any;                                   ///< routes without a hostname restriction
        QSet<QString> attachedRoutes;
    };
    std::vector<ListenerRoutes> listeners;

    const ListenerRoutes *find(const RequestInfo &r) const
    {
        for (const auto &l : listeners) {
            if (sameName(l.gatewayName, r.gatewayName) && sameName(l.gatewayNamespace, r.gatewayNamespace)
                && (r.listenerName.isEmpty() || sameName(l.listenerName, r.listenerName)))
                return &l;
        }
        return nullptr;
    }
};

RouteTable::RouteTable() : d(std::make_unique<Impl>()) {}
RouteTable::~RouteTable() = default;

std::shared_ptr<const RouteTable> RouteTable::build(const Config &config)
{
    std::shared_ptr<RouteTable> table(new RouteTable());
    const QList<detail::GatewayInfo> gateways = detail::validGateways(config);

    // Listener slots, one per Gateway listener; the index of a gateway's first slot is remembered.
    QHash<const Resource *, int> firstSlot;
    std::vector<int> slotOfListener;     // m_listeners[i] belongs to d->listeners[slotOfListener[i]]
    std::vector<QSet<QString>> pacHosts; // per slot
    for (const auto &g : gateways) {
        firstSlot.insert(g.resource, int(table->d->listeners.size()));
        const pac::PacSettings pacSettings = pac::parsePacSettings(
            g.resource->metadata().value(QLatin1String("annotations")).toObject(), nullptr);
        QList<QHostAddress> addresses;
        for (const auto &a : g.spec.addresses)
            addresses.append(QHostAddress(a.value));
        if (addresses.isEmpty())
            addresses.append(QHostAddress(QHostAddress::LocalHost));
        for (const auto &ls : g.spec.listeners) {
            table->d->listeners.push_back({g.resource->ns(), g.resource->name(), ls.name, {}, {}, {}, {}});
            for (const auto &addr : addresses) {
                Listener l;
                l.gatewayNamespace = g.resource->ns();
                l.gatewayName = g.resource->name();
                l.name = ls.name;
                l.address = addr;
                l.port = ls.port;
                l.protocol = ls.protocol;
                l.hostname = ls.hostname;
                l.connectPorts = ls.allowedConnectPorts;
                l.tlsCertFile = ls.tlsCertFile;
                l.tlsKeyFile = ls.tlsKeyFile;
                l.gatewayKey = l.gatewayNamespace + u'/' + l.gatewayName;
                l.pacSettings = pacSettings;
                table->m_listeners.append(l);
                slotOfListener.push_back(int(table->d->listeners.size()) - 1);
            }
        }
    }

    QHash<QString, std::shared_ptr<const Backend>> backendCache;
    const auto policies = detail::agentgatewayAttachments(config, gateways);
    for (const Resource *route : config.ofKind(QString::fromLatin1(kinds::HTTPRoute))) {
        QList<FieldError> errors;
        const HttpRouteSpec spec = parseHttpRouteSpec(*route, &errors);
        if (!errors.isEmpty())
            continue;
        const QString routeKey = route->ns() + u'/' + route->name();
        const QDateTime ts = creationTimestamp(*route);
        const qint64 created = ts.isValid() ? ts.toMSecsSinceEpoch() : std::numeric_limits<qint64>::max();

        // Compile the route once; its candidates are shared by every listener it attaches to.
        CandidateList candidates;
        bool hasBackend = false; // some rule sends requests to a backend: its hosts go in the PAC file
        for (int ri = 0; ri < spec.rules.size(); ++ri) {
            const RouteRule &rule = spec.rules[ri];
            const auto compiled = compileRule(config, *route, rule, ri, backendCache, policies);
            for (const auto &b : compiled->backends)
                hasBackend = hasBackend || b.backend;
            const QList<HttpRouteMatch> matches = rule.matches.isEmpty() ? QList<HttpRouteMatch>{HttpRouteMatch{}}
                                                                         : rule.matches;
            for (int mi = 0; mi < matches.size(); ++mi) {
                const HttpRouteMatch &m = matches[mi];
                auto c = std::make_shared<Candidate>();
                c->pathType = m.path.type;
                if (m.path.type == PathMatchType::RegularExpression) {
                    c->pathRe = QRegularExpression(QRegularExpression::anchoredPattern(m.path.value));
                } else if (m.path.type == PathMatchType::PathPrefix) {
                    QString p = http::canonicalConfiguredPath(m.path.value); // as requests' paths are
                    while (p.endsWith(u'/'))
                        p.chop(1); // a trailing '/' is ignored
                    c->path = p.toUtf8();
                    c->prefix = p.isEmpty() ? QStringLiteral("/") : p;
                } else {
                    c->path = http::canonicalConfiguredPath(m.path.value).toUtf8();
                }
                c->method = m.method.toUtf8();
                c->headers = compileConds(m.headers, true);
                c->query = compileConds(m.queryParams, false);
                c->created = created;
                c->routeKey = routeKey;
                c->ruleIndex = ri;
                c->matchIndex = mi;
                c->rule = compiled;
                candidates.push_back(std::move(c));
            }
        }

        for (const auto &ref : spec.parentRefs) {
            const auto a = detail::attach(gateways, *route, spec, ref);
            for (int k = 0; k < a.listeners.size(); ++k) {
                const size_t slotIndex = size_t(firstSlot.value(a.gateway->resource) + a.listeners[k]);
                auto &slot = table->d->listeners[slotIndex];
                if (slot.attachedRoutes.contains(routeKey))
                    continue; // attached twice through two parentRefs: its rules count once
                slot.attachedRoutes.insert(routeKey);
                const QStringList &hosts = a.hostnames[k];
                if (pacHosts.size() <= slotIndex)
                    pacHosts.resize(slotIndex + 1);
                if (hasBackend && hosts.isEmpty())
                    pacHosts[slotIndex].insert(QStringLiteral("*"));
                for (const QString &configured : hosts) {
                    if (hasBackend)
                        pacHosts[slotIndex].insert(http::canonicalConfiguredHost(configured));
                }
                if (hosts.isEmpty()) {
                    slot.any.insert(slot.any.end(), candidates.begin(), candidates.end());
                    continue;
                }
                for (const QString &configured : hosts) {
                    // As requests' hosts are; an A-label is ASCII, a name that could not be canonicalised matches none.
                    const QByteArray h = http::canonicalConfiguredHost(configured).toUtf8();
                    if (h.startsWith('*')) {
                        const QByteArray suffix = h.mid(1);
                        auto it = std::find_if(slot.wildcard.begin(), slot.wildcard.end(),
                                               [&](const auto &w) { return w.first == suffix; });
                        if (it == slot.wildcard.end()) {
                            slot.wildcard.push_back({suffix, {}});
                            it = slot.wildcard.end() - 1;
                        }
                        it->second.insert(it->second.end(), candidates.begin(), candidates.end());
                    } else {
                        auto &list = slot.exact[h];
                        list.insert(list.end(), candidates.begin(), candidates.end());
                    }
                }
            }
        }
    }

    for (qsizetype i = 0; i < table->m_listeners.size(); ++i) {
        const size_t slotIndex = size_t(slotOfListener[size_t(i)]);
        if (slotIndex < pacHosts.size()) {
            QStringList hosts = pacHosts[slotIndex].values();
            hosts.sort();
            table->m_listeners[i].pacHosts = hosts;
        }
    }

    auto sortList = [](CandidateList &list) {
        std::stable_sort(list.begin(), list.end(), [](const auto &a, const auto &b) { return precedes(*a, *b); });
    };
    for (auto &slot : table->d->listeners) {
        sortList(slot.any);
        for (auto &list : slot.exact)
            sortList(list);
        for (auto &w : slot.wildcard)
            sortList(w.second);
        // The most specific wildcard (longest suffix) is tried first.
        std::stable_sort(slot.wildcard.begin(), slot.wildcard.end(),
                         [](const auto &a, const auto &b) { return a.first.size() > b.first.size(); });
    }
    return table;
}

std::optional<RouteMatch> RouteTable::match(const RequestInfo &request, double randomValue) const
{
    const Impl::ListenerRoutes *slot = d->find(request);
    if (!slot)
        return std::nullopt;
    const QByteArrayView path = request.path.isEmpty() ? QByteArrayView("/") : request.path;

    const Candidate *winner = nullptr;
    auto scan = [&](const CandidateList &list) {
        for (const auto &c : list) {
            if (candidateMatches(*c, request, path)) {
                winner = c.get();
                return true;
            }
        }
        return false;
    };
    // Hostname specificity first (exact, then the longest wildcard, then routes for any host); within one level the
    // candidates are already in precedence order.
    bool found = false;
    if (!request.host.isEmpty()) {
        // fromRawData: a key over the request's bytes, no copy (Qt 6.4's QHash has no lookup by view).
        const auto it = slot->exact.constFind(QByteArray::fromRawData(request.host.data(), request.host.size()));
        if (it != slot->exact.constEnd())
            found = scan(*it);
        for (size_t i = 0; !found && i < slot->wildcard.size(); ++i) {
            const auto &[suffix, list] = slot->wildcard[i];
            if (request.host.size() > suffix.size() && request.host.endsWith(suffix))
                found = scan(list);
        }
    }
    if (!found)
        found = scan(slot->any);
    if (!found)
        return std::nullopt;

    const CompiledRule &rule = *winner->rule;
    RouteMatch m = rule.result;
    if (winner->pathType == PathMatchType::PathPrefix)
        m.matchedPrefix = winner->prefix;
    if (!m.redirect && rule.totalWeight > 0) {
        const double r = std::clamp(randomValue, 0.0, 1.0);
        auto target = static_cast<qint64>(r * double(rule.totalWeight));
        if (target >= rule.totalWeight)
            target = rule.totalWeight - 1;
        for (const auto &b : rule.backends) {
            if (target < b.weight) {
                m.backend = b.backend;
                break;
            }
            target -= b.weight;
        }
    }
    return m;
}

QList<TunnelUse> tunnelUses(const Config &config)
{
    QList<TunnelUse> uses;
    // Every write of the admin API asks (ConfigStore's cross-resource check): without a tunnel, nothing to attach.
    const auto withTunnel = [](const Resource *p) {
        return p->spec().value(QLatin1String("backend")).toObject().contains(QLatin1String("tunnel"));
    };
    const QList<const Resource *> policyResources = config.ofKind(QString::fromLatin1(kinds::AgentgatewayPolicy));
    if (std::none_of(policyResources.cbegin(), policyResources.cend(), withTunnel))
        return uses;
    const auto policies = detail::agentgatewayAttachments(config, detail::validGateways(config));
    for (const Resource *b : config.ofKind(QString::fromLatin1(kinds::Backend))) {
        const QString key = b->ns() + u'/' + b->name();
        const auto it = policies.backends.constFind(key);
        if (it == policies.backends.cend() || !it->tunnel)
            continue;
        const BackendSpec s = parseBackendSpec(*b, nullptr);
        uses.append({key, s.engine == config::BackendSpec::Engine::Qnam ? Backend::Engine::Qnam : Backend::Engine::Native,
                     it->tunnel});
    }
    return uses;
}

} // namespace dfproxy::routing
