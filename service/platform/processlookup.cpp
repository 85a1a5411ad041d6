// SPDX-License-Identifier: Apache-2.0
// The platform-independent half of the process lookup: parsing what the OS hands back, on every platform, so the
// unit tests can check each format anywhere.
#include "platform/processlookup.h"

#include <QtEndian>

#include <algorithm>

#include <cstring>

namespace dfproxy::platform {

namespace {

QHostAddress unmapped(const QHostAddress &a)
{
    bool ok = false;
    const quint32 v4 = a.toIPv4Address(&ok);
    return ok ? QHostAddress(v4) : a;
}

quint32 le32(const char *p)
{
    return qFromLittleEndian<quint32>(p);
}

/// A port stored in network order in the low 16 bits of a DWORD/int, as Windows and BSD tables hold it.
quint16 networkOrderPort(quint32 stored)
{
    return qFromBigEndian<quint16>(quint16(stored & 0xffff));
}

QHostAddress ipv6(const char *bytes)
{
    Q_IPV6ADDR a;
    std::memcpy(a.c, bytes, 16);
    return QHostAddress(a);
}

} // namespace

qint64 findOwner(const QList<SocketRow> &rows, const QHostAddress &client, quint16 clientPort,
                 const QHostAddress &server, quint16 serverPort)
{
    const QHostAddress c = unmapped(client), s = unmapped(server);
    for (const SocketRow &r : rows) {
        if (r.localPort == clientPort && r.remotePort == serverPort && unmapped(r.local) == c
            && unmapped(r.remote) == s)
            return r.pid;
    }
    return 0;
}

QList<SocketRow> parseWindowsTcpTable(const QByteArray &table, bool v6)
{
    // MIB_TCPROW_OWNER_PID: state, localAddr, localPort, remoteAddr, remotePort, owningPid (6 DWORDs).
    // MIB_TCP6ROW_OWNER_PID: localAddr[16], localScopeId, localPort, remoteAddr[16], remoteScopeId, remotePort,
    // state, owningPid (56 bytes).
    const qsizetype rowSize = v6 ? 56 : 24;
    QList<SocketRow> rows;
    if (table.size() < 4)
        return rows;
    const char *p = table.constData();
    const quint64 declared = le32(p);
    const quint64 present = quint64(table.size() - 4) / quint64(rowSize);
    const quint64 n = std::min(declared, present);
    rows.reserve(qsizetype(n));
    for (quint64 i = 0; i < n; ++i) {
        const char *r = p + 4 + qsizetype(i) * rowSize;
        SocketRow row;
        if (v6) {
            row.local = ipv6(r);
            row.localPort = networkOrderPort(le32(r + 20));
            row.remote = ipv6(r + 24);
            row.remotePort = networkOrderPort(le32(r + 44));
            row.pid = le32(r + 52);
        } else {
            // The IPv4 addresses are in network order: their bytes are the dotted quad's, in order.
            row.local = QHostAddress(qFromBigEndian<quint32>(r + 4));
            row.localPort = networkOrderPort(le32(r + 8));
            row.remote = QHostAddress(qFromBigEndian<quint32>(r + 12));
            row.remotePort = networkOrderPort(le32(r + 16));
            row.pid = le32(r + 20);
        }
        rows.append(row);
    }
    return rows;
}

SocketRow macSocketRow(int vflag, int lportNetworkOrder, int fportNetworkOrder, const quint8 laddr[16],
                       const quint8 faddr[16], qint64 pid)
{
    constexpr int kIniIpv4 = 0x1;
    SocketRow row;
    const auto address = [vflag](const quint8 *a) {
        if (vflag & kIniIpv4)
            return QHostAddress(qFromBigEndian<quint32>(a + 12));
        return ipv6(reinterpret_cast<const char *>(a));
    };
    row.local = address(laddr);
    row.remote = address(faddr);
    // The ports are the in_port_t of the socket in an int: network order in the int's first two bytes in memory.
    quint8 lp[sizeof(int)], fp[sizeof(int)];
    std::memcpy(lp, &lportNetworkOrder, sizeof lp);
    std::memcpy(fp, &fportNetworkOrder, sizeof fp);
    row.localPort = quint16(lp[0] << 8 | lp[1]);
    row.remotePort = quint16(fp[0] << 8 | fp[1]);
    row.pid = pid;
    return row;
}

std::optional<InetDiagSocket> parseInetDiagReply(const QByteArray &reply)
{
    // struct nlmsghdr (16 bytes) then struct inet_diag_msg (72 bytes): idiag_uid at 64, idiag_inode at 68.
    constexpr qsizetype kHeader = 16, kMsg = 72;
    constexpr quint16 kNlmsgError = 2, kSockDiagByFamily = 20;
    if (reply.size() < kHeader)
        return std::nullopt;
    quint32 len = 0;
    quint16 type = 0;
    std::memcpy(&len, reply.constData(), 4); // netlink is in host order
    std::memcpy(&type, reply.constData() + 4, 2);
    if (type == kNlmsgError || type != kSockDiagByFamily || len < quint32(kHeader + kMsg)
        || reply.size() < kHeader + kMsg)
        return std::nullopt;
    InetDiagSocket s;
    quint32 inode = 0;
    std::memcpy(&s.uid, reply.constData() + kHeader + 64, 4);
    std::memcpy(&inode, reply.constData() + kHeader + 68, 4);
    s.inode = inode;
    if (s.inode == 0) // a socket without an inode (TIME_WAIT, being torn down) belongs to no process
        return std::nullopt;
    return s;
}

quint64 socketInodeFromLink(QByteArrayView link)
{
    static constexpr QByteArrayView prefix("socket:[");
    if (!link.startsWith(prefix) || !link.endsWith(']') || link.size() <= prefix.size() + 1)
        return 0;
    quint64 v = 0;
    for (qsizetype i = prefix.size(); i < link.size() - 1; ++i) {
        const char c = link[i];
        if (c < '0' || c > '9' || v > (~quint64(0) - 9) / 10)
            return 0;
        v = v * 10 + quint64(c - '0');
    }
    return v;
}

QString cmdlineFromProc(const QByteArray &raw)
{
    QByteArray line = raw;
    while (line.endsWith('\0'))
        line.chop(1);
    line.replace('\0', ' ');
    return QString::fromUtf8(line);
}

QString executableName(const QString &path)
{
    const qsizetype slash = std::max(path.lastIndexOf(u'/'), path.lastIndexOf(u'\\'));
    return path.mid(slash + 1);
}

#if !defined(Q_OS_LINUX) && !defined(Q_OS_WIN) && !defined(Q_OS_MACOS)
namespace {
class NoProcessLookup final : public ProcessLookup
{
public:
    std::shared_ptr<const ProcessInfo> lookup(const QHostAddress &, quint16, const QHostAddress &, quint16) override
    {
        return nullptr;
    }
};
} // namespace

std::unique_ptr<ProcessLookup> createProcessLookup()
{
    return std::make_unique<NoProcessLookup>();
}
#endif

} // namespace dfproxy::platform
