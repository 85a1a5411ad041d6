// SPDX-License-Identifier: Apache-2.0
#pragma once
// The program behind each client connection (docs/applications.md): looked up once per connection, begun by its
// first request, through the platform's ProcessLookup. Connections from other machines have none. The worker only
// asks for the quick answer (a few system calls: the socket is where the program's last closed connection was);
// anything longer runs on one lookup thread per proxy, and the first request waits for that answer (the
// `application` stage returns Wait). Every later request of the connection reads the kept answer.

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

    /// Starts the lookup if it has not started yet (ClientApplications::prepare): the quick answer (known() at
    /// once) or the lookup thread's.
    void begin();
    /// The answer is in (info() is final).
    bool known() const { return m_known; }
    /// The program, null when unknown (process gone, not visible, the lookup failed).
    const std::shared_ptr<const platform::ProcessInfo> &info() const { return m_info; }
    /// Runs `f` on this thread when the answer comes in, unless the returned handle is destroyed first. Several
    /// may wait (HTTP/2 streams). Call only while !known().
    [[nodiscard]] ApplicationWaiter whenKnown(std::function<void()> f);
    /// The client's end of the connection is gone (or about to be): the lookup may expect the program's next
    /// socket where this one was (ProcessLookup::released). Once; the destructor does it too.
    void release();

    struct Job; ///< shared with the lookup thread (clientapplication.cpp)

private:
    friend class ClientApplications;
    ConnectionApplication() = default;
    void answer(std::shared_ptr<const platform::ProcessInfo> info);

    ClientApplications *m_apps = nullptr;
    std::shared_ptr<Job> m_job;
    bool m_begun = false;
    bool m_known = false;
    std::shared_ptr<const platform::ProcessInfo> m_info;
    std::vector<std::weak_ptr<std::function<void()>>> m_waiters;
    /// A quick answer's socket location (no job), for release(); slot -1 when none.
    std::shared_ptr<platform::ProcessLookup> m_foundBy;
    qint64 m_slot = -1;
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

    /// The lookup of the program owning the client end of `client`, for a connection on the calling thread, to
    /// begin() when the connection's first request needs it: by then the worker has usually seen the program's
    /// previous connection close, which makes the quick answer possible (ProcessLookup::released). Null when
    /// there is nothing to look up (the lookup is off, the client is on another machine): the connection has no
    /// program. Costs the worker one system call (the stream's local address). A lookup thread's answer is
    /// delivered through `context`'s event queue (an object of this thread that outlives the returned handle:
    /// the worker).
    std::unique_ptr<ConnectionApplication> prepare(const net::Stream &client, QObject *context);
    /// The same for a local client at client:clientPort connected to server:serverPort.
    std::unique_ptr<ConnectionApplication> prepare(const QHostAddress &client, quint16 clientPort,
                                                   const QHostAddress &server, quint16 serverPort, QObject *context);
    /// prepare() and begin() at once (tests start here): the platform's quick answer (a few system calls, the
    /// handle is known() at once), or else a hand-over to the lookup thread.
    std::unique_ptr<ConnectionApplication> start(const QHostAddress &client, quint16 clientPort,
                                                 const QHostAddress &server, quint16 serverPort, QObject *context);
    /// The lookup thread is running (it starts with the first lookup).
    bool threadStarted() const;

    /// {"enabled", "lookups", "found", "notFound", "remote", "lookupMicrosTotal", "waited", "overflow", "quick",
    /// "descriptorScans"} for /api/v1/stats.
    QJsonObject stats() const;
    /// A first request waited for its connection's answer (the `application` stage).
    void countWait() { m_waited.fetch_add(1, std::memory_order_relaxed); }

    /// Lookups queued at most; beyond that a connection gets no program at once (fail closed: an allow list by
    /// program refuses it) rather than the queue growing without bound under a flood of connections.
    static constexpr std::size_t kMaxQueued = 4096;

private:
    friend class ConnectionApplication;
    void begin(ConnectionApplication &app);
    /// The platform's quick answer for `app`, if it has one (then `app` is known and its waiters run).
    bool answerQuickly(ConnectionApplication &app, const std::shared_ptr<platform::ProcessLookup> &lookup);
    /// answerQuickly() again after the events queued meanwhile, up to `triesLeft` times, then queue().
    void retryQuickly(std::shared_ptr<ConnectionApplication::Job> job, std::shared_ptr<platform::ProcessLookup> lookup,
                      int triesLeft);
    /// Quick tries after the first: each costs the worker a few system calls, a scan on the lookup thread costs
    /// one per descriptor of the program.
    static constexpr int kQuickRetries = 3;
    /// Hands `app` to the lookup thread (or answers "no program" at once beyond kMaxQueued).
    void queue(ConnectionApplication &app);
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
        m_overflow{0}, m_quick{0};
};

} // namespace dfproxy::proxy
