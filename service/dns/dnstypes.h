// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/lookupfamily.h"

#include <QHostAddress>
#include <QList>
#include <QString>

#include <optional>

namespace dfproxy::dns {

// The enum and its one parser live in base (config reads a backend's lookupFamily too); dns:: spells them as before.
using dfproxy::LookupFamily;
using dfproxy::lookupFamilyFromString;
using dfproxy::toString;

/// True when `name` is already in the form the cache and the hosts file keep names in: ASCII, lower case, no
/// surrounding spaces, brackets or final dot. Their normalisations return such a name as it is, without
/// allocating (the usual case: one per request).
bool isNormalName(const QString &name);

/// Why a resolution failed. Each value has a stable reason string (reasonString) used in the
/// x-dfproxy-error response header, the access log and the stats.
enum class DnsError {
    None,
    NxDomain,        ///< dns_nxdomain: the name does not exist
    NoData,          ///< dns_no_addresses: the name exists but has no address of the wanted family
    ServFail,        ///< dns_servfail
    Refused,         ///< dns_refused
    BadReply,        ///< dns_bad_reply: garbage, truncated or otherwise unusable reply
    Timeout,         ///< dns_resolution_timeout
    CacheOverflow,   ///< dns_cache_overflow: max_hosts reached
    PendingOverflow, ///< dns_pending_overflow: too many requests waiting for DNS
    Other,           ///< dns_resolution_failed
};
/// "dns_nxdomain", "dns_resolution_timeout", ...
QString reasonString(DnsError e);

/// What a lookup in the host cache produced.
struct ResolveResult
{
    DnsError error = DnsError::None;
    QList<QHostAddress> addresses; ///< in the order to try them; empty on error
    QString detail;                ///< human-readable detail for error bodies and logs
    bool cacheHit = false;         ///< answered from the cache without waiting for DNS
    bool stale = false;            ///< served past its TTL because a refresh failed (bounded stale window)
    bool ok() const { return error == DnsError::None && !addresses.isEmpty(); }
};

} // namespace dfproxy::dns
