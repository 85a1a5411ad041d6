// SPDX-License-Identifier: Apache-2.0
#include "telemetry/proxymetrics.h"

namespace dfproxy::telemetry {

ProxyMetrics::ProxyMetrics(MetricsRegistry &registry, int hostLimit)
    : m_hostLimit(size_t(qMax(1, hostLimit)))
{
    const QStringList requestLabels{"gateway", "route", "backend", "method", "code", "reason"};
    m_requests = registry.counter("dfproxy_requests_total",
                                  "Requests and tunnels handled, by route, backend, method, status code and dfproxy "
                                  "error reason.",
                                  requestLabels);
    // Every label is bounded by the config or the protocol, but a cap keeps a misbehaving client from growing it.
    m_requests->setSeriesLimit(10000, {"other", "other", "other", "other", "other", "other"});
    m_duration = registry.histogram("dfproxy_request_duration_seconds",
                                    "Time from the request head to the end of the response (tunnels: to close).",
                                    {"route"}, MetricsRegistry::durationBuckets());
    m_connect = registry.histogram("dfproxy_upstream_connect_duration_seconds",
                                   "Time to open a new upstream connection (after DNS).", {},
                                   MetricsRegistry::durationBuckets());
    m_dnsWait = registry.histogram("dfproxy_dns_wait_duration_seconds",
                                   "From the request head to the DNS answer, for requests whose name was not in the "
                                   "cache (first use, expired, evicted); cache hits do not wait and are not counted.",
                                   {}, MetricsRegistry::durationBuckets());
    m_downstreamBytes = registry.counter("dfproxy_downstream_bytes_total",
                                         "Body bytes received from (received) and sent to (sent) clients.",
                                         {"direction"});
    m_upstreamBytes = registry.counter("dfproxy_upstream_bytes_total",
                                       "Body bytes received from (received) and sent to (sent) upstreams.",
                                       {"direction"});
    m_destinations = registry.counter("dfproxy_destination_requests_total",
                                      "Requests by destination host; hosts past the series limit count as "
                                      "host=\"other\".",
                                      {"host"});
    m_destinations->setSeriesLimit(m_hostLimit, {"other"});
    m_upstreamProxy = registry.counter("dfproxy_upstream_proxy_requests_total",
                                       "Requests of backends with an upstream (corporate) proxy, by the proxy taken "
                                       "(host:port, or DIRECT) and outcome (forwarded, or the upstream_proxy_* error).",
                                       {"upstream_proxy", "outcome"});
    m_upstreamProxy->setSeriesLimit(256, {"other", "other"});
    m_downstreamReceived = &m_downstreamBytes->labels({"received"});
    m_downstreamSent = &m_downstreamBytes->labels({"sent"});
    m_upstreamReceived = &m_upstreamBytes->labels({"received"});
    m_upstreamSent = &m_upstreamBytes->labels({"sent"});
    m_connectSeries = &m_connect->get();
    m_dnsWaitSeries = &m_dnsWait->get();
    registry.gauge("dfproxy_build_info", "dfproxy build information; the value is always 1.", {"version"})
        ->labels({QStringLiteral(DFPROXY_VERSION)})
        .set(1);
}

size_t qHash(const ProxyMetrics::RequestKey &k, size_t seed) noexcept
{
    return qHashMulti(seed, k.gateway, k.route, k.backend, k.method, k.status, k.reason);
}

namespace {

/// A duration in seconds from its microseconds.
double seconds(qint64 us)
{
    return double(us) / 1e6;
}

template <class Memo, class Key, class Make>
auto *memoized(Memo &memo, qsizetype limit, const Key &key, Make make)
{
    if (memo.last && memo.lastKey == key)
        return memo.last;
    auto *series = memo.map.value(key, nullptr);
    if (!series) {
        if (memo.map.size() >= limit)
            memo.map.clear();
        series = make();
        memo.map.insert(key, series);
    }
    memo.lastKey = key;
    memo.last = series;
    return series;
}

} // namespace

Counter *ProxyMetrics::destinationSeries(const QByteArray &host)
{
    auto &memo = m_destinationMemo;
    if (memo.last && memo.lastKey == host)
        return memo.last;
    Counter *series = memo.map.value(host, nullptr);
    if (!series && m_destinationsFull) {
        // Full: a host without a series of its own counts as "other", as the family would answer (asked once, so the
        // "other" series appears with the first host past the limit, as before).
        if (!m_destinationOther)
            m_destinationOther = &m_destinations->labels({QStringLiteral("other")});
        series = m_destinationOther;
    } else if (!series) {
        // Not full: the family decides (its limit, a host named "other"); the memo remembers the host's series, so
        // it holds at most the family's limit of them and never needs evicting.
        series = &m_destinations->labels({QString::fromUtf8(host)});
        memo.map.insert(host, series);
        m_destinationsFull = m_destinations->seriesCount() >= m_hostLimit;
    }
    memo.lastKey = host;
    memo.last = series;
    return series;
}

void ProxyMetrics::observe(const AccessLogEntry &e)
{
    Counter *request, *destination = nullptr;
    Histogram *duration;
    {
        std::lock_guard lock(m_memoMutex);
        request = memoized(m_requestMemo, kMemoLimit,
                           RequestKey{e.gateway, e.route, e.backend, e.method, e.status, e.reason}, [&] {
                               return &m_requests->labels({e.gateway, e.route, e.backend,
                                                           QString::fromLatin1(e.method), QString::number(e.status),
                                                           QString::fromLatin1(e.reason)});
                           });
        duration = memoized(m_durationMemo, kMemoLimit, e.route, [&] { return &m_duration->labels({e.route}); });
        if (!e.host.isEmpty())
            destination = destinationSeries(e.host);
    }
    request->inc();
    duration->observe(seconds(e.totalUs));
    if (e.dnsWaited)
        m_dnsWaitSeries->observe(seconds(e.dnsUs));
    if (!e.upstreamReused && !e.resolvedAddress.isNull())
        m_connectSeries->observe(seconds(e.connectUs));
    // Body bytes pass through unchanged, so upstream figures mirror downstream ones when an upstream was used.
    const bool upstream = !e.resolvedAddress.isNull();
    if (e.bytesIn > 0) {
        m_downstreamReceived->inc(quint64(e.bytesIn));
        if (upstream)
            m_upstreamSent->inc(quint64(e.bytesIn));
    }
    if (e.bytesOut > 0) {
        m_downstreamSent->inc(quint64(e.bytesOut));
        if (upstream)
            m_upstreamReceived->inc(quint64(e.bytesOut));
    }
    if (destination)
        destination->inc();
    if (!e.upstreamProxy.isEmpty()) // only backends with an upstream proxy (#22): not on the common path
        m_upstreamProxy
            ->labels({e.upstreamProxy, e.reason.startsWith("upstream_proxy_") ? QString::fromLatin1(e.reason)
                                                                              : QStringLiteral("forwarded")})
            .inc();
}

} // namespace dfproxy::telemetry
