// SPDX-License-Identifier: Apache-2.0
#include "policy/cidr.h"

#include "config/model.h"

namespace dfproxy::policy {

QHostAddress normalizedAddress(const QHostAddress &address)
{
    if (address.protocol() == QAbstractSocket::IPv6Protocol) {
        bool ok = false;
        const quint32 v4 = address.toIPv4Address(&ok);
        if (ok)
            return QHostAddress(v4);
        if (!address.scopeId().isEmpty()) {
            QHostAddress copy = address;
            copy.setScopeId(QString());
            return copy;
        }
    }
    return address;
}

QList<QHostAddress> embeddedIPv4Addresses(const QHostAddress &address)
{
    QList<QHostAddress> out;
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return out;
    const Q_IPV6ADDR a = address.toIPv6Address();
    const auto v4 = [&a](int i0, int i1, int i2, int i3, quint32 mask = 0) {
        const quint32 v = quint32(a[i0]) << 24 | quint32(a[i1]) << 16 | quint32(a[i2]) << 8 | quint32(a[i3]);
        return QHostAddress(v ^ mask);
    };
    const auto zero = [&a](int from, int to) { // bytes [from, to) are all zero
        for (int i = from; i < to; ++i) {
            if (a[i])
                return false;
        }
        return true;
    };
    const auto last32 = [&] { out.append(v4(12, 13, 14, 15)); };
    if (zero(0, 10) && a[10] == 0xff && a[11] == 0xff) {
        last32(); // IPv4-mapped ::ffff:a.b.c.d
    } else if (zero(0, 8) && a[8] == 0xff && a[9] == 0xff && zero(10, 12)) {
        last32(); // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765 SIIT)
    } else if (zero(0, 12)) {
        // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks); :: and ::1 are IPv6's own.
        if (!zero(12, 15) || a[15] > 1)
            last32();
    } else if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b) {
        if (zero(4, 12)) {
            last32(); // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052)
        } else if (a[4] == 0x00 && a[5] == 0x01) {
            // NAT64 local-use 64:ff9b:1::/48 (RFC 8215): the operator picks the length inside it, so every RFC 6052
            // layout that fits is read (bits 64-71 are the reserved "u" octet and skipped).
            out.append(v4(6, 7, 9, 10));   // /48
            out.append(v4(7, 9, 10, 11));  // /56
            out.append(v4(9, 10, 11, 12)); // /64
            last32();                      // /96
        }
    } else if (a[0] == 0x20 && a[1] == 0x02) {
        out.append(v4(2, 3, 4, 5)); // 6to4 2002:AABB:CCDD::/48
    } else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] == 0x00) {
        out.append(v4(4, 5, 6, 7));                  // Teredo server
        out.append(v4(12, 13, 14, 15, 0xffffffffu)); // Teredo client, stored inverted
    }
    // ISATAP (RFC 5214): any /64 prefix with the interface identifier [02]00:5efe:a.b.c.d.
    if ((a[8] == 0x00 || a[8] == 0x02) && a[9] == 0x00 && a[10] == 0x5e && a[11] == 0xfe)
        last32();
    return out;
}

bool CidrSet::add(const QString &cidr)
{
    const auto block = config::parseCidr(cidr);
    if (!block)
        return false;
    m_blocks.append({normalizedAddress(block->first), block->second});
    return true;
}

bool CidrSet::contains(const QHostAddress &address) const
{
    const QHostAddress a = normalizedAddress(address);
    for (const auto &b : m_blocks) {
        if (a.protocol() == b.first.protocol() && a.isInSubnet(b.first, b.second))
            return true;
    }
    return false;
}

QStringList CidrSet::toStringList() const
{
    QStringList out;
    for (const auto &b : m_blocks)
        out.append(b.first.toString() + u'/' + QString::number(b.second));
    return out;
}

} // namespace dfproxy::policy
