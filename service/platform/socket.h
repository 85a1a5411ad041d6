// SPDX-License-Identifier: Apache-2.0
#pragma once
// Raw stream-socket calls the data path needs and QTcpSocket lacks: half-close (shutdown of the sending side)
// and keeping a connection alive after its QTcpSocket is gone. Descriptors are plain ints / SOCKETs as qintptr.
// All calls are thread-safe (they only touch the given descriptor) and never block.

#include <QtGlobal>

class QHostAddress;
class QString;

namespace dfproxy::platform {

/// A second descriptor for the same connection: closing either one alone does not end the connection.
/// Returns -1 on failure.
qintptr duplicateSocket(qintptr fd);
/// Makes `fd` non-blocking and keeps writes to a closed peer from raising SIGPIPE. False on failure.
bool prepareSocket(qintptr fd);
/// Sends FIN: the peer reads end-of-stream while this side can still read what the peer sends (POSIX
/// shutdown(SHUT_WR), WinSock shutdown(SD_SEND)). False on failure.
bool shutdownWrite(qintptr fd);

/// Outcomes of readSocket / writeSocket besides a byte count.
enum : qint64 { WouldBlock = -1, SocketFailed = -2 };

/// Reads up to `max` bytes: > 0 bytes read, 0 = end of stream (the peer shut its sending side), WouldBlock,
/// SocketFailed (reset or other error). On Linux a read of 16 KiB or more also asks for an immediate ACK
/// (TCP_QUICKACK), so bulk senders never wait out the delayed-ACK timer.
qint64 readSocket(qintptr fd, char *buffer, qint64 max);
/// Writes up to `size` bytes: >= 0 bytes written, WouldBlock, SocketFailed (peer gone or other error).
qint64 writeSocket(qintptr fd, const char *data, qint64 size);
/// Writes `a` then `b` in one call (writev): >= 0 bytes written in all, WouldBlock, SocketFailed.
qint64 writeSocket2(qintptr fd, const char *a, qint64 aSize, const char *b, qint64 bSize);
/// A non-blocking UDP socket connected to `address`:`port`, from a port the kernel picks: it sends to that peer,
/// the kernel drops datagrams from anyone else, and an ICMP "port unreachable" from the peer fails the next
/// receiveDatagram. -1 on failure.
qintptr openConnectedUdpSocket(const QHostAddress &address, quint16 port);
/// Receives one datagram of such a socket (a longer one is cut to `max`): >= 0 its size, WouldBlock, or
/// SocketFailed (on a connected socket: the peer was unreachable; ECONNREFUSED, WSAECONNRESET on Windows).
qint64 receiveDatagram(qintptr fd, char *buffer, qint64 max);
/// Starts a TCP connection to `address`:`port` on a new non-blocking, close-on-exec socket (TCP_NODELAY set) and
/// returns its descriptor at once: the connect goes on in the kernel, and the descriptor becomes writable when it
/// is over (connectResult() then tells how). -1, with `error` set, when it failed at once (no route, no socket).
qintptr startConnect(const QHostAddress &address, quint16 port, QString *error);
/// How a startConnect() ended, once its descriptor was reported writable: true when connected; false, with `error`
/// set ("Connection refused" ...), when it failed (the descriptor is then to be closed).
bool connectResult(qintptr fd, QString *error);
/// Closes the descriptor.
void closeSocket(qintptr fd);
/// The connected peer's address and port (getpeername). False (and nothing set) on failure.
bool socketPeer(qintptr fd, QHostAddress *address, quint16 *port);
/// The socket's own address and port (getsockname). False (and nothing set) on failure.
bool socketLocal(qintptr fd, QHostAddress *address, quint16 *port);
/// Sends small writes at once instead of waiting to fill a segment (TCP_NODELAY). False on failure.
bool setNoDelay(qintptr fd);

/// Raises this process's soft limit on open descriptors to its hard limit (POSIX RLIMIT_NOFILE; macOS caps it at
/// OPEN_MAX). Returns the limit now in force, or -1 where sockets have no such limit (Windows).
qint64 raiseDescriptorLimit();

} // namespace dfproxy::platform
