// SPDX-License-Identifier: Apache-2.0
#include "platform/socket.h"

#ifdef Q_OS_WIN

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include "platform/sockaddr_p.h"

#include <QString>

#ifdef _MSC_VER
#pragma comment(lib, "ws2_32.lib")
#endif

namespace dfproxy::platform {

qintptr duplicateSocket(qintptr fd)
{
    WSAPROTOCOL_INFOW info;
    if (WSADuplicateSocketW(SOCKET(fd), GetCurrentProcessId(), &info) != 0)
        return -1;
    const SOCKET copy = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                                   WSA_FLAG_OVERLAPPED);
    return copy == INVALID_SOCKET ? -1 : qintptr(copy);
}

bool prepareSocket(qintptr fd)
{
    u_long on = 1;
    return ioctlsocket(SOCKET(fd), FIONBIO, &on) == 0;
}

bool shutdownWrite(qintptr fd)
{
    return shutdown(SOCKET(fd), SD_SEND) == 0;
}

qint64 readSocket(qintptr fd, char *buffer, qint64 max)
{
    const int n = recv(SOCKET(fd), buffer, int(qMin<qint64>(max, 1 << 30)), 0);
    if (n >= 0)
        return n;
    return WSAGetLastError() == WSAEWOULDBLOCK ? WouldBlock : SocketFailed;
}

qint64 writeSocket(qintptr fd, const char *data, qint64 size)
{
    const int n = send(SOCKET(fd), data, int(qMin<qint64>(size, 1 << 30)), 0);
    if (n >= 0)
        return n;
    return WSAGetLastError() == WSAEWOULDBLOCK ? WouldBlock : SocketFailed;
}

qint64 writeSocket2(qintptr fd, const char *a, qint64 aSize, const char *b, qint64 bSize)
{
    WSABUF bufs[2] = {{ULONG(qMin<qint64>(aSize, 1 << 30)), const_cast<char *>(a)},
                      {ULONG(qMin<qint64>(bSize, 1 << 30)), const_cast<char *>(b)}};
    DWORD sent = 0;
    if (WSASend(SOCKET(fd), bufs, 2, &sent, 0, nullptr, nullptr) == 0)
        return qint64(sent);
    return WSAGetLastError() == WSAEWOULDBLOCK ? WouldBlock : SocketFailed;
}

void closeSocket(qintptr fd)
{
    if (fd >= 0)
        closesocket(SOCKET(fd));
}

qintptr openConnectedUdpSocket(const QHostAddress &address, quint16 port)
{
    sockaddr_storage ss;
    const int len = detail::toSockaddr(address, port, &ss);
    if (len == 0)
        return -1;
    const SOCKET s = WSASocketW(ss.ss_family, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        return -1;
    if (!prepareSocket(qintptr(s)) || connect(s, reinterpret_cast<const sockaddr *>(&ss), len) != 0) {
        closesocket(s);
        return -1;
    }
    return qintptr(s);
}

qintptr startConnect(const QHostAddress &address, quint16 port, QString *error)
{
    // Untested on Windows: a non-blocking connect, over when the socket is writable (Qt's dispatcher reports
    // FD_CONNECT to a write notifier), as on POSIX.
    sockaddr_storage ss;
    const int len = detail::toSockaddr(address, port, &ss);
    if (len == 0) {
        *error = QStringLiteral("not an IPv4 or IPv6 address");
        return -1;
    }
    const SOCKET s = WSASocketW(ss.ss_family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0,
                                WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        *error = qt_error_string(WSAGetLastError());
        return -1;
    }
    if (!prepareSocket(qintptr(s))) {
        *error = qt_error_string(WSAGetLastError());
        closesocket(s);
        return -1;
    }
    setNoDelay(qintptr(s));
    if (connect(s, reinterpret_cast<const sockaddr *>(&ss), len) == 0 || WSAGetLastError() == WSAEWOULDBLOCK)
        return qintptr(s);
    *error = qt_error_string(WSAGetLastError());
    closesocket(s);
    return -1;
}

bool connectResult(qintptr fd, QString *error)
{
    int result = 0;
    int len = sizeof result;
    if (getsockopt(SOCKET(fd), SOL_SOCKET, SO_ERROR, reinterpret_cast<char *>(&result), &len) != 0)
        result = WSAGetLastError();
    if (result == 0)
        return true;
    *error = qt_error_string(result);
    return false;
}

qint64 receiveDatagram(qintptr fd, char *buffer, qint64 max)
{
    const int n = recv(SOCKET(fd), buffer, int(qMin<qint64>(max, 1 << 30)), 0);
    if (n >= 0)
        return n;
    switch (WSAGetLastError()) {
    case WSAEWOULDBLOCK:
        return WouldBlock;
    case WSAEMSGSIZE:
        return max; // the datagram was longer than the buffer: its first `max` bytes are there
    default:
        return SocketFailed; // WSAECONNRESET: the peer's ICMP "port unreachable"
    }
}

bool socketPeer(qintptr fd, QHostAddress *address, quint16 *port)
{
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (getpeername(SOCKET(fd), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return false;
    return detail::fromSockaddr(ss, address, port);
}

bool socketLocal(qintptr fd, QHostAddress *address, quint16 *port)
{
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (getsockname(SOCKET(fd), reinterpret_cast<sockaddr *>(&ss), &len) != 0)
        return false;
    return detail::fromSockaddr(ss, address, port);
}

bool setNoDelay(qintptr fd)
{
    BOOL one = TRUE;
    return setsockopt(SOCKET(fd), IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char *>(&one), sizeof one) == 0;
}

qint64 raiseDescriptorLimit()
{
    return -1; // WinSock sockets are not counted against a per-process limit
}

} // namespace dfproxy::platform
#endif
