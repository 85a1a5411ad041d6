// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <functional>

namespace dfproxy::platform {

/// The service's link to the OS's service manager, for the lifetime of main(): systemd on Linux (readiness via
/// $NOTIFY_SOCKET when the unit is Type=notify), the Service Control Manager on Windows (when the command line
/// carries --windows-service, which `dfproxy service install` and the MSI put there), nothing on macOS (launchd
/// needs no handshake). Create it on the main thread after the QCoreApplication; every call is main-thread only.
class ServiceManagerLink
{
public:
    /// `windowsService`: connect to the Windows SCM (fails when the process was not started by it, and on other
    /// systems).
    explicit ServiceManagerLink(bool windowsService);
    /// Windows service: reports SERVICE_STOPPED (with a failure code when notifyReady() was never called or the
    /// exit code is non-zero) and waits for the dispatcher thread.
    ~ServiceManagerLink();
    ServiceManagerLink(const ServiceManagerLink &) = delete;
    ServiceManagerLink &operator=(const ServiceManagerLink &) = delete;

    /// False when connecting failed; errorString() says why.
    bool attached() const { return m_error.isEmpty(); }
    QString errorString() const { return m_error; }

    /// What runs on the main thread when the Windows SCM asks the service to stop or the machine shuts down
    /// (default: QCoreApplication::quit()). On Unix, SIGTERM does this through installSignalHandlers().
    void setStopHandler(std::function<void()> onStop);
    /// Startup is complete: systemd READY=1 (with `status` as STATUS=), Windows SERVICE_RUNNING.
    void notifyReady(const QString &status = {});
    /// A stop has begun (systemd STOPPING=1, Windows SERVICE_STOP_PENDING).
    void notifyStopping();
    /// The exit code the destructor reports to the SCM.
    void setExitCode(int code) { m_exitCode = code; }

private:
    QString m_error;
    bool m_windowsService = false;
    bool m_ready = false;
    int m_exitCode = 0;
};

/// Sends one sd_notify(3) message ("READY=1", "STOPPING=1", "STATUS=...", newline-separated) to the datagram
/// socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Returns false when the variable
/// is unset, or on error (and on systems without Unix sockets). Thread-safe; no libsystemd needed.
bool systemdNotify(const QByteArray &message);

/// `dfproxy service install|uninstall|start|stop|status` (`args` are the words after "service"): registers the
/// service with the platform's manager — a systemd unit in /etc/systemd/system (Linux), a launchd daemon in
/// /Library/LaunchDaemons (macOS), a Windows service (SCM) — or controls it. Prints what it does; returns the
/// process exit code (0 = done; `status` returns 3 when the service is not running, like systemctl). Needs
/// root/administrator for everything but `status`. Call after the QCoreApplication exists.
int runServiceCommand(const QStringList &args);

/// The config file the installed system service uses: /etc/dfproxy/config.json (Linux),
/// /Library/Application Support/dfproxy/config.json (macOS), %ProgramData%\dfproxy\config.json (Windows).
QString systemConfigPath();

} // namespace dfproxy::platform
