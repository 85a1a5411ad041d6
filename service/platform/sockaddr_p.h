// SPDX-License-Identifier: Apache-2.0
#pragma once
// Shared by socket_unix.cpp and socket_win.cpp, after each has included its own socket headers.

#include <QHostAddress>

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

} // namespace dfproxy::platform::detail
