// SPDX-License-Identifier: Apache-2.0
// platform::ProcessLookup: the parsers of each platform's tables, fed with hand-made replies (they run on every
// platform), and on Linux the real lookup of a connection this test opens itself.
#include "platform/processlookup.h"

#include <QtEndian>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace dfproxy::platform;

namespace {

void putLe32(QByteArray &b, quint32 v)
{
    char c[4];
    qToLittleEndian(v, c);
    b.append(c, 4);
}

/// A port as Windows stores it: network order in the low 16 bits of a little-endian DWORD.
quint32 storedPort(quint16 port)
{
    return qToBigEndian(port);
}

void putV4(QByteArray &b, const char *dotted)
{
    char c[4];
    qToBigEndian(QHostAddress(QString::fromLatin1(dotted)).toIPv4Address(), c);
    b.append(c, 4);
}

void putV6(QByteArray &b, const char *text)
{
    const Q_IPV6ADDR a = QHostAddress(QString::fromLatin1(text)).toIPv6Address();
    b.append(reinterpret_cast<const char *>(a.c), 16);
}

QByteArray windowsV4Table()
{
    QByteArray t;
    putLe32(t, 2);
    // state, local, localPort, remote, remotePort, pid
    putLe32(t, 5);
    putV4(t, "127.0.0.1");
    putLe32(t, storedPort(51000));
    putV4(t, "127.0.0.1");
    putLe32(t, storedPort(3128));
    putLe32(t, 4242);
    putLe32(t, 5);
    putV4(t, "127.0.0.1");
    putLe32(t, storedPort(3128));
    putV4(t, "127.0.0.1");
    putLe32(t, storedPort(51000));
    putLe32(t, 1000); // the proxy's own end of the same connection
    return t;
}

} // namespace

TEST(ProcessLookupParsing, WindowsIpv4TableGivesEveryRowWithPortsInHostOrder)
{
    const QList<SocketRow> rows = parseWindowsTcpTable(windowsV4Table(), false);
    ASSERT_EQ(rows.size(), 2);
    EXPECT_EQ(rows[0].local, QHostAddress("127.0.0.1"));
    EXPECT_EQ(rows[0].localPort, 51000);
    EXPECT_EQ(rows[0].remotePort, 3128);
    EXPECT_EQ(rows[0].pid, 4242);
    // The client's end is the row whose local end is the client: never the proxy's own row.
    EXPECT_EQ(findOwner(rows, QHostAddress("127.0.0.1"), 51000, QHostAddress("127.0.0.1"), 3128), 4242);
    EXPECT_EQ(findOwner(rows, QHostAddress("::ffff:127.0.0.1"), 51000, QHostAddress("::ffff:127.0.0.1"), 3128), 4242);
    EXPECT_EQ(findOwner(rows, QHostAddress("127.0.0.1"), 51001, QHostAddress("127.0.0.1"), 3128), 0);
}

TEST(ProcessLookupParsing, WindowsIpv6TableGivesEveryRow)
{
    QByteArray t;
    putLe32(t, 1);
    putV6(t, "::1");
    putLe32(t, 0); // scope
    putLe32(t, storedPort(40000));
    putV6(t, "::1");
    putLe32(t, 0);
    putLe32(t, storedPort(8080));
    putLe32(t, 5);    // state
    putLe32(t, 777);  // pid
    ASSERT_EQ(t.size(), 4 + 56);
    const QList<SocketRow> rows = parseWindowsTcpTable(t, true);
    ASSERT_EQ(rows.size(), 1);
    EXPECT_EQ(rows[0].local, QHostAddress("::1"));
    EXPECT_EQ(rows[0].localPort, 40000);
    EXPECT_EQ(rows[0].remotePort, 8080);
    EXPECT_EQ(rows[0].pid, 777);
}

TEST(ProcessLookupParsing, WindowsTableThatIsCutShortGivesOnlyWholeRows)
{
    QByteArray t = windowsV4Table();
    t.chop(3);
    EXPECT_EQ(parseWindowsTcpTable(t, false).size(), 1);
    QByteArray lying;
    putLe32(lying, 1000000); // claims a million rows, holds none
    EXPECT_TRUE(parseWindowsTcpTable(lying, false).isEmpty());
    EXPECT_TRUE(parseWindowsTcpTable(QByteArray("\x01", 1), false).isEmpty());
}

TEST(ProcessLookupParsing, MacInSockInfoAddressesAndPorts)
{
    quint8 l4[16] = {}, f4[16] = {};
    l4[12] = 127, l4[15] = 1;
    f4[12] = 127, f4[15] = 1;
    int lport = 0, fport = 0;
    const quint16 lp = qToBigEndian(quint16(51000)), fp = qToBigEndian(quint16(3128));
    std::memcpy(&lport, &lp, 2); // in_port_t in network order at the start of the int, as libproc stores it
    std::memcpy(&fport, &fp, 2);
    SocketRow r = macSocketRow(1 /* INI_IPV4 */, lport, fport, l4, f4, 99);
    EXPECT_EQ(r.local, QHostAddress("127.0.0.1"));
    EXPECT_EQ(r.localPort, 51000);
    EXPECT_EQ(r.remotePort, 3128);
    EXPECT_EQ(r.pid, 99);

    const Q_IPV6ADDR one = QHostAddress("::1").toIPv6Address();
    r = macSocketRow(2 /* INI_IPV6 */, lport, fport, one.c, one.c, 99);
    EXPECT_EQ(r.local, QHostAddress("::1"));
    EXPECT_EQ(r.remote, QHostAddress("::1"));
}

TEST(ProcessLookupParsing, InetDiagReplyGivesUidAndInodeAndErrorsGiveNothing)
{
    QByteArray reply(16 + 72, '\0');
    const quint32 len = 16 + 72, uid = 1000, inode = 123456;
    const quint16 type = 20; // SOCK_DIAG_BY_FAMILY
    std::memcpy(reply.data(), &len, 4);
    std::memcpy(reply.data() + 4, &type, 2);
    std::memcpy(reply.data() + 16 + 64, &uid, 4);
    std::memcpy(reply.data() + 16 + 68, &inode, 4);
    const auto s = parseInetDiagReply(reply);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->uid, 1000u);
    EXPECT_EQ(s->inode, 123456u);

    QByteArray error = reply;
    const quint16 errType = 2; // NLMSG_ERROR: the socket is not there (any more)
    std::memcpy(error.data() + 4, &errType, 2);
    EXPECT_FALSE(parseInetDiagReply(error));
    EXPECT_FALSE(parseInetDiagReply(reply.left(40)));
    QByteArray noInode = reply;
    std::memset(noInode.data() + 16 + 68, 0, 4);
    EXPECT_FALSE(parseInetDiagReply(noInode));
}

TEST(ProcessLookupParsing, ProcTextHelpers)
{
    EXPECT_EQ(socketInodeFromLink("socket:[12345]"), 12345u);
    EXPECT_EQ(socketInodeFromLink("socket:[]"), 0u);
    EXPECT_EQ(socketInodeFromLink("pipe:[12345]"), 0u);
    EXPECT_EQ(socketInodeFromLink("socket:[12a]"), 0u);
    EXPECT_EQ(socketInodeFromLink("socket:[99999999999999999999999]"), 0u);
    EXPECT_EQ(cmdlineFromProc(QByteArray("curl\0-s\0http://x/\0", 19)), QStringLiteral("curl -s http://x/"));
    EXPECT_EQ(executableName(QStringLiteral("/usr/bin/curl")), QStringLiteral("curl"));
    EXPECT_EQ(executableName(QStringLiteral("C:\\Program Files\\Git\\bin\\git.exe")), QStringLiteral("git.exe"));
}

#ifdef Q_OS_LINUX

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

int listenLoopback(quint16 *port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a);
    ::listen(fd, 4);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    *port = ntohs(a.sin_port);
    return fd;
}

} // namespace

// The real thing: sock_diag and /proc find this test process behind a connection it opened.
TEST(ProcessLookupLinux, FindsThisProcessBehindItsOwnConnection)
{
    quint16 serverPort = 0;
    const int server = listenLoopback(&serverPort);
    const int client = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(serverPort);
    ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(client, reinterpret_cast<sockaddr *>(&local), &len);

    auto lookup = createProcessLookup();
    const auto info = lookup->lookup(QHostAddress("127.0.0.1"), ntohs(local.sin_port), QHostAddress("127.0.0.1"),
                                     serverPort);
    ASSERT_TRUE(info) << "sock_diag or /proc not usable here";
    EXPECT_EQ(info->pid, qint64(::getpid()));
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe);
    EXPECT_EQ(info->path, QString::fromUtf8(exe, int(n)));
    EXPECT_EQ(info->name, QStringLiteral("unit_platform"));
    EXPECT_FALSE(info->user.isEmpty());
    // A second connection of the same process: found among the recently seen programs, described the same way.
    const int second = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(::connect(second, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    len = sizeof local;
    ::getsockname(second, reinterpret_cast<sockaddr *>(&local), &len);
    const auto again = lookup->lookup(QHostAddress("127.0.0.1"), ntohs(local.sin_port), QHostAddress("127.0.0.1"),
                                      serverPort);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->pid, info->pid);
    EXPECT_EQ(again->path, info->path);
    ::close(second);
    // The server's end of the same connection is another socket (it was never accepted): nobody owns it yet as a
    // client of the server's port, and an unknown connection has no process.
    EXPECT_FALSE(lookup->lookup(QHostAddress("127.0.0.1"), 1, QHostAddress("127.0.0.1"), serverPort));
    ::close(client);
    ::close(server);
}

// IPv6 loopback, and an IPv6 socket of the client connected to an IPv4 address (v4-mapped on both ends).
TEST(ProcessLookupLinux, FindsTheProcessOverIpv6AndV4MappedSockets)
{
    const int server = ::socket(AF_INET6, SOCK_STREAM, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any; // dual-stack: takes IPv4 clients too
    int off = 0;
    ::setsockopt(server, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (::bind(server, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(server, 4) != 0) {
        ::close(server);
        GTEST_SKIP() << "no IPv6 here";
    }
    socklen_t len = sizeof a;
    ::getsockname(server, reinterpret_cast<sockaddr *>(&a), &len);
    const quint16 serverPort = ntohs(a.sin6_port);
    auto lookup = createProcessLookup();
    for (const char *target : {"::1", "::ffff:127.0.0.1"}) {
        const int client = ::socket(AF_INET6, SOCK_STREAM, 0);
        sockaddr_in6 to{};
        to.sin6_family = AF_INET6;
        to.sin6_port = htons(serverPort);
        ::inet_pton(AF_INET6, target, &to.sin6_addr);
        ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr *>(&to), sizeof to), 0) << target;
        sockaddr_in6 local{};
        len = sizeof local;
        ::getsockname(client, reinterpret_cast<sockaddr *>(&local), &len);
        // As the proxy sees it: the peer and its own end, both in the family the server socket reports.
        const QHostAddress peer(QString::fromLatin1(target));
        const auto info = lookup->lookup(peer, ntohs(local.sin6_port), peer, serverPort);
        ASSERT_TRUE(info) << target;
        EXPECT_EQ(info->pid, qint64(::getpid())) << target;
        ::close(client);
    }
    ::close(server);
}

namespace {

/// A connection of this process to 127.0.0.1:`serverPort`; its local port in *clientPort.
int connectLoopback(quint16 serverPort, quint16 *clientPort)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(serverPort);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    sockaddr_in local{};
    socklen_t len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&local), &len);
    *clientPort = ntohs(local.sin_port);
    return fd;
}

/// The descriptor a Linux LocatedSocket's slot names (its low 31 bits).
int descriptorOf(qint64 slot)
{
    return slot < 0 ? -1 : int(slot & 0x7fffffff);
}

} // namespace

// A program that closes a connection and opens the next one (POSIX: under the descriptor number just freed) is
// found by probing that descriptor, not by reading through all of its descriptors again: with a hundred sockets
// open, as a browser or a load client has, that scan was a hundred system calls per new connection.
TEST(ProcessLookupLinux, TheNextConnectionIsFoundWhereTheLastClosedOneWasWithoutAScan)
{
    quint16 serverPort = 0;
    const int server = listenLoopback(&serverPort);
    ::listen(server, 256);
    std::vector<int> others; // other sockets of this process, around the one that is reused
    quint16 port = 0;
    for (int i = 0; i < 100; ++i)
        others.push_back(connectLoopback(serverPort, &port));
    const QHostAddress loopback(QStringLiteral("127.0.0.1"));
    auto lookup = createProcessLookup();

    int first = connectLoopback(serverPort, &port);
    ASSERT_GE(first, 0);
    const LocatedSocket a = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(a.info) << "sock_diag or /proc not usable here";
    EXPECT_EQ(a.info->pid, qint64(::getpid()));
    EXPECT_EQ(descriptorOf(a.slot), first);
    ::close(first);
    lookup->released(a.info->pid, a.slot);

    const qint64 scans = lookup->descriptorScans();
    const int second = connectLoopback(serverPort, &port);
    ASSERT_EQ(second, first) << "the kernel gives the lowest free descriptor";
    const LocatedSocket b = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(b.info);
    EXPECT_EQ(b.info->pid, qint64(::getpid()));
    EXPECT_EQ(b.info->path, a.info->path);
    EXPECT_EQ(descriptorOf(b.slot), second);
    EXPECT_EQ(lookup->descriptorScans(), scans) << "found by a probe of the freed descriptor";

    // The hint is used once: a connection without one (nothing was released) is found by a scan, as before.
    quint16 thirdPort = 0;
    const int third = connectLoopback(serverPort, &thirdPort);
    const LocatedSocket c = lookup->locate(loopback, thirdPort, loopback, serverPort);
    ASSERT_TRUE(c.info);
    EXPECT_EQ(descriptorOf(c.slot), third);
    EXPECT_EQ(lookup->descriptorScans(), scans + 1);

    ::close(second);
    ::close(third);
    for (const int fd : others)
        ::close(fd);
    ::close(server);
}

// A freed descriptor that now holds something else (another socket, a file) is only a hint: the connection asked
// about is still found where it really is, never credited to what the hint pointed at.
TEST(ProcessLookupLinux, AFreedDescriptorNowHoldingAnotherSocketIsNotTakenForTheConnection)
{
    quint16 serverPort = 0;
    const int server = listenLoopback(&serverPort);
    const QHostAddress loopback(QStringLiteral("127.0.0.1"));
    auto lookup = createProcessLookup();
    quint16 port = 0;
    const int first = connectLoopback(serverPort, &port);
    const LocatedSocket a = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(a.info) << "sock_diag or /proc not usable here";
    ::close(first);
    lookup->released(a.info->pid, a.slot);
    const int unrelated = ::socket(AF_INET, SOCK_DGRAM, 0); // takes the freed number
    ASSERT_EQ(unrelated, first);
    const int next = connectLoopback(serverPort, &port);
    const LocatedSocket b = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(b.info);
    EXPECT_EQ(b.info->pid, qint64(::getpid()));
    EXPECT_EQ(descriptorOf(b.slot), next);
    EXPECT_NE(descriptorOf(b.slot), unrelated);
    // An unknown connection stays unknown, whatever hints there are.
    ::close(next);
    lookup->released(b.info->pid, b.slot);
    EXPECT_FALSE(lookup->locate(loopback, 1, loopback, serverPort).info);
    ::close(unrelated);
    ::close(server);
}

// The proxy may see a connection end before the program closes its end (it closed first): the descriptor still
// holds that old socket for a while, and stays a hint until the program's next socket takes it.
TEST(ProcessLookupLinux, ADescriptorReleasedBeforeTheProgramClosesItIsTriedForItsNextSocket)
{
    quint16 serverPort = 0;
    const int server = listenLoopback(&serverPort);
    const QHostAddress loopback(QStringLiteral("127.0.0.1"));
    auto lookup = createProcessLookup();
    quint16 port = 0;
    const int first = connectLoopback(serverPort, &port);
    const LocatedSocket a = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(a.info) << "sock_diag or /proc not usable here";
    lookup->released(a.info->pid, a.slot); // the program has not closed it yet
    const int other = connectLoopback(serverPort, &port); // looked up meanwhile: the hint still holds `first`
    const LocatedSocket o = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(o.info);
    EXPECT_EQ(descriptorOf(o.slot), other);
    ::close(first);
    const qint64 scans = lookup->descriptorScans();
    const int second = connectLoopback(serverPort, &port);
    ASSERT_EQ(second, first) << "the kernel gives the lowest free descriptor";
    const LocatedSocket b = lookup->locate(loopback, port, loopback, serverPort);
    ASSERT_TRUE(b.info);
    EXPECT_EQ(descriptorOf(b.slot), second);
    EXPECT_EQ(lookup->descriptorScans(), scans);
    ::close(second);
    ::close(other);
    ::close(server);
}

#endif
