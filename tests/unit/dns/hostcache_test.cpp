// SPDX-License-Identifier: Apache-2.0
// DnsHostCache against a FakeResolver and a ManualClock: every timing and failure rule, no sleeps.
#include "dns/dnshostcache.h"
#include "fakeresolver.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QFile>
#include <QTemporaryDir>
#include <QThread>

#include <functional>

using namespace dfproxy;
using namespace dfproxy::dns;
using dfproxy::dns::fakes::FakeResolver;

namespace {

const QHostAddress kA1(QStringLiteral("10.0.0.1"));
const QHostAddress kA2(QStringLiteral("10.0.0.2"));
const QHostAddress kA3(QStringLiteral("10.0.0.3"));
const QHostAddress kV6(QStringLiteral("fd00::1"));

struct Got
{
    int calls = 0;
    ResolveResult result;
};

class HostCacheTest : public ::testing::Test
{
protected:
    DnsHostCache::Options defaults()
    {
        DnsHostCache::Options o;
        o.maintenanceIntervalMs = 0;
        o.hostsFilePath = m_dir.filePath(QStringLiteral("hosts"));
        return o;
    }

    void make(DnsHostCache::Options o = {}, bool useDefaults = true)
    {
        if (useDefaults)
            o = defaults();
        auto fake = std::make_unique<FakeResolver>();
        m_fake = fake.get();
        m_cache = std::make_unique<DnsHostCache>(o, std::move(fake), m_clock);
    }

    HostCache::Outcome look(const QString &host, Got *got, LookupFamily family = LookupFamily::V4Only,
                            quint16 port = 80, QObject *context = nullptr)
    {
        return m_cache->lookup(host, port, family, context ? context : &m_context, [got](const ResolveResult &r) {
            ++got->calls;
            got->result = r;
        });
    }

    /// Delivers the callbacks the cache queued.
    static void pump()
    {
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
    }

    void writeHosts(const QByteArray &text, int mtimeOffsetS = 0)
    {
        QFile f(m_dir.filePath(QStringLiteral("hosts")));
        ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(text);
        f.close();
        // Explicit, distinct mtimes: the change check must not depend on the file system's time resolution.
        ASSERT_TRUE(f.open(QIODevice::ReadWrite));
        f.setFileTime(QDateTime::fromSecsSinceEpoch(1'600'000'000 + mtimeOffsetS), QFileDevice::FileModificationTime);
        f.close();
    }

    /// Resolves host (V4Only) to `addrs` with `ttl` and returns the delivered result.
    ResolveResult resolve(const QString &host, const QList<QHostAddress> &addrs, quint32 ttl = 60)
    {
        Got got;
        auto out = look(host, &got);
        EXPECT_FALSE(out.ready.has_value());
        EXPECT_TRUE(m_fake->answer(host, RecordType::A, addrs, ttl));
        pump();
        EXPECT_EQ(got.calls, 1);
        return got.result;
    }

    QTemporaryDir m_dir;
    ManualClock m_clock;
    QObject m_context;
    FakeResolver *m_fake = nullptr;
    std::unique_ptr<DnsHostCache> m_cache;
};

} // namespace

TEST_F(HostCacheTest, IpLiteralIsAnsweredWithoutDns)
{
    make();
    Got got;
    auto out = look(QStringLiteral("192.0.2.7"), &got);
    ASSERT_TRUE(out.ready);
    EXPECT_TRUE(out.ready->ok());
    EXPECT_EQ(out.ready->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("192.0.2.7"))});
    auto out6 = look(QStringLiteral("[2001:db8::5]"), &got, LookupFamily::All);
    ASSERT_TRUE(out6.ready);
    EXPECT_EQ(out6.ready->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("2001:db8::5"))});
    EXPECT_EQ(m_fake->total(), 0);
    EXPECT_TRUE(m_cache->entries().isEmpty());
    EXPECT_EQ(m_cache->stats().cache_miss, 0u);
}

TEST_F(HostCacheTest, EveryFormQHostAddressReadsIsALiteral)
{
    // Names skip the address parse (a fast path); these forms must still be read as addresses, not resolved.
    make();
    Got got;
    for (const auto &[text, expected] : std::initializer_list<std::pair<const char *, const char *>>{
             {"127.1", "127.0.0.1"}, {"0x7f.0.0.1", "127.0.0.1"}, {"0X7F000001", "127.0.0.1"},
             {"10.0.0.010", "10.0.0.8"}, {"2130706433", "127.0.0.1"}, {"[::FFFF:10.0.0.1]", "::ffff:10.0.0.1"},
             {"  192.0.2.1 ", "192.0.2.1"}}) {
        SCOPED_TRACE(text);
        auto out = look(QString::fromLatin1(text), &got, LookupFamily::All);
        ASSERT_TRUE(out.ready);
        EXPECT_EQ(out.ready->addresses, QList<QHostAddress>{QHostAddress(QString::fromLatin1(expected))});
    }
    EXPECT_EQ(m_fake->total(), 0);
    EXPECT_TRUE(m_cache->entries().isEmpty());
}

TEST_F(HostCacheTest, NamesDifferingInCaseSpacesOrAFinalDotShareOneEntry)
{
    make();
    EXPECT_TRUE(resolve(QStringLiteral("mixed.test"), {kA1}).ok());
    for (const char *alias : {"MIXED.test", "mixed.test.", " Mixed.Test ", "mixed.test"}) {
        SCOPED_TRACE(alias);
        Got got;
        auto out = look(QString::fromLatin1(alias), &got);
        ASSERT_TRUE(out.ready);
        EXPECT_TRUE(out.ready->cacheHit);
        EXPECT_EQ(out.ready->addresses, QList<QHostAddress>{kA1});
    }
    EXPECT_EQ(m_fake->total(), 1);
    ASSERT_EQ(m_cache->entries().size(), 1);
    EXPECT_EQ(m_cache->entries().first().host, QStringLiteral("mixed.test"));
}

TEST(HostCacheKey, HostPortKeyBracketsIpv6AndWritesEveryPort)
{
    EXPECT_EQ(DnsHostCache::hostPortKey(QStringLiteral("a.test"), 80), QStringLiteral("a.test:80"));
    EXPECT_EQ(DnsHostCache::hostPortKey(QStringLiteral("a.test"), 0), QStringLiteral("a.test:0"));
    EXPECT_EQ(DnsHostCache::hostPortKey(QStringLiteral("a.test"), 65535), QStringLiteral("a.test:65535"));
    EXPECT_EQ(DnsHostCache::hostPortKey(QStringLiteral("a.test"), 10000), QStringLiteral("a.test:10000"));
    EXPECT_EQ(DnsHostCache::hostPortKey(QStringLiteral("fd00::1"), 443), QStringLiteral("[fd00::1]:443"));
}

TEST_F(HostCacheTest, HostsFileNamesNeverGoToDns)
{
    writeHosts("# comment\n10.1.1.1  Myhost.test alias.test\nfd00::9 myhost.test\n");
    make();
    Got got;
    auto out = look(QStringLiteral("myhost.test"), &got, LookupFamily::All);
    ASSERT_TRUE(out.ready);
    EXPECT_EQ(out.ready->addresses,
              (QList<QHostAddress>{QHostAddress(QStringLiteral("fd00::9")), QHostAddress(QStringLiteral("10.1.1.1"))}));
    auto v4 = look(QStringLiteral("ALIAS.test."), &got, LookupFamily::V4Only);
    ASSERT_TRUE(v4.ready);
    EXPECT_EQ(v4.ready->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("10.1.1.1"))});
    auto v6 = look(QStringLiteral("alias.test"), &got, LookupFamily::V6Only);
    ASSERT_TRUE(v6.ready);
    EXPECT_EQ(v6.ready->error, DnsError::NoData);
    EXPECT_EQ(m_fake->total(), 0);
}

TEST_F(HostCacheTest, LocalhostAlwaysResolvesLocally)
{
    writeHosts("10.9.9.9 localhost\n");
    make();
    Got got;
    auto out = look(QStringLiteral("localhost"), &got, LookupFamily::All);
    ASSERT_TRUE(out.ready);
    EXPECT_EQ(out.ready->addresses, (QList<QHostAddress>{QHostAddress(QHostAddress::LocalHostIPv6),
                                                         QHostAddress(QHostAddress::LocalHost)}));
    EXPECT_EQ(m_fake->total(), 0);
}

TEST_F(HostCacheTest, HostsFileIsReReadWhenItChanges)
{
    writeHosts("10.1.1.1 a.test\n", 0);
    make();
    Got got;
    writeHosts("10.2.2.2 a.test\n10.3.3.3 b.test\n", 10);
    m_cache->runMaintenance();
    auto a = look(QStringLiteral("a.test"), &got);
    ASSERT_TRUE(a.ready);
    EXPECT_EQ(a.ready->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("10.2.2.2"))});
    ASSERT_TRUE(look(QStringLiteral("b.test"), &got).ready);
    EXPECT_EQ(m_fake->total(), 0);
}

TEST_F(HostCacheTest, ConcurrentLookupsShareOneQuery)
{
    make();
    Got got[5];
    std::vector<std::unique_ptr<PendingLookup>> handles;
    for (auto &g : got) {
        auto out = look(QStringLiteral("web.test"), &g);
        ASSERT_FALSE(out.ready);
        handles.push_back(std::move(out.pending));
    }
    EXPECT_EQ(m_fake->count(QStringLiteral("web.test"), RecordType::A), 1);
    EXPECT_EQ(m_fake->count(QStringLiteral("web.test"), RecordType::AAAA), 0);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("web.test"), RecordType::A, {kA1, kA2}));
    for (auto &g : got)
        EXPECT_EQ(g.calls, 1) << "an answer on the waiters' own thread is handed over at once, not queued";
    pump();
    for (auto &g : got) {
        EXPECT_EQ(g.calls, 1);
        EXPECT_TRUE(g.result.ok());
        EXPECT_FALSE(g.result.cacheHit);
        EXPECT_EQ(g.result.addresses, (QList<QHostAddress>{kA1, kA2}));
    }
    const auto s = m_cache->stats();
    EXPECT_EQ(s.cache_miss, 5u);
    EXPECT_EQ(s.dns_query_attempt, 1u);
    EXPECT_EQ(s.dns_query_success, 1u);
    EXPECT_EQ(s.host_added, 1u);
    EXPECT_EQ(s.num_hosts, 1u);

    Got hit;
    auto out = look(QStringLiteral("web.test"), &hit);
    ASSERT_TRUE(out.ready);
    EXPECT_TRUE(out.ready->cacheHit);
    EXPECT_EQ(m_cache->stats().cache_hit, 1u);
}

TEST_F(HostCacheTest, FamilyAllQueriesAAndAaaaInParallel)
{
    make();
    Got g1, g2;
    auto o1 = look(QStringLiteral("dual.test"), &g1, LookupFamily::All);
    auto o2 = look(QStringLiteral("dual.test"), &g2, LookupFamily::All);
    EXPECT_EQ(m_fake->count(QStringLiteral("dual.test"), RecordType::A), 1);
    EXPECT_EQ(m_fake->count(QStringLiteral("dual.test"), RecordType::AAAA), 1);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("dual.test"), RecordType::A, {kA1}, 100));
    pump();
    EXPECT_EQ(g1.calls, 0) << "waits for both record types";
    ASSERT_TRUE(m_fake->answer(QStringLiteral("dual.test"), RecordType::AAAA, {kV6}, 30));
    pump();
    ASSERT_EQ(g1.calls, 1);
    EXPECT_EQ(g1.result.addresses, (QList<QHostAddress>{kV6, kA1})) << "IPv6 first";
    EXPECT_EQ(g2.calls, 1);
    EXPECT_EQ(m_cache->entries().value(0).ttlLeftMs, 30'000) << "the smaller TTL wins";
}

TEST_F(HostCacheTest, FamilyAllSucceedsWithOnlyOneFamily)
{
    make();
    Got g;
    auto o = look(QStringLiteral("v4.test"), &g, LookupFamily::All);
    m_fake->fail(QStringLiteral("v4.test"), RecordType::AAAA, DnsError::NoData);
    m_fake->answer(QStringLiteral("v4.test"), RecordType::A, {kA1});
    pump();
    ASSERT_EQ(g.calls, 1);
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kA1});
}

TEST_F(HostCacheTest, FamilyV4OnlyAsksOnlyForA)
{
    make();
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::V4Only);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 1);
    m_fake->fail(QStringLiteral("x.test"), RecordType::A, DnsError::NoData);
    pump();
    EXPECT_EQ(g.result.error, DnsError::NoData);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::AAAA), 0);
}

TEST_F(HostCacheTest, FamilyV6OnlyAsksOnlyForAaaa)
{
    make();
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::V6Only);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 0);
    m_fake->answer(QStringLiteral("x.test"), RecordType::AAAA, {kV6});
    pump();
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kV6});
}

TEST_F(HostCacheTest, FamilyV4PreferredFallsBackToAaaa)
{
    make();
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::V4Preferred);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::AAAA), 0);
    m_fake->fail(QStringLiteral("x.test"), RecordType::A, DnsError::NoData);
    pump();
    EXPECT_EQ(g.calls, 0);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("x.test"), RecordType::AAAA, {kV6}));
    pump();
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kV6});
}

TEST_F(HostCacheTest, FamilyV4PreferredUsesAWhenPresent)
{
    make();
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::V4Preferred);
    m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA1});
    pump();
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kA1});
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::AAAA), 0);
}

TEST_F(HostCacheTest, FamilyAutoPrefersAaaaThenFallsBackToA)
{
    make();
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::Auto);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 0);
    m_fake->fail(QStringLiteral("x.test"), RecordType::AAAA, DnsError::NoData);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA1}));
    pump();
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kA1});
}

TEST_F(HostCacheTest, FamilyAutoDoesNotFallBackOnNxDomain)
{
    make();
    Got g;
    auto o = look(QStringLiteral("gone.test"), &g, LookupFamily::Auto);
    m_fake->fail(QStringLiteral("gone.test"), RecordType::AAAA, DnsError::NxDomain);
    pump();
    EXPECT_EQ(g.result.error, DnsError::NxDomain);
    EXPECT_EQ(m_fake->count(QStringLiteral("gone.test"), RecordType::A), 0);
}

TEST_F(HostCacheTest, FamiliesAreCachedSeparately)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1});
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::V6Only);
    EXPECT_FALSE(o.ready);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::AAAA), 1);
}

TEST_F(HostCacheTest, DestroyingTheHandleCancelsJustThatWaiter)
{
    make();
    Got g1, g2;
    auto o1 = look(QStringLiteral("x.test"), &g1);
    auto o2 = look(QStringLiteral("x.test"), &g2);
    o1.pending.reset();
    m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA1});
    pump();
    EXPECT_EQ(g1.calls, 0);
    EXPECT_EQ(g2.calls, 1);
}

TEST_F(HostCacheTest, CallbackAlreadyQueuedIsDroppedWhenHandleDies)
{
    // A waiter on another thread gets its answer queued to that thread's event loop.
    make();
    QThread other;
    QObject ctx;
    ctx.moveToThread(&other); // not started yet: what is queued to it waits
    Got g;
    auto o = look(QStringLiteral("x.test"), &g, LookupFamily::V4Only, 80, &ctx);
    ASSERT_TRUE(o.pending);
    m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA1});
    o.pending.reset(); // after the answer was queued, before it ran
    other.start();
    QMetaObject::invokeMethod(&ctx, [] {}, Qt::BlockingQueuedConnection); // runs after what was queued before
    EXPECT_EQ(g.calls, 0);
    QMetaObject::invokeMethod(&ctx, [&ctx] { ctx.moveToThread(QCoreApplication::instance()->thread()); },
                              Qt::BlockingQueuedConnection);
    other.quit();
    other.wait();
}

TEST_F(HostCacheTest, CallbacksNeverRunInsideLookup)
{
    // Answers on the waiters' thread are handed over at once, but never from inside lookup(): not for a cache hit,
    // not for a lookup that joins a resolution, not for one made from inside another waiter's callback.
    make();
    bool inLookup = false;
    int ranInside = 0;
    int calls = 0;
    std::vector<std::unique_ptr<PendingLookup>> handles;
    std::function<void(const QString &)> lookUp = [&](const QString &host) {
        inLookup = true;
        auto out = m_cache->lookup(host, 80, LookupFamily::V4Only, &m_context, [&](const ResolveResult &) {
            ++calls;
            ranInside += inLookup ? 1 : 0;
            // From inside a callback: the same name (now cached) and a new one (a miss).
            lookUp(QStringLiteral("again.test"));
            lookUp(QStringLiteral("x.test"));
        });
        inLookup = false;
        if (out.pending)
            handles.push_back(std::move(out.pending));
    };
    lookUp(QStringLiteral("x.test"));
    lookUp(QStringLiteral("x.test")); // joins
    EXPECT_EQ(calls, 0);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA1}));
    EXPECT_EQ(calls, 2);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("again.test"), RecordType::A, {kA2}));
    pump();
    EXPECT_EQ(calls, 4) << "two waiters on x.test, two on again.test (one missed, one joined); x.test was a hit "
                           "from inside the callbacks, as was again.test from inside its own";
    EXPECT_EQ(ranInside, 0);
}

TEST_F(HostCacheTest, DestroyedContextDropsCallback)
{
    make();
    Got g1, g2;
    auto ctx = std::make_unique<QObject>();
    auto o1 = look(QStringLiteral("x.test"), &g1, LookupFamily::V4Only, 80, ctx.get());
    auto o2 = look(QStringLiteral("x.test"), &g2);
    ctx.reset();
    m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA1});
    pump();
    EXPECT_EQ(g1.calls, 0);
    EXPECT_EQ(g2.calls, 1);
}

TEST_F(HostCacheTest, TtlIsClampedToMinRefresh)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 1);
    EXPECT_EQ(m_cache->entries().value(0).ttlLeftMs, 5000);
    m_clock.advance(4999);
    Got g;
    auto o = look(QStringLiteral("x.test"), &g);
    ASSERT_TRUE(o.ready);
    EXPECT_TRUE(o.ready->ok());
}

TEST_F(HostCacheTest, TtlIsClampedToMaxTtl)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 86400 * 7);
    EXPECT_EQ(m_cache->entries().value(0).ttlLeftMs, 3'600'000);
}

TEST_F(HostCacheTest, RefreshesBeforeTtlExpiresWithoutBlocking)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 100);
    m_clock.advance(89'000);
    Got g;
    ASSERT_TRUE(look(QStringLiteral("x.test"), &g).ready);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 1) << "not yet at 90% of the TTL";
    m_clock.advance(2000);
    auto o = look(QStringLiteral("x.test"), &g);
    ASSERT_TRUE(o.ready) << "a hot host never waits";
    EXPECT_EQ(o.ready->addresses, QList<QHostAddress>{kA1});
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 2) << "background refresh started";
    ASSERT_TRUE(look(QStringLiteral("x.test"), &g).ready);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 2) << "only one refresh at a time";
    ASSERT_TRUE(m_fake->answer(QStringLiteral("x.test"), RecordType::A, {kA2}, 100));
    pump();
    EXPECT_EQ(g.calls, 0);
    m_clock.advance(50'000); // past the first answer's expiry, inside the second's
    auto after = look(QStringLiteral("x.test"), &g);
    ASSERT_TRUE(after.ready);
    EXPECT_EQ(after.ready->addresses, QList<QHostAddress>{kA2});
    EXPECT_FALSE(after.ready->stale);
    EXPECT_EQ(m_cache->stats().host_address_changed, 1u);
}

TEST_F(HostCacheTest, MaintenanceRefreshesHotEntries)
{
    make();
    resolve(QStringLiteral("hot.test"), {kA1}, 100);
    resolve(QStringLiteral("cold.test"), {kA1}, 100);
    Got g;
    m_clock.advance(10'000);
    ASSERT_TRUE(look(QStringLiteral("hot.test"), &g).ready);
    m_clock.advance(81'000);
    m_cache->runMaintenance();
    EXPECT_EQ(m_fake->count(QStringLiteral("hot.test"), RecordType::A), 2);
    EXPECT_EQ(m_fake->count(QStringLiteral("cold.test"), RecordType::A), 1) << "unused since resolved";
}

TEST_F(HostCacheTest, EvictsEntriesUnusedForHostTtl)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 3600);
    m_clock.advance(299'999);
    m_cache->runMaintenance();
    EXPECT_EQ(m_cache->entries().size(), 1);
    m_clock.advance(1);
    m_cache->runMaintenance();
    EXPECT_TRUE(m_cache->entries().isEmpty());
    const auto s = m_cache->stats();
    EXPECT_EQ(s.host_removed, 1u);
    EXPECT_EQ(s.num_hosts, 0u);
}

TEST_F(HostCacheTest, FailuresAreNegativelyCachedWithGrowingBackoff)
{
    make();
    Got g;
    auto o = look(QStringLiteral("bad.test"), &g);
    m_fake->fail(QStringLiteral("bad.test"), RecordType::A, DnsError::ServFail);
    pump();
    EXPECT_EQ(g.result.error, DnsError::ServFail);

    auto expectNegative = [&] {
        Got n;
        auto r = look(QStringLiteral("bad.test"), &n);
        ASSERT_TRUE(r.ready);
        EXPECT_EQ(r.ready->error, DnsError::ServFail);
        EXPECT_TRUE(r.ready->cacheHit);
    };
    auto expectRetryAndFail = [&] {
        Got n;
        auto r = look(QStringLiteral("bad.test"), &n);
        ASSERT_FALSE(r.ready);
        ASSERT_TRUE(m_fake->fail(QStringLiteral("bad.test"), RecordType::A, DnsError::ServFail));
        pump();
        EXPECT_EQ(n.result.error, DnsError::ServFail);
    };
    qint64 expected = 2000;
    for (int i = 0; i < 6; ++i) {
        m_clock.advance(expected - 1);
        expectNegative();
        m_clock.advance(1);
        expectRetryAndFail();
        expected = std::min<qint64>(expected * 2, 30'000);
    }
    EXPECT_EQ(expected, 30'000);
    EXPECT_EQ(m_fake->count(QStringLiteral("bad.test"), RecordType::A), 7);
    EXPECT_EQ(m_cache->stats().dns_query_failure, 7u);
    EXPECT_EQ(m_cache->entries().value(0).state, QStringLiteral("failed"));

    // Success resets the backoff.
    m_clock.advance(30'000);
    Got ok;
    auto r = look(QStringLiteral("bad.test"), &ok);
    m_fake->answer(QStringLiteral("bad.test"), RecordType::A, {kA1});
    pump();
    EXPECT_TRUE(ok.result.ok());
}

TEST_F(HostCacheTest, TimeoutIsCountedAndCached)
{
    make();
    Got g;
    auto o = look(QStringLiteral("slow.test"), &g);
    m_fake->fail(QStringLiteral("slow.test"), RecordType::A, DnsError::Timeout);
    pump();
    EXPECT_EQ(g.result.error, DnsError::Timeout);
    EXPECT_EQ(m_cache->stats().dns_query_timeout, 1u);
}

TEST_F(HostCacheTest, StaleAddressesServedWithinWindowThenFailure)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 10);
    m_clock.advance(10'000); // expired, unused since: the next caller waits for a fresh answer
    Got g;
    auto o = look(QStringLiteral("x.test"), &g);
    ASSERT_FALSE(o.ready);
    m_fake->fail(QStringLiteral("x.test"), RecordType::A, DnsError::Timeout);
    pump();
    ASSERT_EQ(g.calls, 1);
    EXPECT_TRUE(g.result.ok());
    EXPECT_TRUE(g.result.stale);
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kA1});

    Got s;
    auto st = look(QStringLiteral("x.test"), &s);
    ASSERT_TRUE(st.ready);
    EXPECT_TRUE(st.ready->stale);
    EXPECT_EQ(m_cache->stats().stale_served, 2u);
    EXPECT_EQ(m_cache->entries().value(0).state, QStringLiteral("stale"));

    // Past the stale window the old addresses are gone.
    m_clock.advance(300'000);
    Got f;
    auto fo = look(QStringLiteral("x.test"), &f);
    ASSERT_FALSE(fo.ready);
    m_fake->fail(QStringLiteral("x.test"), RecordType::A, DnsError::Timeout);
    pump();
    EXPECT_EQ(f.result.error, DnsError::Timeout);
    EXPECT_TRUE(f.result.addresses.isEmpty());
}

TEST_F(HostCacheTest, FailedRefreshBeforeExpiryKeepsServingFreshAddresses)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 100);
    m_clock.advance(95'000);
    Got g;
    ASSERT_TRUE(look(QStringLiteral("x.test"), &g).ready);
    ASSERT_TRUE(m_fake->fail(QStringLiteral("x.test"), RecordType::A, DnsError::ServFail));
    auto o = look(QStringLiteral("x.test"), &g);
    ASSERT_TRUE(o.ready);
    EXPECT_FALSE(o.ready->stale);
    EXPECT_EQ(m_fake->count(QStringLiteral("x.test"), RecordType::A), 2) << "backoff before the next refresh";
    m_clock.advance(5000);
    auto st = look(QStringLiteral("x.test"), &g);
    ASSERT_TRUE(st.ready);
    EXPECT_TRUE(st.ready->stale);
}

TEST_F(HostCacheTest, MaxHostsOverflow)
{
    auto o = defaults();
    o.maxHosts = 2;
    make(o, false);
    Got g;
    auto a = look(QStringLiteral("a.test"), &g);
    auto b = look(QStringLiteral("b.test"), &g);
    auto c = look(QStringLiteral("c.test"), &g);
    ASSERT_TRUE(c.ready);
    EXPECT_EQ(c.ready->error, DnsError::CacheOverflow);
    EXPECT_EQ(m_cache->stats().host_overflow, 1u);
    EXPECT_EQ(reasonString(c.ready->error), QStringLiteral("dns_cache_overflow"));
}

TEST_F(HostCacheTest, MaxPendingRequestsOverflow)
{
    auto o = defaults();
    o.maxPendingRequests = 2;
    make(o, false);
    Got g;
    auto a = look(QStringLiteral("a.test"), &g);
    auto b = look(QStringLiteral("a.test"), &g);
    auto c = look(QStringLiteral("b.test"), &g);
    ASSERT_TRUE(c.ready);
    EXPECT_EQ(c.ready->error, DnsError::PendingOverflow);
    EXPECT_EQ(m_cache->stats().dns_rq_pending_overflow, 1u);
    EXPECT_EQ(m_cache->stats().num_hosts, 1u); // the refused host took no entry
    a.pending.reset(); // a cancelled waiter frees its slot
    auto d = look(QStringLiteral("b.test"), &g);
    EXPECT_FALSE(d.ready);
}

TEST_F(HostCacheTest, ConnectFailureMovesAddressToTheBack)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1, kA2, kA3});
    m_cache->reportConnectFailure(QStringLiteral("x.test"), 80, kA1);
    Got g;
    auto o = look(QStringLiteral("x.test"), &g);
    ASSERT_TRUE(o.ready);
    EXPECT_EQ(o.ready->addresses, (QList<QHostAddress>{kA2, kA3, kA1}));
    m_cache->reportConnectFailure(QStringLiteral("x.test"), 443, kA2); // other port: other entry
    EXPECT_EQ(look(QStringLiteral("x.test"), &g).ready->addresses, (QList<QHostAddress>{kA2, kA3, kA1}));
}

TEST_F(HostCacheTest, AdminViewsAndRemoval)
{
    make();
    resolve(QStringLiteral("x.test"), {kA1}, 60);
    Got g;
    auto pending = look(QStringLiteral("y.test"), &g, LookupFamily::V4Only, 8080);
    const auto list = m_cache->entries();
    ASSERT_EQ(list.size(), 2);
    EXPECT_EQ(list[0].host, QStringLiteral("x.test"));
    EXPECT_EQ(list[0].state, QStringLiteral("resolved"));
    EXPECT_EQ(list[0].lastResolved, m_clock.wallNow());
    EXPECT_EQ(list[1].state, QStringLiteral("resolving"));

    const QJsonArray arr = m_cache->entriesJson();
    const QJsonObject e = arr.at(0).toObject();
    EXPECT_EQ(e.value(QStringLiteral("addresses")).toArray().at(0).toString(), QStringLiteral("10.0.0.1"));
    EXPECT_EQ(e.value(QStringLiteral("ttlLeftMs")).toInteger(), 60'000);
    EXPECT_EQ(e.value(QStringLiteral("key")).toString(), QStringLiteral("x.test:80"));
    EXPECT_TRUE(e.contains(QStringLiteral("lastResolved")));
    EXPECT_EQ(m_cache->statsJson().value(QStringLiteral("num_hosts")).toInteger(), 2);

    EXPECT_TRUE(m_cache->remove(QStringLiteral("x.test"), 80));
    EXPECT_FALSE(m_cache->remove(QStringLiteral("x.test"), 80));
    m_cache->flush();
    EXPECT_EQ(m_cache->entries().size(), 1) << "an entry still resolving stays until its answer";
    m_fake->answer(QStringLiteral("y.test"), RecordType::A, {kA2});
    pump();
    EXPECT_EQ(g.result.addresses, QList<QHostAddress>{kA2});
}

TEST_F(HostCacheTest, PreresolveFromOptions)
{
    auto o = defaults();
    o.preresolve = {QStringLiteral("pre.test:443")};
    make(o, false);
    EXPECT_EQ(m_fake->count(QStringLiteral("pre.test"), RecordType::A), 1);
    m_fake->answer(QStringLiteral("pre.test"), RecordType::A, {kA1});
    Got g;
    auto r = look(QStringLiteral("pre.test"), &g, LookupFamily::V4Preferred, 443);
    ASSERT_TRUE(r.ready);
    EXPECT_EQ(r.ready->addresses, QList<QHostAddress>{kA1});
}

TEST_F(HostCacheTest, LookupsFromWorkerThreadsCallBackOnTheirThreads)
{
    make();
    constexpr int kThreads = 4;
    QThread threads[kThreads];
    QObject *contexts[kThreads];
    std::atomic<int> done{0};
    std::atomic<int> rightThread{0};
    std::vector<std::unique_ptr<PendingLookup>> handles(kThreads);
    for (int i = 0; i < kThreads; ++i) {
        threads[i].start();
        contexts[i] = new QObject;
        contexts[i]->moveToThread(&threads[i]);
        QObject *ctx = contexts[i];
        QMetaObject::invokeMethod(
            ctx,
            [&, i, ctx] {
                auto out = m_cache->lookup(QStringLiteral("mt.test"), 80, LookupFamily::V4Only, ctx,
                                           [&, ctx](const ResolveResult &r) {
                                               if (QThread::currentThread() == ctx->thread() && r.ok())
                                                   ++rightThread;
                                               ++done;
                                           });
                handles[i] = std::move(out.pending);
            },
            Qt::BlockingQueuedConnection);
    }
    // The worker threads posted the query start to the cache's (this) thread.
    pump();
    EXPECT_EQ(m_fake->count(QStringLiteral("mt.test"), RecordType::A), 1);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("mt.test"), RecordType::A, {kA1}));
    QDeadlineTimer guard(10'000);
    while (done.load() < kThreads && !guard.hasExpired())
        QThread::yieldCurrentThread();
    EXPECT_EQ(done.load(), kThreads);
    EXPECT_EQ(rightThread.load(), kThreads);
    for (int i = 0; i < kThreads; ++i) {
        QObject *ctx = contexts[i];
        QMetaObject::invokeMethod(
            ctx, [&, i, ctx] { handles[i].reset(); delete ctx; }, Qt::BlockingQueuedConnection);
        threads[i].quit();
        threads[i].wait();
    }
}

TEST_F(HostCacheTest, WaiterGivesUpAtQueryTimeoutEvenIfTheResolverNeverAnswers)
{
    DnsHostCache::Options o = defaults();
    o.queryTimeoutMs = 500;
    make(o, false);
    Got g;
    auto out = look(QStringLiteral("hang.test"), &g);
    ASSERT_TRUE(out.pending);
    // Before the deadline (timeout + slack) nothing happens.
    m_clock.advance(500);
    m_cache->runMaintenance();
    pump();
    EXPECT_EQ(g.calls, 0);
    m_clock.advance(250);
    m_cache->runMaintenance();
    pump();
    ASSERT_EQ(g.calls, 1);
    EXPECT_EQ(g.result.error, DnsError::Timeout);
    EXPECT_TRUE(g.result.detail.contains(QStringLiteral("500 ms"))) << g.result.detail.toStdString();
    EXPECT_EQ(m_fake->inFlight(), 0); // the stuck query was cancelled
    EXPECT_EQ(m_cache->stats().dns_query_timeout, 1u);
    // A late answer from the abandoned query changes nothing.
    EXPECT_FALSE(m_fake->answer(QStringLiteral("hang.test"), RecordType::A, {kA1}));
    // Negatively cached like any other failure.
    Got again;
    auto o2 = look(QStringLiteral("hang.test"), &again);
    ASSERT_TRUE(o2.ready.has_value());
    EXPECT_EQ(o2.ready->error, DnsError::Timeout);
}

TEST_F(HostCacheTest, AResolutionThatEndsStopsItsGuardTimer)
{
    // Each resolution has a guard timer (queryTimeoutMs + slack). One that ends must stop it: left running, they
    // piled up by the thousand under many new names, and Qt inserts every new timer by a scan of the thread's list.
    make();
    QList<std::shared_ptr<Got>> got;
    std::vector<std::unique_ptr<PendingLookup>> pending;
    for (int i = 0; i < 100; ++i) {
        got.append(std::make_shared<Got>());
        auto out = look(QStringLiteral("n%1.test").arg(i), got.last().get());
        ASSERT_TRUE(out.pending);
        pending.push_back(std::move(out.pending));
    }
    EXPECT_EQ(m_cache->guardTimersOnThisThread(), 100);
    for (int i = 0; i < 90; ++i) // answers
        ASSERT_TRUE(m_fake->answer(QStringLiteral("n%1.test").arg(i), RecordType::A, {kA1}));
    for (int i = 90; i < 95; ++i) // failures
        ASSERT_TRUE(m_fake->fail(QStringLiteral("n%1.test").arg(i), RecordType::A, DnsError::NxDomain));
    pump();
    EXPECT_EQ(m_cache->guardTimersOnThisThread(), 5);
    // The other five end at the deadline, found by maintenance.
    m_clock.advance(m_cache->options().queryTimeoutMs + 250);
    m_cache->runMaintenance();
    pump();
    EXPECT_EQ(m_cache->guardTimersOnThisThread(), 0);
    for (const auto &g : got)
        EXPECT_EQ(g->calls, 1);
    // A flush (admin API) keeps a resolution in flight; it still stops its timer when it ends.
    Got late;
    auto out = look(QStringLiteral("late.test"), &late);
    ASSERT_TRUE(out.pending);
    EXPECT_EQ(m_cache->guardTimersOnThisThread(), 1);
    m_cache->flush();
    EXPECT_EQ(m_cache->guardTimersOnThisThread(), 1);
    ASSERT_TRUE(m_fake->answer(QStringLiteral("late.test"), RecordType::A, {kA2}));
    pump();
    EXPECT_EQ(late.calls, 1);
    EXPECT_EQ(m_cache->guardTimersOnThisThread(), 0);
}

TEST_F(HostCacheTest, DeadlineCoversTheFallbackQueryToo)
{
    DnsHostCache::Options o = defaults();
    o.queryTimeoutMs = 1000;
    make(o, false);
    Got g;
    auto out = look(QStringLiteral("x.test"), &g, LookupFamily::V4Preferred);
    m_clock.advance(900);
    m_fake->fail(QStringLiteral("x.test"), RecordType::A, DnsError::NoData); // AAAA starts now
    pump();
    ASSERT_TRUE(m_fake->hasInFlight(QStringLiteral("x.test"), RecordType::AAAA));
    m_clock.advance(350); // 1250 ms since the resolution began
    m_cache->runMaintenance();
    pump();
    ASSERT_EQ(g.calls, 1);
    EXPECT_EQ(g.result.error, DnsError::Timeout);
}

TEST_F(HostCacheTest, V4PreferredDoesNotFallBackAfterATimeout)
{
    make();
    Got g;
    auto out = look(QStringLiteral("slow.test"), &g, LookupFamily::V4Preferred);
    m_fake->fail(QStringLiteral("slow.test"), RecordType::A, DnsError::Timeout);
    pump();
    ASSERT_EQ(g.calls, 1);
    EXPECT_EQ(g.result.error, DnsError::Timeout);
    EXPECT_EQ(m_fake->count(QStringLiteral("slow.test"), RecordType::AAAA), 0);
}

TEST_F(HostCacheTest, ReconfigureAppliesNewLimitsKeepsEntriesAndPreresolvesNewNames)
{
    make();
    resolve(QStringLiteral("kept.test"), {kA1});
    DnsHostCache::Options o = defaults();
    o.maxHosts = 1;
    o.preresolve = {QStringLiteral("warm.test:443")};
    m_cache->reconfigure(o);
    EXPECT_EQ(m_cache->options().maxHosts, 1);
    EXPECT_EQ(m_cache->options().maintenanceIntervalMs, 0); // kept from the start
    // The kept entry still answers; the cache is full, so the preresolve found no room and a new host overflows.
    Got g;
    auto hit = look(QStringLiteral("kept.test"), &g);
    ASSERT_TRUE(hit.ready);
    EXPECT_EQ(hit.ready->addresses, QList<QHostAddress>{kA1});
    EXPECT_EQ(m_fake->count(QStringLiteral("warm.test"), RecordType::A), 0);
    auto full = look(QStringLiteral("new.test"), &g);
    ASSERT_TRUE(full.ready);
    EXPECT_EQ(full.ready->error, DnsError::CacheOverflow);

    o.maxHosts = 10;
    o.preresolve = {QStringLiteral("warm.test:443"), QStringLiteral("warm2.test:443")};
    m_cache->reconfigure(o);
    pump();
    // Only names new to the list are resolved by reconfigure (warm.test was already listed).
    EXPECT_EQ(m_fake->count(QStringLiteral("warm2.test"), RecordType::A), 1);
}
