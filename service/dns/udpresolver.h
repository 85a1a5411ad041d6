// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "dns/resolver.h"

#include <memory>

namespace dfproxy::dns {

namespace udp {
struct ChannelPool;
}

/// A Resolver that speaks DNS over UDP itself, on the event loop of the thread that owns it: no helper thread, no
/// resolver library state per query. This is the default when `dns.servers` is set (docs/dns.md); QDnsLookup
/// (DnsLookupResolver) stays for the system resolver and for answers too large for UDP.
///
/// Each query asks the servers one after the other, each with its share of the timeout, over that server's shared
/// socket, connected to the server (the kernel drops datagrams from anyone else), with a random 16-bit id unique on
/// that socket; a reply must carry the query's id and question or it is ignored. A server's socket carries 100
/// queries, then the next query opens a new one (a new random source port), as c-ares's udp_max_queries does: one
/// socket per query cost a socket(), connect(), close() and a notifier on every cold name. Within a server's share the
/// query is sent a second time halfway through (a lost datagram costs half a share, not the server). SERVFAIL,
/// REFUSED, an unusable reply or an ICMP "port unreachable" move on to the next server; NXDOMAIN and answers end
/// the query. A truncated reply (TC) is asked again through QDnsLookup against the same server, which retries over
/// TCP. CNAME chains in the answer are followed; the TTL is the smallest along the chain.
class UdpResolver final : public Resolver
{
public:
    /// `nameservers`: IPv4 or IPv6 addresses (at least one); `timeoutMs`: each server's share; `port`: 53 except
    /// in tests.
    UdpResolver(QList<QHostAddress> nameservers, int timeoutMs, quint16 port = 53);
    ~UdpResolver() override;

    std::unique_ptr<ResolverQuery> query(const QString &name, RecordType type, Callback callback) override;

    QList<QHostAddress> nameservers() const { return m_nameservers; }
    int timeoutMs() const { return m_timeoutMs; }
    /// recv() calls made on this resolver's sockets so far (tests check that a wake-up reads no more than it must).
    quint64 receiveCalls() const;

private:
    QList<QHostAddress> m_nameservers;
    int m_timeoutMs;
    quint16 m_port;
    std::shared_ptr<udp::ChannelPool> m_pool; ///< shared with the queries, which may outlive the resolver
};

} // namespace dfproxy::dns
