// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"
#include "base/deadlinelist.h"
#include "config/resource.h" // config::FieldError (a plain struct: no link dependency on dfproxy_config)
#include "dns/hostcache.h"
#include "dns/hostsfile.h"
#include "dns/resolver.h"

#include <QDateTime>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QMap>
#include <QMutex>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace dfproxy::dns {

/// The host cache of the service, after Envoy's dynamic_forward_proxy DnsCacheImpl.
///
/// Entries are keyed by host:port and lookup family. A miss starts one resolution per key (one query per record
/// type the family needs) and every concurrent caller waits on it. Answers live for their TTL clamped to
/// [minRefreshMs, maxTtlMs]; hot entries are refreshed in the background before they expire, unused ones are
/// evicted after hostTtlMs. Failures are cached with exponential backoff; when a refresh fails the old addresses are
/// served, marked stale, for at most staleWindowMs past their expiry.
///
/// Threading: lookup(), reportConnectFailure(), entries(), stats and the admin calls may be called from any thread.
/// The object itself, its resolver and its timers live on the thread that created it, which must run an event loop.
/// Threads that attachThread() get a resolver of their own: a name they miss is resolved from their event loop
/// (the cache's thread still does background refreshes and preresolving). A resolution's queries live and die on
/// the thread that started them.
class DnsHostCache final : public HostCache
{
    Q_OBJECT
public:
    /// Which resolver asks the nameservers ("dns.resolver").
    enum class ResolverKind {
        Auto,       ///< "auto": Udp when servers are listed, QDnsLookup (the system's resolver) otherwise
        Udp,        ///< "udp": dfproxy's own DNS client (UdpResolver); needs servers
        QDnsLookup, ///< "qdnslookup": Qt's QDnsLookup (DnsLookupResolver), on Qt's resolver threads
    };
    static QString resolverKindName(ResolverKind kind);

    struct Options
    {
        QList<QHostAddress> servers;                       ///< IPv4 nameservers; empty = the system's
        ResolverKind resolver = ResolverKind::Auto;
        LookupFamily lookupFamily = LookupFamily::V4Preferred; ///< default for callers that have no override
        int queryTimeoutMs = 5000;                         ///< budget of one resolution, shared by the nameservers
        qint64 minRefreshMs = 5000;                        ///< floor of the TTL
        qint64 maxTtlMs = 3'600'000;                       ///< ceiling of the TTL
        qint64 hostTtlMs = 300'000;                        ///< entries unused this long are evicted
        int maxHosts = 1024;
        int maxPendingRequests = 1024;
        qint64 failureRefreshBaseMs = 2000;                ///< first negative-cache period; doubles per failure
        qint64 failureRefreshMaxMs = 30'000;
        qint64 staleWindowMs = 300'000;                    ///< how long past expiry old addresses may be served
        QStringList preresolve;                            ///< "host:port" ("[v6]:port"), resolved at start
        QString hostsFilePath;                             ///< empty = the platform's hosts file
        int maintenanceIntervalMs = 1000;                  ///< 0 = no timer (tests call runMaintenance())

        /// Reads the "dns" block of the config. Every problem is appended to `errors` with its path
        /// ("dns.servers[1]"); unknown keys are errors. Fields that fail keep their defaults.
        /// `serversElsewhere`: the server list comes from elsewhere (--dns-server), so "resolver": "udp" may come
        /// without one here.
        static Options fromJson(const QJsonObject &dnsBlock, QList<config::FieldError> *errors,
                                const QString &path = QStringLiteral("dns"), bool serversElsewhere = false);
        /// A copy with a backend's overrides applied (spec.dynamicForwardProxy.dns: "lookupFamily").
        Options applyOverrides(const QJsonObject &backendDns, QList<config::FieldError> *errors = nullptr,
                               const QString &path = QStringLiteral("dns")) const;
        QJsonObject toJson() const;
    };
    /// Same as Options::fromJson.
    static Options optionsFromJson(const QJsonObject &dnsBlock, QList<config::FieldError> *errors)
    {
        return Options::fromJson(dnsBlock, errors);
    }

    /// Counters named as Envoy names them, plus the num_hosts gauge.
    struct Stats
    {
        quint64 dns_query_attempt = 0;
        quint64 dns_query_success = 0;
        quint64 dns_query_failure = 0;
        quint64 dns_query_timeout = 0;
        quint64 host_added = 0;
        quint64 host_removed = 0;
        quint64 host_address_changed = 0;
        quint64 host_overflow = 0;
        quint64 dns_rq_pending_overflow = 0;
        quint64 cache_hit = 0;
        quint64 cache_miss = 0;
        quint64 stale_served = 0;
        quint64 num_hosts = 0; ///< gauge

        /// Calls f(name, value, isGauge) for each figure, by name in alphabetical order: the one list that
        /// statsJson() and the app's metrics collector (dfproxy_dns_<name>) both read.
        template <class F>
        void forEach(F &&f) const
        {
            f(QLatin1StringView("cache_hit"), cache_hit, false);
            f(QLatin1StringView("cache_miss"), cache_miss, false);
            f(QLatin1StringView("dns_query_attempt"), dns_query_attempt, false);
            f(QLatin1StringView("dns_query_failure"), dns_query_failure, false);
            f(QLatin1StringView("dns_query_success"), dns_query_success, false);
            f(QLatin1StringView("dns_query_timeout"), dns_query_timeout, false);
            f(QLatin1StringView("dns_rq_pending_overflow"), dns_rq_pending_overflow, false);
            f(QLatin1StringView("host_added"), host_added, false);
            f(QLatin1StringView("host_address_changed"), host_address_changed, false);
            f(QLatin1StringView("host_overflow"), host_overflow, false);
            f(QLatin1StringView("host_removed"), host_removed, false);
            f(QLatin1StringView("num_hosts"), num_hosts, true);
            f(QLatin1StringView("stale_served"), stale_served, false);
        }
    };

    /// One cache entry, for the admin API.
    struct EntryInfo
    {
        QString host;
        quint16 port = 0;
        LookupFamily family = LookupFamily::V4Preferred;
        QList<QHostAddress> addresses;
        qint64 ttlLeftMs = 0;    ///< until expiry; negative once expired
        QDateTime lastResolved;  ///< wall time of the last successful resolution (invalid if none)
        quint64 hits = 0;
        quint64 failures = 0;
        QString state;           ///< "resolving", "resolved", "failed" or "stale"
        QString lastError;       ///< reasonString of the last failure, empty if none
    };

    /// Builds a resolver for the options (for the cache's thread and for each attached thread).
    using ResolverFactory = std::function<std::unique_ptr<Resolver>(const Options &)>;
    /// The resolver the options ask for: UdpResolver or DnsLookupResolver (effectiveResolver()).
    static std::unique_ptr<Resolver> makeResolver(const Options &options);

    /// Uses resolvers built by makeResolver; threads may attach.
    explicit DnsHostCache(Options options, Clock &clock = SystemClock::instance(), QObject *parent = nullptr);
    /// Uses resolvers built by `factory` (tests wrap the real ones); threads may attach.
    DnsHostCache(Options options, ResolverFactory factory, Clock &clock, QObject *parent = nullptr);
    /// Uses `resolver` (tests pass a fake); no thread may attach (attachThread() returns nullptr).
    DnsHostCache(Options options, std::unique_ptr<Resolver> resolver, Clock &clock, QObject *parent = nullptr);
    ~DnsHostCache() override;

    Outcome lookup(const QString &host, quint16 port, LookupFamily family, QObject *context,
                   Callback callback) override;
    void reportConnectFailure(const QString &host, quint16 port, const QHostAddress &address) override;
    std::unique_ptr<ThreadAttachment> attachThread() override;

    /// Refreshes, evicts and expires entries and re-reads the hosts file if it changed. Runs on a timer every
    /// maintenanceIntervalMs; tests call it after moving their ManualClock. Call on the cache's thread.
    void runMaintenance();

    Stats stats() const;
    QJsonObject statsJson() const;
    QList<EntryInfo> entries() const;
    QJsonArray entriesJson() const;
    /// Drops every entry (entries still resolving forget their addresses and stay until their answer comes).
    void flush();
    /// Drops the entries of host:port (all families). False if there were none.
    bool remove(const QString &host, quint16 port);
    /// Starts resolving host:port now, with nobody waiting (no-op for IP literals and hosts-file names).
    void preresolve(const QString &host, quint16 port, LookupFamily family);

    /// Applies new settings to the running cache (the "dns" block changed). Cached entries and resolutions in flight
    /// are kept; new limits, TTL rules and timeouts apply from the next lookup; a changed server list or timeout
    /// takes a new resolver (unless a test injected one); a changed hostsFilePath is read at once; names new in
    /// `preresolve` are resolved now. maintenanceIntervalMs stays. Call on the cache's thread.
    void reconfigure(Options options);

    /// The resolver `options` ask for, with Auto decided: Udp or QDnsLookup.
    static ResolverKind effectiveResolver(const Options &options);

    /// The settings in effect and how they run: the options (toJson), "resolverInEffect" ("udp" or "qdnslookup")
    /// and "attachedThreads" (threads that resolve their own misses). For GET /api/v1/dns/settings. Call on the
    /// cache's thread.
    QJsonObject settingsJson() const;

    /// Guard timers (one per resolution in flight, each queryTimeoutMs plus a slack) running on the calling thread:
    /// the cache's own, or an attached thread's. A resolution that ends stops its timer. For tests.
    qsizetype guardTimersOnThisThread() const;

    /// The settings in effect. Read on the cache's thread only.
    const Options &options() const { return m_options; }
    /// Parses "host:port" / "[v6]:port" (and, when defaultPort > 0, a host without port). Checks the host is an IP
    /// literal or a valid DNS name and the port is 1-65535. Returns an error message, empty on success.
    static QString parseHostPort(const QString &text, QString *host, quint16 *port, int defaultPort = -1);
    /// "host:port", with IPv6 literals bracketed.
    static QString hostPortKey(const QString &host, quint16 port);

private:
    struct Entry;
    struct Waiter;
    class Handle;
    struct ThreadSlot;
    class Attachment;
    class Graveyard;

    void init();
    void preresolveHostPort(const QString &hostPort);
    Entry *findOrCreateLocked(const QString &host, quint16 port, LookupFamily family, bool *overflow);
    void requestStart(const QString &key);
    void startResolutionLocked(Entry &e, const std::shared_ptr<ThreadSlot> &slot);
    Resolver *resolverLocked(const std::shared_ptr<ThreadSlot> &slot);
    void takeQueriesLocked(Entry &e, std::vector<std::unique_ptr<ResolverQuery>> *local);
    void detach(const std::shared_ptr<ThreadSlot> &slot);
    void onReply(const QString &key, quint64 generation, RecordType type, const ResolverReply &reply);
    void finishResolutionLocked(Entry &e, const ResolverReply &result, QList<std::shared_ptr<Waiter>> *toNotify,
                                ResolveResult *toDeliver);
    void deliver(const QList<std::shared_ptr<Waiter>> &waiters, const ResolveResult &result);
    /// IP literals and hosts-file names: answered without DNS and without an entry.
    std::optional<ResolveResult> staticAnswer(const QString &host, LookupFamily family) const;
    std::optional<ResolveResult> hostsAnswerLocked(const QString &host, LookupFamily family) const;
    void eraseLocked(const QString &key);
    qint64 backoffMs(int consecutiveFailures) const;
    /// queryTimeoutMs plus a small slack: no caller waits longer than this for one resolution.
    qint64 guardMs() const;
    void onDeadline(const QString &key, quint64 generation);
    /// Stops the entry's guard timer when called on the timer's thread (else it fires later and finds the
    /// resolution gone). Every path that ends or abandons a resolution calls it.
    void cancelGuardLocked(Entry &e);
    void expireResolutionLocked(Entry &e, std::vector<std::unique_ptr<ResolverQuery>> *cancelled,
                                QList<std::shared_ptr<Waiter>> *toNotify, ResolveResult *result);
    bool isHotLocked(const Entry &e, qint64 now) const;

    Options m_options;
    std::unique_ptr<Resolver> m_resolver;
    ResolverFactory m_factory; // empty when the resolver was injected: then it is never rebuilt, no thread attaches
    Clock &m_clock;
    QTimer m_maintenance;
    DeadlineList *m_deadlines = nullptr; // a child: the guard deadlines of the resolutions on the cache's thread
    Graveyard *m_graveyard = nullptr;    // a child: the queries that finished on the cache's thread

    mutable QMutex m_mutex; // guards everything below
    QHash<QString, std::shared_ptr<Entry>> m_entries;
    HostsFile m_hosts;
    Stats m_stats;
    std::shared_ptr<std::atomic<int>> m_pending; // shared with handles that may outlive the cache
    QHash<QThread *, std::shared_ptr<ThreadSlot>> m_slots; // attached threads
    quint64 m_resolverGeneration = 0;                      // bumped when the options need new resolvers
};

} // namespace dfproxy::dns
