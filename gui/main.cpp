// SPDX-License-Identifier: Apache-2.0
// dfproxy-console: wiring only. Everything it knows about the service comes through the REST admin API.
#include "app/consoleoptions.h"
#include "app/mainwindow.h"

#include <QApplication>

#include <cstdio>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("dfproxy"));
    QApplication::setApplicationName(QStringLiteral("dfproxy-console"));
    QApplication::setApplicationVersion(QStringLiteral(DFPROXY_VERSION));
    QApplication::setQuitOnLastWindowClosed(true);

    QString message;
    bool exitOk = false;
    const auto options = dfproxy::gui::ConsoleOptions::parse(QApplication::arguments(), &message, &exitOk);
    if (!options) {
        std::fputs(qPrintable(message), exitOk ? stdout : stderr);
        return exitOk ? 0 : 2;
    }
    dfproxy::gui::MainWindow window(*options);
    window.show();
    return app.exec();
}
