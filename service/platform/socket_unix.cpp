// SPDX-License-Identifier: Apache-2.0
#include "platform/socket.h"

#ifndef Q_OS_WIN
#include <cerrno>
#include <climits>
#include <limits>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "platform/sockaddr_p.h"

#include <QString>

namespace dfproxy::platform {

qintptr duplicateSocket(qintptr fd)
{
    const int copy = ::fcntl(int(fd), F_DUPFD_CLOEXEC, 0);
    return copy < 0 ? -1 : copy;
}

bool prepareSocket(qintptr fd)
{
    const int flags = ::fcntl(int(fd), F_GETFL);
    if (flags < 0 || ::fcntl(int(fd), F_SETFL, flags | O_NONBLOCK) < 0)
        return false;
#ifdef SO_NOSIGPIPE
    int one = 1;
    ::setsockopt(int(fd), SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return true;
}

bool shutdownWrite(qintptr fd)
{
    return ::shutdown(int(fd), SHUT_WR) == 0;
}

#ifdef TCP_QUICKACK
constexpr ssize_t kQuickAckReadBytes = 16 * 1024;
#endif

qint64 readSocket(qintptr fd, char *buffer, qint64 max)
{
    for (;;) {
        const ssize_t n = ::recv(int(fd), buffer, size_t(max), 0);
#ifdef TCP_QUICKACK
        // A bulk read: ACK at once instead of letting the kernel delay it. A sender whose last, short segment
        // waits for our ACK (Nagle, or a full send buffer) otherwise stalls for the delayed-ACK timer (40 ms on
        // Linux): that was the p99 of 64 KiB responses through the proxy (docs/benchmarks.md). One setsockopt per
        // large read only; Linux leaves quick-ACK mode by itself, hence per read.
        if (n >= kQuickAckReadBytes) {
            int one = 1;
            ::setsockopt(int(fd), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        }
#endif
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WouldBlock : SocketFailed;
    }
}

qint64 writeSocket(qintptr fd, const char *data, qint64 size)
{
#ifdef MSG_NOSIGNAL
    constexpr int flags = MSG_NOSIGNAL;
#else
    constexpr int flags = 0; // SO_NOSIGPIPE (prepareSocket) instead
#endif
    for (;;) {
        const ssize_t n = ::send(int(fd), data, size_t(size), flags);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WouldBlock : SocketFailed;
    }
}

qint64 writeSocket2(qintptr fd, const char *a, qint64 aSize, const char *b, qint64 bSize)
{
#ifdef MSG_NOSIGNAL
    constexpr int flags = MSG_NOSIGNAL;
#else
    constexpr int flags = 0;
#endif
    iovec iov[2] = {{const_cast<char *>(a), size_t(aSize)}, {const_cast<char *>(b), size_t(bSize)}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    for (;;) {
        const ssize_t n = ::sendmsg(int(fd), &msg, flags);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WouldBlock : SocketFailed;
    }
}

qintptr startConnect(const QHostAddress &address, quint16 port, QString *error)
{
    sockaddr_storage ss;
    const int len = detail::toSockaddr(address, port, &ss);
    if (len == 0) {
        *error = QStringLiteral("not an IPv4 or IPv6 address");
        return -1;
    }
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const bool ready = fd >= 0;
#else
    const int fd = ::socket(ss.ss_family, SOCK_STREAM, 0);
    const bool ready = fd >= 0 && ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && prepareSocket(fd);
#endif
    if (!ready) {
        *error = qt_error_string(errno);
        if (fd >= 0)
            ::close(fd);
        return -1;
    }
    setNoDelay(fd);
    // EINTR: the connect goes on in the kernel all the same (calling it again would say EALREADY).
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&ss), socklen_t(len)) == 0 || errno == EINPROGRESS
        || errno == EINTR)
        return fd;
    *error = qt_error_string(errno);
    ::close(fd);
    return -1;
}

bool connectResult(qintptr fd, QString *error)
{
    int result = 0;
    socklen_t len = sizeof result;
    if (::getsockopt(int(fd), SOL_SOCKET, SO_ERROR, &result, &len) != 0)
        result = errno;
    if (result == 0)
        return true;
    *error = qt_error_string(result);
    return false;
}

void closeSocket(qintptr fd)
{
    if (fd >= 0)
        ::close(int(fd));
}

qintptr openConnectedUdpSocket(const QHostAddress &address, quint16 port)
{
    sockaddr_storage ss;
    const int len = detail::toSockaddr(address, port, &ss);
    if (len == 0)
        return -1;
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    // One call instead of three fcntl()s more: a socket per query, thousands a second with many new names.
    const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    const bool ready = true;
#else
    const int fd = ::socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    const bool ready = ::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && prepareSocket(fd);
#endif
    if (!ready || ::connect(fd, reinterpret_cast<const sockaddr *>(&ss), socklen_t(len)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

qint64 receiveDatagram(qintptr fd, char *buffer, qint64 max)
{
    for (;;) {
        const ssize_t n = ::recv(int(fd), buffer, size_t(max), 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WouldBlock : SocketFailed;
    }
}

bool socketPeer(qintptr fd, QHostAddress *address, quint16 *port)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(int(fd), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return false;
    return detail::fromSockaddr(ss, address, port);
}

bool socketLocal(qintptr fd, QHostAddress *address, quint16 *port)
{
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(int(fd), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return false;
    return detail::fromSockaddr(ss, address, port);
}

bool setNoDelay(qintptr fd)
{
    int one = 1;
    return ::setsockopt(int(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

qint64 raiseDescriptorLimit()
{
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t want = rl.rlim_max;
#ifdef Q_OS_MACOS
    if (want == RLIM_INFINITY || want > rlim_t(OPEN_MAX))
        want = OPEN_MAX;
#endif
    if (rl.rlim_cur < want) {
        rlimit raised = rl;
        raised.rlim_cur = want;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    return rl.rlim_cur == RLIM_INFINITY ? std::numeric_limits<qint64>::max() : qint64(rl.rlim_cur);
}

} // namespace dfproxy::platform
#endif
