// SPDX-License-Identifier: Apache-2.0
#include "platform/servicemanager.h"

#include <QtGlobal>

#ifndef Q_OS_WIN
#include <QCoreApplication>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace dfproxy::platform {

bool systemdNotify(const QByteArray &message)
{
    const QByteArray path = qgetenv("NOTIFY_SOCKET");
    sockaddr_un addr = {};
    // An abstract socket ("@name") keeps its leading NUL and is not NUL-terminated, so its length counts exactly.
    if (path.size() < 2 || (path[0] != '/' && path[0] != '@') || static_cast<size_t>(path.size()) >= sizeof(addr.sun_path))
        return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.constData(), static_cast<size_t>(path.size()));
    if (addr.sun_path[0] == '@')
        addr.sun_path[0] = '\0';
    const auto addrLen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + static_cast<size_t>(path.size()));

    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0)
        return false;
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ssize_t sent = -1;
    do {
        sent = ::sendto(fd, message.constData(), static_cast<size_t>(message.size()), 0,
                        reinterpret_cast<const sockaddr *>(&addr), addrLen);
    } while (sent < 0 && errno == EINTR);
    ::close(fd);
    return sent == message.size();
}

ServiceManagerLink::ServiceManagerLink(bool windowsService) : m_windowsService(windowsService)
{
    if (m_windowsService)
        m_error = QStringLiteral("--windows-service is only meaningful on Windows");
}

ServiceManagerLink::~ServiceManagerLink() = default;

void ServiceManagerLink::setStopHandler(std::function<void()> /*onStop*/)
{
    // Unix service managers stop the service with SIGTERM, which installSignalHandlers() routes.
}

void ServiceManagerLink::notifyReady(const QString &status)
{
    m_ready = true;
    QByteArray message = "READY=1\nMAINPID=" + QByteArray::number(QCoreApplication::applicationPid());
    if (!status.isEmpty())
        message += "\nSTATUS=" + status.toUtf8().replace('\n', ' ');
    systemdNotify(message);
}

void ServiceManagerLink::notifyStopping()
{
    systemdNotify("STOPPING=1");
}

QString systemConfigPath()
{
#ifdef Q_OS_MACOS
    return QStringLiteral("/Library/Application Support/dfproxy/config.json");
#else
    return QStringLiteral("/etc/dfproxy/config.json");
#endif
}

} // namespace dfproxy::platform
#endif
