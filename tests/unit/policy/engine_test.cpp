// SPDX-License-Identifier: Apache-2.0
#include "policy/policyengine.h"

#include "config/validation.h"
#include "jwttestutil.h"
#include "platform/passwordcrypt.h"
#include "policy/passwords.h"
#include "policy/verificationpool.h"
#include "policytestutil.h"
#include "support/wait.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QJsonArray>

#include <gtest/gtest.h>

#include <future>

using namespace dfproxy;
using dfproxy::policy::Options;
using namespace dfproxy::policy;
using namespace dfproxy::policy::test;

namespace {

const QJsonArray gatewayTarget{
    QJsonObject{{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "agentgateway-proxy"}}};
const QJsonArray routeTarget{QJsonObject{{"kind", "HTTPRoute"}, {"name", "dfp-httproute"}}};
const QJsonArray backendTarget{
    QJsonObject{{"group", "agentgateway.dev"}, {"kind", "AgentgatewayBackend"}, {"name", "dfp-backend"}}};

QJsonObject rateSpec(const QJsonArray &targets, int tokens, const QString &key = "clientIP")
{
    return QJsonObject{{"targetRefs", targets},
                       {"limits", QJsonArray{QJsonObject{{"key", key}, {"tokens", tokens}, {"fillInterval", "1m"}}}}};
}

QJsonObject authzSpec(const QJsonArray &targets, const QJsonArray &rules, const QString &defaultAction = "Deny")
{
    return QJsonObject{{"targetRefs", targets}, {"defaultAction", defaultAction}, {"rules", rules}};
}

QByteArray basic(const QByteArray &user, const QByteArray &password)
{
    return "Basic " + (user + ':' + password).toBase64();
}

// Every policy the tests build must also pass the admin API's validation.
void expectValid(const config::Config &c)
{
    const auto errors = config::validateConfig(c);
    for (const auto &e : errors)
        ADD_FAILURE() << e.path.toStdString() << ": " << e.message.toStdString();
}

std::shared_ptr<const ConfigPolicyEngine> build(const config::Config &c, const Clock *clock = nullptr,
                                                const ConfigPolicyEngine *previous = nullptr)
{
    expectValid(c);
    Options o;
    o.clock = clock;
    auto e = buildPolicyEngine(c, o, previous);
    EXPECT_TRUE(e->problems().isEmpty()) << e->problems().join("; ").toStdString();
    return e;
}

} // namespace

// ---- Attachment ------------------------------------------------------------------------------------------------

TEST(PolicyAttachment, NoPoliciesAllowEverything)
{
    const auto e = build(baseConfig());
    Request r;
    const auto d = e->checkRequest(*r);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.summary, "allow");
}

TEST(PolicyAttachment, MostSpecificWinsBackendOverRouteOverGateway)
{
    ManualClock clock;
    // Gateway: 1 request; route: 2; backend: 3 per minute.
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "agentgateway-system", "gw", rateSpec(gatewayTarget, 1)),
                                     makePolicy("RateLimitPolicy", "httpbin", "route", rateSpec(routeTarget, 2)),
                                     makePolicy("RateLimitPolicy", "httpbin", "be", rateSpec(backendTarget, 3))}),
                         &clock);
    auto count = [&](Request r) {
        int n = 0;
        while (n < 10 && e->checkRequest(*r).allowed)
            ++n;
        return n;
    };
    EXPECT_EQ(count(Request()), 3);
    Request viaRoute;
    viaRoute.attrs.backendName = "other";
    viaRoute.attrs.clientAddress = QHostAddress("127.0.0.2");
    EXPECT_EQ(count(viaRoute), 2);
    Request viaGateway;
    viaGateway.attrs.backendName = "other";
    viaGateway.attrs.routeName = "other";
    viaGateway.attrs.clientAddress = QHostAddress("127.0.0.3");
    EXPECT_EQ(count(viaGateway), 1);
}

// The attributes are views of whatever string type the caller holds (the proxy's QStrings, literals): the policy
// attached to a name is found, and its rate-limit key made, whichever type spells the name.
TEST(PolicyAttachment, NamesFindTheirPolicyWhateverStringTypeViewsThem)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "route",
                                                rateSpec(routeTarget, 1, "route"))}),
                         &clock);
    const QString ns = QStringLiteral("httpbin"), name = QStringLiteral("dfp-httproute");
    Request utf16;
    utf16.attrs.routeNamespace = ns;
    utf16.attrs.routeName = name;
    Request latin1;
    latin1.attrs.routeNamespace = QLatin1String("httpbin");
    latin1.attrs.routeName = QLatin1String("dfp-httproute");
    Request utf8; // the default Request: UTF-8 literals
    Request otherRoute;
    otherRoute.attrs.routeName = QLatin1String("other");
    EXPECT_TRUE(e->checkRequest(*utf16).allowed);
    EXPECT_EQ(e->checkRequest(*latin1).status, 429); // the same policy, the same bucket ("httpbin/dfp-httproute")
    EXPECT_EQ(e->checkRequest(*utf8).status, 429);
    EXPECT_TRUE(e->checkRequest(*otherRoute).allowed);
}

TEST(PolicyAttachment, PoliciesInAnotherNamespaceOrForAnotherListenerDoNotApply)
{
    ManualClock clock;
    auto listenerTarget = gatewayTarget;
    auto ref = listenerTarget[0].toObject();
    ref.insert("sectionName", "https");
    listenerTarget[0] = ref;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "default", "gw", rateSpec(gatewayTarget, 1)),
                                     makePolicy("RateLimitPolicy", "agentgateway-system", "l", rateSpec(listenerTarget, 1))}),
                         &clock);
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_TRUE(e->checkRequest(*r).allowed);
}

TEST(PolicyAttachment, OldestPolicyWinsAConflict)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "newer", rateSpec(routeTarget, 5),
                                            "2024-02-01T00:00:00Z"),
                                     makePolicy("RateLimitPolicy", "httpbin", "older", rateSpec(routeTarget, 1),
                                            "2024-01-01T00:00:00Z")}),
                         &clock);
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    const auto d = e->checkRequest(*r);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.summary, "deny:ratelimit httpbin/older limits[0]");
}

// ---- Rate limits -----------------------------------------------------------------------------------------------

TEST(RateLimitPolicy, DeniesWith429AndIetfHeaders)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "rl",
                                            json(R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
                                                     "limits":[{"tokens":2,"fillInterval":"10s"}]})"))}),
                         &clock);
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    const auto d = e->checkRequest(*r);
    ASSERT_FALSE(d.allowed);
    EXPECT_EQ(d.status, 429);
    EXPECT_EQ(d.reason, "ratelimited");
    EXPECT_EQ(headerOf(d, "Retry-After"), "5");
    EXPECT_EQ(headerOf(d, "RateLimit-Limit"), "2");
    EXPECT_EQ(headerOf(d, "RateLimit-Remaining"), "0");
    EXPECT_EQ(headerOf(d, "RateLimit-Reset"), "5");
    EXPECT_EQ(headerOf(d, "RateLimit-Policy"), "2;w=10");
    clock.advance(5000);
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_EQ(e->stats().value("ratelimit").toObject().value("limited").toInteger(), 1);
}

TEST(RateLimitPolicy, KeysByHeaderHostAndIdentity)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "rl",
                                            json(R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
        "limits":[{"key":"header","header":"X-Tenant","tokens":1,"fillInterval":"1m"},
                  {"key":"destinationHost","tokens":3,"fillInterval":"1m"}]})"))}),
                         &clock);
    Request a;
    a.header("x-tenant", "a");
    Request b;
    b.header("X-TENANT", "b");
    EXPECT_TRUE(e->checkRequest(*a).allowed);
    EXPECT_FALSE(e->checkRequest(*a).allowed); // tenant a spent; its host token was refunded
    EXPECT_TRUE(e->checkRequest(*b).allowed);
    Request c;
    c.header("x-tenant", "c");
    EXPECT_TRUE(e->checkRequest(*c).allowed); // third host token
    Request d;
    d.header("x-tenant", "d");
    EXPECT_FALSE(e->checkRequest(*d).allowed); // host budget of 3 spent
    d.attrs.host = "other.test";
    EXPECT_TRUE(e->checkRequest(*d).allowed);
}

TEST(RateLimitPolicy, StateSurvivesAConfigRebuild)
{
    ManualClock clock;
    const auto cfg = baseConfig({makePolicy("RateLimitPolicy", "httpbin", "rl", rateSpec(routeTarget, 1))});
    const auto first = build(cfg, &clock);
    Request r;
    EXPECT_TRUE(first->checkRequest(*r).allowed);
    const auto second = build(cfg, &clock, first.get());
    EXPECT_FALSE(second->checkRequest(*r).allowed);
    EXPECT_EQ(second->stats().value("ratelimit").toObject().value("allowed").toInteger(), 1);
}

TEST(RateLimitPolicy, AppliesToTunnels)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "rl", rateSpec(routeTarget, 1))}), &clock);
    Request r;
    r.attrs.method = "CONNECT";
    r.attrs.path = "";
    r.attrs.explicitProxy = true;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_EQ(e->checkRequest(*r).status, 429);
}

TEST(RateLimitPolicy, BytesPerSecondThrottlesTunnelsOnlyAndTheTightestWins)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "rl",
                                            json(R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
                                                     "limits":[{"bytesPerSecond":65536},
                                                               {"tokens":100,"fillInterval":"1s","bytesPerSecond":1000,
                                                                "burstBytes":4000}]})"))}),
                         &clock);
    Request r;
    const Decision plain = e->checkRequest(*r);
    EXPECT_TRUE(plain.allowed);
    EXPECT_EQ(plain.tunnelBytesPerSecond, 0); // not a tunnel
    r.attrs.method = "CONNECT";
    r.attrs.path = "";
    r.attrs.explicitProxy = true;
    const Decision d = e->checkRequest(*r);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.tunnelBytesPerSecond, 1000);
    EXPECT_EQ(d.tunnelBurstBytes, 4000);
}

TEST(RateLimitPolicy, ABandwidthOnlyLimitCountsNoRequests)
{
    ManualClock clock;
    const auto e = build(baseConfig({makePolicy("RateLimitPolicy", "httpbin", "rl",
                                            json(R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
                                                     "limits":[{"bytesPerSecond":500}]})"))}),
                         &clock);
    Request r;
    r.headers = {{"upgrade", "websocket"}, {"connection", "Upgrade"}};
    for (int i = 0; i < 1000; ++i)
        ASSERT_TRUE(e->checkRequest(*r).allowed);
    const Decision d = e->checkRequest(*r);
    EXPECT_EQ(d.tunnelBytesPerSecond, 500);
    EXPECT_EQ(d.tunnelBurstBytes, 500); // defaults to bytesPerSecond
}

// ---- Authentication --------------------------------------------------------------------------------------------

namespace {

config::Config authnConfig(const QJsonObject &extra)
{
    QJsonObject spec{{"targetRefs", routeTarget}};
    for (auto it = extra.begin(); it != extra.end(); ++it)
        spec.insert(it.key(), it.value());
    return baseConfig({makePolicy("AuthenticationPolicy", "httpbin", "authn", spec)});
}

const QByteArray AliceHash = hashPbkdf2Sha256("wonderland", "saltsaltsalt", 1000);

} // namespace

TEST(AuthenticationPolicy, BasicForHostHeaderClientsChallengesWith401)
{
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                          + R"("}]}})")));
    Request none;
    auto d = e->checkRequest(*none);
    ASSERT_FALSE(d.allowed);
    EXPECT_EQ(d.status, 401);
    EXPECT_EQ(d.reason, "authn_required");
    EXPECT_EQ(headerOf(d, "WWW-Authenticate"), "Basic realm=\"dfproxy\", charset=\"UTF-8\"");

    Request good;
    good.header("Authorization", basic("alice", "wonderland"));
    d = e->checkRequest(*good);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.identity, "alice");
    EXPECT_EQ(d.stripRequestHeaders, QList<QByteArray>{"authorization"});

    Request bad;
    bad.header("Authorization", basic("alice", "nope"));
    d = e->checkRequest(*bad);
    EXPECT_EQ(d.status, 401);
    EXPECT_EQ(d.reason, "authn_failed");

    Request proxyHeaderOnly; // Proxy-Authorization is not for Host-header clients
    proxyHeaderOnly.header("Proxy-Authorization", basic("alice", "wonderland"));
    EXPECT_EQ(e->checkRequest(*proxyHeaderOnly).status, 401);
}

TEST(AuthenticationPolicy, BasicForExplicitProxyClientsChallengesWith407)
{
    const auto e = build(authnConfig(json(R"({"basic":{"realm":"corp","users":[{"name":"alice","passwordHash":")"
                                          + AliceHash + R"("}]}})")));
    Request r;
    r.attrs.explicitProxy = true;
    auto d = e->checkRequest(*r);
    EXPECT_EQ(d.status, 407);
    EXPECT_EQ(headerOf(d, "Proxy-Authenticate"), "Basic realm=\"corp\", charset=\"UTF-8\"");
    r.header("Authorization", basic("alice", "wonderland")); // the origin's header, not ours
    EXPECT_EQ(e->checkRequest(*r).status, 407);
    r.header("Proxy-Authorization", basic("alice", "wonderland"));
    d = e->checkRequest(*r);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.stripRequestHeaders, QList<QByteArray>{"proxy-authorization"});
}

TEST(AuthenticationPolicy, BcryptSuccessIsCached)
{
    if (!platform::cryptAvailable())
        GTEST_SKIP();
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"u","passwordHash":
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"}]}})")));
    Request r;
    r.header("Authorization", basic("u", "U*U"));
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_EQ(e->stats().value("authn").toObject().value("cachedVerifications").toInteger(), 1);
}

namespace {

qint64 authnStat(const ConfigPolicyEngine &e, const char *name)
{
    return e.stats().value("authn").toObject().value(QLatin1String(name)).toInteger();
}

} // namespace

TEST(AuthenticationPolicy, UnknownUsersCostADummyHashVerification)
{
    // Two users of one cost and one of another: the dummy has the common cost.
    const QByteArray cheap = hashPbkdf2Sha256("other", "salt1", 10);
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                          + R"("},{"name":"bob","passwordHash":")"
                                          + hashPbkdf2Sha256("builder", "salt2", 1000) + R"("},
                                          {"name":"carol","passwordHash":")" + cheap + R"("}]}})")));
    Request r;
    r.header("Authorization", basic("mallory", "guess"));
    EXPECT_EQ(e->checkRequest(*r).reason, "authn_failed");
    EXPECT_EQ(authnStat(*e, "dummyVerifications"), 1);
    EXPECT_EQ(authnStat(*e, "hashVerifications"), 0);
    Request known;
    known.header("Authorization", basic("alice", "guess"));
    EXPECT_EQ(e->checkRequest(*known).reason, "authn_failed");
    EXPECT_EQ(authnStat(*e, "dummyVerifications"), 1);
    EXPECT_EQ(authnStat(*e, "hashVerifications"), 1);
    // The dummy's password is never anybody's: an unknown name with a user's password still fails.
    Request borrowed;
    borrowed.header("Authorization", basic("mallory", "wonderland"));
    EXPECT_EQ(e->checkRequest(*borrowed).reason, "authn_failed");
    EXPECT_EQ(authnStat(*e, "dummyVerifications"), 2);
}

TEST(AuthenticationPolicy, CorrectCredentialsAreCachedPerUserForAShortTime)
{
    ManualClock clock;
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                          + R"("}]}})")),
                         &clock);
    Request r;
    r.header("Authorization", basic("alice", "wonderland"));
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_EQ(authnStat(*e, "hashVerifications"), 1);
    clock.advance(61000); // unused for longer than the cache's TTL
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    EXPECT_EQ(authnStat(*e, "hashVerifications"), 2);
}

TEST(AuthenticationPolicy, RepeatedFailuresFromOneClientAre429WithRetryAfter)
{
    ManualClock clock;
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                          + R"("}]}})")),
                         &clock);
    Request wrong;
    wrong.header("Authorization", basic("alice", "guess"));
    for (int i = 0; i < 10; ++i)
        ASSERT_EQ(e->checkRequest(*wrong).reason, "authn_failed") << i;
    const qint64 hashes = authnStat(*e, "hashVerifications");
    Decision d = e->checkRequest(*wrong);
    EXPECT_EQ(d.status, 429);
    EXPECT_EQ(d.reason, "authn_throttled");
    EXPECT_EQ(headerOf(d, "Retry-After"), "60");
    EXPECT_EQ(authnStat(*e, "hashVerifications"), hashes); // refused without hashing
    // From there even the right password waits: the throttle does not tell right guesses from wrong ones.
    Request right;
    right.header("Authorization", basic("alice", "wonderland"));
    EXPECT_EQ(e->checkRequest(*right).status, 429);
    // Another client is not affected.
    right.attrs.clientAddress = QHostAddress("127.0.0.2");
    EXPECT_TRUE(e->checkRequest(*right).allowed);
    EXPECT_EQ(authnStat(*e, "throttled"), 2);
    clock.advance(30000);
    EXPECT_EQ(headerOf(e->checkRequest(*wrong), "Retry-After"), "30");
    clock.advance(30000);
    EXPECT_EQ(e->checkRequest(*wrong).reason, "authn_failed");
    // API keys and tokens count too.
    const QJsonObject key0{{"name", "ci"}, {"sha256", QString(sha256Hex("k"))}};
    const auto keys = build(authnConfig(QJsonObject{{"apiKey", QJsonObject{{"keys", QJsonArray{key0}}}}}));
    Request key;
    key.header("x-api-key", "nope");
    for (int i = 0; i < 10; ++i)
        keys->checkRequest(*key);
    EXPECT_EQ(keys->checkRequest(*key).status, 429);
}

TEST(AuthenticationPolicy, StartCheckRequestHashesOffTheCallingThreadAndAnswersOnItsEventLoop)
{
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                          + R"("}]}})")));
    QObject context;
    Request r;
    r.header("Authorization", basic("alice", "wonderland"));
    std::optional<Decision> verdict;
    RequestCheck check = e->startCheckRequest(*r, &context, [&](Decision d) { verdict = std::move(d); });
    ASSERT_TRUE(check.pending);
    EXPECT_FALSE(verdict); // never called from inside startCheckRequest
    ASSERT_TRUE(dfproxy::test::waitUntil([&] { return verdict.has_value(); }, 10000));
    EXPECT_TRUE(verdict->allowed);
    EXPECT_EQ(verdict->identity, "alice");
    EXPECT_EQ(verdict->stripRequestHeaders, QList<QByteArray>{"authorization"});
    // The same credentials again: the cache answers at once.
    check = e->startCheckRequest(*r, &context, [&](Decision) { ADD_FAILURE() << "called for a cached answer"; });
    EXPECT_FALSE(check.pending);
    EXPECT_TRUE(check.decision.allowed);
    // No credentials and wrong API keys need no hashing either.
    Request none;
    check = e->startCheckRequest(*none, &context, [](Decision) {});
    EXPECT_FALSE(check.pending);
    EXPECT_EQ(check.decision.status, 401);
}

TEST(AuthenticationPolicy, AFullVerificationQueueIs503AuthnBusy)
{
    // One thread, held by the test, and room for one waiting check.
    auto pool = std::make_shared<VerificationPool>(1, 1);
    std::promise<void> release, running;
    std::shared_future<void> gate = release.get_future().share();
    ASSERT_TRUE(pool->submit([gate, &running] {
        running.set_value();
        gate.wait();
    }));
    running.get_future().wait();
    const config::Config c = authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                              + R"("}]}})"));
    expectValid(c);
    Options o;
    o.verificationPool = pool;
    const auto e = buildPolicyEngine(c, o);
    QObject context;
    Request r;
    r.header("Authorization", basic("alice", "wrong"));
    std::optional<Decision> first;
    RequestCheck queued = e->startCheckRequest(*r, &context, [&](Decision d) { first = std::move(d); });
    ASSERT_TRUE(queued.pending);
    RequestCheck busy = e->startCheckRequest(*r, &context, [](Decision) { ADD_FAILURE() << "answered twice"; });
    EXPECT_FALSE(busy.pending);
    EXPECT_EQ(busy.decision.status, 503);
    EXPECT_EQ(busy.decision.reason, "authn_busy");
    EXPECT_EQ(headerOf(busy.decision, "Retry-After"), "1");
    EXPECT_EQ(authnStat(*e, "busy"), 1);
    release.set_value();
    ASSERT_TRUE(dfproxy::test::waitUntil([&] { return first.has_value(); }, 10000));
    EXPECT_EQ(first->reason, "authn_failed");
}

TEST(AuthenticationPolicy, ADroppedPendingCheckIsNeverAnswered)
{
    const auto e = build(authnConfig(json(R"({"basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash
                                          + R"("}]}})")));
    QObject context;
    Request r;
    r.header("Authorization", basic("alice", "wrong"));
    bool called = false;
    RequestCheck check = e->startCheckRequest(*r, &context, [&](Decision) { called = true; });
    ASSERT_TRUE(check.pending);
    check.pending.reset();
    // The failure still counts (the pool finishes the hash), but nobody is called.
    ASSERT_TRUE(dfproxy::test::waitUntil([&] { return authnStat(*e, "hashVerifications") == 1; }, 10000));
    // The pool would have posted by now; events on this thread are processed and the callback stays uncalled.
    dfproxy::test::waitUntil([] { return false; }, 100);
    EXPECT_FALSE(called);
}

TEST(AuthenticationPolicy, HtpasswdFileAndUnreadableFileFailsClosed)
{
    const QString path = QDir::temp().filePath(QStringLiteral("dfproxy-policy-test-%1.htpasswd").arg(QCoreApplication::applicationPid()));
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("bob:" + hashPbkdf2Sha256("builder", "pepper", 100) + "\n");
    f.close();
    auto e = build(authnConfig(QJsonObject{{"basic", QJsonObject{{"htpasswdFile", path}}}}));
    Request r;
    r.header("Authorization", basic("bob", "builder"));
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    QFile::remove(path);
    e = buildPolicyEngine(authnConfig(QJsonObject{{"basic", QJsonObject{{"htpasswdFile", path}}}}), Options{});
    EXPECT_EQ(e->problems().size(), 1);
    EXPECT_EQ(e->checkRequest(*r).status, 401);
}

TEST(AuthenticationPolicy, ApiKeyInAConfigurableHeader)
{
    const auto e = build(authnConfig(QJsonObject{
        {"apiKey", QJsonObject{{"header", "X-Key"},
                               {"keys", QJsonArray{QJsonObject{{"name", "ci"}, {"sha256", QString(sha256Hex("k-123"))}}}}}}}));
    Request r;
    EXPECT_EQ(e->checkRequest(*r).status, 401);
    r.header("x-key", "k-123");
    const auto d = e->checkRequest(*r);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.identity, "ci");
    EXPECT_EQ(d.stripRequestHeaders, QList<QByteArray>{"x-key"});
    Request wrong;
    wrong.header("x-key", "k-124");
    EXPECT_EQ(e->checkRequest(*wrong).reason, "authn_failed");
}

TEST(AuthenticationPolicy, JwtBearerWithInlineJwks)
{
    ManualClock clock;
    TestSigner signer(TestSigner::Alg::ES256);
    const auto e = build(authnConfig(QJsonObject{{"jwt", QJsonObject{{"issuer", "https://idp.test"},
                                                                      {"audiences", QJsonArray{"dfproxy"}},
                                                                      {"jwks", signer.jwks()}}}}),
                         &clock);
    const qint64 now = clock.wallNow().toSecsSinceEpoch();
    Request r;
    r.header("Authorization", "Bearer " + signer.sign(QJsonObject{{"iss", "https://idp.test"}, {"aud", "dfproxy"},
                                                                   {"sub", "svc-a"}, {"exp", now + 60}}));
    auto d = e->checkRequest(*r);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.identity, "svc-a");
    clock.advance(3 * 60 * 1000); // past exp + 60 s skew
    d = e->checkRequest(*r);
    EXPECT_EQ(d.status, 401);
    EXPECT_EQ(headerOf(d, "WWW-Authenticate"), "Bearer realm=\"dfproxy\"");
}

TEST(AuthenticationPolicy, JwtExpIsRequiredByDefaultAndMaxLifetimeComesFromTheSpec)
{
    ManualClock clock;
    TestSigner signer(TestSigner::Alg::HS256);
    const qint64 now = clock.wallNow().toSecsSinceEpoch();
    const auto bearer = [&](const QJsonObject &claims) {
        Request r;
        r.header("Authorization", "Bearer " + signer.sign(claims));
        return r;
    };
    const QJsonObject noExp{{"sub", "svc-a"}};
    const QJsonObject longLived{{"sub", "svc-a"}, {"iat", now}, {"exp", now + 7200}};
    auto e = build(authnConfig(QJsonObject{{"jwt", QJsonObject{{"jwks", signer.jwks()}}}}), &clock);
    EXPECT_EQ(e->checkRequest(*bearer(noExp)).reason, "authn_failed");
    EXPECT_TRUE(e->checkRequest(*bearer(longLived)).allowed);
    e = build(authnConfig(QJsonObject{{"jwt", QJsonObject{{"jwks", signer.jwks()}, {"requireExpiration", false}}}}),
              &clock);
    EXPECT_TRUE(e->checkRequest(*bearer(noExp)).allowed);
    e = build(authnConfig(QJsonObject{{"jwt", QJsonObject{{"jwks", signer.jwks()}, {"maxLifetime", "1h"}}}}), &clock);
    EXPECT_EQ(e->checkRequest(*bearer(longLived)).reason, "authn_failed");
    EXPECT_TRUE(e->checkRequest(*bearer({{"sub", "svc-a"}, {"iat", now}, {"exp", now + 3600}})).allowed);
}

TEST(PolicyValidation, JwtRequireExpirationAndMaxLifetimeAreChecked)
{
    TestSigner signer(TestSigner::Alg::HS256);
    for (const auto &[field, value, path] :
         {std::tuple{"requireExpiration", QJsonValue("no"), "spec.jwt.requireExpiration"},
          std::tuple{"maxLifetime", QJsonValue("forever"), "spec.jwt.maxLifetime"},
          std::tuple{"maxLifetime", QJsonValue("0s"), "spec.jwt.maxLifetime"}}) {
        const auto c = authnConfig(QJsonObject{{"jwt", QJsonObject{{"jwks", signer.jwks()}, {field, value}}}});
        QStringList paths;
        for (const auto &err : config::validateConfig(c))
            paths.append(err.path);
        EXPECT_TRUE(paths.join(" ").contains(QLatin1String(path))) << paths.join(", ").toStdString();
    }
}

TEST(AuthenticationPolicy, OptionalLetsAnonymousThroughButNotBadCredentials)
{
    const auto e = build(authnConfig(json(R"({"optional":true,"basic":{"users":[{"name":"alice","passwordHash":")"
                                          + AliceHash + R"("}]}})")));
    Request anon;
    EXPECT_TRUE(e->checkRequest(*anon).allowed);
    Request bad;
    bad.header("Authorization", basic("alice", "x"));
    EXPECT_FALSE(e->checkRequest(*bad).allowed);
}

// ---- Authorization ---------------------------------------------------------------------------------------------

TEST(AuthorizationPolicy, FirstMatchWinsThenDefault)
{
    const auto e = build(baseConfig({makePolicy("AuthorizationPolicy", "httpbin", "authz", authzSpec(routeTarget, json(R"({"r":[
        {"name":"no-admin","action":"Deny","pathPrefixes":["/admin"]},
        {"name":"example","action":"Allow","hosts":["*.example.com","httpbin.test"],"ports":[80,443]},
        {"name":"lan","action":"Allow","clientCIDRs":["10.0.0.0/8"],"methods":["GET"]}
    ]})").value("r").toArray()))}));
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.path = "/admin/users";
    auto d = e->checkRequest(*r);
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.reason, "authz_denied");
    EXPECT_EQ(d.summary, "deny:authz httpbin/authz rule no-admin");
    r.attrs.path = "/administrator"; // element-wise prefix
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.host = "a.b.example.com";
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.host = "example.com"; // "*.example.com" needs a subdomain
    EXPECT_FALSE(e->checkRequest(*r).allowed);
    r.attrs.host = "api.example.com";
    r.attrs.port = 8443;
    EXPECT_FALSE(e->checkRequest(*r).allowed);
    r.attrs.clientAddress = QHostAddress("10.1.2.3");
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.clientAddress = QHostAddress("::ffff:10.1.2.3");
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.method = "POST";
    d = e->checkRequest(*r);
    EXPECT_EQ(d.summary, "deny:authz httpbin/authz default action");
}

TEST(AuthorizationPolicy, RulesOnAuthenticatedIdentity)
{
    const auto e = build(baseConfig(
        {makePolicy("AuthenticationPolicy", "httpbin", "authn",
                json(R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],"optional":true,
                         "basic":{"users":[{"name":"alice","passwordHash":")" + AliceHash + R"("}]}})")),
         makePolicy("AuthorizationPolicy", "httpbin", "authz",
                authzSpec(routeTarget, json(R"({"r":[{"action":"Allow","identities":["alice"],"hosts":["secret.test"]},
                                                    {"action":"Allow","identities":["*"],"methods":["POST"]},
                                                    {"action":"Deny","hosts":["secret.test"]}]})")
                                           .value("r")
                                           .toArray(),
                          "Allow"))}));
    Request anon;
    anon.attrs.host = "secret.test";
    EXPECT_EQ(e->checkRequest(*anon).status, 403);
    anon.attrs.method = "POST";
    EXPECT_EQ(e->checkRequest(*anon).status, 403); // "*" means any authenticated client
    Request alice;
    alice.attrs.host = "secret.test";
    alice.header("Authorization", basic("alice", "wonderland"));
    const auto d = e->checkRequest(*alice);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.identity, "alice");
}

// ---- SSRF guard and loops --------------------------------------------------------------------------------------

namespace {

QList<QHostAddress> addrs(std::initializer_list<const char *> list)
{
    QList<QHostAddress> out;
    for (const char *a : list)
        out.append(QHostAddress(QString::fromLatin1(a)));
    return out;
}

} // namespace

TEST(SsrfGuard, DefaultsDenyLinkLocalAndMetadataButAllowLoopback)
{
    const auto e = build(baseConfig());
    Request r;
    auto d = e->checkResolved(*r, addrs({"169.254.169.254"}));
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.reason, "ssrf_denied");
    EXPECT_FALSE(e->checkResolved(*r, addrs({"fe80::1"})).allowed);
    EXPECT_FALSE(e->checkResolved(*r, addrs({"fd00:ec2::254"})).allowed);
    EXPECT_FALSE(e->checkResolved(*r, addrs({"::ffff:169.254.169.254"})).allowed);
    EXPECT_FALSE(e->checkResolved(*r, addrs({"0.0.0.0"})).allowed);
    d = e->checkResolved(*r, addrs({"127.0.0.1", "10.1.2.3", "::1", "192.168.1.1"}));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.allowedAddresses.size(), 4);
}

TEST(SsrfGuard, DropsOnlyTheDeniedAddressesOfAName)
{
    const auto e = build(baseConfig());
    Request r;
    const auto d = e->checkResolved(*r, addrs({"169.254.1.1", "127.0.0.1"}));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.allowedAddresses, addrs({"127.0.0.1"}));
}

TEST(SsrfGuard, KeepsTheOrderOfTheAddressesAroundDroppedOnes)
{
    const auto e = build(baseConfig());
    Request r;
    // Dropped ones first, in the middle and last: the kept ones stay in the order DNS gave them.
    auto d = e->checkResolved(*r, addrs({"10.0.0.1", "169.254.1.1", "10.0.0.2", "fe80::1", "10.0.0.3", "0.0.0.0"}));
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.allowedAddresses, addrs({"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
    d = e->checkResolved(*r, addrs({"10.0.0.1", "10.0.0.2"}));
    EXPECT_EQ(d.allowedAddresses, addrs({"10.0.0.1", "10.0.0.2"}));
    EXPECT_EQ(d.summary, "allow");
    EXPECT_TRUE(e->checkResolved(*r, {}).allowedAddresses.isEmpty());
}

TEST(SsrfGuard, DeniesTheProxysOwnListenersAndAdmin)
{
    Options o;
    o.proxyListenAddresses.append({QHostAddress(QHostAddress::AnyIPv4), 9999});
    const auto e = buildPolicyEngine(baseConfig(), o);
    Request r;
    r.attrs.port = 15000; // admin
    EXPECT_EQ(e->checkResolved(*r, addrs({"127.0.0.1"})).reason, "ssrf_denied");
    EXPECT_TRUE(e->checkResolved(*r, addrs({"127.0.0.2"})).allowed);
    r.attrs.port = 8080; // the Gateway listener
    EXPECT_FALSE(e->checkResolved(*r, addrs({"127.0.0.1"})).allowed);
    r.attrs.port = 9999; // a wildcard listener: any local address
    EXPECT_FALSE(e->checkResolved(*r, addrs({"127.0.0.5"})).allowed);
    r.attrs.port = 8081;
    EXPECT_TRUE(e->checkResolved(*r, addrs({"127.0.0.1"})).allowed);
}

TEST(SsrfGuard, DeniesTheConfiguredAdminEndpointWhateverItsSpelling)
{
    // admin.address "localhost" is 127.0.0.1 for the admin server; denySelf must read it the same way.
    config::Config c = baseConfig();
    c.admin = QJsonObject{{"address", "localhost"}, {"port", 15555}};
    const auto e = buildPolicyEngine(c, Options{});
    Request r;
    r.attrs.port = 15555;
    EXPECT_EQ(e->checkResolved(*r, addrs({"127.0.0.1"})).reason, "ssrf_denied");
    EXPECT_FALSE(e->checkResolved(*r, addrs({"::127.0.0.1"})).allowed);
}

TEST(SsrfGuard, TakesTheSettingsTheStoreParsedWithTheVersion)
{
    // A config from the store carries proxy.ssrf parsed (ConfigStore keeps it in Config::parsed): the engine takes
    // that and does not read the JSON a second time.
    config::Config c = baseConfig({}, json(R"({"ssrf":{"preset":"strict"}})"));
    config::SsrfSettings parsed;
    parsed.deniedCIDRs = {"203.0.113.0/24"};
    c.parsed.set(parsed);
    const auto e = build(c);
    Request r;
    EXPECT_FALSE(e->checkResolved(*r, addrs({"203.0.113.7"})).allowed);
    EXPECT_TRUE(e->checkResolved(*r, addrs({"10.1.2.3"})).allowed); // strict would deny it
}

TEST(SsrfGuard, StrictPresetAndCustomLists)
{
    const auto e = build(baseConfig({}, json(R"({"ssrf":{"preset":"strict","deniedCIDRs":["203.0.113.0/24"],
                                                        "allowedCIDRs":["10.9.0.0/16"]}})")));
    Request r;
    for (const char *a : {"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "fc00::1", "fd12::1",
                          "203.0.113.7", "169.254.169.254"})
        EXPECT_FALSE(e->checkResolved(*r, addrs({a})).allowed) << a;
    for (const char *a : {"10.9.1.1", "93.184.216.34", "2606:2800:220:1::1"})
        EXPECT_TRUE(e->checkResolved(*r, addrs({a})).allowed) << a;
    EXPECT_EQ(e->stats().value("ssrf").toObject().value("denied").toInteger(), 9);
}

// The same rules for the addresses of an upstream proxy a PAC answer named (forward::allowedProxyAddresses): the
// preset, the lists and denySelf at the proxy's port, in order; not a request's decision, so not counted as one.
TEST(SsrfGuard, ProxyAddressesMeetTheSameRulesWithoutCountingAsRequests)
{
    const auto e = build(baseConfig({}, json(R"({"ssrf":{"preset":"strict","allowedCIDRs":["10.9.0.0/16"]}})")));
    EXPECT_EQ(e->ssrfAllowedProxyAddresses(addrs({"10.1.2.3", "93.184.216.34", "169.254.169.254", "10.9.1.1"}), 3128),
              addrs({"93.184.216.34", "10.9.1.1"}));
    EXPECT_EQ(e->stats().value("ssrf").toObject().value("checked").toInteger(), 0);
    EXPECT_EQ(e->stats().value("ssrf").toObject().value("denied").toInteger(), 0);
    const auto off = build(baseConfig({}, json(R"({"ssrf":{"preset":"off"}})")));
    EXPECT_EQ(off->ssrfAllowedProxyAddresses(addrs({"127.0.0.1", "10.1.2.3"}), 3128), addrs({"127.0.0.1", "10.1.2.3"}));
    EXPECT_TRUE(off->ssrfAllowedProxyAddresses(addrs({"127.0.0.1"}), 15000).isEmpty()) << "the admin API (denySelf)";
}

TEST(SsrfGuard, OffPresetKeepsSelfProtectionUnlessDisabled)
{
    auto e = build(baseConfig({}, json(R"({"ssrf":{"preset":"off"}})")));
    Request r;
    EXPECT_TRUE(e->checkResolved(*r, addrs({"169.254.169.254"})).allowed);
    r.attrs.port = 15000;
    EXPECT_FALSE(e->checkResolved(*r, addrs({"127.0.0.1"})).allowed);
    e = build(baseConfig({}, json(R"({"ssrf":{"preset":"off","denySelf":false}})")));
    EXPECT_TRUE(e->checkResolved(*r, addrs({"127.0.0.1"})).allowed);
}

TEST(SsrfGuard, DefaultPresetDeniesTheMetadataAddressInEveryIPv6Embedding)
{
    const auto e = build(baseConfig());
    Request r;
    for (const char *a : {"::ffff:a9fe:a9fe", "::ffff:0:a9fe:a9fe", "::a9fe:a9fe", "64:ff9b::a9fe:a9fe",
                          "64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1::a9fe:a9fe", "2002:a9fe:a9fe::1",
                          "2001:0:a9fe:a9fe::1", "2001:0:102:304::5601:5601", "2001:db8::5efe:a9fe:a9fe",
                          "64:ff9b::", "2002::1"}) // the last two carry 0.0.0.0
        EXPECT_FALSE(e->checkResolved(*r, addrs({a})).allowed) << a;
    // The same forms around an allowed IPv4 address pass.
    for (const char *a : {"64:ff9b::5db8:d822", "2002:5db8:d822::1", "::5db8:d822", "2001:0:5db8:d822::a247:2ddd"})
        EXPECT_TRUE(e->checkResolved(*r, addrs({a})).allowed) << a;
}

TEST(SsrfGuard, StrictPresetAppliesItsIPv4RulesToEmbeddedAddresses)
{
    const auto e = build(baseConfig({}, json(R"({"ssrf":{"preset":"strict","allowedCIDRs":["10.9.0.0/16",
                                                        "64:ff9b::/96"]}})")));
    Request r;
    for (const char *a : {"::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a01:203", "2002:c0a8:101::1",
                          "2001:0:4136:e378:8000:63bf:f5ff:fefe"}) // Teredo client 10.0.1.1
        EXPECT_FALSE(e->checkResolved(*r, addrs({a})).allowed) << a;
    // An exception for the IPv4 range covers its embeddings; one for the IPv6 prefix does not lift the IPv4 rules.
    EXPECT_TRUE(e->checkResolved(*r, addrs({"64:ff9b::a09:101"})).allowed);
    EXPECT_TRUE(e->checkResolved(*r, addrs({"64:ff9b::5db8:d822"})).allowed);
}

TEST(SsrfGuard, DenySelfSeesThroughEmbeddings)
{
    const auto e = build(baseConfig());
    Request r;
    r.attrs.port = 15000; // admin on 127.0.0.1
    EXPECT_FALSE(e->checkResolved(*r, addrs({"::127.0.0.1"})).allowed);
    EXPECT_FALSE(e->checkResolved(*r, addrs({"64:ff9b::7f00:1"})).allowed);
}

TEST(LoopDetection, RefusesRequestsThatAlreadyPassedADfproxy)
{
    const auto e = build(baseConfig());
    Request r;
    r.header("Via", "1.0 fred, 1.1 dfproxy");
    const auto d = e->checkRequest(*r);
    EXPECT_EQ(d.status, 508);
    EXPECT_EQ(d.reason, "loop_detected");
    Request other;
    other.header("Via", "1.1 squid");
    EXPECT_TRUE(e->checkRequest(*other).allowed);
    const auto off = build(baseConfig({}, json(R"({"ssrf":{"loopDetection":false}})")));
    EXPECT_TRUE(off->checkRequest(*r).allowed);
}

// ---- Validation of the kinds -----------------------------------------------------------------------------------

TEST(PolicyValidation, ReportsFieldPaths)
{
    auto errs = [](const char *kind, const QByteArray &spec) {
        QStringList out;
        for (const auto &e : config::validateResource(makePolicy(kind, "ns", "p", json(spec))))
            out.append(e.path);
        return out.join(", ").toStdString();
    };
    EXPECT_EQ(errs("RateLimitPolicy", R"({"targetRefs":[{"kind":"Service","name":"x"}],
        "limits":[{"tokens":0,"fillInterval":"1 s","key":"header"}]})"),
              "spec.targetRefs[0].kind, spec.limits[0].header, spec.limits[0].tokens, spec.limits[0].fillInterval");
    EXPECT_EQ(errs("RateLimitPolicy", R"({"targetRefs":[{"kind":"Gateway","name":"g"}],
        "limits":[{"key":"global"},{"bytesPerSecond":0,"burstBytes":1.5},{"bytesPerSecond":10,"fillInterval":"1s"},
                  {"tokens":1,"fillInterval":"1s","burstBytes":10}]})"),
              "spec.limits[0], spec.limits[1].bytesPerSecond, spec.limits[1].burstBytes, spec.limits[2].fillInterval, "
              "spec.limits[3].burstBytes");
    EXPECT_EQ(errs("AuthenticationPolicy", R"({"targetRefs":[{"kind":"HTTPRoute","name":"r","sectionName":"a"}],
        "basic":{"users":[{"name":"a","passwordHash":"plain"}]},"apiKey":{"keys":[{"name":"k","sha256":"xyz"}]}})"),
              "spec.targetRefs[0].sectionName, spec.basic.users[0].passwordHash, spec.apiKey.keys[0].sha256");
    EXPECT_EQ(errs("AuthenticationPolicy", R"({"targetRefs":[{"kind":"Gateway","name":"g"}]})"), "spec");
    EXPECT_EQ(errs("AuthorizationPolicy", R"({"targetRefs":[{"kind":"Gateway","name":"g","group":"x"}],
        "defaultAction":"allow","rules":[{"action":"Allow","hosts":["*.*.x"],"clientCIDRs":["10.0.0.0/33"],
        "pathPrefixes":["a"],"bogus":1}]})"),
              "spec.targetRefs[0].group, spec.defaultAction, spec.rules[0].bogus, spec.rules[0].hosts[0], "
              "spec.rules[0].pathPrefixes[0], spec.rules[0].clientCIDRs[0]");
    config::Config c = baseConfig({}, json(R"({"ssrf":{"preset":"paranoid","deniedCIDRs":["nope"]}})"));
    QStringList paths;
    for (const auto &e : config::validateConfig(c))
        paths.append(e.path);
    EXPECT_EQ(paths.join(", ").toStdString(), "proxy.ssrf.preset, proxy.ssrf.deniedCIDRs[0]");
}

TEST(PolicyValidation, KindsAreKnownWithRestPlurals)
{
    for (const char *k : {"ratelimitpolicies", "authenticationpolicies", "authorizationpolicies", "authz", "rlp"})
        EXPECT_TRUE(config::findKind(QString::fromLatin1(k)).has_value()) << k;
    EXPECT_EQ(config::findKind("authn")->group, "dfproxy.dev");
}
