// SPDX-License-Identifier: Apache-2.0
#include "app/servicehint.h"

#include "client/paths.h"

#include <QFileInfo>
#include <QHostAddress>
#include <QSettings>

namespace dfproxy::gui {

ServiceInstall detectServiceInstall()
{
#if defined(Q_OS_WIN)
    // The SCM keeps each service under this key; reading it needs no rights.
    const QSettings scm(QStringLiteral("HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\dfproxy"),
                        QSettings::NativeFormat);
    return scm.contains(QStringLiteral("ImagePath")) ? ServiceInstall::WindowsService : ServiceInstall::ByHand;
#elif defined(Q_OS_MACOS)
    return QFileInfo::exists(QStringLiteral("/Library/LaunchDaemons/dev.dfproxy.dfproxy.plist"))
               ? ServiceInstall::LaunchdDaemon
               : ServiceInstall::ByHand;
#else
    for (const char *unit : {"/lib/systemd/system/dfproxy.service", "/usr/lib/systemd/system/dfproxy.service",
                             "/etc/systemd/system/dfproxy.service"})
        if (QFileInfo::exists(QLatin1String(unit)))
            return ServiceInstall::SystemdUnit;
    return ServiceInstall::ByHand;
#endif
}

QString startCommand(ServiceInstall installed, const QString &configPath, const QUrl &adminUrl)
{
    const QString host = adminUrl.host();
    if (host != QLatin1String("localhost") && !QHostAddress(host).isLoopback())
        return {};
    const bool perUserConfig =
        !configPath.isEmpty() && configPath != systemConfigPath() && QFileInfo::exists(configPath);
    if (!perUserConfig) {
        switch (installed) {
        case ServiceInstall::SystemdUnit:
            return QStringLiteral("sudo systemctl start dfproxy");
        case ServiceInstall::LaunchdDaemon:
            return QStringLiteral("sudo launchctl kickstart system/dev.dfproxy.dfproxy");
        case ServiceInstall::WindowsService:
            return QStringLiteral("sc start dfproxy"); // from an administrator prompt
        case ServiceInstall::ByHand:
            break;
        }
    }
    if (configPath.isEmpty() || configPath == defaultConfigPath())
        return QStringLiteral("dfproxy");
    const QString quoted = configPath.contains(u' ') ? u'"' + configPath + u'"' : configPath;
    return QStringLiteral("dfproxy --config %1").arg(quoted);
}

} // namespace dfproxy::gui
