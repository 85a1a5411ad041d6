// SPDX-License-Identifier: Apache-2.0
// The transaction on its own: the stages run in order against a fake connection (TransactionHost), each can end
// the request with one local reply, and a waiting stage resumes from its callback or is cancelled with it.

#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"
#include "proxy/stages/stages.h"
#include "net/stream.h"
#include "proxy/transaction.h"

#include "proxytestsupport.h"

#include <QTcpSocket>

#include <gtest/gtest.h>

#include <iterator>

using namespace dfproxy;
using namespace dfproxy::proxy;
using dfproxy::testing::FakeHostCache;
using dfproxy::testing::FakeRouter;
using dfproxy::testing::waitFor;

namespace {

/// Records what the transaction asks of its connection.
class FakeHost final : public TransactionHost, public forward::ResponseSink
{
public:
    QList<LocalReply> replies;
    QList<qint64> timeouts;
    int exchanges = 0;
    int reads = 0;
    QList<forward::ForwardError> errors;
    QObject context;
    std::unique_ptr<ConnectionApplication> application; ///< what clientApplication() answers

    void sendLocalReply(const LocalReply &reply) override { replies.append(reply); }
    void armRequestTimeout(qint64 ms) override { timeouts.append(ms); }
    forward::ResponseSink *responseSink() override { return this; }
    void exchangeStarted() override { ++exchanges; }
    void tunnelConnected(net::Stream *upstream) override { delete upstream; }
    void readMore() override { ++reads; }
    QObject *callbackContext() override { return &context; }
    ConnectionApplication *clientApplication() override { return application.get(); }

    void onUpstreamConnected(const QHostAddress &, bool) override {}
    void onResponseHead(const http::MessageHead &) override {}
    void onResponseBody(const char *, qsizetype) override {}
    void onResponseComplete() override {}
    void onUpgraded(net::Stream *upstream, const QByteArray &) override { delete upstream; }
    void onRequestBodyDrained() override {}
    void onError(forward::ForwardError error, const QString &) override { errors.append(error); }
};

class TransactionTest : public ::testing::Test
{
protected:
    TransactionTest()
    {
        ctx.router.store(router);
        ctx.hostCache.store(&cache);
        listener = router->listenerList.first();
        ctx.applications.setLookup(std::make_unique<dfproxy::testing::GatedProcessLookup>(gate));
    }
    ~TransactionTest() override { gate->open(); } // before ctx waits for its lookup thread

    /// The connection's lookup, as a connection starts it when accepted.
    void startApplicationLookup()
    {
        host.application =
            ctx.applications.start(QHostAddress::LocalHost, 40000, QHostAddress::LocalHost, 8080, &host.context);
    }

    /// Parses `request` and runs the transaction's stages on it.
    void run(const QByteArray &request)
    {
        http::HttpParser::Stop stop;
        parser.feed(request.constData(), request.size(), &stop);
        ASSERT_EQ(stop, http::HttpParser::Stop::Head) << request.constData();
        tx.begin(&parser.head(), QHostAddress::LocalHost, 40000);
        tx.start();
    }

    std::shared_ptr<dfproxy::testing::GatedLookupState> gate = std::make_shared<dfproxy::testing::GatedLookupState>();
    ProxyContext ctx;
    std::shared_ptr<FakeRouter> router = std::make_shared<FakeRouter>();
    FakeHostCache cache;
    ProxyWorker worker{&ctx};
    FakeHost host;
    routing::Listener listener;
    http::HttpParser parser{http::HttpParser::Kind::Request};
    Transaction tx{&ctx, &worker, &host, &listener, false};
};

} // namespace

TEST(Stages, RunInTheDocumentedOrder)
{
    QStringList names;
    for (const Stage &s : stages::kStages)
        names.append(QString::fromLatin1(s.name));
    EXPECT_EQ(names.join(QLatin1Char(' ')),
              QStringLiteral("application canonical self connect_port route policy redirect upstream_request "
                             "upstream_proxy resolve destination connect forward"));
}

TEST_F(TransactionTest, EveryStageBeforeForwardRunsAndTheExchangeStarts)
{
    run("GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    EXPECT_TRUE(host.replies.isEmpty());
    EXPECT_EQ(host.exchanges, 1);
    EXPECT_STREQ(tx.currentStage(), "forward");
    ASSERT_TRUE(tx.exchange);
    EXPECT_EQ(tx.rec.host, QByteArray("127.0.0.1"));
    EXPECT_EQ(tx.rec.port, 8080);
    EXPECT_TRUE(tx.rec.dnsCacheHit);
    tx.cancel();
}

TEST_F(TransactionTest, AStageReplyEndsTheRequestThere)
{
    router->hosts = {QStringLiteral("known.test")};
    run("GET / HTTP/1.1\r\nHost: unknown.test\r\n\r\n");
    ASSERT_EQ(host.replies.size(), 1);
    EXPECT_EQ(host.replies[0].status, 404);
    EXPECT_EQ(host.replies[0].reason, QByteArray("route_not_found"));
    EXPECT_STREQ(tx.currentStage(), "route");
    EXPECT_EQ(host.exchanges, 0);
    EXPECT_EQ(cache.lookups, 0); // no stage after the reply ran
}

TEST_F(TransactionTest, ConnectToAPortTheListenerDoesNotAllowIsRefusedBeforeRouting)
{
    int routed = 0;
    router->tweak = [&routed](routing::RouteMatch &, const routing::RequestInfo &) { ++routed; };
    run("CONNECT example.test:25 HTTP/1.1\r\nHost: example.test:25\r\n\r\n");
    ASSERT_EQ(host.replies.size(), 1);
    EXPECT_EQ(host.replies[0].status, 403);
    EXPECT_EQ(host.replies[0].reason, QByteArray("connect_port_not_allowed"));
    EXPECT_STREQ(tx.currentStage(), "connect_port");
    EXPECT_EQ(routed, 0);
}

TEST_F(TransactionTest, RedirectIsALocalReplyWithLocation)
{
    router->tweak = [](routing::RouteMatch &m, const routing::RequestInfo &) {
        routing::Redirect r;
        r.scheme = QStringLiteral("https");
        r.statusCode = 301;
        m.redirect = r;
    };
    run("GET /p?q=1 HTTP/1.1\r\nHost: site.test\r\n\r\n");
    ASSERT_EQ(host.replies.size(), 1);
    EXPECT_EQ(host.replies[0].status, 301);
    EXPECT_EQ(host.replies[0].location, QByteArray("https://site.test/p?q=1"));
    EXPECT_TRUE(host.replies[0].reason.isEmpty());
}

TEST_F(TransactionTest, AWaitingStageResumesFromItsCallback)
{
    cache.deferred = true;
    cache.hosts.insert(QStringLiteral("slow.test"), {QHostAddress(QStringLiteral("127.0.0.1"))});
    run("GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n");
    EXPECT_STREQ(tx.currentStage(), "resolve");
    EXPECT_EQ(host.exchanges, 0);
    ASSERT_TRUE(waitFor([&] { return host.exchanges == 1; }));
    EXPECT_TRUE(tx.rec.dnsWaited);
    EXPECT_TRUE(host.replies.isEmpty());
    tx.cancel();
}

TEST_F(TransactionTest, AWaitingStageCanEndWithAReply)
{
    cache.deferred = true;
    cache.failures.insert(QStringLiteral("gone.test"), dns::DnsError::NxDomain);
    run("GET / HTTP/1.1\r\nHost: gone.test\r\n\r\n");
    ASSERT_TRUE(waitFor([&] { return !host.replies.isEmpty(); }));
    EXPECT_EQ(host.replies[0].status, 503);
    EXPECT_EQ(host.exchanges, 0);
}

TEST_F(TransactionTest, CancelDropsTheWaitingStagesCallback)
{
    cache.deferred = true;
    cache.hosts.insert(QStringLiteral("slow.test"), {QHostAddress(QStringLiteral("127.0.0.1"))});
    run("GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n");
    tx.cancel();
    QCoreApplication::processEvents();
    QCoreApplication::processEvents();
    EXPECT_EQ(host.exchanges, 0);
    EXPECT_TRUE(host.replies.isEmpty());
}

TEST_F(TransactionTest, TheRoutesRequestTimeoutStartsBeforeDns)
{
    cache.deferred = true;
    cache.hosts.insert(QStringLiteral("slow.test"), {QHostAddress(QStringLiteral("127.0.0.1"))});
    router->tweak = [](routing::RouteMatch &m, const routing::RequestInfo &) { m.requestTimeoutMs = 1234; };
    run("GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n");
    EXPECT_EQ(host.timeouts, QList<qint64>{1234});
    tx.cancel();
}

TEST_F(TransactionTest, TheListenersPacFileIsAnsweredByTheSelfStageBeforeRouting)
{
    int routed = 0;
    router->tweak = [&routed](routing::RouteMatch &, const routing::RequestInfo &) { ++routed; };
    run("GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_EQ(host.replies.size(), 1);
    EXPECT_EQ(host.replies[0].status, 200);
    EXPECT_TRUE(host.replies[0].body.contains("FindProxyForURL"));
    EXPECT_TRUE(host.replies[0].headers.contains({"Content-Type", "application/x-ns-proxy-autoconfig"}));
    EXPECT_STREQ(tx.currentStage(), "self");
    EXPECT_EQ(routed, 0);
}

TEST_F(TransactionTest, TheConnectionsApplicationIsOnTheTransactionAndItsRecord)
{
    auto app = std::make_shared<platform::ProcessInfo>();
    app->name = QStringLiteral("curl");
    gate->answer = app;
    startApplicationLookup();
    ASSERT_TRUE(waitFor([&] { return host.application->known(); })); // in before the request: no waiting
    run("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    EXPECT_STRNE(tx.currentStage(), "application");
    EXPECT_EQ(tx.application, gate->answer);
    EXPECT_EQ(tx.rec.application, gate->answer);
    EXPECT_EQ(ctx.applications.stats().value("waited").toInteger(), 0);
    tx.cancel();
}

TEST_F(TransactionTest, AFirstRequestBeforeItsApplicationIsKnownWaitsAndResumesWithIt)
{
    auto app = std::make_shared<platform::ProcessInfo>();
    app->name = QStringLiteral("wget");
    gate->answer = app;
    gate->close(); // a slow lookup: a /proc scan
    startApplicationLookup();
    run("CONNECT example.test:25 HTTP/1.1\r\nHost: example.test:25\r\n\r\n");
    EXPECT_STREQ(tx.currentStage(), "application");
    EXPECT_TRUE(host.replies.isEmpty()); // no later stage ran without the program
    EXPECT_EQ(ctx.applications.stats().value("waited").toInteger(), 1);
    gate->open();
    ASSERT_TRUE(waitFor([&] { return !host.replies.isEmpty(); }));
    EXPECT_EQ(host.replies[0].reason, QByteArray("connect_port_not_allowed")); // the stages after it ran
    EXPECT_EQ(tx.application, gate->answer);
    EXPECT_EQ(tx.rec.application, gate->answer);
}

TEST_F(TransactionTest, CancelWhileWaitingForTheApplicationDropsItsCallback)
{
    gate->close();
    startApplicationLookup();
    run("CONNECT example.test:25 HTTP/1.1\r\nHost: example.test:25\r\n\r\n");
    EXPECT_STREQ(tx.currentStage(), "application");
    tx.cancel(); // the client went away, or a timeout
    gate->open();
    ASSERT_TRUE(waitFor([&] { return host.application->known(); }));
    QCoreApplication::processEvents();
    EXPECT_TRUE(host.replies.isEmpty());
    EXPECT_STREQ(tx.currentStage(), "application");
    EXPECT_FALSE(tx.application);
}

TEST_F(TransactionTest, ThroughAnUpstreamProxyANameThatDoesNotResolveHereStillGoesOut)
{
    auto tunnel = std::make_shared<routing::BackendTunnel>();
    tunnel->url = QStringLiteral("http://127.0.0.1:3128");
    router->backend->tunnel = tunnel;
    cache.failures.insert(QStringLiteral("inside.corp.test"), dns::DnsError::NxDomain);
    run("GET / HTTP/1.1\r\nHost: inside.corp.test\r\n\r\n");
    EXPECT_TRUE(host.replies.isEmpty());
    EXPECT_EQ(host.exchanges, 1);
    EXPECT_EQ(tx.rec.upstreamProxy, QStringLiteral("127.0.0.1:3128"));
    EXPECT_EQ(tx.rec.upstreamProxyReason, QStringLiteral("tunnel"));
    EXPECT_TRUE(tx.dnsLeftToProxy);
    tx.cancel();
}

TEST_F(TransactionTest, WithoutAnUpstreamProxyANameThatDoesNotResolveIs503)
{
    cache.failures.insert(QStringLiteral("inside.corp.test"), dns::DnsError::NxDomain);
    run("GET / HTTP/1.1\r\nHost: inside.corp.test\r\n\r\n");
    ASSERT_EQ(host.replies.size(), 1);
    EXPECT_EQ(host.replies[0].status, 503);
    EXPECT_TRUE(tx.rec.upstreamProxy.isEmpty());
}
