// SPDX-License-Identifier: Apache-2.0
// ClientApplications (docs/applications.md, issue #24): the program behind a connection is looked up on the lookup
// thread, never on the worker. A slow lookup holds no other connection, a connection gone before its answer is
// answered by nobody (a queued one is not even looked up), and with the lookup off no thread starts.

#include "proxytestsupport.h"

#include "proxy/clientapplication.h"
#include "proxy/proxyserver.h"

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::proxy;
using namespace dfproxy::testing;

namespace {

const QHostAddress kLoopback(QHostAddress::LocalHost);

std::shared_ptr<platform::ProcessInfo> program(const QString &name)
{
    auto p = std::make_shared<platform::ProcessInfo>();
    p->name = name;
    p->path = QStringLiteral("/usr/bin/") + name;
    p->pid = 4242;
    return p;
}

class ClientApplicationsTest : public ::testing::Test
{
protected:
    ClientApplicationsTest()
    {
        gate->answer = program(QStringLiteral("curl"));
        apps.setLookup(std::make_unique<GatedProcessLookup>(gate));
    }
    ~ClientApplicationsTest() override { gate->open(); } // before `apps` waits for its thread

    std::unique_ptr<ConnectionApplication> start(quint16 clientPort)
    {
        return apps.start(kLoopback, clientPort, kLoopback, 8080, &context);
    }

    std::shared_ptr<GatedLookupState> gate = std::make_shared<GatedLookupState>();
    ClientApplications apps;
    QObject context; ///< the worker's part: where answers are posted
};

} // namespace

TEST_F(ClientApplicationsTest, TheAnswerArrivesOnTheConnectionsThreadAndWakesEveryWaiter)
{
    gate->close();
    auto app = start(40001);
    ASSERT_TRUE(app);
    EXPECT_FALSE(app->known());
    int first = 0, second = 0, cancelled = 0;
    ApplicationWaiter a = app->whenKnown([&] { ++first; });
    ApplicationWaiter b = app->whenKnown([&] { ++second; }); // two HTTP/2 streams of one connection
    ApplicationWaiter c = app->whenKnown([&] { ++cancelled; });
    c.reset(); // that stream was cancelled
    ASSERT_TRUE(waitFor([&] { return gate->calls.load() == 1; }));
    QCoreApplication::processEvents();
    EXPECT_FALSE(app->known()); // still held by the slow lookup: nothing has answered
    gate->open();
    ASSERT_TRUE(waitFor([&] { return app->known(); }));
    ASSERT_TRUE(app->info());
    EXPECT_EQ(app->info()->name, "curl");
    EXPECT_EQ(first, 1);
    EXPECT_EQ(second, 1);
    EXPECT_EQ(cancelled, 0);
    const QJsonObject s = apps.stats();
    EXPECT_EQ(s.value("lookups").toInteger(), 1);
    EXPECT_EQ(s.value("found").toInteger(), 1);
}

TEST_F(ClientApplicationsTest, AFailingLookupIsKnownWithNoProgram)
{
    gate->answer = nullptr;
    auto app = start(40002);
    ASSERT_TRUE(waitFor([&] { return app->known(); }));
    EXPECT_FALSE(app->info());
    EXPECT_EQ(apps.stats().value("notFound").toInteger(), 1);
}

TEST_F(ClientApplicationsTest, AConnectionGoneBeforeItsAnswerIsAnsweredByNobody)
{
    gate->close();
    auto running = start(40003);
    ASSERT_TRUE(waitFor([&] { return gate->calls.load() == 1; })); // the thread is in its lookup
    auto queued = start(40004);
    int woken = 0;
    ApplicationWaiter w = running->whenKnown([&] { ++woken; });
    running.reset(); // the client closed during the lookup
    queued.reset();  // and this one before its lookup began
    auto later = start(40005);
    gate->open();
    ASSERT_TRUE(waitFor([&] { return later->known(); }));
    QCoreApplication::processEvents();
    EXPECT_EQ(woken, 0);
    EXPECT_EQ(gate->calls.load(), 2); // the queued lookup of a closed connection was skipped
    EXPECT_EQ(apps.stats().value("lookups").toInteger(), 2);
}

TEST_F(ClientApplicationsTest, WithTheLookupOffNoThreadStartsAndNothingIsLookedUp)
{
    apps.setEnabled(false);
    EXPECT_FALSE(start(40006));
    EXPECT_FALSE(apps.threadStarted());
    EXPECT_EQ(gate->calls.load(), 0);
    apps.setEnabled(true);
    auto app = start(40007);
    ASSERT_TRUE(app);
    EXPECT_TRUE(apps.threadStarted());
    ASSERT_TRUE(waitFor([&] { return app->known(); }));
}

TEST_F(ClientApplicationsTest, BeyondTheQueuesBoundAConnectionHasNoProgramAtOnce)
{
    gate->close();
    auto running = start(40008);
    ASSERT_TRUE(waitFor([&] { return gate->calls.load() == 1; }));
    std::vector<std::unique_ptr<ConnectionApplication>> queued;
    for (std::size_t i = 0; i < ClientApplications::kMaxQueued; ++i)
        queued.push_back(start(quint16(41000 + i % 20000)));
    auto over = start(40009);
    ASSERT_TRUE(over);
    EXPECT_TRUE(over->known()); // no waiting: fails closed, like a process gone before the lookup
    EXPECT_FALSE(over->info());
    EXPECT_EQ(apps.stats().value("overflow").toInteger(), 1);
    queued.clear(); // skipped, not looked up
}

namespace {

/// A lookup that answers quickly for client port 50001 only (the socket where a closed connection was) and
/// records what is released.
class QuickLookup final : public platform::ProcessLookup
{
public:
    std::shared_ptr<const platform::ProcessInfo> lookup(const QHostAddress &, quint16, const QHostAddress &,
                                                        quint16) override
    {
        ++slowCalls;
        return program(QStringLiteral("wget"));
    }
    platform::LocatedSocket locate(const QHostAddress &c, quint16 cp, const QHostAddress &s, quint16 sp) override
    {
        return {lookup(c, cp, s, sp), 9};
    }
    std::optional<platform::LocatedSocket> locateQuickly(const QHostAddress &, quint16 clientPort,
                                                         const QHostAddress &, quint16) override
    {
        ++quickCalls;
        if (clientPort == 50001)
            return platform::LocatedSocket{program(QStringLiteral("curl")), 7};
        if (clientPort == 50002)
            return platform::LocatedSocket{}; // no such socket any more
        if (clientPort == 50004 && ++secondTry == 2) // the previous connection's close came in meanwhile
            return platform::LocatedSocket{program(QStringLiteral("git")), 11};
        return std::nullopt;
    }
    bool answersQuickly() const override { return true; }
    void released(qint64 pid, qint64 slot) override { releases.append({pid, slot}); }

    int secondTry = 0;

    std::atomic<int> quickCalls{0}, slowCalls{0};
    QList<QPair<qint64, qint64>> releases;
};

} // namespace

// A connection the platform can place at once (ProcessLookup::locateQuickly: the socket where the program's last
// closed connection was) is known when start() returns: no hand-over, no lookup thread, no waiting request. Its
// descriptor is handed back when the connection ends, once. `retried` is still open when the test ends: its
// release goes with it.
TEST(ClientApplicationsQuick, AQuickAnswerIsKnownAtOnceAndItsDescriptorIsReleasedOnce)
{
    ClientApplications apps;
    auto owned = std::make_unique<QuickLookup>();
    QuickLookup *lookup = owned.get();
    apps.setLookup(std::move(owned));
    QObject context;
    auto app = apps.start(kLoopback, 50001, kLoopback, 8080, &context);
    ASSERT_TRUE(app);
    EXPECT_TRUE(app->known());
    ASSERT_TRUE(app->info());
    EXPECT_EQ(app->info()->name, "curl");
    EXPECT_FALSE(apps.threadStarted());
    EXPECT_EQ(lookup->slowCalls.load(), 0);
    app->release();
    app->release();
    app.reset();
    ASSERT_EQ(lookup->releases.size(), 1);
    EXPECT_EQ(lookup->releases[0], qMakePair(qint64(4242), qint64(7)));

    auto gone = apps.start(kLoopback, 50002, kLoopback, 8080, &context); // the client left already
    ASSERT_TRUE(gone);
    EXPECT_TRUE(gone->known());
    EXPECT_FALSE(gone->info());
    gone.reset();
    EXPECT_EQ(lookup->releases.size(), 1);

    // A miss is tried once more after the events queued meanwhile (a reset of the program's previous connection
    // is reported through the event queue): answered there, still without the lookup thread.
    auto retried = apps.start(kLoopback, 50004, kLoopback, 8080, &context);
    ASSERT_TRUE(retried);
    EXPECT_FALSE(retried->known());
    int woken = 0;
    ApplicationWaiter waiter = retried->whenKnown([&] { ++woken; });
    ASSERT_TRUE(waitFor([&] { return retried->known(); }));
    EXPECT_EQ(woken, 1);
    EXPECT_EQ(retried->info()->name, "git");
    EXPECT_FALSE(apps.threadStarted());

    // No quick answer at all: the lookup thread's, as before, and its descriptor is released when the connection
    // ends.
    auto slow = apps.start(kLoopback, 50003, kLoopback, 8080, &context);
    ASSERT_TRUE(slow);
    ASSERT_TRUE(waitFor([&] { return slow->known(); }));
    EXPECT_EQ(slow->info()->name, "wget");
    EXPECT_EQ(lookup->slowCalls.load(), 1);
    slow.reset();
    ASSERT_EQ(lookup->releases.size(), 2);
    EXPECT_EQ(lookup->releases[1], qMakePair(qint64(4242), qint64(9)));
    const QJsonObject stats = apps.stats();
    EXPECT_EQ(stats.value("lookups").toInteger(), 4);
    EXPECT_EQ(stats.value("quick").toInteger(), 3);
    EXPECT_EQ(stats.value("found").toInteger(), 3);
    EXPECT_EQ(stats.value("notFound").toInteger(), 1);
}

// The worker keeps serving while a lookup is slow: a connection whose program is known gets its keep-alive
// request answered while another connection's lookup (a /proc scan, say) is held. Before #24 item 1 the lookup
// ran on the worker at the first request and this request waited for it.
TEST(ClientApplicationsProxy, ASlowLookupDoesNotHoldTheWorkersOtherConnections)
{
    TestOrigin origin;
    FakeHostCache cache;
    cache.hosts.insert(QStringLiteral("httpbin.test"), {QHostAddress(QHostAddress::LocalHost)});
    auto gate = std::make_shared<GatedLookupState>();
    gate->answer = program(QStringLiteral("curl"));
    ProxyOptions options;
    options.workerThreads = 1;
    auto server = std::make_unique<ProxyServer>(options);
    server->setHostCache(&cache);
    server->setRouter(std::make_shared<FakeRouter>());
    server->setProcessLookup(std::make_unique<GatedProcessLookup>(gate));
    QString error;
    ASSERT_TRUE(server->start(&error)) << error.toStdString();
    const quint16 port = server->portOf(QStringLiteral("http"));
    const QByteArray get = "GET / HTTP/1.1\r\nHost: httpbin.test:" + QByteArray::number(origin.port()) + "\r\n\r\n";

    TestClient known(port);
    ASSERT_EQ(known.request(get).status, 200);
    gate->close();
    TestClient slow(port);
    slow.sendRaw(get);
    ASSERT_TRUE(waitFor([&] { return gate->calls.load() == 2; })); // its lookup is held
    const ClientResponse r = known.request(get, false, 5000);
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.status, 200);
    gate->open();
    const ClientResponse late = slow.read();
    EXPECT_EQ(late.status, 200); // waited for its program, then went on
    EXPECT_GE(server->stats().value("applicationLookup").toObject().value("waited").toInteger(), 1);
    server->stop();
}
