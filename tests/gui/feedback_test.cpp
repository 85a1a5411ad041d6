// SPDX-License-Identifier: Apache-2.0
// One feedback style (#28 item 5) and the small defects (item 6): success is a notice that goes away by itself, the
// status bar keeps the whole message, the tray and the DNS page ask the same question before flushing, the Delete
// key removes a DNS entry after asking, the DNS page's "Resolving…" line ends with the outcome, the service-down
// banner gives the start command that fits this machine, and the editors' small defects are gone.
#include "app/servicehint.h"
#include "consolefixture.h"
#include "client/paths.h"
#include "dns/dnscachemodel.h"
#include "dns/dnspage.h"
#include "policies/policiespage.h"
#include "policies/policyeditors.h"
#include "policies/policywidgets.h"
#include "resources/resourcepage.h"
#include "resources/routeeditor.h"
#include "support/testsupport.h"

#include <QApplication>
#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QTableView>
#include <QTableWidget>
#include <QTest>
#include <QTimer>

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

// Answers the next confirmDestructive() question (yes = its action button, else Cancel) and records its text.
class ConfirmAnswer : public QObject
{
public:
    ConfirmAnswer(bool yes, QString *text) : m_yes(yes), m_text(text)
    {
        m_timer.setInterval(20);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] { tryAnswer(); });
        m_timer.start();
    }
    bool answered() const { return m_answered; }

private:
    void tryAnswer()
    {
        auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
        if (!box) {
            for (QWidget *w : QApplication::topLevelWidgets())
                if (auto *b = w->findChild<QMessageBox *>("confirmDestructive"); b && b->isVisible())
                    box = b;
            if (!box)
                return;
        }
        m_timer.stop();
        m_answered = true;
        *m_text = box->objectName() + u'|' + box->text();
        if (m_yes)
            box->findChild<QPushButton *>("confirmButton")->click();
        else
            box->button(QMessageBox::Cancel)->click();
    }

    QTimer m_timer;
    bool m_yes;
    QString *m_text;
    bool m_answered = false;
};

QLabel *toastOf(QWidget *window)
{
    return window->findChild<QLabel *>("toast");
}

} // namespace

TEST_F(Console, ImportSuccessIsANoticeAndTheStatusBarKeepsTheWholeMessage)
{
    TempDir dir;
    const QString in = dir.filePath("import.yaml");
    QFile f(in);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write(kSeedYaml);
    f.close();
    window->importFile(in);
    ASSERT_TRUE(waitUntil([&] { return window->operationsDone() == 1; }, 10000));
    EXPECT_EQ(window->findChild<QMessageBox *>("noticeBox"), nullptr) << "success opens no dialog";
    QLabel *toast = toastOf(window.get());
    ASSERT_NE(toast, nullptr);
    EXPECT_TRUE(toast->text().startsWith("Applied import.yaml:")) << toast->text().toStdString();
    // The status bar has every object on its one line, and the whole text as its tooltip.
    EXPECT_TRUE(window->statusMessage().startsWith("Applied import.yaml: ")) << window->statusMessage().toStdString();
    EXPECT_TRUE(window->statusMessage().contains("httpbin/dfp-backend")) << window->statusMessage().toStdString();
    EXPECT_TRUE(window->statusMessage().contains("httpbin/dfp-httproute")) << window->statusMessage().toStdString();
    EXPECT_FALSE(window->statusMessage().contains('\n'));
    EXPECT_EQ(window->statusToolTip(), window->lastMessage());
    // The notice goes away by itself.
    EXPECT_TRUE(waitUntil([&] { return toastOf(window.get()) == nullptr; }, 10000));

    // An error still gets a dialog: it needs reading.
    window->importFile(dir.filePath("missing.yaml"));
    ASSERT_TRUE(waitUntil([&] { return window->operationsDone() == 2; }, 10000));
    auto *box = window->findChild<QMessageBox *>("noticeBox");
    ASSERT_NE(box, nullptr);
    box->close();
}

TEST_F(Console, TheTrayAndTheDnsPageAskTheSameWayBeforeFlushing)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    window->showPage(MainWindow::DnsIndex);
    DnsPage *page = window->dns();
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowCount() > 0; }, 10000));

    QString asked;
    {
        ConfirmAnswer no(false, &asked);
        window->flushDnsCache(); // the tray's "Flush DNS cache…"
        EXPECT_TRUE(no.answered());
    }
    EXPECT_EQ(asked, "confirmDestructive|Flush DNS cache?");
    spinFor(500);
    page->refresh();
    spinFor(500);
    EXPECT_GT(page->model()->rowCount(), 0) << "Cancel keeps the cache";

    QString pageAsked;
    {
        ConfirmAnswer no(false, &pageAsked);
        page->flushAll();
    }
    EXPECT_EQ(pageAsked, asked) << "the page asks the same question";

    {
        ConfirmAnswer yes(true, &asked);
        window->flushDnsCache();
    }
    ASSERT_TRUE(waitUntil([&] { return window->lastMessage().startsWith("Flushed the DNS cache"); }, 10000))
        << window->lastMessage().toStdString();
    ASSERT_NE(toastOf(window.get()), nullptr);
    EXPECT_TRUE(toastOf(window.get())->text().startsWith("Flushed the DNS cache"));
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowCount() == 0; }, 10000));
}

TEST_F(Console, DeleteKeyRemovesADnsEntryAfterAskingWithItsName)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    window->showPage(MainWindow::DnsIndex);
    DnsPage *page = window->dns();
    const QString key = "httpbin.test:" + QString::number(origin->port());
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowOf("httpbin.test", origin->port()) >= 0; }, 10000));
    page->table()->setFocus();
    page->table()->selectRow(0);
    QString asked;
    {
        ConfirmAnswer yes(true, &asked);
        QTest::keyClick(page->table(), Qt::Key_Delete);
    }
    EXPECT_EQ(asked, "confirmDestructive|Remove DNS cache entry “" + key + "”?");
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowOf("httpbin.test", origin->port()) < 0; }, 10000))
        << page->message().toStdString();
    EXPECT_TRUE(page->message().isEmpty()) << "success is a notice, not a line that stays";
}

TEST_F(Console, DnsResolvingLineEndsWithTheOutcome)
{
    window->showPage(MainWindow::DnsIndex);
    DnsPage *page = window->dns();
    page->preresolve("missing.test:80");
    ASSERT_TRUE(waitUntil([&] { return page->message().startsWith("Resolving missing.test:80"); }, 10000))
        << page->message().toStdString();
    // dnsmasq answers NXDOMAIN: the line says so instead of "Resolving…" forever.
    ASSERT_TRUE(waitUntil([&] { return !page->message().startsWith("Resolving"); }, 20000))
        << page->message().toStdString();
    EXPECT_TRUE(page->message().startsWith("missing.test:80 did not resolve: ")) << page->message().toStdString();

    page->preresolve("other.test:8443");
    ASSERT_TRUE(waitUntil([&] { return page->message().isEmpty(); }, 20000)) << page->message().toStdString();
    ASSERT_NE(toastOf(window.get()), nullptr);
    EXPECT_EQ(toastOf(window.get())->text(), "Resolved other.test:8443 → 127.0.0.2");
}

TEST_F(Console, ServiceDownBannerGivesTheStartCommandThatFitsThisInstall)
{
    service->process()->stop();
    ASSERT_TRUE(waitUntil([&] { return window->connection()->state() == ConnectionState::ServiceDown; }, 10000));
    // The test's service runs by hand from its own config file.
    EXPECT_TRUE(window->bannerText().contains("dfproxy --config " + service->configPath()))
        << window->bannerText().toStdString();
    EXPECT_FALSE(window->bannerText().contains("systemctl --user")) << window->bannerText().toStdString();
}

TEST(ServiceHint, StartCommandFollowsTheInstalledServiceAndTheConfig)
{
    const QUrl local("http://127.0.0.1:15000");
    const QString missing = "/nonexistent/dfproxy/config.json";
    EXPECT_EQ(startCommand(ServiceInstall::SystemdUnit, missing, local), "sudo systemctl start dfproxy");
    EXPECT_EQ(startCommand(ServiceInstall::SystemdUnit, dfproxy::systemConfigPath(), local),
              "sudo systemctl start dfproxy");
    EXPECT_EQ(startCommand(ServiceInstall::LaunchdDaemon, missing, local),
              "sudo launchctl kickstart system/dev.dfproxy.dfproxy");
    EXPECT_EQ(startCommand(ServiceInstall::WindowsService, missing, QUrl("http://localhost:15000")),
              "sc start dfproxy");
    EXPECT_EQ(startCommand(ServiceInstall::ByHand, missing, local), "dfproxy --config " + missing);
    EXPECT_EQ(startCommand(ServiceInstall::SystemdUnit, "/tmp/with space/config.json", local),
              "sudo systemctl start dfproxy");
    EXPECT_EQ(startCommand(ServiceInstall::SystemdUnit, missing, QUrl("http://10.1.2.3:15000")), QString())
        << "a service on another machine is started there";

    // A per-user config that exists is a service run by hand, even where the system service is installed.
    TempDir dir;
    const QString mine = dir.filePath("my config.json");
    QFile f(mine);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("{}");
    f.close();
    EXPECT_EQ(startCommand(ServiceInstall::SystemdUnit, mine, local), "dfproxy --config \"" + mine + "\"");
}

TEST_F(Console, EditorsSmallDefectsAreGone)
{
    window->showPage(MainWindow::RoutesIndex);
    ResourceEditor *route = window->routes()->newObject();
    ASSERT_NE(route, nullptr);
    EXPECT_EQ(route->nameEdit()->placeholderText(), "lower-case name, e.g. dfp-httproute");
    route->close();

    window->showPage(MainWindow::PoliciesIndex);
    PoliciesPage *policies = window->policies();
    auto *newButton = policies->findChild<QPushButton *>("newButton");
    ASSERT_NE(newButton, nullptr);
    EXPECT_FALSE(newButton->text().contains(QChar(0x25BE))) << "the menu button draws its own arrow";
    auto *rl = qobject_cast<PolicyEditor *>(policies->newPolicy(PolicyKind::RateLimit));
    ASSERT_NE(rl, nullptr);
    EXPECT_EQ(rl->nameEdit()->placeholderText(), "lower-case name, e.g. per-client");
    rl->targets()->addRef("HTTPRoute", "dfp-httproute");
    auto *combo = qobject_cast<QComboBox *>(rl->targets()->table()->cellWidget(0, 0));
    ASSERT_NE(combo, nullptr);
    EXPECT_GE(rl->targets()->table()->columnWidth(0), combo->sizeHint().width())
        << "the Kind cell shows the whole kind, not \"H\"";
    rl->close();
}
