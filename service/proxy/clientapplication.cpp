// SPDX-License-Identifier: Apache-2.0
#include "proxy/clientapplication.h"

#include "net/stream.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QNetworkInterface>

#include <algorithm>

namespace dfproxy::proxy {

/// One connection's lookup, shared by its handle (on the connection's thread) and the lookup thread.
struct ConnectionApplication::Job
{
    QHostAddress client, server;
    quint16 clientPort = 0, serverPort = 0;
    QObject *context = nullptr;            ///< where the answer is posted; alive while owner is set
    std::mutex mutex;                      ///< guards the members below against the lookup thread
    ConnectionApplication *owner = nullptr; ///< null once the handle is gone: the answer goes nowhere
    /// Where the lookup found the socket (ProcessLookup::locate), for release(); slot -1 when nowhere known.
    std::shared_ptr<platform::ProcessLookup> foundBy;
    qint64 pid = 0;
    qint64 slot = -1;
};

ConnectionApplication::~ConnectionApplication()
{
    // After this the lookup thread posts nothing more, and what it posted already finds no owner.
    if (m_job) {
        std::lock_guard lock(m_job->mutex);
        m_job->owner = nullptr;
    }
    release();
}

void ConnectionApplication::release()
{
    if (m_foundBy) {
        std::exchange(m_foundBy, nullptr)->released(m_info->pid, m_slot);
        return;
    }
    if (!m_job)
        return;
    std::shared_ptr<platform::ProcessLookup> lookup;
    qint64 pid = 0, slot = -1;
    {
        std::lock_guard lock(m_job->mutex);
        lookup = std::move(m_job->foundBy);
        pid = m_job->pid;
        slot = std::exchange(m_job->slot, -1);
    }
    if (lookup && slot >= 0)
        lookup->released(pid, slot);
}

void ConnectionApplication::begin()
{
    if (std::exchange(m_begun, true))
        return;
    m_apps->begin(*this);
}

ApplicationWaiter ConnectionApplication::whenKnown(std::function<void()> f)
{
    auto waiter = std::make_shared<std::function<void()>>(std::move(f));
    std::erase_if(m_waiters, [](const auto &w) { return w.expired(); }); // cancelled waits of earlier streams
    m_waiters.push_back(waiter);
    return waiter;
}

void ConnectionApplication::answer(std::shared_ptr<const platform::ProcessInfo> info)
{
    m_known = true;
    m_info = std::move(info);
    // A waiter resumes its transaction, which may cancel other waiters (or add none: the answer is known now).
    const auto waiters = std::exchange(m_waiters, {});
    for (const auto &w : waiters) {
        if (const ApplicationWaiter f = w.lock())
            (*f)();
    }
}

bool OwnAddresses::contains(const QHostAddress &address)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    std::lock_guard lock(m_mutex);
    if (m_refreshedMs == 0 || now - m_refreshedMs >= kRefreshMs || now < m_refreshedMs) {
        // At most once a second (and only for clients not on loopback): an address added to the machine a moment
        // ago is seen by the next connection after that.
        m_addresses = QNetworkInterface::allAddresses();
        m_refreshedMs = now;
    }
    return std::any_of(m_addresses.cbegin(), m_addresses.cend(), [&](const QHostAddress &own) {
        return own.isEqual(address, QHostAddress::TolerantConversion);
    });
}

ClientApplications::ClientApplications() : m_lookup(platform::createProcessLookup()) {}

ClientApplications::~ClientApplications()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        m_queue.clear();
    }
    m_wake.notify_all();
    if (m_thread)
        m_thread->wait();
}

void ClientApplications::setLookup(std::unique_ptr<platform::ProcessLookup> lookup)
{
    std::lock_guard lock(m_mutex);
    m_lookup = std::move(lookup);
}

std::unique_ptr<ConnectionApplication> ClientApplications::prepare(const net::Stream &client, QObject *context)
{
    if (!enabled())
        return nullptr;
    QHostAddress local;
    quint16 localPort = 0;
    if (!client.localEndpoint(&local, &localPort))
        return nullptr;
    const QHostAddress peer = client.peerAddress();
    // A client on this machine connects from loopback or from one of the machine's own addresses: usually the one
    // it reached us on, but a program may bind any of them (`curl --interface`), so every own address counts, or a
    // local program could pass for another machine and walk around the rules that name it. Anything else is
    // another machine: there is no process to find.
    if (!peer.isLoopback() && !peer.isEqual(local, QHostAddress::TolerantConversion)
        && !m_ownAddresses.contains(peer)) {
        m_remote.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
    }
    return prepare(peer, client.peerPort(), local, localPort, context);
}

std::unique_ptr<ConnectionApplication> ClientApplications::prepare(const QHostAddress &client, quint16 clientPort,
                                                                   const QHostAddress &server, quint16 serverPort,
                                                                   QObject *context)
{
    if (!enabled())
        return nullptr;
    std::unique_ptr<ConnectionApplication> app(new ConnectionApplication);
    auto job = std::make_shared<ConnectionApplication::Job>();
    job->client = client;
    job->clientPort = clientPort;
    job->server = server;
    job->serverPort = serverPort;
    job->context = context;
    job->owner = app.get();
    app->m_job = std::move(job);
    app->m_apps = this;
    return app;
}

std::unique_ptr<ConnectionApplication> ClientApplications::start(const QHostAddress &client, quint16 clientPort,
                                                                 const QHostAddress &server, quint16 serverPort,
                                                                 QObject *context)
{
    std::unique_ptr<ConnectionApplication> app = prepare(client, clientPort, server, serverPort, context);
    if (app)
        app->begin();
    return app;
}

void ClientApplications::begin(ConnectionApplication &app)
{
    std::shared_ptr<platform::ProcessLookup> lookup;
    {
        std::lock_guard lock(m_mutex);
        lookup = m_lookup;
    }
    if (lookup && answerQuickly(app, lookup))
        return;
    if (!lookup || !lookup->answersQuickly()) {
        queue(app);
        return;
    }
    // The program's previous connection may have closed a moment ago without this worker knowing yet (a reset is
    // reported through the event queue): a few more tries after what is queued meanwhile, then the lookup thread.
    retryQuickly(app.m_job, std::move(lookup), kQuickRetries);
}

void ClientApplications::retryQuickly(std::shared_ptr<ConnectionApplication::Job> job,
                                      std::shared_ptr<platform::ProcessLookup> lookup, int triesLeft)
{
    QObject *context = job->context;
    QMetaObject::invokeMethod(
        context,
        [this, job = std::move(job), lookup = std::move(lookup), triesLeft]() mutable {
            ConnectionApplication *owner = job->owner; // cleared on this thread when the connection goes
            if (!owner || answerQuickly(*owner, lookup))
                return;
            if (triesLeft > 1)
                retryQuickly(std::move(job), std::move(lookup), triesLeft - 1);
            else
                queue(*owner);
        },
        Qt::QueuedConnection);
}

bool ClientApplications::answerQuickly(ConnectionApplication &app,
                                       const std::shared_ptr<platform::ProcessLookup> &lookup)
{
    // Most new connections come from a program that just closed one: a probe of the descriptor it left finds the
    // socket, cheaper here than the hand-over to the lookup thread and back.
    const ConnectionApplication::Job &job = *app.m_job;
    QElapsedTimer timer;
    timer.start();
    std::optional<platform::LocatedSocket> quick =
        lookup->locateQuickly(job.client, job.clientPort, job.server, job.serverPort);
    if (!quick)
        return false;
    m_micros.fetch_add(timer.nsecsElapsed() / 1000, std::memory_order_relaxed);
    m_lookups.fetch_add(1, std::memory_order_relaxed);
    m_quick.fetch_add(1, std::memory_order_relaxed);
    (quick->info ? m_found : m_notFound).fetch_add(1, std::memory_order_relaxed);
    if (quick->info && quick->slot >= 0) {
        app.m_foundBy = lookup;
        app.m_slot = quick->slot;
    }
    app.answer(std::move(quick->info));
    return true;
}

void ClientApplications::queue(ConnectionApplication &app)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_queue.size() >= kMaxQueued) {
            m_overflow.fetch_add(1, std::memory_order_relaxed);
            app.answer(nullptr); // no program: what a process gone before the lookup gets
            return;
        }
        m_queue.push_back(app.m_job);
        // One thread for the whole proxy, started by the first lookup: lookups are once per connection and short,
        // and one thread runs the /proc scans of a burst of new connections one after the other, so the first
        // one's answer (the program's descriptors, kept) makes the next ones cheap.
        if (!m_thread) {
            m_thread.reset(QThread::create([this] { runLookups(); }));
            m_thread->setObjectName(QStringLiteral("dfproxy-apps"));
            m_thread->start();
        }
    }
    m_wake.notify_one();
}

bool ClientApplications::threadStarted() const
{
    std::lock_guard lock(m_mutex);
    return m_thread != nullptr;
}

void ClientApplications::runLookups()
{
    for (;;) {
        std::shared_ptr<ConnectionApplication::Job> job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
            if (m_stop)
                return;
            job = std::move(m_queue.front());
            m_queue.pop_front();
        }
        runJob(job);
    }
}

void ClientApplications::runJob(const std::shared_ptr<ConnectionApplication::Job> &job)
{
    {
        std::lock_guard lock(job->mutex);
        if (!job->owner)
            return; // the connection closed while its lookup was queued: nobody to answer
    }
    std::shared_ptr<platform::ProcessLookup> lookup;
    {
        std::lock_guard lock(m_mutex);
        lookup = m_lookup;
    }
    QElapsedTimer timer;
    timer.start();
    platform::LocatedSocket located;
    if (lookup)
        located = lookup->locate(job->client, job->clientPort, job->server, job->serverPort);
    std::shared_ptr<const platform::ProcessInfo> info = std::move(located.info);
    m_micros.fetch_add(timer.nsecsElapsed() / 1000, std::memory_order_relaxed);
    m_lookups.fetch_add(1, std::memory_order_relaxed);
    (info ? m_found : m_notFound).fetch_add(1, std::memory_order_relaxed);
    // Posted under the lock, while the owner (and so its context) is alive. By the time it runs on the owner's
    // thread the owner may be gone: the owner is cleared on that same thread, so reading it there is safe.
    std::lock_guard lock(job->mutex);
    if (!job->owner) {
        if (info && located.slot >= 0) // closed while it was looked up: its descriptor is free again already
            lookup->released(info->pid, located.slot);
        return;
    }
    if (info && located.slot >= 0) {
        job->foundBy = lookup;
        job->pid = info->pid;
        job->slot = located.slot;
    }
    QMetaObject::invokeMethod(
        job->context,
        [job, info = std::move(info)]() mutable {
            if (ConnectionApplication *owner = job->owner)
                owner->answer(std::move(info));
        },
        Qt::QueuedConnection);
}

QJsonObject ClientApplications::stats() const
{
    qint64 scans = 0;
    {
        std::lock_guard lock(m_mutex);
        scans = m_lookup ? m_lookup->descriptorScans() : 0;
    }
    return QJsonObject{
        {"descriptorScans", scans},
        {"enabled", enabled()},
        {"lookups", m_lookups.load(std::memory_order_relaxed)},
        {"found", m_found.load(std::memory_order_relaxed)},
        {"notFound", m_notFound.load(std::memory_order_relaxed)},
        {"remote", m_remote.load(std::memory_order_relaxed)},
        {"lookupMicrosTotal", m_micros.load(std::memory_order_relaxed)},
        {"waited", m_waited.load(std::memory_order_relaxed)},
        {"overflow", m_overflow.load(std::memory_order_relaxed)},
        {"quick", m_quick.load(std::memory_order_relaxed)},
    };
}

} // namespace dfproxy::proxy
