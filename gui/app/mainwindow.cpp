// SPDX-License-Identifier: Apache-2.0
#include "app/mainwindow.h"
#include "applications/applicationspage.h"

#include "app/connectdialog.h"
#include "app/screenshots.h"
#include "app/servicehint.h"
#include "app/stateicon.h"
#include "dashboard/dashboardpage.h"
#include "desktop/systemproxycontroller.h"
#include "desktop/systemproxypanel.h"
#include "dns/dnspage.h"
#include "logging/loggingpage.h"
#include "policies/policiespage.h"
#include "resources/resourcepage.h"
#include "traffic/trafficpage.h"
#include "widgets/toast.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QKeySequence>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QVBoxLayout>

namespace dfproxy::gui {

MainWindow::MainWindow(const ConsoleOptions &options, QWidget *parent)
    : QMainWindow(parent),
      m_options(options),
      m_connection(new Connection(this)),
      m_nav(new QListWidget(this)),
      m_stack(new QStackedWidget(this)),
      m_banner(new QFrame(this)),
      m_bannerText(new QLabel(this)),
      m_statusLabel(new QLabel(this))
{
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("dfproxy console"));
    setWindowIcon(stateIcon(ConnectionState::Connecting));
    resize(1200, 800);

    m_pages = {new DashboardPage(m_connection), new BackendsPage(m_connection), new RoutesPage(m_connection),
               new PoliciesPage(m_connection), new DnsPage(m_connection), new TrafficPage(m_connection),
               new LoggingPage(m_connection), new ApplicationsPage(m_connection)};
    m_nav->setObjectName(QStringLiteral("navigation"));
    m_nav->setFixedWidth(170);
    m_nav->setStyleSheet(QStringLiteral("QListWidget#navigation { font-size: 11pt; }"
                                        "QListWidget#navigation::item { padding: 7px 6px; }"));
    for (Page *p : m_pages) {
        m_nav->addItem(p->title());
        m_stack->addWidget(p);
    }
    m_stack->setObjectName(QStringLiteral("pages"));
    connect(m_nav, &QListWidget::currentRowChanged, this, &MainWindow::showPage);
    // The dashboard's top hosts count the requests of the live-traffic feed (one access-log stream for both).
    connect(traffic(), &TrafficPage::recordsArrived, dashboard(), &DashboardPage::addAccessLogRecords);
    connect(dashboard(), &DashboardPage::showRoutesRequested, this, [this] { showPage(RoutesIndex); });

    m_banner->setObjectName(QStringLiteral("banner"));
    m_banner->setStyleSheet(QStringLiteral("#banner { background: #fdecea; border: 1px solid #f5c2c0; border-radius: 4px; }"));
    auto *bannerLayout = new QHBoxLayout(m_banner);
    m_bannerText->setObjectName(QStringLiteral("bannerText"));
    m_bannerText->setWordWrap(true);
    m_bannerText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    bannerLayout->addWidget(m_bannerText, 1);
    auto *retry = new QPushButton(tr("Retry now"));
    retry->setObjectName(QStringLiteral("retryButton"));
    connect(retry, &QPushButton::clicked, m_connection, &Connection::retryNow);
    auto *connectButton = new QPushButton(tr("Connect…"));
    connectButton->setObjectName(QStringLiteral("bannerConnectButton"));
    connect(connectButton, &QPushButton::clicked, this, &MainWindow::connectDialog);
    bannerLayout->addWidget(retry);
    bannerLayout->addWidget(connectButton);
    m_banner->hide();

    auto *central = new QWidget;
    auto *h = new QHBoxLayout(central);
    h->setContentsMargins(6, 6, 6, 6);
    h->addWidget(m_nav);
    auto *right = new QVBoxLayout;
    right->addWidget(m_banner);
    right->addWidget(m_stack, 1);
    h->addLayout(right, 1);
    setCentralWidget(central);
    m_statusLabel->setObjectName(QStringLiteral("connectionStatus"));
    // A narrow window cuts the label, never the information: the tooltip has the whole text.
    m_statusLabel->setMinimumWidth(1);
    statusBar()->addWidget(m_statusLabel, 1);
    connect(statusBar(), &QStatusBar::messageChanged, this, [this](const QString &message) {
        statusBar()->setToolTip(message.isEmpty() ? QString() : m_statusToolTip);
    });

    buildMenus();
    connect(m_connection, &Connection::stateChanged, this, &MainWindow::onStateChanged);
    loadSettings();
    buildTray();

    // Where the service is: --server wins, then an address picked in the Connect dialog earlier, then discovery.
    const auto found = client::ApiClient::discoverLocal(m_options.configPath);
    QUrl url = m_options.serverUrl;
    QByteArray token = m_options.token;
    if (!url.isValid() && m_options.persistSettings) {
        const QUrl saved = QSettings().value(QStringLiteral("serverUrl")).toUrl();
        if (saved.isValid() && saved != found.baseUrl)
            url = saved;
    }
    if (!url.isValid())
        url = found.baseUrl;
    if (token.isEmpty() && url == found.baseUrl)
        token = found.token;
    m_nav->setCurrentRow(DashboardIndex);
    m_installed = detectServiceInstall();
    m_connection->setStartCommand(startCommand(m_installed, found.configPath, url));
    m_connection->connectTo(url, token);
    onStateChanged();
    if (!m_options.screenshotDir.isEmpty())
        startScreenshots();
}

MainWindow::~MainWindow()
{
    if (m_tray)
        m_tray->hide();
}

void MainWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    QAction *connectAction = file->addAction(tr("&Connect…"), this, &MainWindow::connectDialog);
    connectAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_K));
    file->addSeparator();
    QAction *importAction = file->addAction(tr("&Import YAML…"), this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, tr("Apply manifests"), {},
                                                       tr("Manifests (*.yaml *.yml *.json);;All files (*)"));
        if (!f.isEmpty())
            importFile(f);
    });
    importAction->setShortcut(QKeySequence::Open);
    QAction *exportAction = file->addAction(tr("&Export YAML…"), this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, tr("Export configuration"), QStringLiteral("dfproxy.yaml"),
                                                       tr("YAML (*.yaml *.yml)"));
        if (!f.isEmpty())
            exportFile(f);
    });
    exportAction->setShortcut(QKeySequence::Save);
    file->addSeparator();
    QAction *quit = file->addAction(tr("&Quit"), this, [this] {
        m_quitting = true;
        close();
    });
    quit->setShortcut(QKeySequence::Quit);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    for (int i = 0; i < m_pages.size(); ++i) {
        QAction *a = view->addAction(m_pages[i]->title(), this, [this, i] { showPage(i); });
        a->setShortcut(QKeySequence(Qt::CTRL | (Qt::Key_1 + i)));
    }
    view->addSeparator();
    QAction *refresh = view->addAction(tr("&Refresh"), this, [this] {
        m_connection->retryNow();
        if (Page *p = page(currentPage()))
            p->refresh();
    });
    refresh->setShortcut(QKeySequence::Refresh);

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About dfproxy console"),
                           tr("<b>dfproxy console</b> %1<br>Watches and manages a dfproxy service through its REST "
                              "admin API.<br>Service: %2")
                               .arg(QStringLiteral(DFPROXY_VERSION), m_connection->summary().toHtmlEscaped()));
    });
}

void MainWindow::buildTray()
{
    if (!m_options.trayIcon || !QSystemTrayIcon::isSystemTrayAvailable())
        return;
    m_tray = new QSystemTrayIcon(stateIcon(m_connection->state()), this);
    auto *menu = new QMenu(this);
    menu->addAction(tr("Show console"), this, [this] {
        showNormal();
        raise();
        activateWindow();
    });
    menu->addAction(tr("Dashboard"), this, [this] {
        showNormal();
        showPage(DashboardIndex);
    });
    menu->addAction(tr("Live traffic"), this, [this] {
        showNormal();
        showPage(TrafficIndex);
    });
    menu->addAction(tr("Flush DNS cache…"), this, &MainWindow::flushDnsCache);
    addSystemProxyAction(menu, SystemProxyController::of(m_connection)); // docs/desktop.md
    menu->addAction(tr("Reconnect"), m_connection, &Connection::retryNow);
    menu->addSeparator();
    menu->addAction(tr("Quit"), this, [this] {
        m_quitting = true;
        close();
    });
    m_tray->setContextMenu(menu);
    connect(m_tray, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason reason) {
        if (reason == QSystemTrayIcon::Trigger) {
            setVisible(!isVisible());
            if (isVisible())
                activateWindow();
        }
    });
    m_tray->show();
    onStateChanged();
}

void MainWindow::onStateChanged()
{
    const ConnectionState s = m_connection->state();
    const QString summary = m_connection->summary();
    m_statusLabel->setText(summary);
    m_statusLabel->setToolTip(m_connection->problem().isEmpty() ? summary
                                                                : summary + QStringLiteral("\n") + m_connection->problem());
    m_statusLabel->setStyleSheet(s == ConnectionState::Connected ? QString() : QStringLiteral("color: #b00020;"));
    const bool bad = s != ConnectionState::Connected && s != ConnectionState::Connecting;
    m_bannerText->setText(bad ? QStringLiteral("<b>%1</b> — %2").arg(Connection::stateName(s).toHtmlEscaped(),
                                                                      m_connection->problem().toHtmlEscaped())
                              : QString());
    m_banner->setVisible(bad);
    setWindowIcon(stateIcon(s));
    setWindowTitle(s == ConnectionState::Connected ? tr("dfproxy console") : tr("dfproxy console — %1").arg(Connection::stateName(s)));
    if (m_tray) {
        m_tray->setIcon(stateIcon(s));
        m_tray->setToolTip(summary);
    }
}

void MainWindow::showPage(int index)
{
    if (index < 0 || index >= m_pages.size())
        return;
    const int old = m_stack->currentIndex();
    if (old != index && old >= 0 && old < m_pages.size())
        m_pages[old]->setActive(false);
    m_stack->setCurrentIndex(index);
    if (m_nav->currentRow() != index)
        m_nav->setCurrentRow(index);
    if (!m_pages[index]->isActive())
        m_pages[index]->setActive(true);
}

int MainWindow::currentPage() const
{
    return m_stack->currentIndex();
}

Page *MainWindow::page(int index) const
{
    return m_pages.value(index);
}

DashboardPage *MainWindow::dashboard() const
{
    return static_cast<DashboardPage *>(m_pages[DashboardIndex]);
}

BackendsPage *MainWindow::backends() const
{
    return static_cast<BackendsPage *>(m_pages[BackendsIndex]);
}

RoutesPage *MainWindow::routes() const
{
    return static_cast<RoutesPage *>(m_pages[RoutesIndex]);
}

PoliciesPage *MainWindow::policies() const
{
    return static_cast<PoliciesPage *>(m_pages[PoliciesIndex]);
}

DnsPage *MainWindow::dns() const
{
    return static_cast<DnsPage *>(m_pages[DnsIndex]);
}

TrafficPage *MainWindow::traffic() const
{
    return static_cast<TrafficPage *>(m_pages[TrafficIndex]);
}

LoggingPage *MainWindow::logging() const
{
    return static_cast<LoggingPage *>(m_pages[LoggingIndex]);
}

ApplicationsPage *MainWindow::applications() const
{
    return static_cast<ApplicationsPage *>(m_pages[ApplicationsIndex]);
}

QString MainWindow::bannerText() const
{
    return m_banner->isHidden() ? QString() : m_bannerText->text();
}

QString MainWindow::statusText() const
{
    return m_statusLabel->text();
}

void MainWindow::connectDialog()
{
    auto *d = new ConnectDialog(m_connection->api()->baseUrl(), m_connection->api()->token(), m_options.configPath, this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    connect(d, &QDialog::accepted, this, [this, d] {
        m_connection->setStartCommand(startCommand(m_installed, m_options.configPath, d->url()));
        m_connection->connectTo(d->url(), d->token());
        if (m_options.persistSettings)
            QSettings().setValue(QStringLiteral("serverUrl"), d->url());
    });
    d->open();
}

void MainWindow::notice(const QString &title, const QString &text, bool error)
{
    m_lastMessage = text;
    ++m_operationsDone;
    // The status bar gets all of it on one line (lists joined), and the whole text as its tooltip.
    m_statusToolTip = text;
    QString line = text;
    line.replace(QStringLiteral(":\n"), QStringLiteral(": ")).replace(u'\n', QStringLiteral("; "));
    statusBar()->showMessage(line, 8000);
    statusBar()->setToolTip(text);
    if (!isVisible()) {
        if (m_tray)
            m_tray->showMessage(title, text, error ? QSystemTrayIcon::Warning : QSystemTrayIcon::Information);
        return;
    }
    if (!error) {
        showToast(this, text, ToastKind::Success);
        return;
    }
    // An error needs reading (and often copying): a dialog.
    auto *box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setObjectName(QStringLiteral("noticeBox"));
    box->setTextInteractionFlags(Qt::TextSelectableByMouse);
    box->open();
}

QString MainWindow::statusMessage() const
{
    return statusBar()->currentMessage();
}

QString MainWindow::statusToolTip() const
{
    return statusBar()->toolTip();
}

void MainWindow::flushDnsCache()
{
    if (!DnsPage::confirmFlush(isVisible() ? this : nullptr))
        return;
    const QString path = QStringLiteral("/api/v1/dns/cache");
    m_connection->api()->send("DELETE", path, {}, {}, {}, [this](const client::ApiResult &r) {
        notice(tr("Flush DNS cache"), r.ok() ? DnsPage::flushedText(r.object()) : r.error->toString(), !r.ok());
        if (r.ok() && dns()->isActive())
            dns()->refresh();
    });
}

void MainWindow::importFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        notice(tr("Import"), tr("Cannot read %1: %2").arg(path, f.errorString()), true);
        return;
    }
    const QByteArray body = f.readAll();
    const bool json = path.endsWith(QLatin1String(".json"), Qt::CaseInsensitive);
    m_connection->api()->send(
        "POST", QStringLiteral("/api/v1/apply"), {}, body, json ? "application/json" : "application/yaml",
        [this, path](const client::ApiResult &r) {
            if (!r.ok()) {
                QString text = tr("The service did not apply %1:\n%2").arg(QFileInfo(path).fileName(), r.error->toString());
                for (const auto &[p, m] : r.error->fields)
                    text += QStringLiteral("\n  %1: %2").arg(p, m);
                notice(tr("Import failed"), text, true);
                return;
            }
            QStringList lines;
            for (const auto &v : r.object().value("results").toArray()) {
                const QJsonObject o = v.toObject();
                lines.append(QStringLiteral("%1 %2/%3 %4").arg(o.value("kind").toString(), o.value("namespace").toString(),
                                                               o.value("name").toString(), o.value("action").toString()));
            }
            notice(tr("Import"), tr("Applied %1:\n%2").arg(QFileInfo(path).fileName(), lines.join(u'\n')), false);
            for (Page *p : m_pages)
                if (p->isActive())
                    p->refresh();
        });
}

void MainWindow::exportFile(const QString &path)
{
    QUrlQuery q;
    q.addQueryItem(QStringLiteral("format"), QStringLiteral("yaml"));
    m_connection->api()->send("GET", QStringLiteral("/api/v1/export"), q, {}, {}, [this, path](const client::ApiResult &r) {
        if (!r.ok()) {
            notice(tr("Export failed"), r.error->toString(), true);
            return;
        }
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(r.body) != r.body.size()) {
            notice(tr("Export failed"), tr("Cannot write %1: %2").arg(path, f.errorString()), true);
            return;
        }
        notice(tr("Export"), tr("Exported the configuration to %1.").arg(path), false);
    });
}

void MainWindow::loadSettings()
{
    int poll = m_options.pollIntervalMs;
    if (m_options.persistSettings) {
        QSettings s;
        restoreGeometry(s.value(QStringLiteral("geometry")).toByteArray());
        if (poll <= 0)
            poll = s.value(QStringLiteral("pollIntervalMs"), 1000).toInt();
        else
            s.setValue(QStringLiteral("pollIntervalMs"), poll);
    }
    if (poll <= 0)
        poll = 1000;
    dashboard()->setPollIntervalMs(poll);
}

void MainWindow::saveSettings()
{
    if (!m_options.persistSettings)
        return;
    QSettings s;
    s.setValue(QStringLiteral("geometry"), saveGeometry());
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    // With a tray icon, closing the window keeps watching in the tray; Quit ends the console.
    if (m_tray && m_tray->isVisible() && !m_quitting && m_options.screenshotDir.isEmpty()) {
        hide();
        m_tray->showMessage(tr("dfproxy console"), tr("Still watching the service here. Quit from this icon's menu."));
        event->ignore();
        return;
    }
    saveSettings();
    event->accept();
    QApplication::quit();
}

void MainWindow::startScreenshots()
{
    auto *runner = new ScreenshotRunner(this, m_options.screenshotDir);
    connect(runner, &ScreenshotRunner::done, this, [this] {
        m_quitting = true;
        close();
    });
    runner->start();
}

} // namespace dfproxy::gui
