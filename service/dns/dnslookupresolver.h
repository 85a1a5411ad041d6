// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "dns/resolver.h"

namespace dfproxy::dns {

/// A Resolver built on QDnsLookup. Queries the configured IPv4 nameservers (the system's when the list is
/// empty) one after the other: on a timeout, SERVFAIL or REFUSED it moves on to the next server. Each attempt is bounded
/// by its own timeout (QDnsLookup alone would wait ~10 s for a silent server). Lives on the creating thread.
class DnsLookupResolver final : public Resolver
{
public:
    /// `nameservers` must be IPv4 (Qt 6.4 ignores IPv6 nameservers); others are dropped.
    explicit DnsLookupResolver(QList<QHostAddress> nameservers = {}, int timeoutMs = 5000);
    ~DnsLookupResolver() override;

    std::unique_ptr<ResolverQuery> query(const QString &name, RecordType type, Callback callback) override;

    /// True once a lookup was given up on (timeout, cancellation, shutdown) before Qt's resolver thread finished
    /// it. On Unix that thread stays blocked in the C library for up to its retry schedule (RES_OPTIONS, about
    /// `timeoutMs` + 1 s per system nameserver), and QCoreApplication's destructor waits for every such thread:
    /// dfproxy's main() ends the process without that wait when this is true (service/main.cpp).
    static bool lookupsLeftRunning();

    QList<QHostAddress> nameservers() const { return m_nameservers; }
    int timeoutMs() const { return m_timeoutMs; }

private:
    QList<QHostAddress> m_nameservers;
    int m_timeoutMs;
};

} // namespace dfproxy::dns
