// SPDX-License-Identifier: Apache-2.0
#include "support/blackhole.h"

#ifdef Q_OS_LINUX
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

namespace dfproxy::test {

Blackhole::~Blackhole()
{
#ifdef Q_OS_LINUX
    for (int fd : {m_filler, m_listener}) {
        if (fd >= 0)
            ::close(fd);
    }
#endif
}

bool Blackhole::start(const QHostAddress &address, quint16 port)
{
#ifdef Q_OS_LINUX
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(address.toIPv4Address());
    socklen_t len = sizeof sa;
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_listener < 0 || ::bind(m_listener, reinterpret_cast<sockaddr *>(&sa), len) != 0
        || ::listen(m_listener, 0) != 0 || ::getsockname(m_listener, reinterpret_cast<sockaddr *>(&sa), &len) != 0)
        return false;
    m_port = ntohs(sa.sin_port);
    m_filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_filler < 0 || ::connect(m_filler, reinterpret_cast<sockaddr *>(&sa), len) != 0)
        return false;
    // The probe's SYN must go unanswered for a while.
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return false;
    ::connect(probe, reinterpret_cast<sockaddr *>(&sa), len);
    pollfd p{probe, POLLOUT, 0};
    const int ready = ::poll(&p, 1, 500);
    ::close(probe);
    return ready == 0;
#else
    Q_UNUSED(address);
    Q_UNUSED(port);
    return false;
#endif
}

} // namespace dfproxy::test
