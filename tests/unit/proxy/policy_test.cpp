// SPDX-License-Identifier: Apache-2.0
// The proxy's side of the policy contract (policy/policy.h), with a scripted PolicyEngine.
#include "proxytestsupport.h"

#include "policy/policy.h"
#include "proxy/accesslog.h"
#include "proxy/proxyserver.h"

#include <QMutex>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::testing;

namespace {

/// Records what it was asked and answers with the configured decisions. Thread-safe (workers call it).
class FakePolicyEngine final : public policy::PolicyEngine
{
public:
    policy::Decision requestDecision;
    std::function<policy::Decision(const QList<QHostAddress> &)> resolvedDecision;

    struct Seen
    {
        QByteArray method, path;
        QString host, routeName, backendName, listenerName;
        quint16 port = 0;
        bool explicitProxy = false;
        QByteArray authorization;
        QList<QHostAddress> addresses;
        bool resolved = false;
    };
    mutable QMutex mutex;
    mutable QList<Seen> seen;

    policy::Decision checkRequest(const policy::RequestAttributes &r) const override
    {
        record(r, nullptr);
        return requestDecision;
    }

    /// With deferNext > 0, that many checks answer later: release() hands them requestDecision, as a password
    /// hash on the verification pool would.
    mutable int deferNext = 0;
    struct Deferred
    {
        QObject *context = nullptr; ///< null once the connection dropped the handle
        std::function<void(policy::Decision)> done;
    };
    mutable QList<std::shared_ptr<Deferred>> deferred;
    mutable int cancelled = 0;

    class Handle final : public policy::PendingDecision
    {
    public:
        Handle(const FakePolicyEngine *engine, std::shared_ptr<Deferred> d) : m_engine(engine), m_d(std::move(d)) {}
        ~Handle() override
        {
            QMutexLocker lock(&m_engine->mutex);
            if (m_d->context)
                ++m_engine->cancelled;
            m_d->context = nullptr;
        }

    private:
        const FakePolicyEngine *m_engine;
        std::shared_ptr<Deferred> m_d;
    };

    policy::RequestCheck startCheckRequest(const policy::RequestAttributes &r, QObject *context,
                                           std::function<void(policy::Decision)> done) const override
    {
        record(r, nullptr);
        QMutexLocker lock(&mutex);
        if (deferNext <= 0)
            return policy::RequestCheck{requestDecision, nullptr};
        --deferNext;
        auto d = std::make_shared<Deferred>(Deferred{context, std::move(done)});
        deferred.append(d);
        return policy::RequestCheck{policy::Decision(), std::make_unique<Handle>(this, d)};
    }
    /// Answers every deferred check still wanted, on its connection's thread. Returns how many were.
    int release()
    {
        QMutexLocker lock(&mutex);
        int n = 0;
        for (const auto &d : std::as_const(deferred)) {
            if (!d->context)
                continue;
            ++n;
            QMetaObject::invokeMethod(
                d->context,
                [this, d, decision = requestDecision] {
                    {
                        QMutexLocker inner(&mutex);
                        if (!d->context)
                            return;
                        d->context = nullptr; // answered: the handle's destruction is no cancellation
                    }
                    d->done(decision);
                },
                Qt::QueuedConnection);
        }
        deferred.clear();
        return n;
    }
    policy::Decision checkResolved(const policy::RequestAttributes &r,
                                   const QList<QHostAddress> &addresses) const override
    {
        record(r, &addresses);
        if (resolvedDecision)
            return resolvedDecision(addresses);
        policy::Decision d;
        d.allowedAddresses = addresses;
        return d;
    }

private:
    void record(const policy::RequestAttributes &r, const QList<QHostAddress> *addresses) const
    {
        Seen s; // views over the proxy's request: a policy that keeps them copies them
        s.method = r.method.toByteArray();
        s.path = r.path.toByteArray();
        s.host = QString::fromLatin1(r.host);
        s.port = r.port;
        s.routeName = r.routeName.toString();
        s.backendName = r.backendName.toString();
        s.listenerName = r.listenerName.toString();
        s.explicitProxy = r.explicitProxy;
        if (r.headers) {
            if (const QByteArray *a = http::findHeader(*r.headers, "authorization"))
                s.authorization = *a;
        }
        if (addresses) {
            s.addresses = *addresses;
            s.resolved = true;
        }
        QMutexLocker lock(&mutex);
        seen.append(s);
    }
};

class CollectingSink final : public proxy::AccessLogSink
{
public:
    void write(telemetry::AccessLogEntry &&r) override
    {
        QMutexLocker lock(&mutex);
        records.append(std::move(r));
    }
    QMutex mutex;
    QList<telemetry::AccessLogEntry> records;
};

class ProxyPolicy : public ::testing::Test
{
protected:
    void SetUp() override
    {
        cache.hosts.insert(QStringLiteral("httpbin.test"), {QHostAddress(QHostAddress::LocalHost)});
        cache.hosts.insert(QStringLiteral("two.test"),
                           {QHostAddress(QStringLiteral("127.0.0.2")), QHostAddress(QHostAddress::LocalHost)});
        router = std::make_shared<FakeRouter>();
        policy = std::make_shared<FakePolicyEngine>();
        proxy::ProxyOptions o;
        o.workerThreads = 1;
        server = std::make_unique<proxy::ProxyServer>(o);
        server->setHostCache(&cache);
        server->setRouter(router);
        server->setPolicyEngine(policy);
        server->setAccessLogSink(&sink);
    }
    void start()
    {
        QString error;
        ASSERT_TRUE(server->start(&error)) << error.toStdString();
        port = server->portOf(QStringLiteral("http"));
    }
    void TearDown() override { server->stop(); }
    QByteArray hostHeader(const char *name = "httpbin.test") const
    {
        return name + QByteArray(":") + QByteArray::number(origin.port());
    }
    telemetry::AccessLogEntry lastRecord()
    {
        waitFor([&] {
            QMutexLocker lock(&sink.mutex);
            return !sink.records.isEmpty();
        });
        QMutexLocker lock(&sink.mutex);
        return sink.records.isEmpty() ? telemetry::AccessLogEntry() : sink.records.last();
    }

    TestOrigin origin;
    FakeHostCache cache;
    std::shared_ptr<FakeRouter> router;
    std::shared_ptr<FakePolicyEngine> policy;
    CollectingSink sink;
    std::unique_ptr<proxy::ProxyServer> server;
    quint16 port = 0;
};

TEST_F(ProxyPolicy, DenialAnswersWithTheDecisionAndNeverResolves)
{
    policy->requestDecision.allowed = false;
    policy->requestDecision.status = 429;
    policy->requestDecision.reason = "ratelimited";
    policy->requestDecision.body = "slow down\n";
    policy->requestDecision.responseHeaders = {{"Retry-After", "7"}, {"Bad Name", "x"}, {"X-Evil", "a\r\nb"}};
    policy->requestDecision.summary = "deny:ratelimit";
    policy->requestDecision.identity = QStringLiteral("alice");
    start();
    TestClient c(port);
    const ClientResponse r = c.request("GET /a/b?q=1 HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("x-dfproxy-error"), "ratelimited");
    EXPECT_EQ(r.header("retry-after"), "7");
    EXPECT_FALSE(r.has("x-evil")); // a header that would split the response is dropped
    EXPECT_EQ(r.body, "slow down\n");
    EXPECT_EQ(cache.lookups, 0);
    EXPECT_TRUE(origin.requests.isEmpty());
    {
        QMutexLocker lock(&policy->mutex);
        ASSERT_EQ(policy->seen.size(), 1);
        const auto &s = policy->seen[0];
        EXPECT_EQ(s.method, "GET");
        EXPECT_EQ(s.path, "/a/b");
        EXPECT_EQ(s.host, QStringLiteral("httpbin.test"));
        EXPECT_EQ(s.port, origin.port());
        EXPECT_EQ(s.routeName, QStringLiteral("dfp-httproute"));
        EXPECT_EQ(s.backendName, QStringLiteral("dfp-backend"));
        EXPECT_EQ(s.listenerName, QStringLiteral("http"));
        EXPECT_FALSE(s.explicitProxy);
    }
    const telemetry::AccessLogEntry rec = lastRecord();
    EXPECT_EQ(rec.status, 429);
    EXPECT_EQ(rec.reason, "ratelimited");
    EXPECT_EQ(rec.identity, QStringLiteral("alice"));
    EXPECT_EQ(rec.decision, "deny:ratelimit");
}

TEST_F(ProxyPolicy, AllowedRequestLosesTheCredentialHeadersAndLogsIdentity)
{
    policy->requestDecision.identity = QStringLiteral("bob");
    policy->requestDecision.summary = "allow";
    policy->requestDecision.stripRequestHeaders = {"Authorization", "x-api-key"};
    start();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: " + hostHeader()
                                       + "\r\nAuthorization: Bearer t\r\nX-Api-Key: k\r\nX-Other: 1\r\n\r\n");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_FALSE(origin.requests[0].has("authorization"));
    EXPECT_FALSE(origin.requests[0].has("x-api-key"));
    EXPECT_EQ(origin.requests[0].header("x-other"), "1");
    {
        QMutexLocker lock(&policy->mutex);
        ASSERT_EQ(policy->seen.size(), 2); // checkRequest, then checkResolved
        EXPECT_EQ(policy->seen[0].authorization, "Bearer t"); // the policy sees the credentials
        EXPECT_TRUE(policy->seen[1].resolved);
        EXPECT_EQ(policy->seen[1].addresses, QList<QHostAddress>{QHostAddress(QHostAddress::LocalHost)});
    }
    const telemetry::AccessLogEntry rec = lastRecord();
    EXPECT_EQ(rec.identity, QStringLiteral("bob"));
    EXPECT_EQ(rec.decision, "allow");
}

TEST_F(ProxyPolicy, ResolvedDenialBlocksTheConnection)
{
    policy->resolvedDecision = [](const QList<QHostAddress> &) {
        policy::Decision d;
        d.allowed = false;
        d.status = 403;
        d.reason = "destination_private_address";
        d.summary = "deny:ssrf";
        return d;
    };
    start();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.header("x-dfproxy-error"), "destination_private_address");
    EXPECT_EQ(origin.connections(), 0);
    EXPECT_EQ(lastRecord().decision, "deny:ssrf");
}

TEST_F(ProxyPolicy, AllowedWithNoAddressesLeftIsADenial)
{
    policy->resolvedDecision = [](const QList<QHostAddress> &) { return policy::Decision(); };
    start();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.header("x-dfproxy-error"), "destination_not_allowed");
    EXPECT_EQ(origin.connections(), 0);
}

TEST_F(ProxyPolicy, OnlyTheAllowedAddressesAreDialled)
{
    // two.test resolves to 127.0.0.2 then 127.0.0.1; the policy keeps only 127.0.0.1. The origin listens on
    // 127.0.0.1 only, so dialling 127.0.0.2 first would show up as a connect failure.
    policy->resolvedDecision = [](const QList<QHostAddress> &addrs) {
        policy::Decision d;
        for (const QHostAddress &a : addrs) {
            if (a == QHostAddress(QHostAddress::LocalHost))
                d.allowedAddresses.append(a);
        }
        return d;
    };
    start();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: " + hostHeader("two.test") + "\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    QMutexLocker lock(&cache.mutex);
    EXPECT_TRUE(cache.failedAddresses.isEmpty());
}

TEST_F(ProxyPolicy, ConnectIsCheckedAsExplicitProxy)
{
    policy->requestDecision.allowed = false;
    policy->requestDecision.status = 407;
    policy->requestDecision.reason = "proxy_auth_required";
    policy->requestDecision.responseHeaders = {{"Proxy-Authenticate", "Basic realm=\"dfproxy\""}};
    router->listenerList[0].connectPorts = {origin.port()};
    start();
    TestClient c(port);
    const ClientResponse r = c.request("CONNECT " + hostHeader() + " HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
    EXPECT_EQ(r.status, 407);
    EXPECT_EQ(r.header("proxy-authenticate"), "Basic realm=\"dfproxy\"");
    EXPECT_EQ(origin.connections(), 0);
    QMutexLocker lock(&policy->mutex);
    ASSERT_EQ(policy->seen.size(), 1);
    EXPECT_EQ(policy->seen[0].method, "CONNECT");
    EXPECT_EQ(policy->seen[0].path, "");
    EXPECT_TRUE(policy->seen[0].explicitProxy);
}

TEST_F(ProxyPolicy, ConnectResolvedDenialBlocksTheTunnel)
{
    policy->resolvedDecision = [](const QList<QHostAddress> &) {
        policy::Decision d;
        d.allowed = false;
        d.status = 403;
        d.reason = "destination_loopback";
        return d;
    };
    router->listenerList[0].connectPorts = {origin.port()};
    start();
    TestClient c(port);
    const ClientResponse r = c.request("CONNECT " + hostHeader() + " HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.header("x-dfproxy-error"), "destination_loopback");
    EXPECT_EQ(origin.connections(), 0);
}

TEST_F(ProxyPolicy, AbsoluteFormIsExplicitProxy)
{
    start();
    TestClient c(port);
    const ClientResponse r = c.request("GET http://" + hostHeader() + "/x HTTP/1.1\r\nHost: " + hostHeader()
                                       + "\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    QMutexLocker lock(&policy->mutex);
    ASSERT_FALSE(policy->seen.isEmpty());
    EXPECT_TRUE(policy->seen[0].explicitProxy);
    EXPECT_EQ(policy->seen[0].path, "/x");
}

TEST_F(ProxyPolicy, ALaterVerdictHoldsTheRequestThenItAndThePipelinedOneContinue)
{
    policy->deferNext = 1;
    policy->requestDecision.identity = QStringLiteral("carol");
    policy->requestDecision.summary = "allow";
    policy->requestDecision.stripRequestHeaders = {"Authorization"};
    start();
    TestClient c(port);
    const QByteArray get = "GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\nAuthorization: Basic eDp5\r\n\r\n";
    c.sendRaw(get + get); // pipelined: the second waits behind the first
    ASSERT_TRUE(waitFor([&] {
        QMutexLocker lock(&policy->mutex);
        return policy->deferred.size() == 1;
    }));
    // Nothing happens to the request until the verdict is there; the worker meanwhile serves others.
    TestClient other(port);
    EXPECT_EQ(other.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n").status, 200);
    EXPECT_EQ(origin.requests.size(), 1);
    EXPECT_EQ(cache.lookups, 1);
    ASSERT_EQ(policy->release(), 1);
    const ClientResponse first = c.read();
    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(c.read().status, 200);
    ASSERT_EQ(origin.requests.size(), 3);
    EXPECT_FALSE(origin.requests[1].has("authorization"));
    EXPECT_EQ(policy->cancelled, 0);
}

TEST_F(ProxyPolicy, ALaterDenialIsAnsweredLikeAnImmediateOne)
{
    policy->deferNext = 1;
    policy->requestDecision.allowed = false;
    policy->requestDecision.status = 429;
    policy->requestDecision.reason = "authn_throttled";
    policy->requestDecision.responseHeaders = {{"Retry-After", "42"}};
    start();
    TestClient c(port);
    c.sendRaw("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
    ASSERT_TRUE(waitFor([&] {
        QMutexLocker lock(&policy->mutex);
        return policy->deferred.size() == 1;
    }));
    ASSERT_EQ(policy->release(), 1);
    const ClientResponse r = c.read();
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("x-dfproxy-error"), "authn_throttled");
    EXPECT_EQ(r.header("retry-after"), "42");
    EXPECT_EQ(cache.lookups, 0);
    // The connection goes on with the next request.
    EXPECT_EQ(c.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n").status, 429);
}

TEST_F(ProxyPolicy, AClientLeavingWhileTheVerdictIsPendingCancelsIt)
{
    policy->deferNext = 1;
    start();
    {
        TestClient c(port);
        c.sendRaw("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n");
        ASSERT_TRUE(waitFor([&] {
            QMutexLocker lock(&policy->mutex);
            return policy->deferred.size() == 1;
        }));
    } // the client closes its connection
    ASSERT_TRUE(waitFor([&] {
        QMutexLocker lock(&policy->mutex);
        return policy->cancelled == 1;
    }));
    EXPECT_EQ(policy->release(), 0); // nobody left to answer
    EXPECT_EQ(lastRecord().reason, "client_closed");
    EXPECT_EQ(cache.lookups, 0);
    EXPECT_TRUE(origin.requests.isEmpty());
    TestClient c(port);
    EXPECT_EQ(c.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n").status, 200);
}

TEST_F(ProxyPolicy, SwappingToNullAllowsEverything)
{
    policy->requestDecision.allowed = false;
    policy->requestDecision.status = 403;
    start();
    {
        TestClient c(port);
        EXPECT_EQ(c.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n").status, 403);
    }
    server->setPolicyEngine(nullptr);
    TestClient c(port);
    EXPECT_EQ(c.request("GET / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n").status, 200);
}

} // namespace
