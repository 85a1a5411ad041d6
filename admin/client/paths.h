// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where dfproxy's files live per platform (config, token), shared by the service, dfproxyctl and the console.

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QString>

namespace dfproxy {

/// The config file of the installed system service (packages, `dfproxy service install`): /etc/dfproxy/config.json
/// (Linux), /Library/Application Support/dfproxy/config.json (macOS), %ProgramData%/dfproxy/config.json (Windows).
/// Keep in sync with platform::systemConfigPath() (service/platform/), which the service manager code uses.
inline QString systemConfigPath()
{
#if defined(Q_OS_WIN)
    const QString programData = qEnvironmentVariable("ProgramData", QStringLiteral("C:/ProgramData"));
    return QDir::fromNativeSeparators(programData) + QStringLiteral("/dfproxy/config.json");
#elif defined(Q_OS_MACOS)
    return QStringLiteral("/Library/Application Support/dfproxy/config.json");
#else
    return QStringLiteral("/etc/dfproxy/config.json");
#endif
}

/// The config file used when none is given: $DFPROXY_CONFIG if set, else
/// `<per-user config dir>/dfproxy/config.json` (Linux ~/.config/dfproxy, macOS ~/Library/Preferences/dfproxy,
/// Windows %LOCALAPPDATA%/dfproxy) — the AppConfigLocation of an application named "dfproxy", whatever the
/// calling program is named, so the service, dfproxyctl and the console agree. When that file does not exist but
/// the system service's config (systemConfigPath()) does and is visible to the caller (root/administrator, since
/// the directory is private to the service), that one is used: `sudo dfproxyctl get routes` finds the installed
/// service without --config.
inline QString defaultConfigPath()
{
    const QString env = qEnvironmentVariable("DFPROXY_CONFIG");
    if (!env.isEmpty())
        return env;
    const QString user = QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation)
        + QStringLiteral("/dfproxy/config.json");
    if (!QFileInfo::exists(user) && QFileInfo::exists(systemConfigPath()))
        return systemConfigPath();
    return user;
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
