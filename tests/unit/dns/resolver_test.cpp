// SPDX-License-Identifier: Apache-2.0
// Both resolvers against TestDnsServer on port 53: DnsLookupResolver (real QDnsLookup) on 127.0.53.x and
// UdpResolver (dfproxy's own DNS client) on 127.0.54.x. Each test has its own address, so ctest -j never binds one
// twice.
#include "dns/dnshostcache.h"
#include "dns/dnslookupresolver.h"
#include "dns/udpresolver.h"
#include "support/dnsserver.h"
#include "support/wait.h"

#include <gtest/gtest.h>

#include <QCoreApplication>

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

using namespace dfproxy;
using namespace dfproxy::dns;
using dfproxy::test::TestDnsServer;

namespace {

/// Spins the event loop until `pred` holds (a guard of 20 s, not a timing assertion).
bool waitFor(const std::function<bool()> &pred)
{
    return dfproxy::test::waitUntil(pred, 20'000);
}

enum class Kind { QDnsLookup, Udp };

std::string kindName(const ::testing::TestParamInfo<Kind> &info)
{
    return info.param == Kind::Udp ? "Udp" : "QDnsLookup";
}

class ResolverTest : public ::testing::TestWithParam<Kind>
{
protected:
    bool udp() const { return GetParam() == Kind::Udp; }

    /// 127.0.53.n for QDnsLookup, 127.0.54.n for the UDP resolver.
    QHostAddress address(int n) const { return QHostAddress(QStringLiteral("127.0.%1.%2").arg(udp() ? 54 : 53).arg(n)); }

    void serve(int n)
    {
        QString error;
        ASSERT_TRUE(m_server.start(address(n), 53, &error)) << error.toStdString();
    }

    std::unique_ptr<Resolver> makeResolver(const QList<QHostAddress> &servers, int timeoutMs) const
    {
        if (udp())
            return std::make_unique<UdpResolver>(servers, timeoutMs);
        return std::make_unique<DnsLookupResolver>(servers, timeoutMs);
    }

    /// Runs one query and waits for its reply.
    ResolverReply ask(const QString &name, RecordType type, int timeoutMs = 2000, QList<QHostAddress> servers = {})
    {
        if (servers.isEmpty())
            servers = {m_server.address()};
        const auto resolver = makeResolver(servers, timeoutMs);
        std::optional<ResolverReply> got;
        auto q = resolver->query(name, type, [&](const ResolverReply &r) { got = r; });
        EXPECT_TRUE(waitFor([&] { return got.has_value(); })) << "no reply for " << name.toStdString();
        return got.value_or(ResolverReply{DnsError::Other, {}, 0, QStringLiteral("test gave up")});
    }

    TestDnsServer m_server;
};

} // namespace

TEST_P(ResolverTest, AnswersARecordsWithTheirTtl)
{
    serve(1);
    m_server.setAddresses(QStringLiteral("web.test"),
                          {QHostAddress(QStringLiteral("127.1.0.1")), QHostAddress(QStringLiteral("127.1.0.2"))}, 123);
    const auto r = ask(QStringLiteral("web.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, (QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.1")),
                                                QHostAddress(QStringLiteral("127.1.0.2"))}));
    EXPECT_EQ(r.ttlSeconds, 123u);
    EXPECT_GE(m_server.queryCount(QStringLiteral("web.test"), TestDnsServer::TypeA), 1);
}

TEST_P(ResolverTest, UnknownNameIsNxDomain)
{
    serve(2);
    const auto r = ask(QStringLiteral("missing.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::NxDomain) << r.detail.toStdString();
    EXPECT_TRUE(r.addresses.isEmpty());
}

TEST_P(ResolverTest, ServFailIsReported)
{
    serve(3);
    m_server.setMode(QStringLiteral("sf.test"), TestDnsServer::Mode::ServFail);
    const auto r = ask(QStringLiteral("sf.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::ServFail) << r.detail.toStdString();
}

TEST_P(ResolverTest, RefusedIsReported)
{
    serve(4);
    m_server.setMode(QStringLiteral("no.test"), TestDnsServer::Mode::Refused);
    const auto r = ask(QStringLiteral("no.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::Refused) << r.detail.toStdString();
}

TEST_P(ResolverTest, GarbageReplyIsBadReply)
{
    serve(5);
    m_server.setMode(QStringLiteral("junk.test"), TestDnsServer::Mode::Garbage);
    const auto r = ask(QStringLiteral("junk.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::BadReply) << r.detail.toStdString();
}

TEST_P(ResolverTest, SilentServerTimesOutAtTheConfiguredTimeout)
{
    serve(6);
    m_server.setMode(QStringLiteral("quiet.test"), TestDnsServer::Mode::Silent);
    const auto r = ask(QStringLiteral("quiet.test"), RecordType::A, 300);
    EXPECT_EQ(r.error, DnsError::Timeout) << r.detail.toStdString();
    EXPECT_GE(m_server.queryCount(QStringLiteral("quiet.test")), 1);
}

TEST_P(ResolverTest, AnswersAaaaRecords)
{
    serve(7);
    m_server.setAddresses(QStringLiteral("six.test"),
                          {QHostAddress(QStringLiteral("127.1.0.9")), QHostAddress(QStringLiteral("fd00::53"))}, 42);
    const auto r = ask(QStringLiteral("six.test"), RecordType::AAAA);
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("fd00::53"))});
    EXPECT_EQ(r.ttlSeconds, 42u);
    EXPECT_EQ(m_server.queryCount(QStringLiteral("six.test"), TestDnsServer::TypeA), 0);
}

TEST_P(ResolverTest, NameWithoutRecordsOfTheTypeIsNoData)
{
    serve(8);
    m_server.setAddresses(QStringLiteral("v4only.test"), {QHostAddress(QStringLiteral("127.1.0.9"))});
    const auto r = ask(QStringLiteral("v4only.test"), RecordType::AAAA);
    EXPECT_EQ(r.error, DnsError::NoData) << r.detail.toStdString();
}

TEST_P(ResolverTest, TruncatedReplyIsAskedAgainOverTcp)
{
    serve(9);
    m_server.setAddresses(QStringLiteral("big.test"), {QHostAddress(QStringLiteral("127.1.0.9"))}, 77);
    m_server.setMode(QStringLiteral("big.test"), TestDnsServer::Mode::TruncatedOverUdp);
    const auto r = ask(QStringLiteral("big.test"), RecordType::A, 2000);
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.9"))});
    EXPECT_EQ(r.ttlSeconds, 77u);
    EXPECT_GE(m_server.tcpQueries(), 1);
}

TEST_P(ResolverTest, TruncatedReplyWithoutTcpFails)
{
    serve(21);
    m_server.setMode(QStringLiteral("tc.test"), TestDnsServer::Mode::Truncated);
    const auto r = ask(QStringLiteral("tc.test"), RecordType::A, 2000);
    // The server closes the TCP connection; Qt 6.4 cannot tell that from an empty answer, so it may surface as
    // dns_no_addresses. What matters: no partial address list is used.
    EXPECT_NE(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_TRUE(r.addresses.isEmpty());
}

TEST_P(ResolverTest, MovesToTheNextServerOnTimeout)
{
    serve(10);
    TestDnsServer second;
    QString error;
    ASSERT_TRUE(second.start(address(11), 53, &error)) << error.toStdString();
    m_server.setMode(QStringLiteral("fo.test"), TestDnsServer::Mode::Silent);
    second.setAddresses(QStringLiteral("fo.test"), {QHostAddress(QStringLiteral("127.1.0.7"))});
    const auto r = ask(QStringLiteral("fo.test"), RecordType::A, 1000, {m_server.address(), second.address()});
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.7"))});
    EXPECT_GE(m_server.queryCount(QStringLiteral("fo.test")), 1);
}

TEST_P(ResolverTest, DestroyingTheQueryCancelsIt)
{
    serve(12);
    m_server.setAddresses(QStringLiteral("slow.test"), {QHostAddress(QStringLiteral("127.1.0.1"))});
    m_server.setDelay(QStringLiteral("slow.test"), 200);
    const auto resolver = makeResolver({m_server.address()}, 2000);
    bool called = false;
    auto q = resolver->query(QStringLiteral("slow.test"), RecordType::A, [&](const ResolverReply &) { called = true; });
    ASSERT_TRUE(waitFor([&] { return m_server.queryCount(QStringLiteral("slow.test")) >= 1; }));
    q.reset();
    // A second query on the same resolver proves the loop went on; the first callback must stay silent.
    std::optional<ResolverReply> got;
    auto q2 = resolver->query(QStringLiteral("slow.test"), RecordType::A, [&](const ResolverReply &r) { got = r; });
    ASSERT_TRUE(waitFor([&] { return got.has_value(); }));
    EXPECT_FALSE(called);
}

TEST_P(ResolverTest, HostCacheResolvesThroughTheRealResolver)
{
    serve(13);
    m_server.setAddresses(QStringLiteral("httpbin.test"),
                          {QHostAddress(QStringLiteral("127.0.0.1")), QHostAddress(QStringLiteral("::1"))}, 60);
    DnsHostCache::Options o;
    o.servers = {m_server.address()};
    o.resolver = udp() ? DnsHostCache::ResolverKind::Udp : DnsHostCache::ResolverKind::QDnsLookup;
    o.queryTimeoutMs = 2000;
    o.maintenanceIntervalMs = 0;
    o.hostsFilePath = QStringLiteral("/nonexistent/dfproxy-hosts");
    DnsHostCache cache(o, SystemClock::instance());
    QObject context;
    std::optional<ResolveResult> got;
    auto out = cache.lookup(QStringLiteral("httpbin.test"), 8080, LookupFamily::All, &context,
                            [&](const ResolveResult &r) { got = r; });
    ASSERT_FALSE(out.ready);
    ASSERT_TRUE(waitFor([&] { return got.has_value(); }));
    EXPECT_TRUE(got->ok()) << got->detail.toStdString();
    EXPECT_EQ(got->addresses, (QList<QHostAddress>{QHostAddress(QStringLiteral("::1")),
                                                   QHostAddress(QStringLiteral("127.0.0.1"))}));
    EXPECT_EQ(m_server.queryCount(QStringLiteral("httpbin.test"), TestDnsServer::TypeA), 1);
    EXPECT_EQ(m_server.queryCount(QStringLiteral("httpbin.test"), TestDnsServer::TypeAAAA), 1);
    auto again = cache.lookup(QStringLiteral("httpbin.test"), 8080, LookupFamily::All, &context, {});
    ASSERT_TRUE(again.ready);
    EXPECT_TRUE(again.ready->cacheHit);
}

TEST_P(ResolverTest, FollowsACnameChainToItsAddresses)
{
    serve(14);
    m_server.setCname(QStringLiteral("www.alias.test"), QStringLiteral("edge.cdn.test"), 30);
    m_server.setAddresses(QStringLiteral("edge.cdn.test"), {QHostAddress(QStringLiteral("127.1.0.14"))}, 300);
    const auto r = ask(QStringLiteral("www.alias.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.14"))});
    if (udp()) { // QDnsLookup reports the address records' TTL only
        EXPECT_EQ(r.ttlSeconds, 30u) << "the alias expires first";
    }
}

TEST_P(ResolverTest, IgnoresAReplyWithAnotherId)
{
    serve(15);
    m_server.setAddresses(QStringLiteral("real.test"), {QHostAddress(QStringLiteral("127.1.0.15"))});
    m_server.setMode(QStringLiteral("real.test"), TestDnsServer::Mode::ForgedFirst);
    const auto r = ask(QStringLiteral("real.test"), RecordType::A);
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.15"))});
}

TEST_P(ResolverTest, ServFailAndRefusedMoveToTheNextServer)
{
    serve(16);
    TestDnsServer second;
    QString error;
    ASSERT_TRUE(second.start(address(17), 53, &error)) << error.toStdString();
    m_server.setMode(QStringLiteral("sf.test"), TestDnsServer::Mode::ServFail);
    m_server.setMode(QStringLiteral("ref.test"), TestDnsServer::Mode::Refused);
    second.setAddresses(QStringLiteral("sf.test"), {QHostAddress(QStringLiteral("127.1.0.16"))});
    second.setAddresses(QStringLiteral("ref.test"), {QHostAddress(QStringLiteral("127.1.0.17"))});
    const QList<QHostAddress> both{m_server.address(), second.address()};
    const auto sf = ask(QStringLiteral("sf.test"), RecordType::A, 2000, both);
    EXPECT_EQ(sf.error, DnsError::None) << sf.detail.toStdString();
    EXPECT_EQ(sf.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.16"))});
    const auto ref = ask(QStringLiteral("ref.test"), RecordType::A, 2000, both);
    EXPECT_EQ(ref.error, DnsError::None) << ref.detail.toStdString();
    EXPECT_EQ(ref.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.17"))});
}

TEST_P(ResolverTest, ALostDatagramIsSentAgainWithinTheServersShare)
{
    if (!udp())
        GTEST_SKIP() << "QDnsLookup makes one attempt per server (dfproxy sets RES_OPTIONS attempts:1)";
    serve(18);
    m_server.setAddresses(QStringLiteral("lossy.test"), {QHostAddress(QStringLiteral("127.1.0.18"))});
    m_server.setMode(QStringLiteral("lossy.test"), TestDnsServer::Mode::DropFirst);
    const auto r = ask(QStringLiteral("lossy.test"), RecordType::A, 2000);
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.18"))});
    EXPECT_EQ(m_server.queryCount(QStringLiteral("lossy.test"), TestDnsServer::TypeA), 2);
}

TEST_P(ResolverTest, ServerWithNothingListeningFailsWithoutWaitingForTheTimeout)
{
    if (!udp())
        GTEST_SKIP() << "QDnsLookup does not read the ICMP error; it waits for its timeout";
    // Nobody listens on 127.0.54.19:53: the kernel answers with "port unreachable".
    const auto r = ask(QStringLiteral("any.test"), RecordType::A, 60'000, {address(19)});
    EXPECT_EQ(r.error, DnsError::Other) << r.detail.toStdString();
    EXPECT_TRUE(r.detail.contains(QStringLiteral("refused"))) << r.detail.toStdString();
}

TEST_P(ResolverTest, NameThatCannotBeAskedFailsWithoutAQuery)
{
    serve(20);
    const QString longLabel = QString(64, QLatin1Char('a')) + QStringLiteral(".test");
    const auto r = ask(longLabel, RecordType::A);
    EXPECT_NE(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_TRUE(r.addresses.isEmpty());
    EXPECT_EQ(m_server.totalQueries(), 0);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, ResolverTest, ::testing::Values(Kind::QDnsLookup, Kind::Udp), kindName);

TEST_P(ResolverTest, ALateTruncatedReplyFromAServerAlreadyLeftDoesNotStopTheNext)
{
    if (!udp())
        GTEST_SKIP() << "QDnsLookup's order of servers and retries is glibc's";
    serve(22);
    TestDnsServer second;
    QString error;
    ASSERT_TRUE(second.start(address(23), 53, &error)) << error.toStdString();
    // 1 s for the whole resolution: 500 ms per server. The first answers "truncated" (and does not serve TCP) only
    // after the query moved on to the second, which answers 400 ms later.
    m_server.setMode(QStringLiteral("late.test"), TestDnsServer::Mode::Truncated);
    m_server.setDelay(QStringLiteral("late.test"), 700);
    second.setAddresses(QStringLiteral("late.test"), {QHostAddress(QStringLiteral("127.1.0.23"))});
    second.setDelay(QStringLiteral("late.test"), 400);
    const auto r = ask(QStringLiteral("late.test"), RecordType::A, 500, {m_server.address(), second.address()});
    EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.23"))});
    // Asked twice within its share (sent again halfway), and never again: the late truncated reply was not followed
    // up (over UDP first, as glibc's resolver under QDnsLookup would, nor over TCP).
    EXPECT_EQ(m_server.queryCount(QStringLiteral("late.test")), 2);
    EXPECT_EQ(m_server.tcpQueries(), 0);
}

namespace {

/// Starts `count` queries for n0.test .. n<count-1>.test at once on `resolver` and waits for every reply.
std::vector<ResolverReply> askMany(Resolver &resolver, int count, const QString &suffix = QStringLiteral(".test"))
{
    std::vector<std::optional<ResolverReply>> got(static_cast<size_t>(count));
    std::vector<std::unique_ptr<ResolverQuery>> queries;
    for (int i = 0; i < count; ++i) {
        queries.push_back(resolver.query(QStringLiteral("n%1").arg(i) + suffix, RecordType::A,
                                         [&got, i](const ResolverReply &r) { got[size_t(i)] = r; }));
    }
    const bool all = dfproxy::test::waitUntil(
        [&] { return std::all_of(got.begin(), got.end(), [](const auto &g) { return g.has_value(); }); }, 20'000);
    EXPECT_TRUE(all) << "not every query was answered";
    std::vector<ResolverReply> replies;
    for (auto &g : got)
        replies.push_back(g.value_or(ResolverReply{DnsError::Other, {}, 0, QStringLiteral("test gave up")}));
    return replies;
}

} // namespace

TEST_P(ResolverTest, QueriesInFlightShareTheServersSocketAndEachGetsItsOwnAnswer)
{
    if (!udp())
        GTEST_SKIP() << "QDnsLookup's sockets are glibc's";
    serve(24);
    for (int i = 0; i < 60; ++i)
        m_server.setAddresses(QStringLiteral("n%1.test").arg(i), {QHostAddress(QStringLiteral("127.2.0.%1").arg(i + 1))});
    const auto resolver = makeResolver({m_server.address()}, 5000);
    const auto replies = askMany(*resolver, 60);
    for (int i = 0; i < 60; ++i) {
        EXPECT_EQ(replies[size_t(i)].error, DnsError::None) << replies[size_t(i)].detail.toStdString();
        EXPECT_EQ(replies[size_t(i)].addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.2.0.%1").arg(i + 1))});
    }
    // One socket (one source port) for the 60 queries, not one each.
    EXPECT_EQ(m_server.udpSourcePorts().size(), 1);
}

TEST_P(ResolverTest, AServersSocketIsReplacedAfterItsShareOfQueries)
{
    if (!udp())
        GTEST_SKIP() << "QDnsLookup's sockets are glibc's";
    serve(25);
    for (int i = 0; i < 250; ++i)
        m_server.setAddresses(QStringLiteral("n%1.test").arg(i), {QHostAddress(QStringLiteral("127.2.1.1"))});
    const auto resolver = makeResolver({m_server.address()}, 5000);
    const auto replies = askMany(*resolver, 250);
    for (const auto &r : replies)
        EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    // 100 queries a socket: three source ports for 250 queries (a new random port for every hundred).
    EXPECT_EQ(m_server.udpSourcePorts().size(), 3);
}

TEST_P(ResolverTest, AnUnreachableServerMovesEveryQueryOnItsSocketToTheNextServer)
{
    if (!udp())
        GTEST_SKIP() << "QDnsLookup does not read the ICMP error";
    serve(26);
    for (int i = 0; i < 20; ++i)
        m_server.setAddresses(QStringLiteral("n%1.test").arg(i), {QHostAddress(QStringLiteral("127.2.2.1"))});
    // Nobody listens on 127.0.54.27:53: the first server's port unreachable must move all 20 queries on at once.
    const auto resolver = makeResolver({address(27), m_server.address()}, 30'000);
    const auto replies = askMany(*resolver, 20);
    for (const auto &r : replies) {
        EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
        EXPECT_EQ(r.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.2.2.1"))});
    }
}

TEST_P(ResolverTest, AnAnswerReachesItsCallbackFromTheSocketHandlerWithoutAQueuedCall)
{
    // For a name never seen before, a queued call per answer was a turn of the worker's event loop per request:
    // the UDP client calls back from its socket handler (still never from inside query()).
    if (!udp())
        GTEST_SKIP() << "QDnsLookup answers from Qt's resolver thread: its result is always queued";
    serve(28);
    for (int i = 0; i < 20; ++i)
        m_server.setAddresses(QStringLiteral("n%1.test").arg(i), {QHostAddress(QStringLiteral("127.2.2.1"))});
    /// Counts the queued calls delivered on this thread.
    class MetaCalls final : public QObject
    {
    public:
        int count = 0;
        bool eventFilter(QObject *, QEvent *e) override
        {
            count += e->type() == QEvent::MetaCall ? 1 : 0;
            return false;
        }
    } metaCalls;
    const auto resolver = makeResolver({m_server.address()}, 5000);
    QCoreApplication::instance()->installEventFilter(&metaCalls);
    const auto replies = askMany(*resolver, 20);
    QCoreApplication::instance()->removeEventFilter(&metaCalls);
    for (const auto &r : replies)
        EXPECT_EQ(r.error, DnsError::None) << r.detail.toStdString();
    EXPECT_EQ(metaCalls.count, 0);
}

TEST_P(ResolverTest, AnAnswerIsReadWithOneRecvWhenNoOtherQueryWaits)
{
    // A cold name per request: the recv() after the last awaited answer could only say EAGAIN (a system call per
    // wake-up); the socket handler stops once no query waits on the socket.
    if (!udp())
        GTEST_SKIP() << "QDnsLookup's sockets are glibc's";
    serve(31);
    for (int i = 0; i < 10; ++i)
        m_server.setAddresses(QStringLiteral("n%1.test").arg(i), {QHostAddress(QStringLiteral("127.2.3.1"))});
    auto resolver = std::make_unique<UdpResolver>(QList<QHostAddress>{m_server.address()}, 5000);
    for (int i = 0; i < 10; ++i) {
        std::optional<ResolverReply> got;
        auto q = resolver->query(QStringLiteral("n%1.test").arg(i), RecordType::A,
                                 [&](const ResolverReply &r) { got = r; });
        ASSERT_TRUE(dfproxy::test::waitUntil([&] { return got.has_value(); }, 20'000));
        EXPECT_EQ(got->error, DnsError::None) << got->detail.toStdString();
    }
    // One datagram each, one recv() each (the server sends nothing else).
    EXPECT_EQ(resolver->receiveCalls(), 10u);
}

TEST_P(ResolverTest, FinishedQueriesOfTheHostCacheGoWithoutAPostedEvent)
{
    // The host cache destroys finished queries outside their callbacks: when the loop is about to wait, not from a
    // posted event (an eventfd write and read per socket wake-up for a cold name per request).
    serve(32);
    for (int i = 0; i < 10; ++i)
        m_server.setAddresses(QStringLiteral("n%1.test").arg(i), {QHostAddress(QStringLiteral("127.2.3.2"))});
    DnsHostCache::Options o;
    o.servers = {m_server.address()};
    o.resolver = udp() ? DnsHostCache::ResolverKind::Udp : DnsHostCache::ResolverKind::QDnsLookup;
    o.queryTimeoutMs = 5000;
    o.maintenanceIntervalMs = 0;
    o.hostsFilePath = QStringLiteral("/nonexistent/dfproxy-hosts");
    DnsHostCache cache(o, SystemClock::instance());
    /// Counts the QEvent::User events delivered on this thread (the graveyard's).
    class UserEvents final : public QObject
    {
    public:
        int count = 0;
        bool eventFilter(QObject *, QEvent *e) override
        {
            count += e->type() == QEvent::User ? 1 : 0;
            return false;
        }
    } userEvents;
    QCoreApplication::instance()->installEventFilter(&userEvents);
    QObject context;
    for (int i = 0; i < 10; ++i) {
        std::optional<ResolveResult> got;
        auto out = cache.lookup(QStringLiteral("n%1.test").arg(i), 80, LookupFamily::V4Only, &context,
                                [&](const ResolveResult &r) { got = r; });
        ASSERT_FALSE(out.ready);
        ASSERT_TRUE(dfproxy::test::waitUntil([&] { return got.has_value(); }, 20'000));
        EXPECT_TRUE(got->ok()) << got->detail.toStdString();
    }
    QCoreApplication::instance()->removeEventFilter(&userEvents);
    EXPECT_EQ(userEvents.count, 0);
}

TEST_P(ResolverTest, AQueryThatEndsInsideQueryStillCallsBackLater)
{
    serve(29);
    const auto resolver = makeResolver({m_server.address()}, 2000);
    bool called = false;
    // Nothing to ask: it ends inside query(), and the callback must still wait for the event loop.
    auto q = resolver->query(QString(), RecordType::A, [&](const ResolverReply &) { called = true; });
    EXPECT_FALSE(called);
    ASSERT_TRUE(waitFor([&] { return called; }));
}
