// SPDX-License-Identifier: Apache-2.0
#include "policy/policyengine.h"

#include "base/logcategories.h"

#include "http/canonical.h"

#include "config/adminoptions.h"
#include "config/agentgatewaypolicy.h"
#include "config/cel.h"
#include "config/model.h"
#include "policy/applicationmatcher.h"
#include "policy/cidr.h"
#include "policy/failurethrottle.h"
#include "policy/jwt.h"
#include "policy/passwords.h"
#include "policy/ratelimiter.h"
#include "policy/verificationpool.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMetaObject>
#include <QNetworkInterface>
#include <QObject>
#include <QRegularExpression>
#include <QSet>
#include <QVarLengthArray>

#include <algorithm>
#include <atomic>

namespace dfproxy::policy {

namespace {

using config::Resource;

/// The summary of every allowed request: static text, not an allocation per request.
const QByteArray kAllow = QByteArrayLiteral("allow");

struct Counters
{
    std::atomic<qint64> authenticated{0}, anonymous{0}, challenged{0}, rejected{0};
    std::atomic<qint64> hashVerifications{0}, dummyVerifications{0}, throttled{0}, busy{0};
    std::atomic<qint64> authzAllowed{0}, authzDenied{0};
    std::atomic<qint64> rateAllowed{0}, rateLimited{0};
    std::atomic<qint64> ssrfChecked{0}, ssrfDenied{0}, ssrfDropped{0};
    std::atomic<qint64> loopDenied{0};
};

struct CompiledAuthn
{
    QString id;
    bool optional = false;
    bool basic = false;
    QByteArray realm;
    QHash<QString, QByteArray> users;   ///< name -> hash
    /// Verified instead when the user is unknown, so an unknown name costs what a known one does: the hash of a
    /// user whose algorithm and cost are the most common ones of the policy (never a match that counts).
    QByteArray dummyHash;
    bool apiKey = false;
    QByteArray apiKeyHeader;
    QByteArray apiKeyPrefix;            ///< AgentgatewayPolicy location.header.prefix ("Bearer "), stripped first
    QHash<QByteArray, QString> apiKeys; ///< hex SHA-256 -> name
    std::shared_ptr<const JwtVerifier> jwt;
    QString identityClaim;
};

/// Compared as the canonical ASCII bytes requests' hosts are (http/canonical.h), so a request's host is read where
/// the proxy holds it.
struct HostMatcher
{
    bool any = false;
    QSet<QByteArray> exact;
    QList<QByteArray> suffixes; ///< ".example.com" for "*.example.com"
    bool matches(QByteArrayView host) const
    {
        if (any || exact.contains(QByteArray::fromRawData(host.data(), host.size())))
            return true;
        for (const auto &s : suffixes) {
            if (host.size() > s.size() && host.endsWith(s))
                return true;
        }
        return false;
    }
};

struct CompiledRule
{
    QString name;
    bool allow = true;
    std::optional<HostMatcher> hosts;
    QList<quint16> ports;
    QList<QByteArray> methods;
    QList<QByteArray> pathPrefixes;
    std::optional<CidrSet> clients;
    QStringList identities;
    ApplicationMatcher applications; ///< empty = any program (or none)
};

struct CompiledAuthz
{
    QString id;
    bool defaultAllow = false;
    bool usesApplications = false; ///< some rule names applications: its denials are application_denied
    QList<CompiledRule> rules;
    /// An AgentgatewayPolicy's traffic.authorization: CEL expressions (config/cel.h) instead of rules.
    std::optional<config::AgentgatewayAuthorizationSpec::Action> celAction;
    std::vector<config::cel::Program> expressions;
    bool readsJwt = false;
};

struct CompiledLimit
{
    QString name;
    config::RateLimitSpec::Key key;
    QByteArray header;
    std::shared_ptr<TokenBucketLimiter> limiter; ///< null when the limit only throttles tunnels
    qint64 bytesPerSecond = 0;
    qint64 burstBytes = 0;
};

struct CompiledRateLimit
{
    QString id;
    QList<CompiledLimit> limits;
};

template <class T>
using Attachments = QHash<QString, std::shared_ptr<const T>>;

/// A table key ("L/ns/name/listener") put together from a request's views on the stack: finding a request's policies
/// costs no allocation.
class Key
{
public:
    Key &operator<<(QAnyStringView part)
    {
        part.visit([this](auto s) { append(s); });
        return *this;
    }
    Key &operator<<(char16_t c)
    {
        m_buffer.append(c);
        return *this;
    }
    /// A QString over the buffer: only for a lookup while this Key lives and stays unchanged.
    QString text() const
    {
        return QString::fromRawData(reinterpret_cast<const QChar *>(m_buffer.constData()), m_buffer.size());
    }

private:
    void append(QStringView s) { m_buffer.append(reinterpret_cast<const char16_t *>(s.data()), s.size()); }
    void append(QLatin1String s)
    {
        for (char c : s)
            m_buffer.append(char16_t(uchar(c)));
    }
    void append(QUtf8StringView s) // literals in tests; the proxy passes QStrings
    {
        const QString text = s.toString();
        m_buffer.append(reinterpret_cast<const char16_t *>(text.constData()), text.size());
    }
    QVarLengthArray<char16_t, 160> m_buffer;
};

const QByteArray *findHeader(const HeaderList *headers, const QByteArray &lowerName)
{
    if (!headers)
        return nullptr;
    for (const auto &h : *headers) {
        if (h.first.compare(lowerName, Qt::CaseInsensitive) == 0)
            return &h.second;
    }
    return nullptr;
}

/// The body of a 403 application_denied: the program, as the access log and `dfproxyctl apps` name it.
QByteArray applicationDenialBody(const RequestAttributes &r)
{
    if (!r.application)
        return "application_denied: no local program could be identified for this connection, and the policy allows "
               "only named applications to reach " + r.host.toByteArray() + "\n";
    const auto printable = [](const QString &s) { // a file name may hold anything, a line must stay one line
        QByteArray out = s.toUtf8();
        for (char &c : out) {
            if (uchar(c) < 0x20 || c == 0x7f)
                c = '?';
        }
        return out;
    };
    return "application_denied: " + printable(r.application->name) + " (" + printable(r.application->path)
        + ", pid " + QByteArray::number(r.application->pid) + ") may not reach " + r.host.toByteArray() + "\n";
}

// Ascending creation time, then namespace/name: the oldest policy wins a conflict, as in Gateway API.
QList<const Resource *> inConflictOrder(QList<const Resource *> list)
{
    std::stable_sort(list.begin(), list.end(), [](const Resource *a, const Resource *b) {
        const QDateTime ta = config::creationTimestamp(*a), tb = config::creationTimestamp(*b);
        if (ta.isValid() && tb.isValid() && ta != tb)
            return ta < tb;
        if (ta.isValid() != tb.isValid())
            return ta.isValid();
        return a->ns() + u'/' + a->name() < b->ns() + u'/' + b->name();
    });
    return list;
}

QString targetKey(const QString &ns, const config::PolicyTargetRef &t)
{
    if (t.kind == QLatin1String(config::kinds::Backend))
        return QStringLiteral("B/") + ns + u'/' + t.name;
    if (t.kind == QLatin1String(config::kinds::HTTPRoute))
        return QStringLiteral("R/") + ns + u'/' + t.name;
    if (!t.sectionName.isEmpty())
        return QStringLiteral("L/") + ns + u'/' + t.name + u'/' + t.sectionName;
    return QStringLiteral("G/") + ns + u'/' + t.name;
}

template <class T>
void attach(Attachments<T> &map, const QString &ns, const QList<config::PolicyTargetRef> &refs,
            const std::shared_ptr<const T> &policy)
{
    for (const auto &t : refs) {
        const QString key = targetKey(ns, t);
        if (!map.contains(key))
            map.insert(key, policy);
    }
}

template <class T>
const T *lookup(const Attachments<T> &map, const RequestAttributes &r)
{
    if (map.isEmpty())
        return nullptr;
    const auto find = [&map](const Key &key) -> const T * {
        const auto it = map.constFind(key.text());
        return it != map.constEnd() ? it.value().get() : nullptr;
    };
    // The most specific attachment wins: backend, route, listener, gateway.
    if (!r.backendName.isEmpty()) {
        if (const T *p = find(Key() << u"B/" << r.backendNamespace << u'/' << r.backendName))
            return p;
    }
    if (!r.routeName.isEmpty()) {
        if (const T *p = find(Key() << u"R/" << r.routeNamespace << u'/' << r.routeName))
            return p;
    }
    if (const T *p = find(Key() << u"L/" << r.gatewayNamespace << u'/' << r.gatewayName << u'/' << r.listenerName))
        return p;
    return find(Key() << u"G/" << r.gatewayNamespace << u'/' << r.gatewayName);
}

bool pathHasPrefix(QByteArrayView path, const QByteArray &prefix)
{
    if (prefix == "/" || path == prefix)
        return true;
    if (!path.startsWith(prefix))
        return false;
    // Element-wise, as Gateway API PathPrefix: "/api" matches "/api/x" but not "/apix".
    return prefix.endsWith('/') || path.at(prefix.size()) == '/';
}

bool hasDfproxyVia(const HeaderList *headers)
{
    if (!headers)
        return false;
    for (const auto &h : *headers) {
        if (h.first.compare("via", Qt::CaseInsensitive) != 0)
            continue;
        for (const QByteArray &element : h.second.split(',')) {
            const QList<QByteArray> tokens = element.simplified().split(' ');
            if (tokens.size() >= 2 && tokens[1].compare("dfproxy", Qt::CaseInsensitive) == 0)
                return true;
        }
    }
    return false;
}

Decision deny(int status, const char *reason, const QByteArray &body, const QByteArray &summary)
{
    Decision d;
    d.allowed = false;
    d.status = status;
    d.reason = reason;
    d.body = body;
    d.summary = summary;
    return d;
}

/// dfproxy.policy at debug: each verdict with the request it was about (docs/telemetry.md, "Logging categories").
const Decision &traced(const RequestAttributes &r, const Decision &d)
{
    if (lcPolicy().isDebugEnabled()) {
        qCDebug(lcPolicy).noquote() << (d.allowed ? "allow" : "deny") << r.method.toByteArray()
                                    << QString::fromLatin1(r.host) + u':' + QString::number(r.port)
                                    << r.path.toByteArray() << "from" << r.clientAddress.toString() << "-"
                                    << (d.summary.isEmpty() ? QByteArray("allow") : d.summary)
                                    << (d.allowed ? QByteArray() : QByteArray::number(d.status) + ' ' + d.reason);
    }
    return d;
}

/// A Basic credential that needs its slow hash verified before the verdict.
struct HashJob
{
    bool needed = false;
    const CompiledAuthn *policy = nullptr;
    QString user;
    QByteArray password;
    QByteArray hash;        ///< the user's, or the policy's dummyHash for an unknown user
    bool knownUser = false;
    QByteArray used;        ///< the credential header
    QByteArray client;      ///< the throttle's key
};

QByteArray clientKey(const RequestAttributes &r)
{
    return normalizedAddress(r.clientAddress).toString().toLatin1();
}

/// The slow part, on any thread: the hash, and what it teaches the cache, the throttle and the counters (even
/// when nobody waits for the verdict any more, so closing the connection early does not hide a failed guess).
bool verifyHashJob(const HashJob &job, VerificationCache &cache, FailureThrottle &throttle, Counters &counters)
{
    const bool match = verifyPasswordHash(job.password, job.hash).value_or(false);
    (job.knownUser ? counters.hashVerifications : counters.dummyVerifications).fetch_add(1, std::memory_order_relaxed);
    const bool ok = match && job.knownUser;
    if (ok)
        cache.insert(job.user, job.hash, job.password);
    throttle.end(job.client, ok ? FailureThrottle::Outcome::Success : FailureThrottle::Outcome::Failure);
    return ok;
}

// The hash's "algorithm and cost": "$2b$10$", "$6$rounds=5000$", "$6$", "pbkdf2-sha256$29000$".
QByteArray hashShape(const QByteArray &hash)
{
    const bool pbkdf2 = hash.startsWith("pbkdf2-sha256$") || hash.startsWith("$pbkdf2-sha256$");
    const QList<QByteArray> parts = hash.split('$');
    if (pbkdf2)
        return hash.left(hash.indexOf('$', hash.indexOf("sha256$") + 7) + 1);
    if (parts.size() < 3 || !parts[0].isEmpty())
        return QByteArray();
    QByteArray shape = '$' + parts[1] + '$';
    if (parts[1].startsWith('2') || parts[2].startsWith("rounds="))
        shape += parts[2] + '$';
    return shape;
}

QByteArray pickDummyHash(const QHash<QString, QByteArray> &users)
{
    QHash<QByteArray, int> counts;
    for (const auto &h : users)
        counts[hashShape(h)]++;
    QByteArray best;
    int bestCount = 0;
    QByteArray dummy;
    QStringList names = users.keys();
    names.sort(); // the same choice on every build of the same config
    for (const auto &name : names) {
        const QByteArray &h = users[name];
        const QByteArray shape = hashShape(h);
        if (shape.isEmpty())
            continue;
        if (counts[shape] > bestCount) {
            bestCount = counts[shape];
            best = shape;
            dummy = h;
        }
    }
    return dummy;
}

/// The state of a startCheckRequest() waiting for the pool. `context` is cleared (under the mutex) when the handle
/// is destroyed, so the pool thread never posts to a connection that is gone.
struct PendingState
{
    std::mutex mutex;
    QObject *context = nullptr;
    const ConfigPolicyEngine *engine = nullptr;
    RequestAttributes request;
    HashJob job;
    std::function<void(Decision)> done;
};

class PendingHashCheck final : public PendingDecision
{
public:
    explicit PendingHashCheck(std::shared_ptr<PendingState> state) : m_state(std::move(state)) {}
    ~PendingHashCheck() override
    {
        std::lock_guard lock(m_state->mutex);
        m_state->context = nullptr;
    }

private:
    std::shared_ptr<PendingState> m_state;
};

} // namespace

struct ConfigPolicyEngine::Impl
{
    const Clock *clock = nullptr;
    std::shared_ptr<Counters> counters;
    Attachments<CompiledAuthn> authn;
    Attachments<CompiledAuthz> authz;
    Attachments<CompiledRateLimit> rateLimits;
    QHash<QString, std::shared_ptr<TokenBucketLimiter>> limiters; ///< by policy + limit definition, carried over
    QHash<QString, int> policyCounts;
    QSet<QString> connectDenied;            ///< "ns/name" of Gateways whose AgentgatewayPolicy says connect: Deny
    QHash<QString, quint16> listenerPorts;  ///< "ns/name/listener" -> port, for CEL's destination.port

    bool loopDetection = true;
    bool denySelf = true;
    CidrSet allowedCidrs, deniedCidrs;
    QList<QPair<QHostAddress, quint16>> self;
    QList<QHostAddress> localAddresses;

    std::shared_ptr<VerificationCache> cache;
    std::shared_ptr<FailureThrottle> throttle;
    std::shared_ptr<VerificationPool> pool;

    enum class Step { Allowed, Denied, NeedsHash };
    Decision check(const RequestAttributes &r, HashJob *job) const;
    Decision resume(const RequestAttributes &r, const HashJob &job, bool verified) const;
    Decision afterAuthentication(const RequestAttributes &r, Decision out) const;
    Step authenticate(const CompiledAuthn &p, const RequestAttributes &r, Decision &out, HashJob *job) const;
    bool concludeAuthentication(const CompiledAuthn &p, const RequestAttributes &r, bool presented, bool ok,
                                const QString &identity, const QByteArray &used, Decision &out) const;
    bool authorize(const CompiledAuthz &p, const RequestAttributes &r, const QString &identity, Decision &out) const;
    bool authorizeCel(const CompiledAuthz &p, const RequestAttributes &r, const QString &identity,
                      Decision &out) const;
    std::optional<QJsonObject> jwtClaims(const RequestAttributes &r) const;
    bool rateLimit(const CompiledRateLimit &p, const RequestAttributes &r, const QString &identity,
                   Decision &out) const;
    bool isSelf(const QHostAddress &address, quint16 port) const;
    bool ssrfDenies(const QHostAddress &address, quint16 port) const;
};

ConfigPolicyEngine::Impl::Step ConfigPolicyEngine::Impl::authenticate(const CompiledAuthn &p,
                                                                     const RequestAttributes &r, Decision &out,
                                                                     HashJob *job) const
{
    const QByteArray credHeader = r.explicitProxy ? QByteArrayLiteral("proxy-authorization")
                                                  : QByteArrayLiteral("authorization");
    enum class Scheme { None, Basic, Bearer, ApiKey } scheme = Scheme::None;
    QByteArray credentials;
    QByteArray used;
    if (const QByteArray *value = findHeader(r.headers, credHeader); value && !value->isEmpty()) {
        const QByteArray v = value->trimmed();
        const qsizetype sp = v.indexOf(' ');
        const QByteArray name = (sp < 0 ? v : v.left(sp)).toLower();
        credentials = sp < 0 ? QByteArray() : v.mid(sp + 1).trimmed();
        if (name == "basic" && p.basic)
            scheme = Scheme::Basic;
        else if (name == "bearer" && p.jwt)
            scheme = Scheme::Bearer;
        if (scheme != Scheme::None)
            used = credHeader;
    }
    if (scheme == Scheme::None && p.apiKey) {
        if (const QByteArray *value = findHeader(r.headers, p.apiKeyHeader); value && !value->isEmpty()) {
            const QByteArray v = value->trimmed();
            const QByteArray prefix = p.apiKeyPrefix.trimmed();
            // With a prefix ("Bearer"), a value without it carries no key: as if none was sent.
            const bool prefixed = prefix.isEmpty()
                                  || (v.size() > prefix.size() && v.left(prefix.size()).compare(prefix, Qt::CaseInsensitive) == 0
                                      && (v.at(prefix.size()) == ' ' || !p.apiKeyPrefix.endsWith(' ')));
            if (prefixed) {
                scheme = Scheme::ApiKey;
                credentials = v.mid(prefix.size()).trimmed();
                used = p.apiKeyHeader;
            }
        }
    }
    if (scheme == Scheme::None)
        return concludeAuthentication(p, r, false, false, QString(), used, out) ? Step::Allowed : Step::Denied;

    // Too many failures from this address lately: refused before anything is verified.
    const QByteArray client = clientKey(r);
    if (const qint64 retryMs = throttle->begin(client)) {
        counters->throttled.fetch_add(1, std::memory_order_relaxed);
        out = deny(429, "authn_throttled", "too many failed authentication attempts\n",
                   "deny:authn " + p.id.toUtf8() + " throttled");
        out.responseHeaders.append({"Retry-After", QByteArray::number((retryMs + 999) / 1000)});
        return Step::Denied;
    }
    bool ok = false;
    QString identity;
    switch (scheme) {
    case Scheme::Basic: {
        const auto decoded = QByteArray::fromBase64Encoding(credentials, QByteArray::AbortOnBase64DecodingErrors);
        const qsizetype colon = decoded ? decoded.decoded.indexOf(':') : -1;
        if (colon <= 0)
            break;
        const QString user = QString::fromUtf8(decoded.decoded.left(colon));
        const QByteArray password = decoded.decoded.mid(colon + 1);
        const auto it = p.users.constFind(user);
        const bool known = it != p.users.constEnd();
        if (known && cache->contains(user, it.value(), password)) {
            ok = true;
            identity = user;
            break;
        }
        if (!known && p.dummyHash.isEmpty())
            break; // no hash in the policy at all: nothing to time
        *job = HashJob{true, &p, user, password, known ? it.value() : p.dummyHash, known, used, client};
        return Step::NeedsHash;
    }
    case Scheme::Bearer: {
        const auto res = p.jwt->verify(credentials, clock->wallNow().toSecsSinceEpoch());
        if (res.ok) {
            const auto claim = res.claims.value(p.identityClaim);
            identity = claim.isString() ? claim.toString() : QString::number(claim.toDouble(), 'f', 0);
            if (claim.isUndefined() || claim.isNull())
                identity = QStringLiteral("jwt");
            ok = true;
        }
        break;
    }
    case Scheme::ApiKey:
        if (const auto it = p.apiKeys.constFind(sha256Hex(credentials)); it != p.apiKeys.constEnd()) {
            identity = it.value();
            ok = true;
        }
        break;
    case Scheme::None:
        break;
    }
    throttle->end(client, ok ? FailureThrottle::Outcome::Success : FailureThrottle::Outcome::Failure);
    return concludeAuthentication(p, r, true, ok, identity, used, out) ? Step::Allowed : Step::Denied;
}

bool ConfigPolicyEngine::Impl::concludeAuthentication(const CompiledAuthn &p, const RequestAttributes &r,
                                                      bool presented, bool ok, const QString &identity,
                                                      const QByteArray &used, Decision &out) const
{
    if (ok) {
        counters->authenticated.fetch_add(1, std::memory_order_relaxed);
        out.identity = identity;
        out.stripRequestHeaders.append(used);
        return true;
    }
    if (!presented && p.optional) {
        counters->anonymous.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    (presented ? counters->rejected : counters->challenged).fetch_add(1, std::memory_order_relaxed);
    const int status = r.explicitProxy ? 407 : 401;
    out = deny(status, presented ? "authn_failed" : "authn_required",
               r.explicitProxy ? QByteArrayLiteral("proxy authentication required\n")
                               : QByteArrayLiteral("authentication required\n"),
               "deny:authn " + p.id.toUtf8());
    const QByteArray challengeHeader = r.explicitProxy ? QByteArrayLiteral("Proxy-Authenticate")
                                                       : QByteArrayLiteral("WWW-Authenticate");
    if (p.basic)
        out.responseHeaders.append({challengeHeader, "Basic realm=\"" + p.realm + "\", charset=\"UTF-8\""});
    if (p.jwt)
        out.responseHeaders.append({challengeHeader, "Bearer realm=\"" + p.realm + "\""});
    if (!p.basic && !p.jwt)
        out.responseHeaders.append({challengeHeader, "ApiKey realm=\"" + p.realm + "\", header=\"" + p.apiKeyHeader + "\""});
    return false;
}

bool ConfigPolicyEngine::Impl::authorize(const CompiledAuthz &p, const RequestAttributes &r, const QString &identity,
                                         Decision &out) const
{
    if (p.celAction)
        return authorizeCel(p, r, identity, out);
    const CompiledRule *matched = nullptr;
    for (const auto &rule : p.rules) {
        if (rule.hosts && !rule.hosts->matches(r.host))
            continue;
        if (!rule.ports.isEmpty() && !rule.ports.contains(r.port))
            continue;
        const auto sameMethod = [&r](const QByteArray &m) { return m == r.method; };
        if (!rule.methods.isEmpty() && std::none_of(rule.methods.begin(), rule.methods.end(), sameMethod))
            continue;
        if (!rule.pathPrefixes.isEmpty()) {
            // A tunnel has no path: a rule about paths never matches CONNECT.
            bool any = false;
            for (const auto &prefix : rule.pathPrefixes)
                any = any || (!r.path.isEmpty() && pathHasPrefix(r.path, prefix));
            if (!any)
                continue;
        }
        if (rule.clients && !rule.clients->contains(r.clientAddress))
            continue;
        if (!rule.identities.isEmpty()) {
            const bool any = !identity.isEmpty() && rule.identities.contains(QStringLiteral("*"));
            if (!any && !rule.identities.contains(identity))
                continue;
        }
        if (!rule.applications.isEmpty() && !rule.applications.matches(r.application))
            continue;
        matched = &rule;
        break;
    }
    const bool allow = matched ? matched->allow : p.defaultAllow;
    if (allow) {
        counters->authzAllowed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    counters->authzDenied.fetch_add(1, std::memory_order_relaxed);
    const QByteArray why = matched ? "rule " + matched->name.toUtf8() : QByteArrayLiteral("default action");
    if (matched ? !matched->applications.isEmpty() : p.usesApplications) {
        // A policy about programs refused this one: say which program, so the user knows what to allow.
        out = deny(403, "application_denied", applicationDenialBody(r),
                   "deny:authz " + p.id.toUtf8() + ' ' + why);
    } else {
        out = deny(403, "authz_denied", "forbidden by policy\n", "deny:authz " + p.id.toUtf8() + ' ' + why);
    }
    out.identity = identity; // the access log shows who was refused
    return false;
}

bool ConfigPolicyEngine::Impl::rateLimit(const CompiledRateLimit &p, const RequestAttributes &r,
                                         const QString &identity, Decision &out) const
{
    using LimitKey = config::RateLimitSpec::Key;
    QList<QPair<TokenBucketLimiter *, QByteArray>> taken;
    for (const auto &l : p.limits) {
        if (!l.limiter)
            continue;
        QByteArray key;
        switch (l.key) {
        case LimitKey::ClientIP:
            key = normalizedAddress(r.clientAddress).toString().toLatin1();
            break;
        case LimitKey::DestinationHost:
            key = r.host.toByteArray(); // kept in the limiter's buckets: its own copy
            break;
        case LimitKey::Route:
            key = (Key() << r.routeNamespace << u'/' << r.routeName).text().toUtf8();
            break;
        case LimitKey::Identity:
            // Anonymous clients are told apart by address, so one cannot exhaust everyone's bucket.
            key = identity.isEmpty() ? "anonymous@" + normalizedAddress(r.clientAddress).toString().toLatin1()
                                     : "user:" + identity.toUtf8();
            break;
        case LimitKey::Header:
            if (const QByteArray *v = findHeader(r.headers, l.header))
                key = *v;
            break;
        case LimitKey::Global:
            break;
        case LimitKey::Application:
            // Connections without a known program (another machine, lookup off) are told apart by address.
            key = r.application ? "app:" + r.application->path.toUtf8()
                                : "noapp@" + normalizedAddress(r.clientAddress).toString().toLatin1();
            break;
        }
        const RateLimitResult res = l.limiter->take(key);
        if (res.allowed) {
            taken.append({l.limiter.get(), key});
            continue;
        }
        for (const auto &[limiter, k] : taken)
            limiter->refund(k);
        counters->rateLimited.fetch_add(1, std::memory_order_relaxed);
        const qint64 retry = std::max<qint64>(1, (res.retryAfterMs + 999) / 1000);
        out = deny(429, "ratelimited", "too many requests\n",
                   "deny:ratelimit " + p.id.toUtf8() + ' ' + l.name.toUtf8());
        out.identity = identity;
        out.responseHeaders.append({"Retry-After", QByteArray::number(retry)});
        out.responseHeaders.append({"RateLimit-Limit", QByteArray::number(res.limit)});
        out.responseHeaders.append({"RateLimit-Remaining", QByteArray::number(res.remaining)});
        out.responseHeaders.append({"RateLimit-Reset", QByteArray::number(retry)});
        if (l.limiter->fillIntervalMs() % 1000 == 0)
            out.responseHeaders.append({"RateLimit-Policy", QByteArray::number(l.limiter->tokensPerFill()) + ";w="
                                                                + QByteArray::number(l.limiter->fillIntervalMs() / 1000)});
        return false;
    }
    counters->rateAllowed.fetch_add(1, std::memory_order_relaxed);
    if (r.method == "CONNECT" || findHeader(r.headers, "upgrade")) {
        for (const auto &l : p.limits) {
            const bool tighter = out.tunnelBytesPerSecond == 0 || l.bytesPerSecond < out.tunnelBytesPerSecond;
            if (l.bytesPerSecond > 0 && tighter) {
                out.tunnelBytesPerSecond = l.bytesPerSecond;
                out.tunnelBurstBytes = l.burstBytes > 0 ? l.burstBytes : l.bytesPerSecond;
            }
        }
    }
    return true;
}

// The claims of the request's bearer token when the authentication that covers the request verifies it; the
// verification is repeated here rather than carried, and only for expressions that read jwt.
std::optional<QJsonObject> ConfigPolicyEngine::Impl::jwtClaims(const RequestAttributes &r) const
{
    const CompiledAuthn *p = lookup(authn, r);
    if (!p || !p->jwt)
        return std::nullopt;
    const QByteArray *value = findHeader(r.headers, r.explicitProxy ? QByteArrayLiteral("proxy-authorization")
                                                                    : QByteArrayLiteral("authorization"));
    if (!value)
        return std::nullopt;
    const QByteArray v = value->trimmed();
    const qsizetype sp = v.indexOf(' ');
    if (sp < 0 || v.left(sp).toLower() != "bearer")
        return std::nullopt;
    const auto res = p->jwt->verify(v.mid(sp + 1).trimmed(), clock->wallNow().toSecsSinceEpoch());
    if (!res.ok)
        return std::nullopt;
    return res.claims;
}

// agentgateway's RBAC for one policy: a Deny expression that holds denies, a Require one that does not hold denies,
// and with Allow expressions one of them must hold. An expression that cannot be evaluated (an absent header, no
// JWT) does not allow and does not satisfy a Require; for Deny it denies, where agentgateway would let the
// request through: failing closed is the egress controller's choice (docs/agentgateway.md).
bool ConfigPolicyEngine::Impl::authorizeCel(const CompiledAuthz &p, const RequestAttributes &r,
                                            const QString &identity, Decision &out) const
{
    using Action = config::AgentgatewayAuthorizationSpec::Action;
    using config::cel::Result;
    config::cel::Activation a;
    a.requestHost = QString::fromLatin1(r.host); // CEL takes owned strings; only AgentgatewayPolicy rules pay for it
    a.requestPath = r.path.toByteArray();
    a.requestMethod = r.method.toByteArray();
    a.requestHeaders = r.headers;
    if (!r.clientAddress.isNull())
        a.sourceAddress = normalizedAddress(r.clientAddress).toString();
    const auto port = listenerPorts.constFind(
        (Key() << r.gatewayNamespace << u'/' << r.gatewayName << u'/' << r.listenerName).text());
    if (port != listenerPorts.constEnd())
        a.destinationPort = *port;
    std::optional<QJsonObject> claims;
    if (p.readsJwt)
        claims = jwtClaims(r);
    if (claims)
        a.jwtClaims = &*claims;
    int failed = -1; // the expression that decided a denial
    bool allowed = *p.celAction != Action::Allow;
    for (size_t i = 0; i < p.expressions.size(); ++i) {
        const Result res = p.expressions[i].evaluate(a);
        if (*p.celAction == Action::Allow && res == Result::True) {
            allowed = true;
            break;
        }
        if ((*p.celAction == Action::Deny && res != Result::False)
            || (*p.celAction == Action::Require && res != Result::True)) {
            allowed = false;
            failed = int(i);
            break;
        }
    }
    if (allowed) {
        counters->authzAllowed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    counters->authzDenied.fetch_add(1, std::memory_order_relaxed);
    const QByteArray why = failed >= 0 ? "matchExpressions[" + QByteArray::number(failed) + ']'
                                       : QByteArrayLiteral("no matchExpression allowed it");
    out = deny(403, "authz_denied", "forbidden by policy\n", "deny:authz " + p.id.toUtf8() + ' ' + why);
    out.identity = identity;
    return false;
}

bool ConfigPolicyEngine::Impl::isSelf(const QHostAddress &address, quint16 port) const
{
    // Called for every resolved address of every request: a port no listener has (the usual case) costs no
    // address work, and the wildcard addresses are built once (each QHostAddress is a heap allocation).
    if (std::none_of(self.begin(), self.end(), [port](const auto &s) { return s.second == port; }))
        return false;
    static const QHostAddress anyV4(QHostAddress::AnyIPv4);
    static const QHostAddress anyV6(QHostAddress::AnyIPv6);
    static const QHostAddress any(QHostAddress::Any);
    const QHostAddress a = normalizedAddress(address);
    const bool unspecified = a == anyV4 || a == anyV6;
    for (const auto &[sa, sp] : self) {
        if (sp != port)
            continue;
        if (unspecified || normalizedAddress(sa) == a)
            return true;
        const bool wildcard = sa == anyV4 || sa == anyV6 || sa == any;
        if (wildcard && (a.isLoopback() || localAddresses.contains(a)))
            return true;
    }
    return false;
}

bool ConfigPolicyEngine::Impl::ssrfDenies(const QHostAddress &address, quint16 port) const
{
    const auto denied = [&](const QHostAddress &form) {
        return !allowedCidrs.contains(form) && (deniedCidrs.contains(form) || (denySelf && isSelf(form, port)));
    };
    if (denied(address))
        return true;
    // The IPv4 address an IPv6 one carries (NAT64, 6to4, Teredo, ...) is where a gateway on the path may send the
    // connection, so the IPv4 rules apply to it too; an exception for the IPv6 address does not lift them.
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return false;
    const QList<QHostAddress> embedded = embeddedIPv4Addresses(address);
    return std::any_of(embedded.begin(), embedded.end(), denied);
}

ConfigPolicyEngine::ConfigPolicyEngine(std::unique_ptr<Impl> impl) : d(std::move(impl)) {}
ConfigPolicyEngine::~ConfigPolicyEngine() = default;

Decision ConfigPolicyEngine::Impl::check(const RequestAttributes &request, HashJob *job) const
{
    Decision out;
    out.summary = kAllow;
    if (loopDetection && hasDfproxyVia(request.headers)) {
        counters->loopDenied.fetch_add(1, std::memory_order_relaxed);
        return deny(508, "loop_detected", "request loop detected (Via: dfproxy)\n", "deny:loop");
    }
    if (request.method == "CONNECT" && !connectDenied.isEmpty()
        && connectDenied.contains((Key() << request.gatewayNamespace << u'/' << request.gatewayName).text()))
        return deny(403, "connect_denied", "CONNECT is not allowed on this gateway\n", "deny:frontend connect");
    if (const auto *p = lookup(authn, request)) {
        if (authenticate(*p, request, out, job) != Step::Allowed)
            return out; // denied, or job->needed
    }
    return afterAuthentication(request, std::move(out));
}

Decision ConfigPolicyEngine::Impl::resume(const RequestAttributes &request, const HashJob &job, bool verified) const
{
    Decision out;
    out.summary = kAllow;
    if (!concludeAuthentication(*job.policy, request, true, verified, job.user, job.used, out))
        return out;
    return afterAuthentication(request, std::move(out));
}

Decision ConfigPolicyEngine::Impl::afterAuthentication(const RequestAttributes &request, Decision out) const
{
    const QString identity = out.identity; // a copy: a deny below replaces `out`
    if (const auto *p = lookup(authz, request); p && !authorize(*p, request, identity, out))
        return out;
    if (const auto *p = lookup(rateLimits, request); p && !rateLimit(*p, request, identity, out))
        return out;
    return out;
}

Decision ConfigPolicyEngine::checkRequest(const RequestAttributes &request) const
{
    HashJob job;
    Decision out = d->check(request, &job);
    if (!job.needed)
        return traced(request, out);
    return traced(request, d->resume(request, job, verifyHashJob(job, *d->cache, *d->throttle, *d->counters)));
}

RequestCheck ConfigPolicyEngine::startCheckRequest(const RequestAttributes &request, QObject *context,
                                                   std::function<void(Decision)> done) const
{
    RequestCheck out;
    HashJob job;
    out.decision = d->check(request, &job);
    if (!job.needed) {
        traced(request, out.decision);
        return out;
    }
    auto state = std::make_shared<PendingState>();
    state->context = context;
    state->engine = this;
    state->request = request;
    state->job = job;
    state->done = std::move(done);
    // The job owns no engine: the pool lives as long as some engine does, and must never be the one to end it.
    const bool queued = d->pool->submit(
        [state, cache = d->cache, throttle = d->throttle, counters = d->counters] {
            const bool ok = verifyHashJob(state->job, *cache, *throttle, *counters);
            std::lock_guard lock(state->mutex);
            if (!state->context)
                return; // cancelled
            QMetaObject::invokeMethod(
                state->context,
                [state, ok] {
                    {
                        std::lock_guard lock(state->mutex);
                        if (!state->context)
                            return; // cancelled after the post
                    }
                    // The handle is alive, so is the engine (the caller holds both).
                    const Decision verdict = traced(state->request, state->engine->d->resume(state->request, state->job, ok));
                    const auto done = std::move(state->done);
                    done(verdict);
                },
                Qt::QueuedConnection);
        });
    if (!queued) {
        d->throttle->end(job.client, FailureThrottle::Outcome::Abandoned);
        d->counters->busy.fetch_add(1, std::memory_order_relaxed);
        out.decision = deny(503, "authn_busy", "too many credential checks in progress, retry shortly\n",
                            "deny:authn " + job.policy->id.toUtf8() + " busy");
        out.decision.responseHeaders.append({QByteArrayLiteral("Retry-After"), QByteArrayLiteral("1")});
        traced(request, out.decision);
        return out;
    }
    out.pending = std::make_unique<PendingHashCheck>(std::move(state));
    return out;
}

Decision ConfigPolicyEngine::checkResolved(const RequestAttributes &request, const QList<QHostAddress> &addresses) const
{
    Decision out;
    out.summary = kAllow;
    d->counters->ssrfChecked.fetch_add(1, std::memory_order_relaxed);
    qint64 dropped = 0;
    for (qsizetype i = 0; i < addresses.size(); ++i) {
        const QHostAddress &a = addresses.at(i);
        if (d->ssrfDenies(a, request.port)) {
            if (dropped++ == 0)
                out.allowedAddresses = addresses.first(i); // the ones before this one passed
            continue;
        }
        if (dropped)
            out.allowedAddresses.append(a);
    }
    if (!dropped)
        out.allowedAddresses = addresses; // all passed: share the list instead of copying it
    if (dropped) {
        d->counters->ssrfDropped.fetch_add(dropped, std::memory_order_relaxed);
        qCDebug(lcPolicy).noquote() << "ssrf: dropped" << dropped << "of" << addresses.size() << "addresses of"
                                    << QString::fromLatin1(request.host) << "-" << out.allowedAddresses.size()
                                    << "left";
    }
    if (out.allowedAddresses.isEmpty() && !addresses.isEmpty()) {
        d->counters->ssrfDenied.fetch_add(1, std::memory_order_relaxed);
        return deny(403, "ssrf_denied", "destination address not allowed\n", "deny:ssrf");
    }
    return out;
}

QList<QHostAddress> ConfigPolicyEngine::ssrfAllowedProxyAddresses(const QList<QHostAddress> &addresses,
                                                                  quint16 port) const
{
    QList<QHostAddress> allowed;
    for (const QHostAddress &a : addresses) {
        if (!d->ssrfDenies(a, port))
            allowed.append(a);
    }
    return allowed;
}

QStringList ConfigPolicyEngine::deniedCidrs() const
{
    return d->deniedCidrs.toStringList();
}

PolicyCounters ConfigPolicyEngine::counters() const
{
    const Counters &c = *d->counters;
    PolicyCounters out;
    out.authn = {c.authenticated.load(),
                 c.anonymous.load(),
                 c.challenged.load(),
                 c.rejected.load(),
                 qint64(d->cache->size()),
                 c.hashVerifications.load(),
                 c.dummyVerifications.load(),
                 c.throttled.load(),
                 c.busy.load(),
                 qint64(d->throttle->size()),
                 qint64(d->pool->queued())};
    out.authz = {c.authzAllowed.load(), c.authzDenied.load()};
    for (const auto &l : d->limiters)
        out.ratelimit.keys += l->keyCount();
    out.ratelimit.allowed = c.rateAllowed.load();
    out.ratelimit.limited = c.rateLimited.load();
    out.ssrf = {c.ssrfChecked.load(), c.ssrfDenied.load(), c.ssrfDropped.load()};
    out.loop.denied = c.loopDenied.load();
    return out;
}

QJsonObject PolicyCounters::toJson() const
{
    return QJsonObject{
        {"authn", QJsonObject{{"authenticated", authn.authenticated},
                              {"anonymous", authn.anonymous},
                              {"challenged", authn.challenged},
                              {"rejected", authn.rejected},
                              {"cachedVerifications", authn.cachedVerifications},
                              {"hashVerifications", authn.hashVerifications},
                              {"dummyVerifications", authn.dummyVerifications},
                              {"throttled", authn.throttled},
                              {"busy", authn.busy},
                              {"throttledClients", authn.throttledClients},
                              {"verificationsQueued", authn.verificationsQueued}}},
        {"authz", QJsonObject{{"allowed", authz.allowed}, {"denied", authz.denied}}},
        {"ratelimit", QJsonObject{{"allowed", ratelimit.allowed}, {"limited", ratelimit.limited},
                                  {"keys", ratelimit.keys}}},
        {"ssrf", QJsonObject{{"checked", ssrf.checked}, {"denied", ssrf.denied},
                             {"addressesDropped", ssrf.addressesDropped}}},
        {"loop", QJsonObject{{"denied", loop.denied}}},
    };
}

QJsonObject ConfigPolicyEngine::stats() const
{
    QJsonObject out = counters().toJson();
    QJsonObject policies;
    for (auto it = d->policyCounts.begin(); it != d->policyCounts.end(); ++it)
        policies.insert(it.key(), it.value());
    out.insert("policies", policies);
    out.insert("problems", QJsonArray::fromStringList(m_problems));
    return out;
}

// ---- Build -----------------------------------------------------------------------------------------------------

namespace {

const char *const DefaultDenied[] = {"169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/32", "::/128"};
const char *const StrictDenied[] = {"0.0.0.0/8",   "127.0.0.0/8",    "::1/128",        "10.0.0.0/8",
                                    "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"};

QString limitIdentity(const Resource &r, int i, const config::RateLimitSpec &l)
{
    return QStringLiteral("%1/%2/%3|%4|%5|%6|%7|%8|%9")
        .arg(r.ns(), r.name())
        .arg(i)
        .arg(int(l.key))
        .arg(l.header)
        .arg(l.tokens)
        .arg(l.fillIntervalMs)
        .arg(l.burst)
        .arg(l.maxKeys);
}

// One authentication, from an AuthenticationPolicy or an AgentgatewayPolicy's traffic authentication. `kind` and
// `id` name it in problems ("<Kind> <ns>/<name>: ...", which its status shows).
std::shared_ptr<CompiledAuthn> compileAuthn(const QString &kind, const QString &id,
                                            const config::AuthenticationPolicySpec &spec, bool invalid,
                                            QStringList &problems)
{
    const bool hasErrors = invalid;
    auto p = std::make_shared<CompiledAuthn>();
    p->id = id;
    p->optional = spec.optional;
    p->basic = spec.basicEnabled;
    p->realm = spec.realm.toUtf8();
    if (hasErrors) {
        // Stored configs are validated, so this is a hand-edited file: fail closed with a challenge.
        problems.append(QStringLiteral("%1 %2: invalid spec, every request is refused").arg(kind, id));
        p->optional = false;
        p->basic = true;
        return p;
    }
    for (const auto &u : spec.users)
        p->users.insert(u.name, u.passwordHash.toUtf8());
    bool sourceLost = false; // a credential source did not load: the policy cannot work as written
    if (!spec.htpasswdFile.isEmpty()) {
        QFile f(spec.htpasswdFile);
        if (!f.open(QIODevice::ReadOnly)) {
            sourceLost = true;
            problems.append(QStringLiteral("%1 %2: cannot read htpasswdFile %3: %4")
                                .arg(kind, id, spec.htpasswdFile, f.errorString()));
        } else {
            QStringList fileProblems;
            const auto users = parseHtpasswd(f.readAll(), &fileProblems);
            for (const auto &fp : fileProblems)
                problems.append(QStringLiteral("%1 %2: %3 %4").arg(kind, id, spec.htpasswdFile, fp));
            for (auto it = users.begin(); it != users.end(); ++it) {
                if (!p->users.contains(it.key()))
                    p->users.insert(it.key(), it.value());
            }
        }
    }
    p->dummyHash = pickDummyHash(p->users);
    p->apiKey = spec.apiKeyEnabled;
    p->apiKeyHeader = spec.apiKeyHeader.toLatin1();
    for (const auto &k : spec.apiKeys)
        p->apiKeys.insert(k.sha256, k.name);
    if (spec.jwt) {
        QJsonObject jwks = spec.jwt->jwks;
        if (!spec.jwt->jwksFile.isEmpty()) {
            QFile f(spec.jwt->jwksFile);
            QJsonParseError pe{};
            if (!f.open(QIODevice::ReadOnly)) {
                sourceLost = true;
                problems.append(QStringLiteral("%1 %2: cannot read jwksFile %3: %4")
                                    .arg(kind, id, spec.jwt->jwksFile, f.errorString()));
            } else {
                const auto doc = QJsonDocument::fromJson(f.readAll(), &pe);
                sourceLost = pe.error != QJsonParseError::NoError || !doc.isObject();
                if (sourceLost)
                    problems.append(QStringLiteral("%1 %2: jwksFile %3 is not a JSON object")
                                        .arg(kind, id, spec.jwt->jwksFile));
                else
                    jwks = doc.object();
            }
        }
        auto verifier = std::make_shared<JwtVerifier>(
            jwks, JwtVerifier::Settings{spec.jwt->issuer, spec.jwt->audiences, spec.jwt->clockSkewMs,
                                        spec.jwt->requireExpiration, (spec.jwt->maxLifetimeMs + 999) / 1000});
        for (const auto &vp : verifier->problems())
            problems.append(QStringLiteral("%1 %2: jwks %3").arg(kind, id, vp));
        p->jwt = verifier;
        p->identityClaim = spec.jwt->identityClaim;
    }
    if (sourceLost) {
        // Fail closed, whatever other methods the policy has: no credential of any kind is accepted and it
        // stops being optional. The problem text is the reason its status shows (app::Service::policyProblems).
        problems.last() += QStringLiteral("; every request it covers is refused until it loads");
        p->optional = false;
        p->users.clear();
        p->apiKeys.clear();
        if (spec.jwt)
            p->jwt = std::make_shared<JwtVerifier>(
                QJsonObject{}, JwtVerifier::Settings{spec.jwt->issuer, spec.jwt->audiences, spec.jwt->clockSkewMs});
    }
    return p;
}

} // namespace

// AgentgatewayPolicy traffic and frontend sections, mapped onto the compiled forms above (docs/agentgateway.md).
// After the dfproxy.dev kinds: where one of those already covers a target, it stays in effect there and the
// AgentgatewayPolicy's section is reported as a problem (its status says so).
// A file of "name:sha256:<64 hex>" lines (agentgateway's keyHash form; '#' starts a comment): the API keys of an
// AgentgatewayPolicy on this desktop. Plain keys are refused: dfproxy keeps only their hashes.
static bool loadApiKeys(const QString &path, CompiledAuthn &p, QStringList &problems, const QString &who)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        problems.append(QStringLiteral("%1: cannot read %2 %3: %4")
                            .arg(who, QLatin1String(config::annotations::ApiKeysFile), path, f.errorString()));
        return false;
    }
    static const QRegularExpression hex(QStringLiteral("^sha256:[0-9a-f]{64}$"));
    int lineNo = 0;
    for (const QByteArray &raw : f.readAll().split('\n')) {
        ++lineNo;
        const QByteArray line = raw.trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const qsizetype colon = line.indexOf(':');
        const QByteArray name = colon > 0 ? line.left(colon) : QByteArray();
        const QByteArray hash = colon > 0 ? line.mid(colon + 1).trimmed().toLower() : QByteArray();
        if (name.isEmpty() || !hex.match(QString::fromLatin1(hash)).hasMatch()) {
            problems.append(QStringLiteral("%1: %2 line %3 is not \"name:sha256:<64 hex digits>\"")
                                .arg(who, path)
                                .arg(lineNo));
            return false;
        }
        p.apiKeys.insert(hash.mid(7), QString::fromUtf8(name));
    }
    return true;
}

static void compileAgentgatewayPolicies(const config::Config &config, const ConfigPolicyEngine::Impl *previous,
                                        ConfigPolicyEngine::Impl &d, QStringList &problems)
{
    const QString kind = QString::fromLatin1(config::kinds::AgentgatewayPolicy);
    for (const Resource *g : config.ofKind(config::kinds::Gateway)) {
        for (const auto &l : config::parseGatewaySpec(*g, nullptr).listeners)
            d.listenerPorts.insert(g->ns() + u'/' + g->name() + u'/' + l.name, l.port);
    }
    for (const Resource *r : inConflictOrder(config.ofKind(config::kinds::AgentgatewayPolicy))) {
        QList<config::FieldError> errors;
        const auto spec = config::parseAgentgatewayPolicySpec(*r, &errors);
        const QString id = r->ns() + u'/' + r->name();
        // Attaches `p` where no earlier policy of the function covers the target; says where it is not in effect.
        auto attachTo = [&](auto &map, const auto &p, const char *section) {
            for (const auto &t : spec.targetRefs) {
                const QString key = targetKey(r->ns(), t);
                if (const auto it = map.constFind(key); it != map.constEnd()) {
                    if (it.value()->id != id && !it.value()->id.startsWith(QLatin1String("agw:")))
                        problems.append(QStringLiteral("%1 %2: %3 is not in effect on %4 %5: a dfproxy.dev policy "
                                                       "(%6) covers it")
                                            .arg(kind, id, QLatin1String(section), t.kind, t.name, it.value()->id));
                    continue;
                }
                map.insert(key, p);
            }
        };
        if (!errors.isEmpty()) {
            // A hand-edited config file (the API refuses it): an authorization or authentication that does not
            // parse refuses every request it would cover; the rest is ignored.
            const QJsonObject traffic = r->spec().value("traffic").toObject();
            if (traffic.contains("authorization") || traffic.contains("basicAuthentication")
                || traffic.contains("jwtAuthentication") || traffic.contains("apiKeyAuthentication")) {
                problems.append(QStringLiteral("%1 %2: invalid spec, every request it covers is refused").arg(kind, id));
                auto p = std::make_shared<CompiledAuthz>();
                p->id = QStringLiteral("agw:") + id;
                attachTo(d.authz, std::shared_ptr<const CompiledAuthz>(p), "traffic.authorization");
            }
            continue;
        }
        if (spec.authentication) {
            const auto p = compileAuthn(kind, id, *spec.authentication, false, problems);
            p->id = QStringLiteral("agw:") + id;
            p->apiKeyPrefix = spec.apiKeyPrefix;
            if (!spec.apiKeysFile.isEmpty() && !loadApiKeys(spec.apiKeysFile, *p, problems, kind + u' ' + id)) {
                // Fail closed, as a lost htpasswd file does: no credential of any kind is accepted.
                problems.last() += QStringLiteral("; every request it covers is refused until it loads");
                p->optional = false;
                p->users.clear();
                p->apiKeys.clear();
                p->jwt.reset();
                p->basic = true;
            }
            attachTo(d.authn, std::shared_ptr<const CompiledAuthn>(p), "traffic authentication");
        }
        if (spec.authorization) {
            auto p = std::make_shared<CompiledAuthz>();
            p->id = QStringLiteral("agw:") + id;
            p->celAction = spec.authorization->action;
            for (const auto &text : spec.authorization->matchExpressions) {
                if (auto program = config::cel::Program::compile(text, nullptr)) {
                    p->readsJwt = p->readsJwt || program->readsJwt();
                    p->expressions.push_back(std::move(*program));
                }
            }
            attachTo(d.authz, std::shared_ptr<const CompiledAuthz>(p), "traffic.authorization");
        }
        if (spec.rateLimit) {
            auto p = std::make_shared<CompiledRateLimit>();
            p->id = QStringLiteral("agw:") + id;
            for (int i = 0; i < spec.rateLimit->limits.size(); ++i) {
                const auto &l = spec.rateLimit->limits[i];
                const QString lid = QStringLiteral("agw:") + limitIdentity(*r, i, l);
                std::shared_ptr<TokenBucketLimiter> limiter = previous ? previous->limiters.value(lid) : nullptr;
                if (!limiter)
                    limiter = std::make_shared<TokenBucketLimiter>(l.tokens, l.fillIntervalMs,
                                                                   l.burst ? l.burst : l.tokens, l.maxKeys, d.clock);
                d.limiters.insert(lid, limiter);
                p->limits.append(CompiledLimit{l.name, l.key, QByteArray(), limiter, 0, 0});
            }
            attachTo(d.rateLimits, std::shared_ptr<const CompiledRateLimit>(p), "traffic.rateLimit");
        }
        if (spec.connectMode == QLatin1String("Deny")) {
            for (const auto &t : spec.targetRefs)
                d.connectDenied.insert(r->ns() + u'/' + t.name);
        }
        d.policyCounts[config::kinds::AgentgatewayPolicy]++;
    }
}

std::shared_ptr<const ConfigPolicyEngine> buildPolicyEngine(const config::Config &config, const Options &options,
                                                            const ConfigPolicyEngine *previous)
{
    auto d = std::make_unique<ConfigPolicyEngine::Impl>();
    QStringList problems;
    d->clock = options.clock ? options.clock : &SystemClock::instance();
    d->counters = previous ? previous->d->counters : std::make_shared<Counters>();
    // Carried over like the counters: a config change neither forgets who was guessing nor restarts threads.
    d->cache = previous ? previous->d->cache : std::make_shared<VerificationCache>(1024, 60000, d->clock);
    d->throttle = previous ? previous->d->throttle
                           : std::make_shared<FailureThrottle>(FailureThrottle::Settings{}, d->clock);
    if (options.verificationPool)
        d->pool = options.verificationPool;
    else if (previous)
        d->pool = previous->d->pool;
    else
        d->pool = std::make_shared<VerificationPool>(VerificationPool::defaultThreadCount(), 256);

    // Authentication.
    for (const Resource *r : inConflictOrder(config.ofKind(config::kinds::AuthenticationPolicy))) {
        QList<config::FieldError> errors;
        const auto spec = config::parseAuthenticationPolicySpec(*r, &errors);
        const QString id = r->ns() + u'/' + r->name();
        const auto p = compileAuthn(QString::fromLatin1(config::kinds::AuthenticationPolicy), id, spec,
                                    !errors.isEmpty(), problems);
        attach<CompiledAuthn>(d->authn, r->ns(), spec.targetRefs, p);
        if (errors.isEmpty())
            d->policyCounts[config::kinds::AuthenticationPolicy]++;
    }

    // Authorization.
    for (const Resource *r : inConflictOrder(config.ofKind(config::kinds::AuthorizationPolicy))) {
        QList<config::FieldError> errors;
        const auto spec = config::parseAuthorizationPolicySpec(*r, &errors);
        auto p = std::make_shared<CompiledAuthz>();
        p->id = r->ns() + u'/' + r->name();
        p->defaultAllow = errors.isEmpty() && spec.defaultAllow;
        if (!errors.isEmpty())
            problems.append(QStringLiteral("AuthorizationPolicy %1: invalid spec, every request is refused").arg(p->id));
        for (const auto &rs : errors.isEmpty() ? spec.rules : QList<config::AuthorizationRuleSpec>{}) {
            CompiledRule rule;
            rule.name = rs.name;
            rule.allow = rs.allow;
            if (!rs.hosts.isEmpty()) {
                HostMatcher m;
                for (const auto &configured : rs.hosts) {
                    const QString h = http::canonicalConfiguredHost(configured); // as requests' hosts are
                    if (h == QLatin1String("*"))
                        m.any = true;
                    else if (h.startsWith(QLatin1String("*.")))
                        m.suffixes.append(h.mid(1).toUtf8());
                    else
                        m.exact.insert(h.toUtf8());
                }
                rule.hosts = m;
            }
            rule.ports = rs.ports;
            for (const auto &m : rs.methods)
                rule.methods.append(m.toLatin1());
            for (const auto &pp : rs.pathPrefixes)
                rule.pathPrefixes.append(http::canonicalConfiguredPath(pp).toUtf8());
            if (!rs.clientCIDRs.isEmpty()) {
                CidrSet set;
                for (const auto &c : rs.clientCIDRs)
                    set.add(c);
                rule.clients = set;
            }
            rule.identities = rs.identities;
            rule.applications = ApplicationMatcher(rs.applications);
            p->usesApplications = p->usesApplications || !rs.applications.isEmpty();
            p->rules.append(rule);
        }
        attach<CompiledAuthz>(d->authz, r->ns(), spec.targetRefs, p);
        d->policyCounts[config::kinds::AuthorizationPolicy]++;
    }

    // Rate limits.
    for (const Resource *r : inConflictOrder(config.ofKind(config::kinds::RateLimitPolicy))) {
        QList<config::FieldError> errors;
        const auto spec = config::parseRateLimitPolicySpec(*r, &errors);
        if (!errors.isEmpty()) {
            problems.append(QStringLiteral("RateLimitPolicy %1/%2: invalid spec, ignored").arg(r->ns(), r->name()));
            continue;
        }
        auto p = std::make_shared<CompiledRateLimit>();
        p->id = r->ns() + u'/' + r->name();
        for (int i = 0; i < spec.limits.size(); ++i) {
            const auto &l = spec.limits[i];
            const QString lid = limitIdentity(*r, i, l);
            std::shared_ptr<TokenBucketLimiter> limiter;
            if (previous)
                limiter = previous->d->limiters.value(lid);
            if (!limiter && l.tokens > 0)
                limiter = std::make_shared<TokenBucketLimiter>(l.tokens, l.fillIntervalMs, l.burst ? l.burst : l.tokens,
                                                               l.maxKeys, d->clock);
            if (limiter)
                d->limiters.insert(lid, limiter);
            p->limits.append(
                CompiledLimit{l.name, l.key, l.header.toLatin1(), limiter, l.bytesPerSecond, l.burstBytes});
        }
        attach<CompiledRateLimit>(d->rateLimits, r->ns(), spec.targetRefs, p);
        d->policyCounts[config::kinds::RateLimitPolicy]++;
    }

    compileAgentgatewayPolicies(config, previous ? previous->d.get() : nullptr, *d, problems);

    // SSRF guard: proxy.ssrf as the store parsed it when it validated this version; parsed here only for a config
    // that did not come through a store's validation (the built-in default, tests, tools).
    QList<config::FieldError> ssrfErrors;
    const config::SsrfSettings *stored = config.parsed.get<config::SsrfSettings>();
    const auto ssrf = stored ? *stored : config::parseSsrfSettings(config.proxy, &ssrfErrors);
    if (!ssrfErrors.isEmpty())
        problems.append(QStringLiteral("proxy.ssrf is invalid; using the defaults"));
    const auto settings = ssrfErrors.isEmpty() ? ssrf : config::SsrfSettings{};
    d->loopDetection = settings.loopDetection;
    d->denySelf = settings.denySelf;
    if (settings.preset != QLatin1String("off")) {
        for (const char *c : DefaultDenied)
            d->deniedCidrs.add(QString::fromLatin1(c));
    }
    if (settings.preset == QLatin1String("strict")) {
        for (const char *c : StrictDenied)
            d->deniedCidrs.add(QString::fromLatin1(c));
    }
    for (const auto &c : settings.deniedCIDRs)
        d->deniedCidrs.add(c);
    for (const auto &c : settings.allowedCIDRs)
        d->allowedCidrs.add(c);

    for (const Resource *g : config.ofKind(config::kinds::Gateway)) {
        const auto spec = config::parseGatewaySpec(*g, nullptr);
        QList<QHostAddress> addresses;
        for (const auto &a : spec.addresses)
            addresses.append(QHostAddress(a.value));
        if (addresses.isEmpty())
            addresses.append(QHostAddress(QHostAddress::LocalHost));
        for (const auto &l : spec.listeners) {
            for (const auto &a : addresses)
                d->self.append({a, l.port});
        }
    }
    // The config's admin endpoint, read by the same parser as the service's (so "localhost" is 127.0.0.1 here too).
    const auto admin = config::AdminOptions::fromJson(config.admin, nullptr);
    if (admin.port > 0)
        d->self.append({config::AdminOptions::hostAddress(admin.address), quint16(admin.port)});
    d->self += options.proxyListenAddresses;
    if (!options.adminAddress.isNull() && options.adminPort)
        d->self.append({options.adminAddress, options.adminPort});
    for (const auto &[a, port] : d->self) {
        if (a == QHostAddress(QHostAddress::AnyIPv4) || a == QHostAddress(QHostAddress::AnyIPv6)
            || a == QHostAddress(QHostAddress::Any)) {
            for (const auto &local : QNetworkInterface::allAddresses())
                d->localAddresses.append(normalizedAddress(local));
            break;
        }
    }

    auto engine = std::shared_ptr<ConfigPolicyEngine>(new ConfigPolicyEngine(std::move(d)));
    engine->m_problems = problems;
    return engine;
}

} // namespace dfproxy::policy
