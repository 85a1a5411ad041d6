// SPDX-License-Identifier: Apache-2.0
#pragma once
// The proxy's per-request metrics (requests, durations, bytes, tunnels) registered in the metrics registry.

#include "telemetry/accesslogentry.h"
#include "telemetry/metrics.h"

#include <QHash>

#include <mutex>

namespace dfproxy::telemetry {

/// The proxy's request metrics, fed one access-log entry per request/tunnel (from the worker threads):
///   dfproxy_requests_total{gateway,route,backend,method,code,reason}
///   dfproxy_request_duration_seconds{route}                       histogram of the total duration
///   dfproxy_upstream_connect_duration_seconds                     histogram, new upstream connections only
///   dfproxy_downstream_bytes_total{direction="received|sent"}     body bytes from/to clients
///   dfproxy_upstream_bytes_total{direction="received|sent"}       body bytes from/to upstreams
///   dfproxy_destination_requests_total{host}                      first `hostLimit` hosts, the rest host="other"
///   dfproxy_upstream_proxy_requests_total{upstream_proxy,outcome}  requests of backends with an upstream proxy
///   dfproxy_build_info{version} 1
/// Figures other areas own (active connections, DNS cache, access-log queue, policy decisions) are added by the
/// app as scrape-time collectors of their typed snapshots (app/servicemetrics.h).
class ProxyMetrics
{
public:
    /// Registers the families in `registry` (not owned; must outlive this).
    explicit ProxyMetrics(MetricsRegistry &registry, int hostLimit = 100);

    /// Counts one finished request or tunnel. Thread-safe, no I/O.
    void observe(const AccessLogEntry &entry);

    CounterFamily *requests() const { return m_requests; }
    CounterFamily *destinations() const { return m_destinations; }

    /// The label set of dfproxy_requests_total, as the entry carries it (no QStringList built per record).
    struct RequestKey
    {
        QString gateway, route, backend;
        QByteArray method;
        int status = 0;
        QByteArray reason;
        bool operator==(const RequestKey &) const = default;
    };

private:
    CounterFamily *m_requests;
    HistogramFamily *m_duration;
    HistogramFamily *m_connect;
    HistogramFamily *m_dnsWait;
    CounterFamily *m_downstreamBytes;
    CounterFamily *m_upstreamBytes;
    CounterFamily *m_destinations;
    CounterFamily *m_upstreamProxy;

    // Series already looked up, by the entry's own values: one hash probe per record instead of building label
    // lists and searching the families' ordered maps (families keep their series for their lifetime, so the
    // pointers stay valid). Bounded: a memo past kMemoLimit entries starts over.
    // The last hit is kept beside each memo: consecutive records mostly share their labels, and comparing them
    // is cheaper than hashing them.
    static constexpr qsizetype kMemoLimit = 4096;
    template <class Key, class Series>
    struct Memo
    {
        QHash<Key, Series *> map;
        Key lastKey{};
        Series *last = nullptr;
    };
    std::mutex m_memoMutex;
    Memo<RequestKey, Counter> m_requestMemo;
    Memo<QString, Histogram> m_durationMemo;
    // Destinations: the memo holds the hosts with a series of their own (at most the family's limit, so it is never
    // evicted), and once the family is full every other host counts in its host="other" series without asking it. A
    // cold name per request past the limit then costs one hash probe instead of a label list and a search of the
    // family's ordered map under its lock (~5k instructions, 8 % of a cold-name request, #21).
    Counter *destinationSeries(const QByteArray &host);
    Memo<QByteArray, Counter> m_destinationMemo;
    Counter *m_destinationOther = nullptr;
    bool m_destinationsFull = false;
    size_t m_hostLimit;
    Histogram *m_connectSeries;
    Histogram *m_dnsWaitSeries;
    Counter *m_downstreamReceived, *m_downstreamSent, *m_upstreamReceived, *m_upstreamSent;
};

size_t qHash(const ProxyMetrics::RequestKey &key, size_t seed = 0) noexcept;

} // namespace dfproxy::telemetry
