// SPDX-License-Identifier: Apache-2.0
// DnsHostCache::attachThread: a name missed on an attached thread is resolved from that thread's event loop, with
// the real UdpResolver against TestDnsServer on 127.0.55.x:53; the resolver is wrapped to record which thread
// sent each query.
#include "dns/dnshostcache.h"
#include "support/dnsserver.h"
#include "support/wait.h"

#include <gtest/gtest.h>


#include <QMutex>
#include <QThread>

#include <algorithm>
#include <functional>

using namespace dfproxy;
using namespace dfproxy::dns;
using dfproxy::test::TestDnsServer;

namespace {

/// Spins the event loop until `pred` holds (a guard of 20 s, not a timing assertion).
bool waitFor(const std::function<bool()> &pred)
{
    return dfproxy::test::waitUntil(pred, 20'000);
}

/// Which thread asked which name.
struct QueryLog
{
    QMutex mutex;
    QList<QPair<QString, QThread *>> queries;

    QList<QThread *> threadsFor(const QString &name)
    {
        QMutexLocker lock(&mutex);
        QList<QThread *> out;
        for (const auto &[n, t] : std::as_const(queries)) {
            if (n == name)
                out.append(t);
        }
        return out;
    }
};

class RecordingResolver final : public Resolver
{
public:
    RecordingResolver(std::unique_ptr<Resolver> inner, std::shared_ptr<QueryLog> log)
        : m_inner(std::move(inner)), m_log(std::move(log))
    {
    }
    std::unique_ptr<ResolverQuery> query(const QString &name, RecordType type, Callback callback) override
    {
        {
            QMutexLocker lock(&m_log->mutex);
            m_log->queries.append({name, QThread::currentThread()});
        }
        return m_inner->query(name, type, std::move(callback));
    }

private:
    std::unique_ptr<Resolver> m_inner;
    std::shared_ptr<QueryLog> m_log;
};

/// A thread with an event loop, like a proxy worker, and a context object on it.
class Worker
{
public:
    Worker()
    {
        m_thread.start();
        m_context.moveToThread(&m_thread);
    }
    ~Worker()
    {
        run([this] { m_attachment.reset(); });
        m_thread.quit();
        m_thread.wait();
    }
    /// Runs `f` on the worker and waits for it.
    void run(const std::function<void()> &f) { QMetaObject::invokeMethod(&m_context, f, Qt::BlockingQueuedConnection); }
    QThread *thread() { return &m_thread; }
    QObject *context() { return &m_context; }
    std::unique_ptr<ThreadAttachment> &attachment() { return m_attachment; }

private:
    QThread m_thread;
    QObject m_context;
    std::unique_ptr<ThreadAttachment> m_attachment;
};

/// A lookup's result, written on whichever thread the callback runs.
struct Result
{
    QMutex mutex;
    std::optional<ResolveResult> value;
    QThread *thread = nullptr;

    HostCache::Callback callback()
    {
        return [this](const ResolveResult &r) {
            QMutexLocker lock(&mutex);
            value = r;
            thread = QThread::currentThread();
        };
    }
    bool ready()
    {
        QMutexLocker lock(&mutex);
        return value.has_value();
    }
};

class ThreadResolveTest : public ::testing::Test
{
protected:
    /// Starts the test's DNS server on 127.0.55.n: a number of its own per test, since ctest runs each test in a
    /// process of its own and several at once.
    void serve(int n)
    {
        QString error;
        ASSERT_TRUE(m_server.start(QHostAddress(QStringLiteral("127.0.55.%1").arg(n)), 53, &error))
            << error.toStdString();
    }

    std::unique_ptr<DnsHostCache> makeCache(int queryTimeoutMs = 2000)
    {
        DnsHostCache::Options o;
        o.servers = {m_server.address()};
        o.queryTimeoutMs = queryTimeoutMs;
        o.maintenanceIntervalMs = 0;
        o.hostsFilePath = QStringLiteral("/nonexistent/dfproxy-hosts");
        auto log = m_log;
        return std::make_unique<DnsHostCache>(
            o,
            [log](const DnsHostCache::Options &options) {
                return std::make_unique<RecordingResolver>(DnsHostCache::makeResolver(options), log);
            },
            SystemClock::instance());
    }

    TestDnsServer m_server;
    std::shared_ptr<QueryLog> m_log = std::make_shared<QueryLog>();
};

} // namespace

TEST_F(ThreadResolveTest, AttachedThreadSendsTheQueriesForTheNamesItMisses)
{
    serve(1);
    m_server.setAddresses(QStringLiteral("worker.test"), {QHostAddress(QStringLiteral("127.1.0.1"))});
    m_server.setAddresses(QStringLiteral("main.test"), {QHostAddress(QStringLiteral("127.1.0.2"))});
    auto cache = makeCache();
    Worker worker;
    Result onWorker, onMain, onOther;
    std::unique_ptr<PendingLookup> pending;
    worker.run([&] {
        worker.attachment() = cache->attachThread();
        pending = cache->lookup(QStringLiteral("worker.test"), 80, LookupFamily::V4Only, worker.context(),
                                onWorker.callback())
                      .pending;
    });
    ASSERT_TRUE(worker.attachment());
    ASSERT_TRUE(pending);
    QObject mainContext;
    auto mainPending = cache->lookup(QStringLiteral("main.test"), 80, LookupFamily::V4Only, &mainContext,
                                     onMain.callback());
    ASSERT_TRUE(waitFor([&] { return onWorker.ready() && onMain.ready(); }));
    EXPECT_TRUE(onWorker.value->ok()) << onWorker.value->detail.toStdString();
    EXPECT_EQ(onWorker.value->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.1"))});
    EXPECT_EQ(onWorker.thread, worker.thread());
    EXPECT_EQ(m_log->threadsFor(QStringLiteral("worker.test")), QList<QThread *>{worker.thread()});
    EXPECT_TRUE(onMain.value->ok()) << onMain.value->detail.toStdString();
    EXPECT_EQ(m_log->threadsFor(QStringLiteral("main.test")), QList<QThread *>{QThread::currentThread()})
        << "a thread that did not attach still resolves on the cache's thread";

    // Another thread's lookup of the same name is a cache hit now.
    QThread plain;
    plain.start();
    QObject plainContext;
    plainContext.moveToThread(&plain);
    QMetaObject::invokeMethod(
        &plainContext,
        [&] {
            auto out = cache->lookup(QStringLiteral("worker.test"), 80, LookupFamily::V4Only, &plainContext, {});
            QMutexLocker lock(&onOther.mutex);
            onOther.value = out.ready;
        },
        Qt::BlockingQueuedConnection);
    plain.quit();
    plain.wait();
    ASSERT_TRUE(onOther.value.has_value());
    EXPECT_TRUE(onOther.value->cacheHit);
    EXPECT_EQ(m_server.queryCount(QStringLiteral("worker.test")), 1);
    worker.run([&] { pending.reset(); });
}

TEST_F(ThreadResolveTest, AThreadAttachesOnceAndTheCachesOwnThreadNever)
{
    serve(2);
    auto cache = makeCache();
    EXPECT_FALSE(cache->attachThread()) << "the cache's own thread";
    Worker worker;
    std::unique_ptr<ThreadAttachment> second;
    worker.run([&] {
        worker.attachment() = cache->attachThread();
        second = cache->attachThread();
    });
    EXPECT_TRUE(worker.attachment());
    EXPECT_FALSE(second);
}

TEST_F(ThreadResolveTest, DetachingMovesAResolutionInFlightToTheCachesThread)
{
    serve(3);
    m_server.setAddresses(QStringLiteral("slow.test"), {QHostAddress(QStringLiteral("127.1.0.3"))});
    m_server.setDelay(QStringLiteral("slow.test"), 300);
    auto cache = makeCache();
    Worker worker;
    Result onWorker, onMain;
    std::unique_ptr<PendingLookup> pending;
    worker.run([&] {
        worker.attachment() = cache->attachThread();
        pending = cache->lookup(QStringLiteral("slow.test"), 80, LookupFamily::V4Only, worker.context(),
                                onWorker.callback())
                      .pending;
    });
    QObject mainContext;
    auto mainOut = cache->lookup(QStringLiteral("slow.test"), 80, LookupFamily::V4Only, &mainContext,
                                 onMain.callback());
    ASSERT_TRUE(mainOut.pending) << "waits on the worker's resolution";
    ASSERT_TRUE(waitFor([&] { return m_server.queryCount(QStringLiteral("slow.test")) >= 1; }));
    worker.run([&] { worker.attachment().reset(); }); // its query is cancelled there, on its own thread

    ASSERT_TRUE(waitFor([&] { return onMain.ready() && onWorker.ready(); }));
    EXPECT_TRUE(onMain.value->ok()) << onMain.value->detail.toStdString();
    EXPECT_TRUE(onWorker.value->ok()) << onWorker.value->detail.toStdString();
    EXPECT_EQ(onWorker.thread, worker.thread());
    EXPECT_EQ(m_log->threadsFor(QStringLiteral("slow.test")),
              (QList<QThread *>{worker.thread(), QThread::currentThread()}))
        << "asked again from the cache's thread";
    worker.run([&] { pending.reset(); });
}

TEST_F(ThreadResolveTest, ResolutionOnAnAttachedThreadEndsAtTheDeadline)
{
    serve(4);
    m_server.setMode(QStringLiteral("quiet.test"), TestDnsServer::Mode::Silent);
    auto cache = makeCache(200);
    Worker worker;
    Result onWorker;
    std::unique_ptr<PendingLookup> pending;
    worker.run([&] {
        worker.attachment() = cache->attachThread();
        pending = cache->lookup(QStringLiteral("quiet.test"), 80, LookupFamily::V4Only, worker.context(),
                                onWorker.callback())
                      .pending;
    });
    ASSERT_TRUE(waitFor([&] { return onWorker.ready(); }));
    EXPECT_EQ(onWorker.value->error, DnsError::Timeout) << onWorker.value->detail.toStdString();
    EXPECT_EQ(m_log->threadsFor(QStringLiteral("quiet.test")), QList<QThread *>{worker.thread()});
    // The cache's thread runs its maintenance meanwhile: nothing is left for it to expire or cancel.
    cache->runMaintenance();
    worker.run([&] { pending.reset(); });
}

TEST_F(ThreadResolveTest, AnAttachedThreadStopsTheGuardTimersOfTheResolutionsThatEnd)
{
    serve(6);
    for (int i = 0; i < 40; ++i)
        m_server.setAddresses(QStringLiteral("g%1.test").arg(i), {QHostAddress(QStringLiteral("127.0.0.1"))});
    m_server.setMode(QStringLiteral("quiet.test"), TestDnsServer::Mode::Silent);
    auto cache = makeCache(300);
    Worker worker;
    std::vector<std::unique_ptr<Result>> results;
    std::vector<std::unique_ptr<PendingLookup>> pending;
    qsizetype inFlight = -1;
    worker.run([&] {
        worker.attachment() = cache->attachThread();
        for (int i = 0; i <= 40; ++i) {
            results.push_back(std::make_unique<Result>());
            const QString name = i < 40 ? QStringLiteral("g%1.test").arg(i) : QStringLiteral("quiet.test");
            pending.push_back(cache->lookup(name, 80, LookupFamily::V4Only, worker.context(),
                                            results.back()->callback())
                                  .pending);
        }
        inFlight = cache->guardTimersOnThisThread();
    });
    EXPECT_EQ(inFlight, 41);
    EXPECT_EQ(cache->guardTimersOnThisThread(), 0) << "none on the cache's own thread";
    ASSERT_TRUE(waitFor([&] {
        return std::all_of(results.begin(), results.end() - 1, [](const auto &r) { return r->ready(); });
    }));
    qsizetype left = -1;
    worker.run([&] { left = cache->guardTimersOnThisThread(); });
    EXPECT_EQ(left, 1) << "only the silent name's";
    // The silent one ends at its deadline, which is that timer.
    ASSERT_TRUE(waitFor([&] { return results.back()->ready(); }));
    EXPECT_EQ(results.back()->value->error, DnsError::Timeout);
    worker.run([&] {
        left = cache->guardTimersOnThisThread();
        pending.clear();
    });
    EXPECT_EQ(left, 0);
}

TEST_F(ThreadResolveTest, NewServersReachAttachedThreadsAtTheirNextResolution)
{
    serve(5);
    TestDnsServer second;
    QString error;
    ASSERT_TRUE(second.start(QHostAddress(QStringLiteral("127.0.55.200")), 53, &error)) << error.toStdString();
    m_server.setAddresses(QStringLiteral("before.test"), {QHostAddress(QStringLiteral("127.1.0.4"))});
    second.setAddresses(QStringLiteral("after.test"), {QHostAddress(QStringLiteral("127.1.0.5"))});
    auto cache = makeCache();
    Worker worker;
    Result first, later;
    std::unique_ptr<PendingLookup> pending1, pending2;
    worker.run([&] {
        worker.attachment() = cache->attachThread();
        pending1 = cache->lookup(QStringLiteral("before.test"), 80, LookupFamily::V4Only, worker.context(),
                                 first.callback())
                       .pending;
    });
    ASSERT_TRUE(waitFor([&] { return first.ready(); }));
    EXPECT_TRUE(first.value->ok()) << first.value->detail.toStdString();
    DnsHostCache::Options o = cache->options();
    o.servers = {second.address()};
    cache->reconfigure(o);
    worker.run([&] {
        pending2 = cache->lookup(QStringLiteral("after.test"), 80, LookupFamily::V4Only, worker.context(),
                                 later.callback())
                       .pending;
    });
    ASSERT_TRUE(waitFor([&] { return later.ready(); }));
    EXPECT_TRUE(later.value->ok()) << later.value->detail.toStdString();
    EXPECT_EQ(second.queryCount(QStringLiteral("after.test")), 1);
    EXPECT_EQ(m_server.queryCount(QStringLiteral("after.test")), 0);
    worker.run([&] {
        pending1.reset();
        pending2.reset();
    });
}
