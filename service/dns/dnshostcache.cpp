// SPDX-License-Identifier: Apache-2.0
#include "dns/dnshostcache.h"

#include "base/logcategories.h"

#include "dns/dnslookupresolver.h"
#include "dns/udpresolver.h"

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QMutexLocker>
#include <QPair>
#include <QPointer>
#include <QSet>
#include <QThread>
#include <QTimerEvent>

#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>
#include <vector>

namespace dfproxy::dns {

/// One caller waiting for a resolution. Shared by the entry (to deliver) and the caller's handle (to cancel).
struct DnsHostCache::Waiter
{
    QMutex mutex;
    bool settled = false;   // delivered or cancelled: no longer counts as pending
    bool cancelled = false; // the handle was destroyed: the callback must not run
    QPointer<QObject> context;
    Callback callback;
    std::shared_ptr<std::atomic<int>> pending;

    /// Marks the waiter as no longer pending; true if this call did it.
    bool settleLocked()
    {
        if (settled)
            return false;
        settled = true;
        pending->fetch_sub(1);
        return true;
    }
};

class DnsHostCache::Handle final : public PendingLookup
{
public:
    explicit Handle(std::shared_ptr<Waiter> w) : m_w(std::move(w)) {}
    ~Handle() override
    {
        QMutexLocker lock(&m_w->mutex);
        m_w->cancelled = true;
        m_w->settleLocked();
    }

private:
    std::shared_ptr<Waiter> m_w;
};

struct DnsHostCache::Entry
{
    QString key;
    QString host;
    quint16 port = 0;
    LookupFamily family = LookupFamily::V4Preferred;

    QList<QHostAddress> addresses; // the last good answer, possibly expired (stale)
    qint64 resolvedAtMs = 0;
    qint64 ttlMs = 0;
    qint64 expiresAtMs = 0;
    QDateTime resolvedWall;
    qint64 lastUsedMs = 0;
    bool usedSinceResolve = false; // served from the cache since the last answer: worth refreshing
    bool preresolved = false;

    quint64 hits = 0;
    quint64 failures = 0;
    int consecutiveFailures = 0;
    DnsError lastError = DnsError::None;
    QString lastDetail;
    qint64 retryAtMs = 0; // no new resolution before this (negative cache / backoff)

    // The resolution in flight. `resolving` is set as soon as one is asked for; `started` once its queries run
    // (on the cache's thread).
    bool resolving = false;
    bool started = false;
    qint64 startedAtMs = 0;
    quint64 generation = 0;
    std::unique_ptr<ResolverQuery> q4, q6;
    std::shared_ptr<ThreadSlot> owner; // the attached thread the queries live on; null: the cache's thread
    DeadlineList *guardHome = nullptr; // where the guard deadline of the resolution in flight runs (0: none)
    DeadlineList::Token guardTimer;
    std::optional<ResolverReply> r4, r6;
    QList<std::shared_ptr<Waiter>> waiters;

    qint64 refreshAtMs() const { return resolvedAtMs + ttlMs * 9 / 10; }
};

/// Finished queries of one thread, destroyed together when its event loop is about to wait again: never inside their
/// own callback, and neither one event per query nor one per socket read (a posted event is an allocation, a lock and
/// an eventfd write and read to wake the loop) — a worker finishes one query per request for names never seen before.
/// A loop that never waits (always a posted event to deliver), or a thread without an event dispatcher, gets a posted
/// event once kMaxDead queries wait, so the list stays bounded.
class DnsHostCache::Graveyard final : public QObject
{
public:
    explicit Graveyard(QObject *parent = nullptr) : QObject(parent) {}

    /// Call on this object's thread.
    void bury(std::unique_ptr<ResolverQuery> q)
    {
        m_dead.push_back(std::move(q));
        // The dispatcher of the thread the object lives on now (the cache's may move to another thread).
        QAbstractEventDispatcher *dispatcher = thread()->eventDispatcher();
        if (dispatcher != m_dispatcher) {
            QObject::disconnect(m_aboutToBlock);
            m_dispatcher = dispatcher;
            if (dispatcher)
                m_aboutToBlock =
                    connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, this, [this] { clear(); });
        }
        if (!m_posted && (!m_dispatcher || m_dead.size() >= kMaxDead)) {
            m_posted = true;
            QCoreApplication::postEvent(this, new QEvent(QEvent::User));
        }
    }

protected:
    bool event(QEvent *e) override
    {
        if (e->type() != QEvent::User)
            return QObject::event(e);
        m_posted = false;
        clear();
        return true;
    }

private:
    static constexpr size_t kMaxDead = 256;

    void clear()
    {
        if (m_dead.empty())
            return;
        std::vector<std::unique_ptr<ResolverQuery>> dead;
        dead.swap(m_dead); // destroying one may bury none, but keep the list stable anyway
    }

    std::vector<std::unique_ptr<ResolverQuery>> m_dead;
    QPointer<QAbstractEventDispatcher> m_dispatcher;
    QMetaObject::Connection m_aboutToBlock;
    bool m_posted = false;
};

/// An attached thread: its resolver and a context object on it. Shared by the cache's registry, the attachment and
/// the entries whose queries live there.
struct DnsHostCache::ThreadSlot
{
    QThread *thread = nullptr;
    std::unique_ptr<Resolver> resolver; // used and destroyed on `thread` only
    quint64 resolverGeneration = 0;
    std::unique_ptr<DeadlineList> home; // lives on `thread`: queries are handed to it to be destroyed there, and
                                        // it holds the guard deadlines of the resolutions that run there
    std::unique_ptr<Graveyard> graveyard; // lives on `thread`: the queries that finished there
    bool attached = true;               // guarded by the cache's mutex
};

class DnsHostCache::Attachment final : public ThreadAttachment
{
public:
    Attachment(DnsHostCache *cache, std::shared_ptr<ThreadSlot> slot) : m_cache(cache), m_slot(std::move(slot)) {}
    ~Attachment() override { m_cache->detach(m_slot); }

private:
    DnsHostCache *m_cache;
    std::shared_ptr<ThreadSlot> m_slot;
};

namespace {

/// How long past queryTimeoutMs a resolution may run before the cache itself gives up on it. The resolver's own
/// timer normally fires first (with the better message); this bounds a caller's wait even if it does not.
constexpr qint64 kGuardSlackMs = 250;

QString normaliseHost(const QString &host)
{
    if (isNormalName(host))
        return host;
    QString h = host.trimmed().toLower();
    if (h.startsWith(QLatin1Char('[')) && h.endsWith(QLatin1Char(']')))
        h = h.mid(1, h.size() - 2);
    if (h.endsWith(QLatin1Char('.')))
        h.chop(1);
    return h;
}

QList<QHostAddress> filterFamily(const QList<QHostAddress> &all, LookupFamily family)
{
    QList<QHostAddress> v4, v6;
    for (const auto &a : all)
        (a.protocol() == QAbstractSocket::IPv6Protocol ? v6 : v4).append(a);
    switch (family) {
    case LookupFamily::V4Only:
        return v4;
    case LookupFamily::V6Only:
        return v6;
    case LookupFamily::Auto:
        return v6.isEmpty() ? v4 : v6;
    case LookupFamily::V4Preferred:
        return v4.isEmpty() ? v6 : v4;
    case LookupFamily::All:
        return v6 + v4;
    }
    return v4;
}

// "host:port" with the port's digits appended by hand (QString::arg showed in profiles: one key per request).
void appendHostPort(QString &out, const QString &host, quint16 port)
{
    const bool v6 = host.contains(QLatin1Char(':'));
    if (v6)
        out += QLatin1Char('[');
    out += host;
    if (v6)
        out += QLatin1Char(']');
    char digits[6];
    int n = 0;
    do {
        digits[n++] = char('0' + port % 10);
        port = quint16(port / 10);
    } while (port);
    QChar text[7];
    text[0] = QLatin1Char(':');
    for (int i = 0; i < n; ++i)
        text[i + 1] = QLatin1Char(digits[n - 1 - i]);
    out.append(text, n + 1);
}

QString entryKey(const QString &host, quint16 port, LookupFamily family)
{
    const QString fam = toString(family);
    QString key;
    key.reserve(host.size() + 9 + fam.size());
    appendHostPort(key, host, port);
    key += QLatin1Char('/');
    key += fam;
    return key;
}

// Whether QHostAddress could read `host` (normalised) as an address: an IPv6 literal has a ':', an IPv4 one
// (inet_aton's forms too: octal, 0x hex, fewer parts) only digits, hex letters, 'x' and dots. Names skip the
// parse.
bool mayBeIpLiteral(const QString &host)
{
    if (host.contains(QLatin1Char(':')))
        return true;
    for (const QChar ch : host) {
        const char16_t c = ch.unicode();
        if (!((c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f') || (c >= u'A' && c <= u'F') || c == u'x'
              || c == u'X' || c == u'.'))
            return false;
    }
    return true;
}

/// The error to report when both record types failed: a missing name wins, "no data" loses to anything.
ResolverReply combineFailures(const ResolverReply &preferred, const ResolverReply &other)
{
    if (preferred.error == DnsError::NxDomain)
        return preferred;
    if (other.error == DnsError::NxDomain)
        return other;
    ResolverReply r = preferred.error == DnsError::NoData ? other : preferred;
    r.detail = preferred.detail + QStringLiteral("; ") + other.detail;
    return r;
}

QString addressList(const QList<QHostAddress> &addresses)
{
    QStringList parts;
    for (const auto &a : addresses)
        parts.append(a.toString());
    return parts.join(QLatin1Char(','));
}

bool sameSet(const QList<QHostAddress> &a, const QList<QHostAddress> &b)
{
    if (a.size() != b.size())
        return false;
    for (const auto &x : a) {
        if (!b.contains(x))
            return false;
    }
    return true;
}

} // namespace

std::unique_ptr<Resolver> DnsHostCache::makeResolver(const Options &o)
{
    // queryTimeoutMs is the budget of a whole resolution: each nameserver gets its share of it, so a silent first
    // server still leaves time for the next one.
    const qsizetype n = std::max<qsizetype>(1, o.servers.size());
    const int share = int(std::max<qsizetype>(10, o.queryTimeoutMs / n));
    if (DnsHostCache::effectiveResolver(o) == DnsHostCache::ResolverKind::Udp)
        return std::make_unique<UdpResolver>(o.servers, share);
    return std::make_unique<DnsLookupResolver>(o.servers, share);
}

namespace {

/// Destroys `q` later, from the event loop of `home`'s thread: a query is destroyed on the thread it runs on (its
/// sockets and timers live there), and never inside its own callback. Should `home` be destroyed first, its pending
/// events (and the query with them) are dropped on its own thread.
void destroyLater(QObject *home, std::unique_ptr<ResolverQuery> q)
{
    std::shared_ptr<ResolverQuery> shared(std::move(q));
    QMetaObject::invokeMethod(
        home, [shared = std::move(shared)]() mutable { shared.reset(); }, Qt::QueuedConnection);
}

ResolveResult errorResult(DnsError e, const QString &detail)
{
    ResolveResult r;
    r.error = e;
    r.detail = detail;
    return r;
}

} // namespace

DnsHostCache::DnsHostCache(Options options, Clock &clock, QObject *parent)
    : DnsHostCache(std::move(options), ResolverFactory(&DnsHostCache::makeResolver), clock, parent)
{
}

DnsHostCache::DnsHostCache(Options options, ResolverFactory factory, Clock &clock, QObject *parent)
    : HostCache(parent),
      m_options(std::move(options)),
      m_resolver(factory(m_options)),
      m_factory(std::move(factory)),
      m_clock(clock),
      m_hosts(m_options.hostsFilePath),
      m_pending(std::make_shared<std::atomic<int>>(0))
{
    init();
}

DnsHostCache::DnsHostCache(Options options, std::unique_ptr<Resolver> resolver, Clock &clock, QObject *parent)
    : HostCache(parent),
      m_options(std::move(options)),
      m_resolver(std::move(resolver)),
      m_clock(clock),
      m_hosts(m_options.hostsFilePath),
      m_pending(std::make_shared<std::atomic<int>>(0))
{
    init();
}

void DnsHostCache::init()
{
    m_deadlines = new DeadlineList(m_clock, this); // children: move with the cache to another thread
    m_graveyard = new Graveyard(this);
    if (m_options.maintenanceIntervalMs > 0) {
        m_maintenance.setInterval(m_options.maintenanceIntervalMs);
        connect(&m_maintenance, &QTimer::timeout, this, &DnsHostCache::runMaintenance);
        m_maintenance.start();
    }
    for (const QString &hp : std::as_const(m_options.preresolve))
        preresolveHostPort(hp);
}

void DnsHostCache::preresolveHostPort(const QString &hostPort)
{
    QString host;
    quint16 port = 0;
    if (parseHostPort(hostPort, &host, &port).isEmpty())
        preresolve(host, port, m_options.lookupFamily);
}

DnsHostCache::~DnsHostCache()
{
    QMutexLocker lock(&m_mutex);
    // Attached threads detach first (see attachThread), so every query in flight lives on this thread.
    Q_ASSERT(m_slots.isEmpty());
    m_entries.clear(); // cancels the queries in flight; waiters are never called
}

std::unique_ptr<ThreadAttachment> DnsHostCache::attachThread()
{
    QThread *current = QThread::currentThread();
    if (!m_factory || current == thread() || !current->eventDispatcher())
        return nullptr;
    auto slot = std::make_shared<ThreadSlot>();
    slot->thread = current;
    slot->home = std::make_unique<DeadlineList>(m_clock);
    slot->graveyard = std::make_unique<Graveyard>();
    QMutexLocker lock(&m_mutex);
    if (m_slots.contains(current))
        return nullptr; // attached already: the first attachment stays in charge
    m_slots.insert(current, slot);
    return std::make_unique<Attachment>(this, std::move(slot));
}

void DnsHostCache::detach(const std::shared_ptr<ThreadSlot> &slot)
{
    Q_ASSERT(QThread::currentThread() == slot->thread);
    std::vector<std::unique_ptr<ResolverQuery>> cancelled; // destroyed here, on their thread, after unlocking
    QStringList restart;
    {
        QMutexLocker lock(&m_mutex);
        slot->attached = false;
        m_slots.remove(slot->thread);
        for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
            Entry &e = **it;
            if (e.owner != slot)
                continue;
            takeQueriesLocked(e, &cancelled);
            cancelGuardLocked(e); // on this thread: the home's timers are this thread's
            e.owner.reset();
            if (e.started) {
                // The resolution starts again on the cache's thread; its waiters keep waiting.
                e.started = false;
                ++e.generation;
                restart.append(e.key);
            }
        }
    }
    cancelled.clear();
    // Queries handed to this thread before it detached are destroyed now, not leaked with the events.
    QCoreApplication::sendPostedEvents(slot->home.get(), QEvent::MetaCall);
    // The deadline list and the finished queries go from the event loop (or when the thread ends), not here: a
    // request's callback runs from inside a query's socket handler or a deadline, and the connection may go on
    // to its next request there, which may detach this thread (a new cache after a config change) while that
    // query and that list are still on the stack.
    slot->home.release()->deleteLater();
    slot->graveyard.release()->deleteLater();
    slot->resolver.reset();
    for (const QString &key : std::as_const(restart))
        requestStart(key);
}

void DnsHostCache::takeQueriesLocked(Entry &e, std::vector<std::unique_ptr<ResolverQuery>> *local)
{
    QObject *home = e.owner ? static_cast<QObject *>(e.owner->home.get()) : this;
    for (std::unique_ptr<ResolverQuery> *q : {&e.q4, &e.q6}) {
        if (!*q)
            continue;
        if (!e.owner || e.owner->thread == QThread::currentThread()) {
            local->push_back(std::move(*q));
        } else if (e.owner->attached) {
            destroyLater(home, std::move(*q));
        } else {
            q->release(); // unreachable: detach() took this thread's queries
        }
    }
}

Resolver *DnsHostCache::resolverLocked(const std::shared_ptr<ThreadSlot> &slot)
{
    if (!slot)
        return m_resolver.get();
    if (!slot->resolver || slot->resolverGeneration != m_resolverGeneration) {
        // Built (and replaced) on the slot's thread: resolvers and queries belong to the thread that uses them.
        slot->resolver = m_factory(m_options);
        slot->resolverGeneration = m_resolverGeneration;
    }
    return slot->resolver.get();
}

QString DnsHostCache::hostPortKey(const QString &host, quint16 port)
{
    QString key;
    key.reserve(host.size() + 8);
    appendHostPort(key, host, port);
    return key;
}

namespace {

std::optional<ResolveResult> literalAnswer(const QString &host)
{
    if (mayBeIpLiteral(host)) {
        QHostAddress literal; // not for every request: the default constructor allocates
        if (literal.setAddress(host)) {
            ResolveResult r;
            r.addresses = {literal};
            r.detail = QStringLiteral("IP literal");
            return r;
        }
    }
    return std::nullopt;
}

} // namespace

std::optional<ResolveResult> DnsHostCache::staticAnswer(const QString &host, LookupFamily family) const
{
    if (auto r = literalAnswer(host))
        return r;
    QMutexLocker lock(&m_mutex);
    return hostsAnswerLocked(host, family);
}

std::optional<ResolveResult> DnsHostCache::hostsAnswerLocked(const QString &host, LookupFamily family) const
{
    const std::optional<QList<QHostAddress>> listed = m_hosts.lookup(host);
    if (!listed)
        return std::nullopt;
    ResolveResult r;
    r.cacheHit = true;
    r.addresses = filterFamily(*listed, family);
    if (r.addresses.isEmpty()) {
        r.error = DnsError::NoData;
        r.detail = QStringLiteral("%1 is in the hosts file without an address of family %2")
                       .arg(host, toString(family));
    } else {
        r.detail = QStringLiteral("hosts file");
    }
    return r;
}

DnsHostCache::Entry *DnsHostCache::findOrCreateLocked(const QString &host, quint16 port, LookupFamily family,
                                                      bool *overflow)
{
    *overflow = false;
    const QString key = entryKey(host, port, family);
    auto it = m_entries.find(key);
    if (it != m_entries.end())
        return it->get();
    if (m_entries.size() >= m_options.maxHosts) {
        ++m_stats.host_overflow;
        *overflow = true;
        return nullptr;
    }
    auto e = std::make_shared<Entry>();
    e->key = key;
    e->host = host;
    e->port = port;
    e->family = family;
    e->lastUsedMs = m_clock.nowMs();
    m_entries.insert(key, e);
    ++m_stats.host_added;
    return e.get();
}

HostCache::Outcome DnsHostCache::lookup(const QString &rawHost, quint16 port, LookupFamily family, QObject *context,
                                        Callback callback)
{
    Outcome out;
    const QString host = normaliseHost(rawHost);
    if (host.isEmpty()) {
        out.ready = errorResult(DnsError::Other, QStringLiteral("empty host name"));
        return out;
    }
    if (auto r = literalAnswer(host)) {
        out.ready = std::move(*r);
        return out;
    }

    bool start = false;
    QString key;
    {
        QMutexLocker lock(&m_mutex); // once per lookup: the hosts file is read under the same lock
        if (auto r = hostsAnswerLocked(host, family)) {
            out.ready = std::move(*r);
            return out;
        }
        const qint64 now = m_clock.nowMs();
        bool overflow = false;
        Entry *e = findOrCreateLocked(host, port, family, &overflow);
        if (overflow) {
            out.ready = errorResult(DnsError::CacheOverflow,
                                    QStringLiteral("DNS cache overflow: maxHosts (%1) reached")
                                        .arg(m_options.maxHosts));
            return out;
        }
        key = e->key;
        e->lastUsedMs = now;
        const bool retryAllowed = now >= e->retryAtMs;

        if (!e->addresses.isEmpty() && now >= e->expiresAtMs + m_options.staleWindowMs && !e->resolving)
            e->addresses.clear(); // too old even to serve stale

        if (!e->addresses.isEmpty()) {
            const bool fresh = now < e->expiresAtMs;
            const bool staleOk = !fresh && now < e->expiresAtMs + m_options.staleWindowMs
                                 && (e->consecutiveFailures > 0 || e->resolving);
            if (fresh || staleOk) {
                ResolveResult r;
                r.addresses = e->addresses;
                r.cacheHit = true;
                r.stale = !fresh;
                ++e->hits;
                ++m_stats.cache_hit;
                e->usedSinceResolve = true;
                if (r.stale) {
                    ++m_stats.stale_served;
                    r.detail = QStringLiteral("stale: refresh failed (%1)").arg(reasonString(e->lastError));
                }
                if (!e->resolving && retryAllowed && now >= e->refreshAtMs()) {
                    e->resolving = true; // background refresh; this caller does not wait for it
                    start = true;
                }
                qCDebug(lcDns).noquote() << "hit" << key << (r.stale ? "(stale)" : "") << (start ? "refreshing" : "");
                out.ready = std::move(r);
            }
        }

        if (!out.ready && !e->resolving && e->consecutiveFailures > 0 && !retryAllowed) {
            // Negative cache: the last resolution failed and the backoff has not run out.
            ResolveResult r = errorResult(e->lastError, e->lastDetail);
            qCDebug(lcDns).noquote() << "negative hit" << key << reasonString(e->lastError) << "retry in"
                                     << (e->retryAtMs - now) << "ms";
            r.cacheHit = true;
            ++e->hits;
            ++m_stats.cache_hit;
            out.ready = std::move(r);
        }

        if (!out.ready) {
            ++m_stats.cache_miss;
            if (m_pending->load() >= m_options.maxPendingRequests) {
                ++m_stats.dns_rq_pending_overflow;
                if (e->addresses.isEmpty() && e->waiters.isEmpty() && !e->resolving && e->consecutiveFailures == 0
                    && e->hits == 0 && e->resolvedWall.isNull()) {
                    // Created by this very call: an overflowed request must not take a maxHosts slot.
                    m_entries.remove(key);
                    --m_stats.host_added;
                }
                qCDebug(lcDns).noquote() << "pending overflow" << key;
                out.ready = errorResult(
                    DnsError::PendingOverflow,
                    QStringLiteral("pending request overflow: maxPendingRequests (%1) requests already wait for DNS")
                        .arg(m_options.maxPendingRequests));
                return out;
            }
            auto w = std::make_shared<Waiter>();
            w->context = context;
            w->callback = std::move(callback);
            w->pending = m_pending;
            m_pending->fetch_add(1);
            e->waiters.append(w);
            out.pending = std::make_unique<Handle>(w);
            qCDebug(lcDns).noquote() << "miss" << key << (e->resolving ? "(joins the resolution in flight)" : "");
            if (!e->resolving) {
                e->resolving = true;
                start = true;
            }
        }
        if (start && !m_slots.isEmpty()) {
            // An attached thread resolves the names it misses itself, on its own event loop.
            const auto slot = m_slots.value(QThread::currentThread());
            if (slot) {
                startResolutionLocked(*e, slot);
                start = false;
            }
        }
    }
    if (start)
        requestStart(key);
    return out;
}

void DnsHostCache::requestStart(const QString &key)
{
    auto startNow = [this, key] {
        QMutexLocker lock(&m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end() || !(*it)->resolving || (*it)->started)
            return;
        startResolutionLocked(**it, nullptr);
    };
    if (QThread::currentThread() == thread())
        startNow();
    else
        QMetaObject::invokeMethod(this, startNow, Qt::QueuedConnection);
}

void DnsHostCache::startResolutionLocked(Entry &e, const std::shared_ptr<ThreadSlot> &slot)
{
    e.owner = slot;
    e.started = true;
    e.resolving = true;
    e.startedAtMs = m_clock.nowMs();
    ++e.generation;
    e.r4.reset();
    e.r6.reset();
    ++m_stats.dns_query_attempt;
    const QString key = e.key;
    const quint64 gen = e.generation;
    // The cache's own deadline (see kGuardSlackMs), on the queries' thread; runMaintenance checks the same deadline
    // against the Clock.
    e.guardHome = slot ? slot->home.get() : m_deadlines; // none runs: every end of a resolution cleared it
    e.guardTimer = e.guardHome->start(guardMs(), [this, key, gen] { onDeadline(key, gen); });
    Resolver *resolver = resolverLocked(slot);
    qCDebug(lcDns).noquote() << "resolving" << key << "family" << toString(e.family)
                             << (slot ? "on this worker" : "on the main thread");
    auto ask = [this, &e, resolver, key, gen](RecordType type) {
        auto q = resolver->query(e.host, type,
                                 [this, key, gen, type](const ResolverReply &r) { onReply(key, gen, type, r); });
        (type == RecordType::A ? e.q4 : e.q6) = std::move(q);
    };
    switch (e.family) {
    case LookupFamily::V4Only:
    case LookupFamily::V4Preferred:
        ask(RecordType::A);
        break;
    case LookupFamily::V6Only:
    case LookupFamily::Auto:
        ask(RecordType::AAAA);
        break;
    case LookupFamily::All:
        ask(RecordType::A);
        ask(RecordType::AAAA);
        break;
    }
}

void DnsHostCache::onReply(const QString &key, quint64 generation, RecordType type, const ResolverReply &reply)
{
    QList<std::shared_ptr<Waiter>> toNotify;
    ResolveResult result;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end() || (*it)->generation != generation || !(*it)->started)
            return;
        Entry &e = **it;
        // The finished query is destroyed later, outside its own callback, on its thread (this one).
        if (auto &q = type == RecordType::A ? e.q4 : e.q6)
            (e.owner ? e.owner->graveyard.get() : m_graveyard)->bury(std::move(q));
        (type == RecordType::A ? e.r4 : e.r6) = reply;

        std::optional<ResolverReply> final;
        auto fallback = [&](const std::optional<ResolverReply> &first, std::optional<ResolverReply> &second,
                            RecordType secondType) {
            if (!first)
                return;
            // A timeout ends the resolution too: the other record type would only wait on the same silent server.
            if (first->error == DnsError::None || first->error == DnsError::NxDomain
                || first->error == DnsError::Timeout) {
                final = first;
            } else if (second) {
                final = second->error == DnsError::None ? *second : combineFailures(*first, *second);
            } else {
                auto q = resolverLocked(e.owner)->query(e.host, secondType, [this, key, generation, secondType](
                                                                   const ResolverReply &r) {
                    onReply(key, generation, secondType, r);
                });
                (secondType == RecordType::A ? e.q4 : e.q6) = std::move(q);
            }
        };
        switch (e.family) {
        case LookupFamily::V4Only:
            final = e.r4;
            break;
        case LookupFamily::V6Only:
            final = e.r6;
            break;
        case LookupFamily::V4Preferred:
            fallback(e.r4, e.r6, RecordType::AAAA);
            break;
        case LookupFamily::Auto:
            fallback(e.r6, e.r4, RecordType::A);
            break;
        case LookupFamily::All:
            if (e.r4 && e.r6) {
                if (e.r4->error == DnsError::None || e.r6->error == DnsError::None) {
                    ResolverReply merged;
                    quint32 ttl = UINT32_MAX;
                    for (const auto *r : {&*e.r6, &*e.r4}) {
                        if (r->error == DnsError::None) {
                            merged.addresses += r->addresses;
                            ttl = std::min(ttl, r->ttlSeconds);
                        }
                    }
                    merged.ttlSeconds = ttl;
                    final = merged;
                } else {
                    final = combineFailures(*e.r6, *e.r4);
                }
            }
            break;
        }
        if (!final)
            return; // still waiting for the other record type
        finishResolutionLocked(e, *final, &toNotify, &result);
    }
    deliver(toNotify, result);
}

qsizetype DnsHostCache::guardTimersOnThisThread() const
{
    QThread *current = QThread::currentThread();
    if (current == m_deadlines->thread())
        return m_deadlines->size();
    QMutexLocker lock(&m_mutex);
    const auto slot = m_slots.value(current);
    return slot && slot->home ? slot->home->size() : 0;
}

void DnsHostCache::cancelGuardLocked(Entry &e)
{
    if (e.guardHome && e.guardHome->thread() == QThread::currentThread())
        e.guardHome->cancel(&e.guardTimer);
    e.guardHome = nullptr;
    e.guardTimer = {};
}

qint64 DnsHostCache::guardMs() const
{
    return qint64(m_options.queryTimeoutMs) + kGuardSlackMs;
}

void DnsHostCache::expireResolutionLocked(Entry &e, std::vector<std::unique_ptr<ResolverQuery>> *cancelled,
                                          QList<std::shared_ptr<Waiter>> *toNotify, ResolveResult *result)
{
    takeQueriesLocked(e, cancelled); // destroyed by the caller after unlocking (or on their own thread): that cancels them
    cancelGuardLocked(e);
    e.owner.reset();
    ResolverReply timeout;
    timeout.error = DnsError::Timeout;
    timeout.detail = QStringLiteral("no DNS answer for %1 within %2 ms").arg(e.host).arg(m_options.queryTimeoutMs);
    finishResolutionLocked(e, timeout, toNotify, result);
}

void DnsHostCache::onDeadline(const QString &key, quint64 generation)
{
    std::vector<std::unique_ptr<ResolverQuery>> cancelled; // declared before the lock: destroyed after it is released
    QList<std::shared_ptr<Waiter>> toNotify;
    ResolveResult result;
    {
        QMutexLocker lock(&m_mutex);
        auto it = m_entries.find(key);
        if (it == m_entries.end() || (*it)->generation != generation || !(*it)->started)
            return;
        expireResolutionLocked(**it, &cancelled, &toNotify, &result);
    }
    deliver(toNotify, result);
}

qint64 DnsHostCache::backoffMs(int consecutiveFailures) const
{
    qint64 ms = m_options.failureRefreshBaseMs;
    for (int i = 1; i < consecutiveFailures && ms < m_options.failureRefreshMaxMs; ++i)
        ms *= 2;
    return std::min(ms, m_options.failureRefreshMaxMs);
}

void DnsHostCache::finishResolutionLocked(Entry &e, const ResolverReply &reply,
                                          QList<std::shared_ptr<Waiter>> *toNotify, ResolveResult *result)
{
    const qint64 now = m_clock.nowMs();
    e.resolving = false;
    e.started = false;
    cancelGuardLocked(e);
    e.owner.reset(); // its queries are done (or taken): the next resolution may run on any thread
    if (reply.error == DnsError::None && reply.addresses.isEmpty()) {
        ResolverReply r = reply;
        r.error = DnsError::NoData;
        r.detail = QStringLiteral("%1: no addresses").arg(e.host);
        finishResolutionLocked(e, r, toNotify, result);
        return;
    }
    if (reply.error == DnsError::None) {
        ++m_stats.dns_query_success;
        if (!e.addresses.isEmpty() && !sameSet(e.addresses, reply.addresses))
            ++m_stats.host_address_changed;
        if (!sameSet(e.addresses, reply.addresses))
            e.addresses = reply.addresses; // an unchanged set keeps its order (connect-failure rotation)
        e.ttlMs = std::clamp(qint64(reply.ttlSeconds) * 1000, m_options.minRefreshMs, m_options.maxTtlMs);
        e.resolvedAtMs = now;
        e.usedSinceResolve = false;
        e.expiresAtMs = now + e.ttlMs;
        e.resolvedWall = m_clock.wallNow();
        e.consecutiveFailures = 0;
        e.lastError = DnsError::None;
        e.lastDetail.clear();
        e.retryAtMs = 0;
        qCDebug(lcDns).noquote() << "resolved" << e.key << "->" << addressList(e.addresses) << "ttl" << e.ttlMs << "ms";
        result->addresses = e.addresses;
        result->detail = reply.detail;
    } else {
        ++m_stats.dns_query_failure;
        if (reply.error == DnsError::Timeout)
            ++m_stats.dns_query_timeout;
        ++e.failures;
        ++e.consecutiveFailures;
        e.lastError = reply.error;
        e.lastDetail = reply.detail.isEmpty() ? QStringLiteral("%1: %2").arg(e.host, reasonString(reply.error))
                                              : reply.detail;
        e.retryAtMs = now + backoffMs(e.consecutiveFailures);
        qCDebug(lcDns).noquote() << "failed" << e.key << reasonString(reply.error) << e.lastDetail << "- retry after"
                                 << (e.retryAtMs - now) << "ms";
        if (!e.addresses.isEmpty() && now < e.expiresAtMs + m_options.staleWindowMs) {
            result->addresses = e.addresses;
            result->stale = now >= e.expiresAtMs;
            result->detail = QStringLiteral("refresh failed: %1").arg(e.lastDetail);
        } else {
            e.addresses.clear();
            result->error = reply.error;
            result->detail = e.lastDetail;
        }
    }
    *toNotify = std::move(e.waiters);
    e.waiters.clear();
    if (result->stale)
        m_stats.stale_served += quint64(toNotify->size());
}

void DnsHostCache::deliver(const QList<std::shared_ptr<Waiter>> &waiters, const ResolveResult &result)
{
    // deliver() runs from a resolver's callback, a guard deadline or maintenance, after the mutex is released, and
    // never from inside lookup() (which only starts queries, and a resolver never answers inside query()): nothing
    // of the caller's is on the stack. A waiter on this thread is called at once, not one queued event and one more
    // turn of the event loop later (for a name never seen before that was a turn of a worker's loop per request).
    QThread *const current = QThread::currentThread();
    for (const auto &w : waiters) {
        Callback now;
        {
            QMutexLocker lock(&w->mutex);
            if (w->cancelled || !w->settleLocked())
                continue;
            QObject *ctx = w->context.data();
            if (!ctx)
                continue;
            if (ctx->thread() == current) {
                now = std::move(w->callback);
                w->callback = nullptr;
            } else {
                QMetaObject::invokeMethod(
                    ctx,
                    [w, result] {
                        Callback cb;
                        {
                            QMutexLocker l(&w->mutex);
                            if (w->cancelled)
                                return;
                            cb = std::move(w->callback);
                            w->callback = nullptr;
                        }
                        if (cb)
                            cb(result);
                    },
                    Qt::QueuedConnection);
            }
        }
        if (now) // unlocked: the callback may destroy its handle (or another waiter's)
            now(result);
    }
}

bool DnsHostCache::isHotLocked(const Entry &e, qint64 now) const
{
    Q_UNUSED(now);
    return e.preresolved || e.usedSinceResolve;
}

void DnsHostCache::eraseLocked(const QString &key)
{
    if (m_entries.remove(key))
        ++m_stats.host_removed;
}

void DnsHostCache::runMaintenance()
{
    QStringList toStart;
    std::vector<std::unique_ptr<ResolverQuery>> cancelled; // declared before the lock: destroyed after it is released
    QList<QPair<QList<std::shared_ptr<Waiter>>, ResolveResult>> timedOut;
    {
        QMutexLocker lock(&m_mutex);
        m_hosts.reloadIfChanged();
        const qint64 now = m_clock.nowMs();
        QStringList toEvict;
        for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
            Entry &e = **it;
            if (e.started && now >= e.startedAtMs + guardMs()) {
                QList<std::shared_ptr<Waiter>> toNotify;
                ResolveResult result;
                expireResolutionLocked(e, &cancelled, &toNotify, &result);
                timedOut.append({std::move(toNotify), result});
                continue;
            }
            if (e.resolving)
                continue;
            if (e.waiters.isEmpty() && now - e.lastUsedMs >= m_options.hostTtlMs) {
                toEvict.append(e.key);
                continue;
            }
            if (!e.addresses.isEmpty() && now >= e.expiresAtMs + m_options.staleWindowMs)
                e.addresses.clear();
            if (!e.addresses.isEmpty() && isHotLocked(e, now) && now >= e.refreshAtMs() && now >= e.retryAtMs) {
                e.resolving = true;
                toStart.append(e.key);
            }
        }
        for (const QString &k : std::as_const(toEvict))
            eraseLocked(k);
    }
    for (const auto &[waiters, result] : std::as_const(timedOut))
        deliver(waiters, result);
    for (const QString &k : std::as_const(toStart))
        requestStart(k);
}

DnsHostCache::Stats DnsHostCache::stats() const
{
    QMutexLocker lock(&m_mutex);
    Stats s = m_stats;
    s.num_hosts = quint64(m_entries.size());
    return s;
}

QJsonObject DnsHostCache::settingsJson() const
{
    QJsonObject o = m_options.toJson();
    o.insert(QStringLiteral("resolverInEffect"), resolverKindName(effectiveResolver(m_options)));
    QMutexLocker lock(&m_mutex);
    o.insert(QStringLiteral("attachedThreads"), int(m_slots.size()));
    return o;
}

QJsonObject DnsHostCache::statsJson() const
{
    QJsonObject o;
    stats().forEach([&o](QLatin1StringView name, quint64 value, bool) { o.insert(name, qint64(value)); });
    return o;
}

QList<DnsHostCache::EntryInfo> DnsHostCache::entries() const
{
    QMutexLocker lock(&m_mutex);
    const qint64 now = m_clock.nowMs();
    QList<EntryInfo> out;
    out.reserve(m_entries.size());
    for (const auto &ep : m_entries) {
        const Entry &e = *ep;
        EntryInfo i;
        i.host = e.host;
        i.port = e.port;
        i.family = e.family;
        i.addresses = e.addresses;
        i.ttlLeftMs = e.addresses.isEmpty() ? 0 : e.expiresAtMs - now;
        i.lastResolved = e.resolvedWall;
        i.hits = e.hits;
        i.failures = e.failures;
        i.lastError = e.lastError == DnsError::None ? QString() : reasonString(e.lastError);
        if (!e.addresses.isEmpty() && now < e.expiresAtMs)
            i.state = QStringLiteral("resolved");
        else if (!e.addresses.isEmpty() && now < e.expiresAtMs + m_options.staleWindowMs)
            i.state = QStringLiteral("stale");
        else if (e.resolving)
            i.state = QStringLiteral("resolving");
        else
            i.state = QStringLiteral("failed");
        out.append(i);
    }
    std::sort(out.begin(), out.end(), [](const EntryInfo &a, const EntryInfo &b) {
        return std::tie(a.host, a.port, a.family) < std::tie(b.host, b.port, b.family);
    });
    return out;
}

QJsonArray DnsHostCache::entriesJson() const
{
    QJsonArray arr;
    for (const auto &i : entries()) {
        QJsonArray addrs;
        for (const auto &a : i.addresses)
            addrs.append(a.toString());
        QJsonObject o;
        o.insert(QStringLiteral("host"), i.host);
        o.insert(QStringLiteral("port"), int(i.port));
        o.insert(QStringLiteral("key"), hostPortKey(i.host, i.port));
        o.insert(QStringLiteral("lookupFamily"), toString(i.family));
        o.insert(QStringLiteral("addresses"), addrs);
        o.insert(QStringLiteral("ttlLeftMs"), i.ttlLeftMs);
        o.insert(QStringLiteral("lastResolved"),
                 i.lastResolved.isValid() ? QJsonValue(i.lastResolved.toString(Qt::ISODateWithMs)) : QJsonValue());
        o.insert(QStringLiteral("hits"), qint64(i.hits));
        o.insert(QStringLiteral("failures"), qint64(i.failures));
        o.insert(QStringLiteral("state"), i.state);
        o.insert(QStringLiteral("lastError"), i.lastError);
        arr.append(o);
    }
    return arr;
}

void DnsHostCache::flush()
{
    QMutexLocker lock(&m_mutex);
    QStringList idle;
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        Entry &e = **it;
        if (e.resolving) {
            // Its queries belong to the worker threads that started them and cannot be cancelled from here; let their
            // answer land in a clean entry.
            e.addresses.clear();
            e.consecutiveFailures = 0;
            e.retryAtMs = 0;
        } else {
            idle.append(e.key);
        }
    }
    for (const QString &k : std::as_const(idle))
        eraseLocked(k);
}

bool DnsHostCache::remove(const QString &rawHost, quint16 port)
{
    const QString host = normaliseHost(rawHost);
    QMutexLocker lock(&m_mutex);
    bool found = false;
    for (LookupFamily f : {LookupFamily::V4Only, LookupFamily::V6Only, LookupFamily::Auto, LookupFamily::V4Preferred,
                           LookupFamily::All}) {
        const QString key = entryKey(host, port, f);
        auto it = m_entries.find(key);
        if (it == m_entries.end())
            continue;
        found = true;
        if ((*it)->resolving) {
            (*it)->addresses.clear();
            (*it)->consecutiveFailures = 0;
            (*it)->retryAtMs = 0;
        } else {
            eraseLocked(key);
        }
    }
    return found;
}

void DnsHostCache::preresolve(const QString &rawHost, quint16 port, LookupFamily family)
{
    const QString host = normaliseHost(rawHost);
    if (host.isEmpty() || staticAnswer(host, family))
        return;
    QString key;
    {
        QMutexLocker lock(&m_mutex);
        bool overflow = false;
        Entry *e = findOrCreateLocked(host, port, family, &overflow);
        if (!e)
            return;
        const qint64 now = m_clock.nowMs();
        e->preresolved = true;
        e->lastUsedMs = now;
        if (e->resolving || (!e->addresses.isEmpty() && now < e->expiresAtMs))
            return;
        e->resolving = true;
        key = e->key;
    }
    requestStart(key);
}

void DnsHostCache::reconfigure(Options options)
{
    options.maintenanceIntervalMs = m_options.maintenanceIntervalMs;
    std::unique_ptr<Resolver> old; // declared before the lock: destroyed after it is released
    QStringList newPreresolve;
    {
        QMutexLocker lock(&m_mutex);
        const bool resolverChanged =
            options.servers != m_options.servers || options.queryTimeoutMs != m_options.queryTimeoutMs
            || effectiveResolver(options) != effectiveResolver(m_options);
        if (m_factory && resolverChanged) {
            // Queries in flight belong to their entries, not to the resolver: they finish undisturbed. Attached
            // threads build their new resolver at their next resolution.
            old = std::exchange(m_resolver, m_factory(options));
            ++m_resolverGeneration;
        }
        if (options.hostsFilePath != m_options.hostsFilePath)
            m_hosts = HostsFile(options.hostsFilePath);
        for (const QString &hp : std::as_const(options.preresolve)) {
            if (!m_options.preresolve.contains(hp))
                newPreresolve.append(hp);
        }
        m_options = std::move(options);
    }
    for (const QString &hp : std::as_const(newPreresolve))
        preresolveHostPort(hp);
}

void DnsHostCache::reportConnectFailure(const QString &rawHost, quint16 port, const QHostAddress &address)
{
    const QString host = normaliseHost(rawHost);
    QMutexLocker lock(&m_mutex);
    for (LookupFamily f : {LookupFamily::V4Only, LookupFamily::V6Only, LookupFamily::Auto, LookupFamily::V4Preferred,
                           LookupFamily::All}) {
        auto it = m_entries.find(entryKey(host, port, f));
        if (it == m_entries.end())
            continue;
        auto &list = (*it)->addresses;
        const qsizetype i = list.indexOf(address);
        if (i >= 0 && list.size() > 1)
            list.append(list.takeAt(i));
    }
}

} // namespace dfproxy::dns
