// SPDX-License-Identifier: Apache-2.0
#pragma once
// The scrape-time metrics of figures other areas own and count themselves (DNS cache, proxy server, access logger,
// policy engine). Each owner hands out a snapshot of plain integers; these functions turn a snapshot into metric
// families, so telemetry never depends on those areas and no figure passes through JSON on its way to /metrics.

#include "dns/dnshostcache.h"
#include "policy/policyengine.h"
#include "proxy/proxystats.h"
#include "telemetry/accesslogger.h"
#include "telemetry/metrics.h"

#include <functional>

namespace dfproxy::proxy {
class ProxyServer;
}

namespace dfproxy::app {

/// dfproxy_dns_<Envoy's name>: the host cache's counters and its num_hosts gauge, in name order.
QList<telemetry::CollectedFamily> dnsFamilies(const dns::DnsHostCache::Stats &stats);
/// Connections and tunnels open now, accepted and refused connections, upstream connections, spliced bytes and the
/// HTTP/2 client figures.
QList<telemetry::CollectedFamily> proxyFamilies(const proxy::ProxyStats::Snapshot &stats);
/// The access logger's queued, dropped and lost records.
QList<telemetry::CollectedFamily> accessLogFamilies(const telemetry::AccessLogger::Stats &stats);
/// The policy decisions (counted by the engine chain, so they survive config changes). All zero before the first
/// engine, so the families always exist:
///   dfproxy_ratelimit_decisions_total{decision="allow|deny"}
///   dfproxy_authz_decisions_total{decision="allow|deny"}
///   dfproxy_authn_decisions_total{result="authenticated|anonymous|challenged|rejected|throttled|busy"}
///   dfproxy_authn_password_verifications_total{user="known|unknown"}
///   dfproxy_ssrf_denied_total, dfproxy_loop_denied_total
QList<telemetry::CollectedFamily> policyFamilies(const policy::PolicyCounters &counters);

/// Adds one collector per owner: the DNS cache, the proxy and the access logger (any may be null; not owned, must
/// outlive the registry's scrapes) and the policy counters from `policyCounters` (thread-safe; called per scrape).
void addServiceCollectors(telemetry::MetricsRegistry &registry, dns::DnsHostCache *cache, proxy::ProxyServer *proxy,
                          telemetry::AccessLogger *logger, std::function<policy::PolicyCounters()> policyCounters);

} // namespace dfproxy::app
