// SPDX-License-Identifier: Apache-2.0
#pragma once
// Which local program owns a TCP connection (docs/applications.md): the client side of a connection accepted by
// the proxy is a socket of some process on this machine when the client is local. One interface, one
// implementation per platform (processlookup_linux.cpp: sock_diag + /proc; processlookup_win.cpp:
// GetExtendedTcpTable + QueryFullProcessImageNameW; processlookup_mac.cpp: libproc), and pure parsing functions
// below that the unit tests feed with hand-made kernel / API replies on any platform.

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QString>

#include <memory>
#include <optional>

namespace dfproxy::platform {

/// A program on this machine. Immutable once made; shared between the connections of one process.
struct ProcessInfo
{
    qint64 pid = 0;
    QString name;      ///< the executable's file name ("curl", "firefox.exe")
    QString path;      ///< the executable's absolute path as the OS reports it (symlinks resolved on Linux)
    QString user;      ///< the account the process runs as ("alice", "DOMAIN\\alice"); the uid when it has no name
    quint32 uid = 0;   ///< POSIX: the uid behind `user` (Linux: the socket's owner)
    QString cmdline;   ///< the command line, arguments separated by spaces (may be empty: not every OS gives it)
    QString publisher; ///< Windows: the verified Authenticode signer of the executable; empty elsewhere / unsigned
};

/// One TCP connection as an OS table lists it (addresses as the owner sees them: local = its own end).
struct SocketRow
{
    QHostAddress local;
    quint16 localPort = 0;
    QHostAddress remote;
    quint16 remotePort = 0;
    qint64 pid = 0;
};

/// The pid of the row whose local end is `client` and remote end is `server` (the proxy's end), 0 when none.
/// IPv4-mapped IPv6 addresses compare equal to their IPv4 form.
qint64 findOwner(const QList<SocketRow> &rows, const QHostAddress &client, quint16 clientPort,
                 const QHostAddress &server, quint16 serverPort);

/// Windows: the rows of a MIB_TCPTABLE_OWNER_PID (`ipv6` false) or MIB_TCP6TABLE_OWNER_PID (`ipv6` true) as
/// GetExtendedTcpTable(TCP_TABLE_OWNER_PID_CONNECTIONS) fills it (little-endian DWORDs, ports in network order in
/// the low 16 bits). A truncated table yields the complete rows only.
QList<SocketRow> parseWindowsTcpTable(const QByteArray &table, bool ipv6);

/// macOS: one TCP socket of a process from libproc's in_sockinfo: `vflag` (INI_IPV4 = 1, INI_IPV6 = 2), the ports
/// as stored (network order in an int), the 16-byte address unions (in4in6_addr: IPv4 in the last four bytes).
SocketRow macSocketRow(int vflag, int lportNetworkOrder, int fportNetworkOrder, const quint8 laddr[16],
                       const quint8 faddr[16], qint64 pid);

/// Linux: the socket uid and inode of an inet_diag reply (one netlink message of type SOCK_DIAG_BY_FAMILY, or
/// NLMSG_ERROR). nullopt for an error reply (the socket is gone) or a malformed one.
struct InetDiagSocket
{
    quint32 uid = 0;
    quint64 inode = 0;
};
std::optional<InetDiagSocket> parseInetDiagReply(const QByteArray &reply);
/// Linux: the inode of a /proc/<pid>/fd/<n> link text "socket:[12345]", 0 for anything else.
quint64 socketInodeFromLink(QByteArrayView link);
/// Linux: /proc/<pid>/cmdline (NUL-separated) as one line, arguments separated by spaces.
QString cmdlineFromProc(const QByteArray &raw);
/// The file name of a path with '/' or '\\' separators.
QString executableName(const QString &path);

/// What ProcessLookup::locate() found: the program, and where in it the socket was (`slot`, -1 where the platform
/// does not say; Linux: the descriptor number in that process in the low 31 bits, the socket's inode above them).
struct LocatedSocket
{
    std::shared_ptr<const ProcessInfo> info;
    qint64 slot = -1;
};

/// Finds the program behind a client connection. Thread-safe; the proxy calls locate() from its one lookup thread
/// (proxy/clientapplication.h), so it may block, and locateQuickly() and released() from its workers.
class ProcessLookup
{
public:
    virtual ~ProcessLookup() = default;
    /// The process owning the TCP socket whose local end is client:clientPort and whose remote end is
    /// server:serverPort (the proxy's end of the accepted connection). Null when the client is not on this
    /// machine, the process is gone or not visible to this user, or the platform has no lookup. May block for the
    /// time of a few system calls (a /proc scan on Linux when the socket's owner is not cached).
    virtual std::shared_ptr<const ProcessInfo> lookup(const QHostAddress &client, quint16 clientPort,
                                                      const QHostAddress &server, quint16 serverPort) = 0;
    /// The same, and where the socket was, for released(). The default knows no place.
    virtual LocatedSocket locate(const QHostAddress &client, quint16 clientPort, const QHostAddress &server,
                                 quint16 serverPort)
    {
        return {lookup(client, clientPort, server, serverPort), -1};
    }
    /// A quick locate(), for the worker thread that accepted the connection: the answer when it takes a few system
    /// calls (the socket is where a recent program's closed connection was, or there is no such socket), nullopt
    /// when finding it needs more (reading through descriptors): locate() on the lookup thread then. The default
    /// never answers quickly.
    virtual std::optional<LocatedSocket> locateQuickly(const QHostAddress &client, quint16 clientPort,
                                                       const QHostAddress &server, quint16 serverPort)
    {
        Q_UNUSED(client);
        Q_UNUSED(clientPort);
        Q_UNUSED(server);
        Q_UNUSED(serverPort);
        return std::nullopt;
    }
    /// Whether locateQuickly() ever answers (it may after released(), so a miss is worth one more try once the
    /// worker has seen the connections that closed meanwhile).
    virtual bool answersQuickly() const { return false; }
    /// The connection that locate() found in process `pid` at `slot` has closed. A process's next socket usually
    /// takes the descriptor its last closed one had (POSIX hands out the lowest free number), so the next lookup
    /// for that process looks there first instead of scanning every descriptor. Only a hint: the lookup still
    /// checks that the socket is there. Thread-safe and cheap (a worker calls it). The default ignores it.
    virtual void released(qint64 pid, qint64 slot)
    {
        Q_UNUSED(pid);
        Q_UNUSED(slot);
    }
    /// How many times a process's descriptors were read through, one system call each, to find a socket (Linux;
    /// 0 elsewhere): the lookup's expensive path, which released() spares the programs that reconnect.
    virtual qint64 descriptorScans() const { return 0; }
};

/// The lookup of this platform (a lookup that always answers null where there is none).
std::unique_ptr<ProcessLookup> createProcessLookup();

} // namespace dfproxy::platform
