// SPDX-License-Identifier: Apache-2.0
#include "app/servicemetrics.h"

#include "proxy/proxyserver.h"

namespace dfproxy::app {

using telemetry::CollectedFamily;
using telemetry::CollectedSample;
using telemetry::MetricType;

namespace {

/// One sample per (label value, figure) pair, all under the label `label`.
QList<CollectedSample> labelled(const char *label, std::initializer_list<std::pair<const char *, double>> series)
{
    QList<CollectedSample> samples;
    for (const auto &[labelValue, value] : series)
        samples.append({{{QString::fromLatin1(label), QString::fromLatin1(labelValue)}}, value});
    return samples;
}

QList<CollectedSample> single(double value)
{
    return {{{}, value}};
}

} // namespace

QList<CollectedFamily> dnsFamilies(const dns::DnsHostCache::Stats &stats)
{
    QList<CollectedFamily> out;
    stats.forEach([&out](QLatin1StringView name, quint64 value, bool gauge) {
        out.append({"dfproxy_dns_" + name, "DNS host cache: " + name + " (Envoy's name).",
                    gauge ? MetricType::Gauge : MetricType::Counter, single(double(value))});
    });
    return out;
}

QList<CollectedFamily> proxyFamilies(const proxy::ProxyStats::Snapshot &s)
{
    return {
        {"dfproxy_downstream_connections_active", "Client connections open now.", MetricType::Gauge,
         single(double(s.activeConnections))},
        {"dfproxy_connect_tunnels_active", "CONNECT and websocket tunnels open now.", MetricType::Gauge,
         single(double(s.activeTunnels))},
        {"dfproxy_downstream_connections_total", "Client connections accepted.", MetricType::Counter,
         single(double(s.connectionsAccepted))},
        {"dfproxy_downstream_connections_rejected_total",
         "Client connections refused by a connection limit (limit = maxConnections or maxConnectionsPerClient).",
         MetricType::Counter,
         labelled("limit", {{"maxConnections", double(s.connectionsRejectedGlobal)},
                            {"maxConnectionsPerClient", double(s.connectionsRejectedClient)}})},
        {"dfproxy_upstream_connections_opened_total", "Upstream connections opened.", MetricType::Counter,
         single(double(s.upstreamConnectionsOpened))},
        {"dfproxy_spliced_bytes_total",
         "Body bytes moved socket to socket without a copy through the proxy (Linux splice; direction = request: "
         "client to upstream, response: upstream to client).",
         MetricType::Counter,
         labelled("direction",
                  {{"request", double(s.requestBytesSpliced)}, {"response", double(s.responseBytesSpliced)}})},
        {"dfproxy_http2_connections_total", "Client connections that spoke HTTP/2.", MetricType::Counter,
         single(double(s.http2Connections))},
        {"dfproxy_http2_streams_total", "Requests (streams) on HTTP/2 client connections.", MetricType::Counter,
         single(double(s.http2Streams))},
        {"dfproxy_http2_header_lists_too_large_total",
         "HTTP/2 streams answered 431 for a header list over proxy.maxHeaderBytes.", MetricType::Counter,
         single(double(s.http2HeaderListsTooLarge))},
        {"dfproxy_http2_attacks_total",
         "HTTP/2 client connections ended with GOAWAY(ENHANCE_YOUR_CALM), by attack pattern.", MetricType::Counter,
         labelled("pattern", {{"rapid_reset", double(s.http2RapidResets)},
                              {"continuation_flood", double(s.http2ContinuationFloods)},
                              {"hpack_bomb", double(s.http2HpackBombs)},
                              {"ping_flood", double(s.http2PingFloods)},
                              {"settings_flood", double(s.http2SettingsFloods)}})},
    };
}

QList<CollectedFamily> accessLogFamilies(const telemetry::AccessLogger::Stats &s)
{
    return {
        {"dfproxy_accesslog_records_total", "Access-log records queued.", MetricType::Counter,
         single(double(s.submitted))},
        {"dfproxy_accesslog_dropped_total", "Access-log records dropped because the queue was full.",
         MetricType::Counter, single(double(s.dropped))},
        {"dfproxy_accesslog_write_errors_total", "Access-log lines lost to write errors.", MetricType::Counter,
         single(double(s.writeErrors))},
    };
}

QList<CollectedFamily> policyFamilies(const policy::PolicyCounters &c)
{
    return {
        {"dfproxy_ratelimit_decisions_total", "Rate-limit policy decisions (deny = answered 429).",
         MetricType::Counter,
         labelled("decision", {{"allow", double(c.ratelimit.allowed)}, {"deny", double(c.ratelimit.limited)}})},
        {"dfproxy_authz_decisions_total", "Authorization policy decisions (deny = answered 403).",
         MetricType::Counter,
         labelled("decision", {{"allow", double(c.authz.allowed)}, {"deny", double(c.authz.denied)}})},
        {"dfproxy_authn_decisions_total",
         "Authentication policy outcomes: valid credentials, anonymous (optional policy), challenged (none given, "
         "401/407), rejected (wrong credentials), throttled (429: too many failures from the address) and busy (503: "
         "the verification queue was full).",
         MetricType::Counter,
         labelled("result", {{"authenticated", double(c.authn.authenticated)},
                             {"anonymous", double(c.authn.anonymous)},
                             {"challenged", double(c.authn.challenged)},
                             {"rejected", double(c.authn.rejected)},
                             {"throttled", double(c.authn.throttled)},
                             {"busy", double(c.authn.busy)}})},
        {"dfproxy_authn_password_verifications_total",
         "Password hashes verified off the proxy workers: for known users, and dummy ones for unknown users (so both "
         "take the same time). Successes are cached, so this grows with distinct or wrong credentials.",
         MetricType::Counter,
         labelled("user", {{"known", double(c.authn.hashVerifications)},
                           {"unknown", double(c.authn.dummyVerifications)}})},
        {"dfproxy_ssrf_denied_total", "Requests refused by the SSRF guard after DNS (no allowed address left).",
         MetricType::Counter, single(double(c.ssrf.denied))},
        {"dfproxy_loop_denied_total", "Requests refused as loops (Via: dfproxy, 508).", MetricType::Counter,
         single(double(c.loop.denied))},
    };
}

void addServiceCollectors(telemetry::MetricsRegistry &registry, dns::DnsHostCache *cache, proxy::ProxyServer *proxy,
                          telemetry::AccessLogger *logger, std::function<policy::PolicyCounters()> policyCounters)
{
    // Each owner's snapshot is thread-safe (atomics or the owner's own lock), so scraping from the admin (main)
    // thread or any other is fine.
    if (cache)
        registry.addCollector([cache] { return dnsFamilies(cache->stats()); });
    if (proxy)
        registry.addCollector([proxy] { return proxyFamilies(proxy->counters()); });
    if (logger)
        registry.addCollector([logger] { return accessLogFamilies(logger->stats()); });
    if (policyCounters)
        registry.addCollector([policyCounters = std::move(policyCounters)] { return policyFamilies(policyCounters()); });
}

} // namespace dfproxy::app
