// SPDX-License-Identifier: Apache-2.0
// macOS: libproc lists every process (proc_listpids) and its descriptors (PROC_PIDLISTFDS); a TCP socket's
// endpoints come from proc_pidfdinfo(PROC_PIDFDSOCKETINFO) (converted by macSocketRow), the executable from
// proc_pidpath. Built on Apple platforms only (the whole unit is guarded).
#include "platform/processlookup.h"

#include <QtGlobal>

#ifdef Q_OS_MACOS

#include <QDeadlineTimer>
#include <QHash>
#include <QMutex>

#include <vector>

#include <libproc.h>
#include <pwd.h>
#include <sys/proc_info.h>
#include <unistd.h>

namespace dfproxy::platform {

namespace {

/// True when process `pid` holds the TCP socket client:cport -> server:sport.
bool holdsConnection(pid_t pid, const QHostAddress &client, quint16 cport, const QHostAddress &server, quint16 sport)
{
    const int bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, nullptr, 0);
    if (bytes <= 0)
        return false;
    std::vector<proc_fdinfo> fds(size_t(bytes) / sizeof(proc_fdinfo) + 8);
    const int got = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds.data(), int(fds.size() * sizeof(proc_fdinfo)));
    if (got <= 0)
        return false;
    const size_t n = size_t(got) / sizeof(proc_fdinfo);
    for (size_t i = 0; i < n; ++i) {
        if (fds[i].proc_fdtype != PROX_FDTYPE_SOCKET)
            continue;
        socket_fdinfo si{};
        if (proc_pidfdinfo(pid, fds[i].proc_fd, PROC_PIDFDSOCKETINFO, &si, sizeof si) != int(sizeof si))
            continue;
        if (si.psi.soi_kind != SOCKINFO_TCP)
            continue;
        const in_sockinfo &in = si.psi.soi_proto.pri_tcp.tcpsi_ini;
        const SocketRow row = macSocketRow(in.insi_vflag, in.insi_lport, in.insi_fport,
                                           reinterpret_cast<const quint8 *>(&in.insi_laddr),
                                           reinterpret_cast<const quint8 *>(&in.insi_faddr), pid);
        if (findOwner({row}, client, cport, server, sport))
            return true;
    }
    return false;
}

class MacProcessLookup final : public ProcessLookup
{
public:
    std::shared_ptr<const ProcessInfo> lookup(const QHostAddress &client, quint16 clientPort,
                                              const QHostAddress &server, quint16 serverPort) override
    {
        QList<qint64> recent;
        {
            QMutexLocker lock(&m_mutex);
            recent = m_recent;
        }
        for (const qint64 pid : recent) {
            if (holdsConnection(pid_t(pid), client, clientPort, server, serverPort))
                return describe(pid);
        }
        const int bytes = proc_listpids(PROC_ALL_PIDS, 0, nullptr, 0);
        if (bytes <= 0)
            return nullptr;
        std::vector<pid_t> pids(size_t(bytes) / sizeof(pid_t) + 64);
        const int got = proc_listpids(PROC_ALL_PIDS, 0, pids.data(), int(pids.size() * sizeof(pid_t)));
        const size_t n = got > 0 ? size_t(got) / sizeof(pid_t) : 0;
        for (size_t i = 0; i < n; ++i) {
            if (pids[i] > 0 && !recent.contains(pids[i])
                && holdsConnection(pids[i], client, clientPort, server, serverPort))
                return describe(pids[i]);
        }
        return nullptr;
    }

private:
    struct Cached
    {
        quint64 started = 0;
        std::shared_ptr<const ProcessInfo> info;
        QDeadlineTimer expiry;
    };

    std::shared_ptr<const ProcessInfo> describe(qint64 pid)
    {
        proc_bsdinfo bsd{};
        if (proc_pidinfo(pid_t(pid), PROC_PIDTBSDINFO, 0, &bsd, sizeof bsd) != int(sizeof bsd))
            return nullptr;
        const quint64 started = quint64(bsd.pbi_start_tvsec) * 1000000 + bsd.pbi_start_tvusec;
        {
            QMutexLocker lock(&m_mutex);
            m_recent.removeOne(pid);
            m_recent.prepend(pid);
            if (m_recent.size() > 16)
                m_recent.removeLast();
            const auto it = m_cache.constFind(pid);
            if (it != m_cache.constEnd() && it->started == started && !it->expiry.hasExpired())
                return it->info;
        }
        char path[PROC_PIDPATHINFO_MAXSIZE];
        const int len = proc_pidpath(pid_t(pid), path, sizeof path);
        if (len <= 0)
            return nullptr;
        auto info = std::make_shared<ProcessInfo>();
        info->pid = pid;
        info->path = QString::fromUtf8(path, len);
        info->name = executableName(info->path);
        info->user = QString::number(bsd.pbi_uid);
        passwd pw{};
        passwd *found = nullptr;
        std::vector<char> buf(16384);
        if (getpwuid_r(bsd.pbi_uid, &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_name)
            info->user = QString::fromUtf8(found->pw_name);
        QMutexLocker lock(&m_mutex);
        if (m_cache.size() > 1024)
            m_cache.clear();
        m_cache.insert(pid, Cached{started, info, QDeadlineTimer(2000)});
        return info;
    }

    QMutex m_mutex;
    QList<qint64> m_recent;
    QHash<qint64, Cached> m_cache;
};

} // namespace

std::unique_ptr<ProcessLookup> createProcessLookup()
{
    return std::make_unique<MacProcessLookup>();
}

} // namespace dfproxy::platform

#endif // Q_OS_MACOS
