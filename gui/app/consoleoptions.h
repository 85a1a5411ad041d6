// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <optional>

namespace dfproxy::gui {

/// How the console was started (command line), merged with persistent settings by MainWindow.
struct ConsoleOptions
{
    QString configPath;         ///< --config: discover the service from this config file (default: the standard one)
    QUrl serverUrl;             ///< --server: admin API base URL; wins over discovery
    QByteArray token;           ///< --token
    int pollIntervalMs = 0;     ///< --poll-ms; 0 = the saved setting (default 1000)
    QString screenshotDir;      ///< --screenshot-dir: save a PNG of every screen there, then quit
    bool persistSettings = true;///< false in tests: nothing read from or written to QSettings
    bool trayIcon = true;       ///< --no-tray

    /// Parses the console's arguments (argv[0] first). nullopt with `error` set when they are wrong; `error` holds the
    /// help text and `*exitOk` is true when --help or --version was asked for.
    static std::optional<ConsoleOptions> parse(const QStringList &arguments, QString *error, bool *exitOk);
};

} // namespace dfproxy::gui
