// SPDX-License-Identifier: Apache-2.0
// The scrape-time collectors of figures other areas own: each turns the owner's typed snapshot into metric families
// (no JSON in between), and the text they give is pinned here exactly as /metrics serves it.
#include "app/servicemetrics.h"

#include <gtest/gtest.h>

using namespace dfproxy;

namespace {

/// The Prometheus text of `families` alone, as MetricsRegistry::exposition() renders a collector.
QByteArray exposition(QList<telemetry::CollectedFamily> families)
{
    telemetry::MetricsRegistry registry;
    registry.addCollector([families = std::move(families)] { return families; });
    return registry.exposition();
}

} // namespace

TEST(ServiceMetrics, DnsFamiliesComeFromTheCacheStatsInNameOrder)
{
    dns::DnsHostCache::Stats s;
    s.dns_query_attempt = 1;
    s.dns_query_success = 2;
    s.dns_query_failure = 3;
    s.dns_query_timeout = 4;
    s.host_added = 5;
    s.host_removed = 6;
    s.host_address_changed = 7;
    s.host_overflow = 8;
    s.dns_rq_pending_overflow = 9;
    s.cache_hit = 10;
    s.cache_miss = 11;
    s.stale_served = 12;
    s.num_hosts = 13;
    QByteArray expected;
    const std::pair<const char *, int> series[] = {
        {"cache_hit", 10},         {"cache_miss", 11},           {"dns_query_attempt", 1}, {"dns_query_failure", 3},
        {"dns_query_success", 2},  {"dns_query_timeout", 4},     {"dns_rq_pending_overflow", 9},
        {"host_added", 5},         {"host_address_changed", 7},  {"host_overflow", 8},     {"host_removed", 6},
        {"num_hosts", 13},         {"stale_served", 12}};
    for (const auto &[name, value] : series) {
        const QByteArray n(name);
        expected += "# HELP dfproxy_dns_" + n + " DNS host cache: " + n + " (Envoy's name).\n";
        expected += "# TYPE dfproxy_dns_" + n + (n == "num_hosts" ? " gauge\n" : " counter\n");
        expected += "dfproxy_dns_" + n + ' ' + QByteArray::number(value) + '\n';
    }
    EXPECT_EQ(exposition(app::dnsFamilies(s)), expected);
}

TEST(ServiceMetrics, ProxyFamiliesComeFromTheProxyCounters)
{
    proxy::ProxyStats stats;
    stats.activeConnections = 3;
    stats.activeTunnels = 2;
    stats.connectionsAccepted = 40;
    stats.connectionsRejectedGlobal = 5;
    stats.connectionsRejectedClient = 6;
    stats.upstreamConnectionsOpened = 7;
    stats.requestBytesSpliced = 1000;
    stats.responseBytesSpliced = 2000;
    stats.http2Connections = 8;
    stats.http2Streams = 9;
    stats.http2HeaderListsTooLarge = 10;
    stats.http2RapidResets = 11;
    stats.http2ContinuationFloods = 12;
    stats.http2HpackBombs = 13;
    stats.http2PingFloods = 14;
    stats.http2SettingsFloods = 15;
    EXPECT_EQ(exposition(app::proxyFamilies(stats.snapshot())),
              QByteArray("# HELP dfproxy_downstream_connections_active Client connections open now.\n"
                         "# TYPE dfproxy_downstream_connections_active gauge\n"
                         "dfproxy_downstream_connections_active 3\n"
                         "# HELP dfproxy_connect_tunnels_active CONNECT and websocket tunnels open now.\n"
                         "# TYPE dfproxy_connect_tunnels_active gauge\n"
                         "dfproxy_connect_tunnels_active 2\n"
                         "# HELP dfproxy_downstream_connections_total Client connections accepted.\n"
                         "# TYPE dfproxy_downstream_connections_total counter\n"
                         "dfproxy_downstream_connections_total 40\n"
                         "# HELP dfproxy_downstream_connections_rejected_total Client connections refused by a "
                         "connection limit (limit = maxConnections or maxConnectionsPerClient).\n"
                         "# TYPE dfproxy_downstream_connections_rejected_total counter\n"
                         "dfproxy_downstream_connections_rejected_total{limit=\"maxConnections\"} 5\n"
                         "dfproxy_downstream_connections_rejected_total{limit=\"maxConnectionsPerClient\"} 6\n"
                         "# HELP dfproxy_upstream_connections_opened_total Upstream connections opened.\n"
                         "# TYPE dfproxy_upstream_connections_opened_total counter\n"
                         "dfproxy_upstream_connections_opened_total 7\n"
                         "# HELP dfproxy_spliced_bytes_total Body bytes moved socket to socket without a copy through "
                         "the proxy (Linux splice; direction = request: client to upstream, response: upstream to "
                         "client).\n"
                         "# TYPE dfproxy_spliced_bytes_total counter\n"
                         "dfproxy_spliced_bytes_total{direction=\"request\"} 1000\n"
                         "dfproxy_spliced_bytes_total{direction=\"response\"} 2000\n"
                         "# HELP dfproxy_http2_connections_total Client connections that spoke HTTP/2.\n"
                         "# TYPE dfproxy_http2_connections_total counter\n"
                         "dfproxy_http2_connections_total 8\n"
                         "# HELP dfproxy_http2_streams_total Requests (streams) on HTTP/2 client connections.\n"
                         "# TYPE dfproxy_http2_streams_total counter\n"
                         "dfproxy_http2_streams_total 9\n"
                         "# HELP dfproxy_http2_header_lists_too_large_total HTTP/2 streams answered 431 for a header "
                         "list over proxy.maxHeaderBytes.\n"
                         "# TYPE dfproxy_http2_header_lists_too_large_total counter\n"
                         "dfproxy_http2_header_lists_too_large_total 10\n"
                         "# HELP dfproxy_http2_attacks_total HTTP/2 client connections ended with "
                         "GOAWAY(ENHANCE_YOUR_CALM), by attack pattern.\n"
                         "# TYPE dfproxy_http2_attacks_total counter\n"
                         "dfproxy_http2_attacks_total{pattern=\"rapid_reset\"} 11\n"
                         "dfproxy_http2_attacks_total{pattern=\"continuation_flood\"} 12\n"
                         "dfproxy_http2_attacks_total{pattern=\"hpack_bomb\"} 13\n"
                         "dfproxy_http2_attacks_total{pattern=\"ping_flood\"} 14\n"
                         "dfproxy_http2_attacks_total{pattern=\"settings_flood\"} 15\n"));
}

TEST(ServiceMetrics, AccessLogFamiliesComeFromTheLoggerStats)
{
    telemetry::AccessLogger::Stats s;
    s.submitted = 5;
    s.dropped = 2;
    s.written = 3;
    s.writeErrors = 1;
    EXPECT_EQ(exposition(app::accessLogFamilies(s)),
              QByteArray("# HELP dfproxy_accesslog_records_total Access-log records queued.\n"
                         "# TYPE dfproxy_accesslog_records_total counter\n"
                         "dfproxy_accesslog_records_total 5\n"
                         "# HELP dfproxy_accesslog_dropped_total Access-log records dropped because the queue was "
                         "full.\n"
                         "# TYPE dfproxy_accesslog_dropped_total counter\n"
                         "dfproxy_accesslog_dropped_total 2\n"
                         "# HELP dfproxy_accesslog_write_errors_total Access-log lines lost to write errors.\n"
                         "# TYPE dfproxy_accesslog_write_errors_total counter\n"
                         "dfproxy_accesslog_write_errors_total 1\n"));
}

TEST(ServiceMetrics, PolicyFamiliesComeFromTheEngineCounters)
{
    // No engine yet: every series exists, at 0.
    const QByteArray zero = exposition(app::policyFamilies({}));
    EXPECT_TRUE(zero.contains("dfproxy_authz_decisions_total{decision=\"allow\"} 0\n"));
    EXPECT_TRUE(zero.contains("dfproxy_ratelimit_decisions_total{decision=\"deny\"} 0\n"));
    EXPECT_TRUE(zero.contains("dfproxy_ssrf_denied_total 0\n"));

    policy::PolicyCounters c;
    c.ratelimit = {3, 2, 1};
    c.authz = {5, 4};
    c.authn.authenticated = 7;
    c.authn.anonymous = 20;
    c.authn.challenged = 1;
    c.authn.rejected = 6;
    c.authn.throttled = 21;
    c.authn.busy = 22;
    c.authn.hashVerifications = 30;
    c.authn.dummyVerifications = 31;
    c.authn.cachedVerifications = 99; // gauges of /api/v1/stats only
    c.ssrf = {9, 8, 8};
    c.loop.denied = 11;
    EXPECT_EQ(exposition(app::policyFamilies(c)),
              QByteArray("# HELP dfproxy_ratelimit_decisions_total Rate-limit policy decisions (deny = answered 429).\n"
                         "# TYPE dfproxy_ratelimit_decisions_total counter\n"
                         "dfproxy_ratelimit_decisions_total{decision=\"allow\"} 3\n"
                         "dfproxy_ratelimit_decisions_total{decision=\"deny\"} 2\n"
                         "# HELP dfproxy_authz_decisions_total Authorization policy decisions (deny = answered 403).\n"
                         "# TYPE dfproxy_authz_decisions_total counter\n"
                         "dfproxy_authz_decisions_total{decision=\"allow\"} 5\n"
                         "dfproxy_authz_decisions_total{decision=\"deny\"} 4\n"
                         "# HELP dfproxy_authn_decisions_total Authentication policy outcomes: valid credentials, "
                         "anonymous (optional policy), challenged (none given, 401/407), rejected (wrong credentials), "
                         "throttled (429: too many failures from the address) and busy (503: the verification queue "
                         "was full).\n"
                         "# TYPE dfproxy_authn_decisions_total counter\n"
                         "dfproxy_authn_decisions_total{result=\"authenticated\"} 7\n"
                         "dfproxy_authn_decisions_total{result=\"anonymous\"} 20\n"
                         "dfproxy_authn_decisions_total{result=\"challenged\"} 1\n"
                         "dfproxy_authn_decisions_total{result=\"rejected\"} 6\n"
                         "dfproxy_authn_decisions_total{result=\"throttled\"} 21\n"
                         "dfproxy_authn_decisions_total{result=\"busy\"} 22\n"
                         "# HELP dfproxy_authn_password_verifications_total Password hashes verified off the proxy "
                         "workers: for known users, and dummy ones for unknown users (so both take the same time). "
                         "Successes are cached, so this grows with distinct or wrong credentials.\n"
                         "# TYPE dfproxy_authn_password_verifications_total counter\n"
                         "dfproxy_authn_password_verifications_total{user=\"known\"} 30\n"
                         "dfproxy_authn_password_verifications_total{user=\"unknown\"} 31\n"
                         "# HELP dfproxy_ssrf_denied_total Requests refused by the SSRF guard after DNS (no allowed "
                         "address left).\n"
                         "# TYPE dfproxy_ssrf_denied_total counter\n"
                         "dfproxy_ssrf_denied_total 8\n"
                         "# HELP dfproxy_loop_denied_total Requests refused as loops (Via: dfproxy, 508).\n"
                         "# TYPE dfproxy_loop_denied_total counter\n"
                         "dfproxy_loop_denied_total 11\n"));
}
