// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QStringList>

namespace dfproxy::policy {

/// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) as plain IPv4, so one CIDR list covers both spellings.
QHostAddress normalizedAddress(const QHostAddress &address);

/// A list of CIDR blocks. Immutable after construction; thread-safe to read.
class CidrSet
{
public:
    CidrSet() = default;
    /// Adds "10.0.0.0/8", "fe80::/10" or a bare address. Returns false (and adds nothing) when malformed.
    bool add(const QString &cidr);
    void add(const CidrSet &other) { m_blocks += other.m_blocks; }
    bool contains(const QHostAddress &address) const;
    bool isEmpty() const { return m_blocks.isEmpty(); }
    QStringList toStringList() const;

private:
    QList<QPair<QHostAddress, int>> m_blocks;
};

} // namespace dfproxy::policy
