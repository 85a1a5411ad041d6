// SPDX-License-Identifier: Apache-2.0
#include "app/consoleoptions.h"

#include "client/paths.h"

#include <QCommandLineParser>

namespace dfproxy::gui {

std::optional<ConsoleOptions> ConsoleOptions::parse(const QStringList &arguments, QString *error, bool *exitOk)
{
    *exitOk = false;
    QCommandLineParser cli;
    cli.setApplicationDescription(QStringLiteral("dfproxy-console: watch and manage a dfproxy service through its "
                                                 "REST admin API."));
    const QCommandLineOption help({"h", "help"}, QStringLiteral("Show this help."));
    const QCommandLineOption version(QStringLiteral("version"), QStringLiteral("Show the version."));
    const QCommandLineOption config(QStringLiteral("config"),
                                    QStringLiteral("Find the service from this config file (default: %1).")
                                        .arg(defaultConfigPath()),
                                    QStringLiteral("path"));
    const QCommandLineOption server(QStringLiteral("server"),
                                    QStringLiteral("Admin API URL, e.g. http://127.0.0.1:15000 (wins over --config)."),
                                    QStringLiteral("url"));
    const QCommandLineOption token(QStringLiteral("token"), QStringLiteral("Admin API bearer token."),
                                   QStringLiteral("token"));
    const QCommandLineOption poll(QStringLiteral("poll-ms"), QStringLiteral("Statistics poll interval (ms)."),
                                  QStringLiteral("ms"));
    const QCommandLineOption shots(QStringLiteral("screenshot-dir"),
                                   QStringLiteral("Save a screenshot of every screen into this folder, then quit."),
                                   QStringLiteral("dir"));
    const QCommandLineOption noTray(QStringLiteral("no-tray"), QStringLiteral("Do not show a tray icon."));
    cli.addOptions({help, version, config, server, token, poll, shots, noTray});
    if (!cli.parse(arguments)) {
        *error = cli.errorText() + QStringLiteral("\n\n") + cli.helpText();
        return std::nullopt;
    }
    if (cli.isSet(help)) {
        *error = cli.helpText();
        *exitOk = true;
        return std::nullopt;
    }
    if (cli.isSet(version)) {
        *error = QStringLiteral("dfproxy-console %1\n").arg(QStringLiteral(DFPROXY_VERSION));
        *exitOk = true;
        return std::nullopt;
    }
    ConsoleOptions o;
    o.configPath = cli.isSet(config) ? cli.value(config) : defaultConfigPath();
    if (cli.isSet(server)) {
        o.serverUrl = QUrl::fromUserInput(cli.value(server));
        if (!o.serverUrl.isValid() || o.serverUrl.host().isEmpty()) {
            *error = QStringLiteral("--server: \"%1\" is not a URL such as http://127.0.0.1:15000\n")
                         .arg(cli.value(server));
            return std::nullopt;
        }
    }
    o.token = cli.value(token).toUtf8();
    if (cli.isSet(poll)) {
        bool ok = false;
        o.pollIntervalMs = cli.value(poll).toInt(&ok);
        if (!ok || o.pollIntervalMs < 200 || o.pollIntervalMs > 60000) {
            *error = QStringLiteral("--poll-ms must be a number from 200 to 60000\n");
            return std::nullopt;
        }
    }
    o.screenshotDir = cli.value(shots);
    o.trayIcon = !cli.isSet(noTray);
    return o;
}

} // namespace dfproxy::gui
