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
