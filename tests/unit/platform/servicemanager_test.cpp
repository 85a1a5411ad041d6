// SPDX-License-Identifier: Apache-2.0
#include "platform/servicemanager.h"

#include <gtest/gtest.h>

#include <QtGlobal>

#ifndef Q_OS_WIN
#include <QFileInfo>
#include <QTemporaryDir>

#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace dfproxy::platform;

namespace {

/// A datagram socket standing in for systemd's notify socket, bound to a path in a temp dir.
class NotifySocket
{
public:
    NotifySocket()
    {
        m_path = (m_dir.path() + "/notify").toUtf8();
        m_fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, m_path.constData(), static_cast<size_t>(m_path.size()));
        m_bound = ::bind(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0;
        qputenv("NOTIFY_SOCKET", m_path);
    }
    ~NotifySocket()
    {
        qunsetenv("NOTIFY_SOCKET");
        ::close(m_fd);
    }
    bool bound() const { return m_bound; }
    /// The next datagram, or empty when none is queued.
    QByteArray receive()
    {
        char buffer[4096];
        const ssize_t n = ::recv(m_fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        return n > 0 ? QByteArray(buffer, static_cast<qsizetype>(n)) : QByteArray();
    }

private:
    QTemporaryDir m_dir;
    QByteArray m_path;
    int m_fd = -1;
    bool m_bound = false;
};

} // namespace

TEST(SystemdNotify, SendsTheMessageToNotifySocket)
{
    NotifySocket socket;
    ASSERT_TRUE(socket.bound());
    EXPECT_TRUE(systemdNotify("STATUS=hello"));
    EXPECT_EQ(socket.receive(), QByteArray("STATUS=hello"));
}

TEST(SystemdNotify, ReturnsFalseWithoutNotifySocket)
{
    qunsetenv("NOTIFY_SOCKET");
    EXPECT_FALSE(systemdNotify("READY=1"));
}

TEST(SystemdNotify, RejectsARelativeOrOverlongSocketPath)
{
    qputenv("NOTIFY_SOCKET", "relative/path");
    EXPECT_FALSE(systemdNotify("READY=1"));
    qputenv("NOTIFY_SOCKET", "/" + QByteArray(200, 'x'));
    EXPECT_FALSE(systemdNotify("READY=1"));
    qunsetenv("NOTIFY_SOCKET");
}

TEST(ServiceManagerLink, NotifyReadySendsReadyAndMainPid)
{
    NotifySocket socket;
    ASSERT_TRUE(socket.bound());
    ServiceManagerLink link(false);
    ASSERT_TRUE(link.attached());
    link.notifyReady("admin API on http://127.0.0.1:1/");
    const QByteArray message = socket.receive();
    EXPECT_TRUE(message.startsWith("READY=1\nMAINPID=" + QByteArray::number(::getpid()))) << message.constData();
    EXPECT_TRUE(message.contains("\nSTATUS=admin API on http://127.0.0.1:1/")) << message.constData();
    link.notifyStopping();
    EXPECT_EQ(socket.receive(), QByteArray("STOPPING=1"));
}

TEST(ServiceManagerLink, WindowsServiceFlagFailsElsewhere)
{
    ServiceManagerLink link(true);
    EXPECT_FALSE(link.attached());
    EXPECT_TRUE(link.errorString().contains("Windows"));
}

TEST(ServiceCommand, RejectsUnknownVerbsWithUsage)
{
    EXPECT_EQ(runServiceCommand({"frobnicate"}), 2);
    EXPECT_EQ(runServiceCommand({}), 2);
    EXPECT_EQ(runServiceCommand({"start", "extra"}), 2);
}

#ifdef Q_OS_LINUX
TEST(ServiceCommand, SaysSoWhenSystemdIsNotRunning)
{
    if (QFileInfo::exists("/run/systemd/system"))
        GTEST_SKIP() << "systemd is running here";
    testing::internal::CaptureStderr();
    EXPECT_EQ(runServiceCommand({"status"}), 1);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("not been booted with systemd"), std::string::npos) << err;
}

TEST(ServiceCommand, SystemConfigPathIsInEtc)
{
    EXPECT_EQ(systemConfigPath(), QString("/etc/dfproxy/config.json"));
}
#endif
#endif
