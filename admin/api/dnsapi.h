// SPDX-License-Identifier: Apache-2.0
#pragma once
// The DNS endpoints of the admin API: /api/v1/dns/cache (list, flush entries), /resolve, /settings, /stats.

namespace dfproxy::dns {
class DnsHostCache;
}

namespace dfproxy::admin {

class AdminServer;

/// Registers the DNS cache endpoints on `server`:
///   GET    /api/v1/dns/cache               every entry (host, port, addresses, TTL left, hits, failures, state)
///   DELETE /api/v1/dns/cache               flush all
///   DELETE /api/v1/dns/cache/{hostport}    remove one ("example.com:80", "[::1]:8080")
///   POST   /api/v1/dns/resolve             preresolve {"host": "...", "port": 80, "lookupFamily": "V4Only"}
///   GET    /api/v1/dns/stats               the cache's counters (Envoy's names)
///   GET    /api/v1/dns/settings            the "dns" settings in effect, the resolver they chose, attached threads
/// `cache` is not owned and must outlive the server.
void registerDnsApi(AdminServer &server, dns::DnsHostCache *cache);

} // namespace dfproxy::admin
