// SPDX-License-Identifier: Apache-2.0
#include "dns/dnstypes.h"

namespace dfproxy::dns {

bool isNormalName(const QString &name)
{
    const qsizetype n = name.size();
    if (n == 0)
        return true;
    const char16_t *s = reinterpret_cast<const char16_t *>(name.constData());
    if (s[0] == u'[' || s[n - 1] == u'.' || s[0] <= u' ' || s[n - 1] <= u' ')
        return false;
    for (qsizetype i = 0; i < n; ++i) {
        if ((s[i] >= u'A' && s[i] <= u'Z') || s[i] >= 0x80)
            return false;
    }
    return true;
}

QString reasonString(DnsError e)
{
    switch (e) {
    case DnsError::None:
        return QString();
    case DnsError::NxDomain:
        return QStringLiteral("dns_nxdomain");
    case DnsError::NoData:
        return QStringLiteral("dns_no_addresses");
    case DnsError::ServFail:
        return QStringLiteral("dns_servfail");
    case DnsError::Refused:
        return QStringLiteral("dns_refused");
    case DnsError::BadReply:
        return QStringLiteral("dns_bad_reply");
    case DnsError::Timeout:
        return QStringLiteral("dns_resolution_timeout");
    case DnsError::CacheOverflow:
        return QStringLiteral("dns_cache_overflow");
    case DnsError::PendingOverflow:
        return QStringLiteral("dns_pending_overflow");
    case DnsError::Other:
        return QStringLiteral("dns_resolution_failed");
    }
    return QStringLiteral("dns_resolution_failed");
}

} // namespace dfproxy::dns
