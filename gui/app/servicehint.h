// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the "service down" banner tells the user to type: the start command that fits how dfproxy is installed on
// this machine. The console only looks for the installed service (files and registry entries that the packages
// and `dfproxy service install` create); it never starts anything itself.

#include <QString>
#include <QUrl>

namespace dfproxy::gui {

enum class ServiceInstall {
    SystemdUnit,    ///< Linux: dfproxy.service in /lib/systemd/system (the .deb) or /etc/systemd/system
    LaunchdDaemon,  ///< macOS: /Library/LaunchDaemons/dev.dfproxy.dfproxy.plist
    WindowsService, ///< Windows: the "dfproxy" service (the MSI, `dfproxy service install`)
    ByHand,         ///< none installed: a build or a per-user setup run in a terminal
};

/// The system service installed on this machine, or ByHand.
ServiceInstall detectServiceInstall();

/// The command that starts the service the console failed to reach at `adminUrl`, whose config file (as the
/// console discovered it) is `configPath`. The installed system service only counts when the console is not
/// pointed at a per-user config that exists (then that service is the one run by hand). Empty for a service on
/// another machine.
QString startCommand(ServiceInstall installed, const QString &configPath, const QUrl &adminUrl);

} // namespace dfproxy::gui
