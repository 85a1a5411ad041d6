// SPDX-License-Identifier: Apache-2.0
#include "app/telemetrysink.h"

#include "dns/dnshostcache.h"
#include "proxy/proxyserver.h"
#include "telemetry/accesslogger.h"
#include "telemetry/applicationstats.h"
#include "telemetry/proxymetrics.h"

namespace dfproxy::app {

TelemetrySink::TelemetrySink(telemetry::AccessLogger *logger, telemetry::ProxyMetrics *metrics,
                             telemetry::ApplicationStats *applications)
    : m_logger(logger), m_metrics(metrics), m_applications(applications)
{
    // Metrics are fed from the access logger's writer thread, batch by batch, not on the worker's request path.
    if (m_logger && (m_metrics || m_applications))
        m_logger->setObserver([metrics, applications](const telemetry::AccessLogEntry &e) {
            if (metrics)
                metrics->observe(e);
            if (applications)
                applications->observe(e);
        });
}

TelemetrySink::~TelemetrySink()
{
    if (m_logger && (m_metrics || m_applications))
        m_logger->setObserver({});
}

void TelemetrySink::write(telemetry::AccessLogEntry &&record)
{
    if (m_logger)
        m_logger->submit(std::move(record)); // the logger's observer feeds m_metrics
    else {
        if (m_metrics)
            m_metrics->observe(record);
        if (m_applications)
            m_applications->observe(record);
    }
}

void addServiceCollectors(telemetry::MetricsRegistry &registry, dns::DnsHostCache *cache, proxy::ProxyServer *proxy,
                          telemetry::AccessLogger *logger)
{
    using telemetry::CollectedFamily;
    using telemetry::MetricType;
    if (cache) {
        registry.addCollector([cache] {
            QList<CollectedFamily> out;
            const auto stats = cache->stats().toMap();
            for (auto it = stats.begin(); it != stats.end(); ++it) {
                const bool gauge = it.key() == QLatin1String("num_hosts");
                out.append({"dfproxy_dns_" + it.key(), "DNS host cache: " + it.key() + " (Envoy's name).",
                            gauge ? MetricType::Gauge : MetricType::Counter, {{{}, double(it.value())}}});
            }
            return out;
        });
    }
    if (proxy) {
        // ProxyServer::stats() reads atomics only, so scraping from the admin (main) thread is fine.
        registry.addCollector([proxy] {
            const QJsonObject s = proxy->stats();
            return QList<CollectedFamily>{
                {"dfproxy_downstream_connections_active", "Client connections open now.", MetricType::Gauge,
                 {{{}, s.value("activeConnections").toDouble()}}},
                {"dfproxy_connect_tunnels_active", "CONNECT and websocket tunnels open now.", MetricType::Gauge,
                 {{{}, s.value("activeTunnels").toDouble()}}},
                {"dfproxy_downstream_connections_total", "Client connections accepted.", MetricType::Counter,
                 {{{}, s.value("connectionsAccepted").toDouble()}}},
                {"dfproxy_downstream_connections_rejected_total",
                 "Client connections refused by a connection limit (limit = maxConnections or maxConnectionsPerClient).",
                 MetricType::Counter,
                 {{{{"limit", "maxConnections"}},
                   s.value("connectionsRejected").toObject().value("maxConnections").toDouble()},
                  {{{"limit", "maxConnectionsPerClient"}},
                   s.value("connectionsRejected").toObject().value("maxConnectionsPerClient").toDouble()}}},
                {"dfproxy_upstream_connections_opened_total", "Upstream connections opened.", MetricType::Counter,
                 {{{}, s.value("upstreamConnectionsOpened").toDouble()}}},
                {"dfproxy_spliced_bytes_total",
                 "Body bytes moved socket to socket without a copy through the proxy (Linux splice; direction = request: "
                 "client to upstream, response: upstream to client).",
                 MetricType::Counter,
                 {{{{"direction", "request"}}, s.value("requestBytesSpliced").toDouble()},
                  {{{"direction", "response"}}, s.value("responseBytesSpliced").toDouble()}}},
                {"dfproxy_http2_connections_total", "Client connections that spoke HTTP/2.", MetricType::Counter,
                 {{{}, s.value("http2Connections").toDouble()}}},
                {"dfproxy_http2_streams_total", "Requests (streams) on HTTP/2 client connections.", MetricType::Counter,
                 {{{}, s.value("http2Streams").toDouble()}}},
                {"dfproxy_http2_header_lists_too_large_total",
                 "HTTP/2 streams answered 431 for a header list over proxy.maxHeaderBytes.", MetricType::Counter,
                 {{{}, s.value("http2HeaderListsTooLarge").toDouble()}}},
                {"dfproxy_http2_attacks_total",
                 "HTTP/2 client connections ended with GOAWAY(ENHANCE_YOUR_CALM), by attack pattern.",
                 MetricType::Counter,
                 {{{{"pattern", "rapid_reset"}}, s.value("http2RapidResets").toDouble()},
                  {{{"pattern", "continuation_flood"}}, s.value("http2ContinuationFloods").toDouble()},
                  {{{"pattern", "hpack_bomb"}}, s.value("http2HpackBombs").toDouble()},
                  {{{"pattern", "ping_flood"}}, s.value("http2PingFloods").toDouble()},
                  {{{"pattern", "settings_flood"}}, s.value("http2SettingsFloods").toDouble()}}},
            };
        });
    }
    if (logger) {
        registry.addCollector([logger] {
            const auto s = logger->stats();
            return QList<CollectedFamily>{
                {"dfproxy_accesslog_records_total", "Access-log records queued.", MetricType::Counter,
                 {{{}, double(s.submitted)}}},
                {"dfproxy_accesslog_dropped_total", "Access-log records dropped because the queue was full.",
                 MetricType::Counter, {{{}, double(s.dropped)}}},
                {"dfproxy_accesslog_write_errors_total", "Access-log lines lost to write errors.",
                 MetricType::Counter, {{{}, double(s.writeErrors)}}},
            };
        });
    }
}

} // namespace dfproxy::app
