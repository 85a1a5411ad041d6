// SPDX-License-Identifier: Apache-2.0
// Linux: sock_diag (NETLINK_INET_DIAG) finds the client socket's inode and uid from the connection's four-tuple in
// one request; the process holding that inode is found in /proc/<pid>/fd. Every file of a candidate process is
// read relative to one open /proc/<pid> directory, so a pid that is reused meanwhile cannot lend the new process
// the old one's identity (reads through the old directory fail once the process is gone). The descriptor numbers
// of a recent program's closed connections (released()) are probed before its descriptors are read through: its
// next socket usually takes one of them.
#include "platform/processlookup.h"

#include <QtGlobal>

#ifdef Q_OS_LINUX

#include <QHash>
#include <QMutex>
#include <QtEndian>

#include <algorithm>
#include <array>
#include <charconv>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dfproxy::platform {

namespace {

/// A descriptor closed when it goes out of scope.
struct Fd
{
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd()
    {
        if (fd >= 0)
            ::close(fd);
    }
};

/// Fills `addr` (4 x 32 bits, network order) with `a`'s bytes; IPv4 in the first word.
void putAddress(__be32 addr[4], const QHostAddress &a, bool v4)
{
    std::memset(addr, 0, 16);
    if (v4) {
        const quint32 v = qToBigEndian(a.toIPv4Address());
        std::memcpy(addr, &v, 4);
    } else {
        const Q_IPV6ADDR v6 = a.toIPv6Address();
        std::memcpy(addr, v6.c, 16);
    }
}

/// This thread's sock_diag socket, opened on first use and kept: the lookup runs once per client connection on
/// the proxy's lookup thread, and a socket per query would be three more system calls each time.
struct DiagSocket
{
    int fd = -1;
    quint32 seq = 0;
    ~DiagSocket() { reset(); }
    void reset()
    {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
    bool open()
    {
        if (fd >= 0)
            return true;
        fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
            return false;
        timeval tv{0, 200000}; // the kernel answers at once; this only bounds a broken netlink
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return true;
    }
};
thread_local DiagSocket t_diag;

/// One exact sock_diag query: the socket of `family` whose source is client:cport and destination server:sport.
std::optional<InetDiagSocket> querySocket(int family, const QHostAddress &client, quint16 cport,
                                          const QHostAddress &server, quint16 sport)
{
    if (!t_diag.open())
        return std::nullopt;
    struct
    {
        nlmsghdr nlh;
        inet_diag_req_v2 req;
    } msg{};
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST; // no NLM_F_DUMP: the one socket with exactly this id
    msg.nlh.nlmsg_seq = ++t_diag.seq;
    msg.req.sdiag_family = quint8(family);
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = ~0U;
    msg.req.id.idiag_sport = qToBigEndian(cport);
    msg.req.id.idiag_dport = qToBigEndian(sport);
    putAddress(msg.req.id.idiag_src, client, family == AF_INET);
    putAddress(msg.req.id.idiag_dst, server, family == AF_INET);
    msg.req.id.idiag_cookie[0] = msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(t_diag.fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel) < 0) {
        t_diag.reset();
        return std::nullopt;
    }
    char buf[1024];
    for (int stale = 0; stale < 8; ++stale) {
        const ssize_t n = ::recv(t_diag.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < qsizetype(sizeof(nlmsghdr))) {
            t_diag.reset(); // timed out or broken: a late answer must never be read as the next query's
            return std::nullopt;
        }
        nlmsghdr h;
        std::memcpy(&h, buf, sizeof h);
        if (h.nlmsg_seq != msg.nlh.nlmsg_seq)
            continue; // the answer to an earlier query that gave up waiting
        return parseInetDiagReply(QByteArray::fromRawData(buf, qsizetype(n)));
    }
    t_diag.reset();
    return std::nullopt;
}

QHostAddress v4MappedToV6(const QHostAddress &a)
{
    Q_IPV6ADDR m{};
    m.c[10] = m.c[11] = 0xff;
    const quint32 v = qToBigEndian(a.toIPv4Address());
    std::memcpy(m.c + 12, &v, 4);
    return QHostAddress(m);
}

/// Reads a small file below an open directory; empty on failure.
QByteArray readAt(int dir, const char *name, qsizetype max = 64 * 1024)
{
    Fd f(::openat(dir, name, O_RDONLY | O_CLOEXEC));
    if (f.fd < 0)
        return {};
    QByteArray out;
    char buf[4096];
    while (out.size() < max) {
        const ssize_t n = ::read(f.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out.append(buf, qsizetype(n));
    }
    return out.left(max);
}

QByteArray readLinkAt(int dir, const char *name)
{
    char buf[4096];
    const ssize_t n = ::readlinkat(dir, name, buf, sizeof buf);
    return n > 0 ? QByteArray(buf, qsizetype(n)) : QByteArray();
}

/// The descriptor number under which the process of `procDir` (an open /proc/<pid>) holds socket `inode`, -1 when
/// it holds none.
int socketDescriptor(int procDir, quint64 inode)
{
    const int fdDir = ::openat(procDir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fdDir < 0)
        return -1; // gone, or another user's process and we are not root
    DIR *d = ::fdopendir(fdDir);
    if (!d) {
        ::close(fdDir);
        return -1;
    }
    int found = -1;
    char link[64];
    while (const dirent *e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        const ssize_t n = ::readlinkat(fdDir, e->d_name, link, sizeof link);
        if (n > 0 && socketInodeFromLink(QByteArrayView(link, qsizetype(n))) == inode) {
            found = std::atoi(e->d_name);
            break;
        }
    }
    ::closedir(d);
    return found;
}

/// A descriptor a closed connection's socket had in its program (ProcessLookup::released).
struct Freed
{
    int fd = -1;
    quint64 inode = 0; ///< the closed connection's socket
    int misses = 0;    ///< probes that found another socket there, or none
};

/// A LocatedSocket's slot: the descriptor in the low 31 bits, the socket's inode (32 bits in sock_diag) above.
constexpr int kSlotFdBits = 31;
qint64 slotOf(int fd, quint64 inode)
{
    return qint64((inode << kSlotFdBits) | quint64(fd));
}
Freed freedOf(qint64 slot)
{
    return {int(slot & ((qint64(1) << kSlotFdBits) - 1)), quint64(slot) >> kSlotFdBits, 0};
}

/// What freed descriptor `f` of the process of `procDir` is now, in one system call: the socket `inode`, still
/// the closed connection's (the program has not closed its end yet), nothing (not reused yet), or another socket
/// (usually a new connection whose lookup comes next).
enum class Probe { Match, NotYet, Other };
Probe probeDescriptor(int procDir, const Freed &f, quint64 inode)
{
    if (inode == 0) // a socket no process holds (socketInodeFromLink answers 0 for every other kind of descriptor)
        return Probe::Other;
    char name[16] = "fd/";
    *std::to_chars(name + 3, name + sizeof name - 1, f.fd).ptr = '\0'; // not snprintf: this runs per connection
    char link[64];
    const ssize_t n = ::readlinkat(procDir, name, link, sizeof link);
    if (n <= 0)
        return Probe::NotYet; // not open now (or the process is gone): the program may still take it next
    const quint64 now = socketInodeFromLink(QByteArrayView(link, qsizetype(n)));
    return now == inode ? Probe::Match : now == f.inode ? Probe::NotYet : Probe::Other;
}

class LinuxProcessLookup final : public ProcessLookup
{
public:
    std::shared_ptr<const ProcessInfo> lookup(const QHostAddress &client, quint16 clientPort,
                                              const QHostAddress &server, quint16 serverPort) override
    {
        return locate(client, clientPort, server, serverPort).info;
    }

    LocatedSocket locate(const QHostAddress &client, quint16 clientPort, const QHostAddress &server,
                         quint16 serverPort) override
    {
        const std::optional<InetDiagSocket> s = diagSocket(client, clientPort, server, serverPort);
        if (!s)
            return {};
        if (std::optional<LocatedSocket> hit = probeFreed(*s, kMaxFreed))
            return *hit;
        return owner(*s);
    }

    std::optional<LocatedSocket> locateQuickly(const QHostAddress &client, quint16 clientPort,
                                               const QHostAddress &server, quint16 serverPort) override
    {
        const std::optional<InetDiagSocket> s = diagSocket(client, clientPort, server, serverPort);
        if (!s)
            return LocatedSocket{}; // no such socket (the client is gone): no program, as locate() would say
        return probeFreed(*s, kMaxQuickProbes);
    }

    bool answersQuickly() const override { return true; }

    void released(qint64 pid, qint64 slot) override
    {
        if (slot < 0)
            return;
        const Freed f = freedOf(slot);
        QMutexLocker lock(&m_mutex);
        // Only for a program that is looked at first anyway; the others would be scanned in full.
        if (std::none_of(m_recent.cbegin(), m_recent.cend(), [pid](const Known &k) { return k.pid == pid; }))
            return;
        // Oldest first: connections are accepted, and looked up, in about the order their programs closed the
        // previous ones, so the oldest hint still there is usually the next lookup's.
        std::vector<Freed> &freed = m_freed[pid];
        std::erase_if(freed, [&f](const Freed &o) { return o.fd == f.fd; });
        if (freed.size() == kMaxFreed)
            freed.erase(freed.begin());
        freed.push_back(f);
    }

    qint64 descriptorScans() const override { return m_scans.load(std::memory_order_relaxed); }

private:
    /// Descriptors remembered per recent program (released()): more would only be probed in vain.
    static constexpr std::size_t kMaxFreed = 64;
    /// Probes locateQuickly() makes at most (a worker runs it: a bounded number of system calls).
    static constexpr std::size_t kMaxQuickProbes = 16;
    /// Probes that may miss at a freed descriptor before it is forgotten.
    static constexpr int kMaxMisses = 32;

    static std::optional<InetDiagSocket> diagSocket(const QHostAddress &client, quint16 clientPort,
                                                    const QHostAddress &server, quint16 serverPort)
    {
        bool v4 = false;
        client.toIPv4Address(&v4);
        std::optional<InetDiagSocket> s = querySocket(v4 ? AF_INET : AF_INET6, client, clientPort, server, serverPort);
        if (!s && v4) // an IPv6 socket of the client that connected to an IPv4 address (v4-mapped)
            s = querySocket(AF_INET6, v4MappedToV6(client), clientPort, v4MappedToV6(server), serverPort);
        return s;
    }

    /// A process found recently, with its /proc/<pid> directory held open: that descriptor keeps naming this very
    /// process (reads through it fail once it is gone, even if its pid is reused), so it needs no re-checking.
    struct Known
    {
        qint64 pid = 0;
        std::shared_ptr<Fd> dir;
        std::shared_ptr<const ProcessInfo> info;
        QByteArray exe; ///< the exe link as read (info->path's bytes)
    };

    /// A program that opened one connection usually opens the next, most often under the descriptor number its
    /// last closed connection had: those descriptors of the recent programs, at most `maxProbes` of them, one
    /// system call each. nullopt when none is the socket.
    std::optional<LocatedSocket> probeFreed(const InetDiagSocket &s, std::size_t maxProbes)
    {
        QList<Known> recent;
        {
            QMutexLocker lock(&m_mutex);
            if (m_freed.isEmpty())
                return std::nullopt;
            recent = m_recent;
        }
        std::size_t probes = 0;
        for (const Known &k : recent) {
            std::array<Freed, kMaxFreed> hints;
            std::size_t count = 0;
            {
                QMutexLocker lock(&m_mutex);
                const auto it = m_freed.constFind(k.pid);
                if (it != m_freed.constEnd()) { // only as many as may still be probed
                    count = std::min(it->size(), maxProbes - probes);
                    std::copy_n(it->begin(), count, hints.begin());
                }
            }
            for (std::size_t i = 0; i < count; ++i) {
                ++probes;
                const Probe p = probeDescriptor(k.dir->fd, hints[i], s.inode);
                if (p != Probe::Match) {
                    // Not reused yet, or by another new connection whose lookup comes later: kept, but not for
                    // ever (the descriptor may stay closed, or hold something that is never looked up).
                    noteMiss(k.pid, hints[i].fd);
                    continue;
                }
                forgetFreed(k.pid, hints[i].fd);
                return known(k, hints[i].fd, s);
            }
            if (probes == maxProbes)
                break;
        }
        return std::nullopt;
    }

    /// Reads through the descriptors of the recent programs, then of every process.
    LocatedSocket owner(const InetDiagSocket &s)
    {
        QList<Known> recent;
        {
            QMutexLocker lock(&m_mutex);
            recent = m_recent;
        }
        QList<qint64> tried;
        for (const Known &k : recent) {
            tried.append(k.pid);
            const int fd = scan(k.dir->fd, s.inode);
            if (fd < 0)
                continue;
            forgetFreed(k.pid, fd);
            return known(k, fd, s);
        }
        std::vector<qint64> pids = listPids();
        for (const bool sameUid : {true, false}) {
            // Newest first: a new connection most often comes from a recently started program. The second pass
            // covers processes whose /proc entry is not owned by the socket's uid (setuid, not dumpable).
            for (const qint64 pid : pids) {
                if (tried.contains(pid))
                    continue;
                char path[32];
                std::snprintf(path, sizeof path, "/proc/%lld", static_cast<long long>(pid));
                auto dir = std::make_shared<Fd>(::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
                if (dir->fd < 0)
                    continue;
                if (sameUid) {
                    struct stat st{};
                    if (::fstat(dir->fd, &st) != 0 || st.st_uid != s.uid)
                        continue;
                }
                const int fd = scan(dir->fd, s.inode);
                if (fd >= 0)
                    return {found(pid, std::move(dir), s.uid), slotOf(fd, s.inode)};
            }
        }
        forgetGone(recent);
        return {};
    }

    int scan(int procDir, quint64 inode)
    {
        m_scans.fetch_add(1, std::memory_order_relaxed);
        return socketDescriptor(procDir, inode);
    }

    /// The recent program `k` holds the socket at descriptor `fd`.
    LocatedSocket known(const Known &k, int fd, const InetDiagSocket &s)
    {
        // execve() keeps the pid and the directory: the executable is read again (one system call).
        char exe[4096];
        const ssize_t n = ::readlinkat(k.dir->fd, "exe", exe, sizeof exe);
        if (k.info->uid == s.uid && n > 0 && QByteArrayView(exe, qsizetype(n)) == k.exe)
            return {k.info, slotOf(fd, s.inode)};
        return {found(k.pid, std::make_shared<Fd>(::dup(k.dir->fd)), s.uid), slotOf(fd, s.inode)};
    }

    void noteMiss(qint64 pid, int fd)
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_freed.find(pid);
        if (it != m_freed.end())
            std::erase_if(*it, [fd](Freed &f) { return f.fd == fd && ++f.misses >= kMaxMisses; });
    }

    void forgetFreed(qint64 pid, int fd)
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_freed.find(pid);
        if (it != m_freed.end())
            std::erase_if(*it, [fd](const Freed &f) { return f.fd == fd; });
    }

    static std::vector<qint64> listPids()
    {
        std::vector<qint64> pids;
        DIR *d = ::opendir("/proc");
        if (!d)
            return pids;
        while (const dirent *e = ::readdir(d)) {
            char *end = nullptr;
            const long long pid = std::strtoll(e->d_name, &end, 10);
            if (pid > 0 && end && *end == '\0')
                pids.push_back(pid);
        }
        ::closedir(d);
        std::sort(pids.begin(), pids.end(), std::greater<>());
        return pids;
    }

    /// Describes the process of `dir` (which holds the socket) and remembers it as the most recent one.
    std::shared_ptr<const ProcessInfo> found(qint64 pid, std::shared_ptr<Fd> dir, quint32 uid)
    {
        if (dir->fd < 0)
            return nullptr;
        auto info = std::make_shared<ProcessInfo>();
        info->pid = pid;
        info->uid = uid;
        const QByteArray exe = readLinkAt(dir->fd, "exe");
        info->path = QString::fromUtf8(exe); // " (deleted)" stays: not that file any more
        if (info->path.isEmpty())
            return nullptr; // gone meanwhile (a kernel thread has no exe and no sockets)
        info->name = executableName(info->path);
        info->cmdline = cmdlineFromProc(readAt(dir->fd, "cmdline", 4096));
        info->user = userName(uid);
        QMutexLocker lock(&m_mutex);
        for (qsizetype i = 0; i < m_recent.size(); ++i) {
            if (m_recent[i].pid == pid) {
                m_recent.removeAt(i);
                break;
            }
        }
        m_recent.prepend(Known{pid, std::move(dir), info, exe});
        if (m_recent.size() > 16)
            m_freed.remove(m_recent.takeLast().pid);
        return info;
    }

    /// Drops the remembered processes that have exited (their directory no longer reads).
    void forgetGone(const QList<Known> &seen)
    {
        QList<qint64> gone;
        for (const Known &k : seen) {
            const Fd probe(::openat(k.dir->fd, "stat", O_RDONLY | O_CLOEXEC));
            if (probe.fd < 0)
                gone.append(k.pid);
        }
        if (gone.isEmpty())
            return;
        QMutexLocker lock(&m_mutex);
        m_recent.removeIf([&](const Known &k) { return gone.contains(k.pid); });
        for (const qint64 pid : gone)
            m_freed.remove(pid);
    }

    QString userName(quint32 uid)
    {
        {
            QMutexLocker lock(&m_mutex);
            const auto it = m_users.constFind(uid);
            if (it != m_users.constEnd())
                return *it;
        }
        QString name = QString::number(uid);
        passwd pw{};
        passwd *result = nullptr;
        std::vector<char> buf(16384);
        if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result && result->pw_name)
            name = QString::fromUtf8(result->pw_name);
        QMutexLocker lock(&m_mutex);
        m_users.insert(uid, name);
        return name;
    }

    QMutex m_mutex; ///< guards the members below; the lookups themselves run in parallel
    QList<Known> m_recent; ///< most recent first, at most 16 (16 open /proc directories)
    /// Per recent program: descriptors its closed connections had (released()), most recently freed first.
    QHash<qint64, std::vector<Freed>> m_freed;
    std::atomic<qint64> m_scans{0};
    QHash<quint32, QString> m_users;
};

} // namespace

std::unique_ptr<ProcessLookup> createProcessLookup()
{
    return std::make_unique<LinuxProcessLookup>();
}

} // namespace dfproxy::platform

#endif // Q_OS_LINUX
