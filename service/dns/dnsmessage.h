// SPDX-License-Identifier: Apache-2.0
#pragma once
// The DNS wire format (RFC 1035 section 4) for the one thing the UDP resolver asks: the A or AAAA records of a name.

#include "dns/dnstypes.h"

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QString>

#include <optional>

namespace dfproxy::dns::wire {

constexpr quint16 TypeA = 1;
constexpr quint16 TypeCname = 5;
constexpr quint16 TypeAaaa = 28;
constexpr quint16 ClassIn = 1;
/// The largest reply a query without EDNS may receive over UDP (RFC 1035 4.2.1).
constexpr int MaxUdpReply = 512;

/// `name` as the wire wants it: ASCII (IDNA "xn--" labels for other names), without a final dot, every label 1-63
/// bytes, 253 bytes at most. nullopt if it cannot be one; `error` then says why.
std::optional<QByteArray> encodeName(const QString &name, QString *error = nullptr);

/// One query message: header (id, RD set), the question (`asciiName` from encodeName, `type`, class IN).
QByteArray encodeQuery(quint16 id, const QByteArray &asciiName, quint16 type);

/// What a reply said about the question it answers.
struct Reply
{
    quint16 id = 0;
    bool truncated = false; ///< TC: the answer did not fit in the datagram
    int rcode = 0;          ///< 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED ...
    /// The addresses of the asked type owned by the name or by the CNAME chain that starts at it, in answer order.
    QList<QHostAddress> addresses;
    /// The smallest TTL of those records and of the CNAMEs that led to them (0 when there are none).
    quint32 ttlSeconds = 0;
};

/// Whether `datagram` is a reply to the query (`id`, `asciiName`, `type`): QR set, standard query, the same id and
/// question (names compared without regard to case). A datagram that is not one is no answer at all: a resolver
/// ignores it and keeps waiting (it may be a late reply to an earlier query, or forged).
bool isReplyTo(const QByteArray &datagram, quint16 id, const QByteArray &asciiName, quint16 type);

/// Reads a reply that isReplyTo() accepted. nullopt when its records cannot be read (a bad length, a compression
/// pointer loop, a record running past the end, an A record that is not 4 bytes ...), with `error` set.
std::optional<Reply> parseReply(const QByteArray &datagram, const QByteArray &asciiName, quint16 type,
                                QString *error = nullptr);

/// The DnsError of an RCODE (None for NOERROR; the caller decides what an empty NOERROR means).
DnsError errorOfRcode(int rcode);
/// "NXDOMAIN", "SERVFAIL", ... ("RCODE 9" for the rest).
QString rcodeName(int rcode);

} // namespace dfproxy::dns::wire
