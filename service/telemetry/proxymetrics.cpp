// SPDX-License-Identifier: Apache-2.0
#include "telemetry/proxymetrics.h"

namespace dfproxy::telemetry {

ProxyMetrics::ProxyMetrics(MetricsRegistry &registry, int hostLimit)
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
    m_destinations->setSeriesLimit(size_t(qMax(1, hostLimit)), {"other"});
    m_ratelimit = registry.counter("dfproxy_ratelimit_decisions_total", "Rate-limit policy decisions.", {"decision"});
    m_authz = registry.counter("dfproxy_authz_decisions_total", "Authorization policy decisions.", {"decision"});
    for (auto *f : {m_ratelimit, m_authz}) {
        f->labels({"allow"});
        f->labels({"deny"});
    }
    for (auto *f : {m_downstreamBytes, m_upstreamBytes}) {
        f->labels({"received"});
        f->labels({"sent"});
    }
    registry.gauge("dfproxy_build_info", "dfproxy build information; the value is always 1.", {"version"})
        ->labels({QStringLiteral(DFPROXY_VERSION)})
        .set(1);
}

void ProxyMetrics::observe(const AccessLogEntry &e)
{
    m_requests
        ->labels({e.gateway, e.route, e.backend, QString::fromLatin1(e.method), QString::number(e.status),
                  QString::fromLatin1(e.reason)})
        .inc();
    m_duration->labels({e.route}).observe(double(e.totalMs) / 1000.0);
    if (!e.upstreamReused && !e.resolvedAddress.isEmpty())
        m_connect->get().observe(double(e.connectMs) / 1000.0);
    // Body bytes pass through unchanged, so upstream figures mirror downstream ones when an upstream was used.
    const bool upstream = !e.resolvedAddress.isEmpty();
    if (e.bytesIn > 0) {
        m_downstreamBytes->labels({"received"}).inc(quint64(e.bytesIn));
        if (upstream)
            m_upstreamBytes->labels({"sent"}).inc(quint64(e.bytesIn));
    }
    if (e.bytesOut > 0) {
        m_downstreamBytes->labels({"sent"}).inc(quint64(e.bytesOut));
        if (upstream)
            m_upstreamBytes->labels({"received"}).inc(quint64(e.bytesOut));
    }
    if (!e.host.isEmpty())
        m_destinations->labels({QString::fromUtf8(e.host)}).inc();
}

} // namespace dfproxy::telemetry
