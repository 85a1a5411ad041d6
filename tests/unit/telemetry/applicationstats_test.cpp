// SPDX-License-Identifier: Apache-2.0
// telemetry::ApplicationStats: what GET /api/v1/applications, `dfproxyctl apps` and the console's Applications page
// show (docs/applications.md).
#include "telemetry/applicationstats.h"

#include <QJsonArray>
#include <QMap>
#include <QSet>

#include <gtest/gtest.h>

using namespace dfproxy::telemetry;

namespace {

AccessLogEntry entry(const QString &path, qint64 pid, const QByteArray &host, int second, const QString &decision = "allow")
{
    AccessLogEntry e;
    e.time = QDateTime(QDate(2026, 12, 7), QTime(6, 0, second), Qt::UTC);
    if (pid) {
        auto p = std::make_shared<dfproxy::platform::ProcessInfo>();
        p->name = path.section(u'/', -1);
        p->path = path;
        p->pid = pid;
        p->user = QStringLiteral("alice");
        e.application = p;
    }
    e.host = host;
    e.bytesIn = 10;
    e.bytesOut = 100;
    e.decision = decision.toLatin1();
    return e;
}

} // namespace

TEST(ApplicationStats, CountsEachProgramAndItsHostsNewestFirst)
{
    ApplicationStats stats;
    stats.observe(entry("/usr/bin/curl", 10, "a.test", 1));
    stats.observe(entry("/usr/bin/curl", 11, "a.test", 2)); // another curl process: the same program
    stats.observe(entry("/usr/bin/curl", 11, "b.test", 3, "deny:authz ns/p default action"));
    stats.observe(entry("/usr/bin/wget", 20, "a.test", 4));
    AccessLogEntry remote = entry("", 0, "a.test", 5); // another machine: no program
    remote.application.reset();
    stats.observe(remote);

    const QJsonArray items = stats.toJson().value("items").toArray();
    ASSERT_EQ(items.size(), 2);
    EXPECT_EQ(items[0].toObject().value("process").toString(), "wget"); // seen last
    const QJsonObject curl = items[1].toObject();
    EXPECT_EQ(curl.value("processPath").toString(), "/usr/bin/curl");
    EXPECT_EQ(curl.value("processUser").toString(), "alice");
    EXPECT_EQ(curl.value("requests").toInteger(), 3);
    EXPECT_EQ(curl.value("denied").toInteger(), 1);
    EXPECT_EQ(curl.value("bytesOut").toInteger(), 300);
    EXPECT_EQ(curl.value("pids").toArray(), (QJsonArray{10, 11}));
    EXPECT_EQ(curl.value("firstSeen").toString(), "2026-12-07T06:00:01.000Z");
    EXPECT_EQ(curl.value("lastSeen").toString(), "2026-12-07T06:00:03.000Z");
    const QJsonArray hosts = curl.value("hosts").toArray();
    ASSERT_EQ(hosts.size(), 2);
    EXPECT_EQ(hosts[0].toObject().value("host").toString(), "a.test"); // most requests first
    EXPECT_EQ(hosts[0].toObject().value("requests").toInteger(), 2);
    EXPECT_EQ(hosts[1].toObject().value("denied").toInteger(), 1);
}

TEST(ApplicationStats, ForgetsTheLeastRecentlySeenBeyondItsBounds)
{
    ApplicationStats stats(2, 2);
    stats.observe(entry("/bin/a", 1, "x.test", 1));
    stats.observe(entry("/bin/b", 2, "x.test", 2));
    stats.observe(entry("/bin/a", 1, "y.test", 3));
    stats.observe(entry("/bin/a", 1, "z.test", 4)); // a's third host: x.test (seen first) goes
    stats.observe(entry("/bin/c", 3, "x.test", 5)); // a third program: b (seen least recently) goes
    const QJsonArray items = stats.toJson().value("items").toArray();
    ASSERT_EQ(items.size(), 2);
    EXPECT_EQ(items[0].toObject().value("processPath").toString(), "/bin/c");
    const QJsonObject a = items[1].toObject();
    EXPECT_EQ(a.value("processPath").toString(), "/bin/a");
    QStringList hosts;
    for (const auto &h : a.value("hosts").toArray())
        hosts.append(h.toObject().value("host").toString());
    hosts.sort();
    EXPECT_EQ(hosts, (QStringList{"y.test", "z.test"}));
    EXPECT_EQ(a.value("requests").toInteger(), 3); // the program's totals keep what the forgotten host counted
}

TEST(ApplicationStats, ForgetsTheHostSeenLeastRecentlyEvenWhenItsRecordCameLast)
{
    // Records reach the stats in the order the workers finish them, not quite in time order: the bound goes by the
    // time a host was last seen.
    ApplicationStats stats(1, 2);
    stats.observe(entry("/bin/a", 1, "x.test", 10));
    stats.observe(entry("/bin/a", 1, "y.test", 30));
    stats.observe(entry("/bin/a", 1, "x.test", 40)); // x.test seen again, later
    stats.observe(entry("/bin/a", 1, "z.test", 20)); // a third host, but seen before the others: it goes itself
    QStringList hosts;
    for (const auto &h : stats.toJson().value("items").toArray()[0].toObject().value("hosts").toArray())
        hosts.append(h.toObject().value("host").toString());
    hosts.sort();
    EXPECT_EQ(hosts, (QStringList{"x.test", "y.test"}));
    stats.observe(entry("/bin/a", 1, "w.test", 50)); // now y.test (30) is the least recently seen
    hosts.clear();
    for (const auto &h : stats.toJson().value("items").toArray()[0].toObject().value("hosts").toArray())
        hosts.append(h.toObject().value("host").toString());
    hosts.sort();
    EXPECT_EQ(hosts, (QStringList{"w.test", "x.test"}));
}

TEST(ApplicationStats, AProgramReachingANewHostEveryRequestKeepsTheNewestWithinItsBound)
{
    // A crawler (or bench/dnswait.sh) reaches a host never seen before with every request: each one forgets the
    // least recently seen host. That was a scan of every host kept, per request; with a bound this large the scan
    // made this test run for minutes (past its ctest timeout) where it now takes a fraction of a second.
    constexpr int kBound = 50'000;
    constexpr int kHosts = 150'000;
    ApplicationStats stats(4, kBound);
    AccessLogEntry e = entry("/usr/bin/wrk", 7, "", 0);
    const QDateTime start = e.time;
    for (int i = 0; i < kHosts; ++i) {
        e.time = start.addMSecs(i);
        e.host = "svc" + QByteArray::number(i) + ".bench.test";
        stats.observe(e);
    }
    const QJsonObject wrk = stats.toJson().value("items").toArray()[0].toObject();
    EXPECT_EQ(wrk.value("requests").toInteger(), kHosts);
    const QJsonArray hosts = wrk.value("hosts").toArray();
    ASSERT_EQ(hosts.size(), kBound);
    QSet<QString> kept;
    for (const auto &h : hosts)
        kept.insert(h.toObject().value("host").toString());
    EXPECT_TRUE(kept.contains(QStringLiteral("svc%1.bench.test").arg(kHosts - 1)));
    EXPECT_TRUE(kept.contains(QStringLiteral("svc%1.bench.test").arg(kHosts - kBound)));
    EXPECT_FALSE(kept.contains(QStringLiteral("svc%1.bench.test").arg(kHosts - kBound - 1)));
}

// observe() keeps the slot of the record before (program and host) instead of looking both up per record: every
// way the next record can differ from the one before, or the slot can be forgotten, must still count right.
TEST(ApplicationStats, CountsRightWhateverTheRecordBeforeWas)
{
    ApplicationStats stats(2, 2);
    AccessLogEntry first = entry("/bin/a", 1, "x.test", 1);
    stats.observe(first);
    stats.observe(first);                               // the very same process information
    stats.observe(entry("/bin/a", 1, "x.test", 2));     // another connection's copy of it
    stats.observe(entry("/bin/a", 2, "x.test", 3));     // another process of the same program: a new pid
    AccessLogEntry otherUser = entry("/bin/a", 2, "x.test", 4);
    auto bob = std::make_shared<dfproxy::platform::ProcessInfo>(*otherUser.application);
    bob->user = QStringLiteral("bob");
    otherUser.application = bob;
    stats.observe(otherUser);                           // the same pid and path under another account
    stats.observe(entry("/bin/a", 2, "y.test", 5));     // back to alice, another host
    stats.observe(entry("/bin/a", 2, "z.test", 6));     // a third host: x.test goes
    stats.observe(entry("/bin/a", 2, "x.test", 7));     // x.test again: counted afresh, y.test goes
    stats.observe(entry("/bin/c", 3, "x.test", 8));     // a third program: bob's goes
    stats.observe(entry("/bin/a", 2, "x.test", 9));

    const QJsonArray items = stats.toJson().value("items").toArray();
    ASSERT_EQ(items.size(), 2);
    const QJsonObject a = items[0].toObject();
    EXPECT_EQ(a.value("processPath").toString(), "/bin/a");
    EXPECT_EQ(a.value("processUser").toString(), "alice");
    EXPECT_EQ(a.value("requests").toInteger(), 8);
    EXPECT_EQ(a.value("pids").toArray(), (QJsonArray{1, 2}));
    EXPECT_EQ(a.value("lastSeen").toString(), "2026-12-07T06:00:09.000Z");
    QMap<QString, qint64> hosts;
    for (const auto &h : a.value("hosts").toArray())
        hosts.insert(h.toObject().value("host").toString(), h.toObject().value("requests").toInteger());
    EXPECT_EQ(hosts, (QMap<QString, qint64>{{"x.test", 2}, {"z.test", 1}}));
    EXPECT_EQ(items[1].toObject().value("processPath").toString(), "/bin/c");
}
