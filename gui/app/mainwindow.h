// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/connection.h"
#include "app/consoleoptions.h"
#include "app/servicehint.h"

#include <QMainWindow>

QT_BEGIN_NAMESPACE
class QFrame;
class QLabel;
class QListWidget;
class QPushButton;
class QStackedWidget;
class QSystemTrayIcon;
QT_END_NAMESPACE

namespace dfproxy::gui {

class ApplicationsPage;
class BackendsPage;
class DashboardPage;
class DnsPage;
class LoggingPage;
class Page;
class PoliciesPage;
class RoutesPage;
class TrafficPage;

/// The console window: navigation on the left, one page per screen, a banner and the status bar for the connection,
/// File menu (connect, import/export YAML), keyboard shortcuts, tray icon, persistent settings.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    enum PageIndex {
        DashboardIndex,
        BackendsIndex,
        RoutesIndex,
        PoliciesIndex,
        DnsIndex,
        TrafficIndex,
        LoggingIndex,
        ApplicationsIndex,
        PageCount
    };

    explicit MainWindow(const ConsoleOptions &options, QWidget *parent = nullptr);
    ~MainWindow() override;

    Connection *connection() const { return m_connection; }
    void showPage(int index);
    int currentPage() const;
    Page *page(int index) const;
    DashboardPage *dashboard() const;
    BackendsPage *backends() const;
    RoutesPage *routes() const;
    PoliciesPage *policies() const;
    DnsPage *dns() const;
    TrafficPage *traffic() const;
    LoggingPage *logging() const;
    ApplicationsPage *applications() const;

    /// The banner's text ("" when hidden).
    QString bannerText() const;
    QString statusText() const;

    /// POST /api/v1/apply with a YAML (or JSON) file; the outcome goes to lastMessage() and a notice.
    void importFile(const QString &path);
    /// GET /api/v1/export?format=yaml into a file.
    void exportFile(const QString &path);
    /// Empties the service's DNS cache after asking like the DNS page does (the tray's "Flush DNS cache…").
    void flushDnsCache();
    /// The status bar's current message (one line, nothing cut) and its tooltip (the whole text).
    QString statusMessage() const;
    QString statusToolTip() const;
    /// The last import/export/flush outcome, and how many such operations finished.
    QString lastMessage() const { return m_lastMessage; }
    int operationsDone() const { return m_operationsDone; }

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void buildMenus();
    void buildTray();
    void onStateChanged();
    void connectDialog();
    void notice(const QString &title, const QString &text, bool error);
    void loadSettings();
    void saveSettings();
    void startScreenshots();

    ConsoleOptions m_options;
    Connection *m_connection;
    QListWidget *m_nav;
    QStackedWidget *m_stack;
    QFrame *m_banner;
    QLabel *m_bannerText;
    QLabel *m_statusLabel;
    QSystemTrayIcon *m_tray = nullptr;
    QList<Page *> m_pages;
    QString m_lastMessage;
    QString m_statusToolTip;
    ServiceInstall m_installed = ServiceInstall::ByHand;
    int m_operationsDone = 0;
    bool m_quitting = false;
};

} // namespace dfproxy::gui
