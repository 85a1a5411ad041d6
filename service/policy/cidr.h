// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QStringList>

namespace dfproxy::policy {

/// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) as plain IPv4, so one CIDR list covers both spellings.
QHostAddress normalizedAddress(const QHostAddress &address);

/// Every IPv4 address an IPv6 address carries in one of the standard embeddings, each of which some network
/// element (a NAT64 or 6to4 gateway, a Teredo relay, a dual-stack host) may turn into traffic to that IPv4 address:
/// IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, IPv4-compatible ::/96 (not :: and ::1), NAT64
/// 64:ff9b::/96 and 64:ff9b:1::/48 (RFC 6052 /48, /56, /64 and /96 layouts), 6to4 2002::/16, Teredo 2001::/32
/// (server and de-obfuscated client) and ISATAP interface identifiers (::0:5efe:a.b.c.d, ::200:5efe:a.b.c.d).
/// Empty for IPv4 and for IPv6 addresses without an embedding. An address may yield several (Teredo: two).
QList<QHostAddress> embeddedIPv4Addresses(const QHostAddress &address);

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
