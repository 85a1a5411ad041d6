// SPDX-License-Identifier: Apache-2.0
// The console's System proxy switch (docs/desktop.md, docs/console.md) against real GSettings/dconf in a private
// D-Bus session (support/gnomesession.h): the switch points GNOME at dfproxy, quitting the console restores what it
// turned on, and settings left by a killed fail-closed dfproxy are shown as stale, not restored.
#include "consolefixture.h"
#include "desktop/systemproxycontroller.h"
#include "support/gnomesession.h"

#include <QCheckBox>
#include <QGroupBox>
#include <QLabel>

#include <csignal>

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

class ConsoleSystemProxy : public Console
{
protected:
    void SetUp() override
    {
        if (const QString missing = GnomeSession::missingTools(); !missing.isEmpty())
            GTEST_SKIP() << missing.toStdString();
        session = std::make_unique<GnomeSession>();
        ASSERT_TRUE(session->start()) << session->errorString().toStdString();
        before = session->snapshot();
        Console::SetUp();
    }

    void TearDown() override
    {
        Console::TearDown();
        session.reset();
    }

    QCheckBox *switchBox() const { return window->findChild<QCheckBox *>(QStringLiteral("systemProxySwitch")); }
    QString stateText() const { return window->findChild<QLabel *>(QStringLiteral("systemProxyState"))->text(); }

    std::unique_ptr<GnomeSession> session;
    QString before;
};

} // namespace

TEST_F(ConsoleSystemProxy, SwitchPointsGnomeAtDfproxyAndQuittingTheConsoleRestores)
{
    ASSERT_NE(switchBox(), nullptr);
    // Enabled once the service said where to point (GET /api/v1/system-proxy).
    ASSERT_TRUE(waitUntil([&] { return switchBox()->isEnabled(); }, 15000)) << stateText().toStdString();
    switchBox()->click();
    EXPECT_EQ(session->get("org.gnome.system.proxy", "mode"), "'manual'");
    EXPECT_EQ(session->get("org.gnome.system.proxy.http", "port"), QString::number(service->proxyPort()));
    EXPECT_TRUE(stateText().contains(QStringLiteral("fixed 127.0.0.1:%1, set by console").arg(service->proxyPort())))
        << stateText().toStdString();
    EXPECT_TRUE(window->findChild<QLabel *>(QStringLiteral("systemProxyExplanation"))->text().contains("closed"));

    window.reset(); // the console's exit
    EXPECT_EQ(session->snapshot(), before);
}

TEST_F(ConsoleSystemProxy, SettingsOfAKilledFailClosedDfproxyAreShownStaleAndKept)
{
    const auto on = service->ctl({"system-proxy", "on"});
    ASSERT_EQ(on.exitCode, 0) << on.err.toStdString();
    window.reset();
    ASSERT_TRUE(service->process()->sendSignal(SIGKILL));
    ASSERT_TRUE(service->process()->waitForExit(10000));

    ConsoleOptions options;
    options.serverUrl = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(service->adminPort()));
    options.persistSettings = false;
    options.trayIcon = false;
    window = std::make_unique<MainWindow>(options);
    window->show();
    EXPECT_TRUE(stateText().startsWith("Stale")) << stateText().toStdString();
    EXPECT_TRUE(window->findChild<QLabel *>(QStringLiteral("systemProxyMessage"))->text().contains("WARNING"));
    EXPECT_EQ(session->get("org.gnome.system.proxy", "mode"), "'manual'");
    EXPECT_TRUE(switchBox()->isChecked());
}
