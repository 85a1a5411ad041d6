// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QString>

namespace dfproxy {

/// The config file used when none is given: $DFPROXY_CONFIG if set, else
/// `<per-user config dir>/dfproxy/config.json` (Linux ~/.config/dfproxy, macOS ~/Library/Preferences/dfproxy,
/// Windows %LOCALAPPDATA%/dfproxy) — the AppConfigLocation of an application named "dfproxy", whatever the
/// calling program is named, so the service, dfproxyctl and the console agree.
inline QString defaultConfigPath()
{
    const QString env = qEnvironmentVariable("DFPROXY_CONFIG");
    if (!env.isEmpty())
        return env;
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) + QStringLiteral("/dfproxy/config.json");
}

/// The admin API token file that belongs to a config file: `admin-token` in the same directory.
inline QString adminTokenPath(const QString &configPath)
{
    return QFileInfo(configPath).absoluteDir().filePath(QStringLiteral("admin-token"));
}

/// The admin API's default address and port, used when the config has no `admin` block.
inline constexpr auto kDefaultAdminAddress = "127.0.0.1";
inline constexpr quint16 kDefaultAdminPort = 15000;

} // namespace dfproxy
