// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by socket_unix.cpp and socket_win.cpp, after each has included its own socket headers.

#include <QHostAddress>

#include <cstring>

namespace dfproxy::platform::detail {

/// The address and port in a sockaddr_in / sockaddr_in6. False (nothing set) for other families.
inline bool fromSockaddr(const sockaddr_storage &ss, QHostAddress *address, quint16 *port)
{
    const QHostAddress a(reinterpret_cast<const sockaddr *>(&ss));
    if (a.isNull())
        return false;
    *address = a;
    if (ss.ss_family == AF_INET)
        *port = ntohs(reinterpret_cast<const sockaddr_in *>(&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        *port = ntohs(reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_port);
    return true;
}

/// Fills `ss` with `address`:`port`; returns the length to pass with it, 0 for a null or unknown address.
inline int toSockaddr(const QHostAddress &address, quint16 port, sockaddr_storage *ss)
{
    *ss = sockaddr_storage{};
    if (address.protocol() == QAbstractSocket::IPv4Protocol) {
        auto *in = reinterpret_cast<sockaddr_in *>(ss);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        in->sin_addr.s_addr = htonl(address.toIPv4Address());
        return int(sizeof(sockaddr_in));
    }
    if (address.protocol() == QAbstractSocket::IPv6Protocol) {
        auto *in6 = reinterpret_cast<sockaddr_in6 *>(ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        const Q_IPV6ADDR bytes = address.toIPv6Address();
        static_assert(sizeof bytes.c == sizeof in6->sin6_addr);
        memcpy(&in6->sin6_addr, bytes.c, sizeof bytes.c);
        bool numeric = false;
        const uint scope = address.scopeId().toUInt(&numeric);
        if (numeric)
            in6->sin6_scope_id = scope;
        return int(sizeof(sockaddr_in6));
    }
    return 0;
}

} // namespace dfproxy::platform::detail
