// SPDX-License-Identifier: Apache-2.0
#pragma once
// The program behind each client connection (docs/applications.md): looked up once per connection, started when
// the connection is accepted, on one lookup thread per proxy, through the platform's ProcessLookup. Connections
// from other machines have none. The worker never runs the lookup's system calls itself: a first request that
// arrives before the answer waits for it (the `application` stage returns Wait), every later request of the
// connection reads the kept answer.

#include "platform/processlookup.h"

#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QThread>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace dfproxy::net {
class Stream;
}

namespace dfproxy::proxy {

class ClientApplications;

/// What a waiting `application` stage keeps (Transaction::applicationWait): destroying it drops the callback.
using ApplicationWaiter = std::shared_ptr<std::function<void()>>;

/// The lookup of one client connection. Lives on the connection's thread and moves with the connection's stream
/// (HTTP/1 to HTTP/2). Destroying it drops the answer: a queued lookup is skipped, a running one answers nobody.
/// No QObject of its own (one per connection would cost more than the hand-over): the answer is posted to the
/// context the connection named, which outlives it.
class ConnectionApplication final
{
public:
    ~ConnectionApplication();
    ConnectionApplication(const ConnectionApplication &) = delete;
    ConnectionApplication &operator=(const ConnectionApplication &) = delete;

    /// The answer is in (info() is final).
    bool known() const { return m_known; }
    /// The program, null when unknown (process gone, not visible, the lookup failed).
    const std::shared_ptr<const platform::ProcessInfo> &info() const { return m_info; }
    /// Runs `f` on this thread when the answer comes in, unless the returned handle is destroyed first. Several
    /// may wait (HTTP/2 streams). Call only while !known().
    [[nodiscard]] ApplicationWaiter whenKnown(std::function<void()> f);

    struct Job; ///< shared with the lookup thread (clientapplication.cpp)

private:
    friend class ClientApplications;
    ConnectionApplication() = default;
    void answer(std::shared_ptr<const platform::ProcessInfo> info);

    std::shared_ptr<Job> m_job;
    bool m_known = false;
    std::shared_ptr<const platform::ProcessInfo> m_info;
    std::vector<std::weak_ptr<std::function<void()>>> m_waiters;
};

/// The machine's own addresses (every interface's), read again when a second old; thread-safe.
class OwnAddresses
{
public:
    bool contains(const QHostAddress &address);

private:
    static constexpr qint64 kRefreshMs = 1000;
    std::mutex m_mutex;
    QList<QHostAddress> m_addresses;
    qint64 m_refreshedMs = 0;
};

/// One per proxy (ProxyContext::applications); thread-safe. Its lookup thread starts with the first lookup: with
/// the lookup off there is none.
class ClientApplications
{
public:
    ClientApplications();
    ~ClientApplications();
    ClientApplications(const ClientApplications &) = delete;
    ClientApplications &operator=(const ClientApplications &) = delete;

    /// proxy.applicationLookup; applies to connections accepted after the change.
    void setEnabled(bool on) { m_enabled.store(on, std::memory_order_relaxed); }
    bool enabled() const { return m_enabled.load(std::memory_order_relaxed); }
    /// Replaces the platform's lookup (tests). Call before the first connection.
    void setLookup(std::unique_ptr<platform::ProcessLookup> lookup);

    /// Starts looking up the program owning the client end of `client`, for a connection on the calling thread.
    /// The answer is delivered through `context`'s event queue (an object of this thread that outlives the
    /// returned handle: the worker). Null when there is nothing to look up (the lookup is off, the client is on
    /// another machine): the connection has no program. Costs the worker one system call (the stream's local
    /// address) and a hand-over.
    std::unique_ptr<ConnectionApplication> start(const net::Stream &client, QObject *context);
    /// The same for a local client at client:clientPort connected to server:serverPort (tests start here).
    std::unique_ptr<ConnectionApplication> start(const QHostAddress &client, quint16 clientPort,
                                                 const QHostAddress &server, quint16 serverPort, QObject *context);
    /// The lookup thread is running (it starts with the first lookup).
    bool threadStarted() const;

    /// {"enabled", "lookups", "found", "notFound", "remote", "lookupMicrosTotal", "waited", "overflow"} for
    /// /api/v1/stats.
    QJsonObject stats() const;
    /// A first request waited for its connection's answer (the `application` stage).
    void countWait() { m_waited.fetch_add(1, std::memory_order_relaxed); }

    /// Lookups queued at most; beyond that a connection gets no program at once (fail closed: an allow list by
    /// program refuses it) rather than the queue growing without bound under a flood of connections.
    static constexpr std::size_t kMaxQueued = 4096;

private:
    void runLookups();
    void runJob(const std::shared_ptr<ConnectionApplication::Job> &job);

    std::atomic<bool> m_enabled{true};
    std::shared_ptr<platform::ProcessLookup> m_lookup;
    OwnAddresses m_ownAddresses;

    mutable std::mutex m_mutex; ///< guards the queue, m_stop and m_thread's start
    std::condition_variable m_wake;
    std::deque<std::shared_ptr<ConnectionApplication::Job>> m_queue;
    bool m_stop = false;
    std::unique_ptr<QThread> m_thread; ///< "dfproxy-apps" in top and debuggers

    std::atomic<qint64> m_lookups{0}, m_found{0}, m_notFound{0}, m_remote{0}, m_micros{0}, m_waited{0},
        m_overflow{0};
};

} // namespace dfproxy::proxy
