// SPDX-License-Identifier: Apache-2.0
#include "app/screenshots.h"

#include "applications/applicationspage.h"

#include "app/mainwindow.h"
#include "dashboard/dashboardpage.h"
#include "dashboard/timechart.h"
#include "desktop/systemproxycontroller.h"
#include "logging/loggingpage.h"
#include "policies/policiespage.h"
#include "resources/resourcepage.h"
#include "resources/routeeditor.h"
#include "traffic/trafficpage.h"

#include <QApplication>
#include <QChart>
#include <QDir>
#include <QLineSeries>
#include <QPainter>
#include <QToolTip>
#include <QElapsedTimer>
#include <QPixmap>
#include <QTabWidget>
#include <QTableView>
#include <QTreeWidget>
#include <QTimer>

#include <tuple>

#include <cstdio>

namespace dfproxy::gui {

ScreenshotRunner::ScreenshotRunner(MainWindow *window, const QString &dir)
    : QObject(window), m_window(window), m_dir(dir)
{
}

void ScreenshotRunner::save(QWidget *w, const QString &name)
{
    const QString path = QDir(m_dir).filePath(name + QStringLiteral(".png"));
    if (!w->grab().save(path))
        std::fprintf(stderr, "dfproxy-console: cannot write %s\n", qPrintable(path));
    else
        std::printf("dfproxy-console: saved %s\n", qPrintable(path));
    std::fflush(stdout);
}

void ScreenshotRunner::hoverLatency()
{
    // The pointer on the p99 line about ten seconds ago: the chart's hover value is in the picture too.
    TimeChart *chart = m_window->dashboard()->latencyChart();
    const auto series = chart->chart()->series();
    auto *line = series.size() > 1 ? qobject_cast<QLineSeries *>(series[1]) : nullptr;
    if (!line || line->count() == 0)
        return;
    QPointF point = line->at(line->count() - 1);
    for (const QPointF &p : line->points()) {
        if (p.x() >= -10) {
            point = p;
            break;
        }
    }
    // Shown as the hover would show it, without moving the pointer (a real move would end the hover at once).
    const QPoint inView = chart->mapFromScene(chart->chart()->mapToPosition(point, line));
    QToolTip::showText(chart->mapToGlobal(inView), chart->hoverText(1, point), chart);
}

void ScreenshotRunner::saveWithTooltip(const QString &name)
{
    // A tooltip is a window of its own, which grabbing the main window leaves out: paint it in where it is.
    QPixmap shot = m_window->grab();
    for (QWidget *w : QApplication::topLevelWidgets()) {
        if (w->isVisible() && w->inherits("QTipLabel")) {
            QPainter p(&shot);
            p.drawPixmap(w->mapToGlobal(QPoint(0, 0)) - m_window->mapToGlobal(QPoint(0, 0)), w->grab());
        }
    }
    const QString path = QDir(m_dir).filePath(name + QStringLiteral(".png"));
    if (!shot.save(path))
        std::fprintf(stderr, "dfproxy-console: cannot write %s\n", qPrintable(path));
    else
        std::printf("dfproxy-console: saved %s\n", qPrintable(path));
    std::fflush(stdout);
    QToolTip::hideText();
}

void ScreenshotRunner::start()
{
    QDir().mkpath(m_dir);
    const int historyMs = qEnvironmentVariableIntValue("DFPROXY_SCREENSHOT_WARMUP_MS") > 0
                              ? qEnvironmentVariableIntValue("DFPROXY_SCREENSHOT_WARMUP_MS")
                              : 20000;
    auto shot = [this](int page, const QString &name) {
        return std::pair{1500, std::function<void()>([this, page, name] {
                             save(m_window, name);
                             Q_UNUSED(page);
                         })};
    };
    auto show = [this](int page) {
        return std::pair{0, std::function<void()>([this, page] { m_window->showPage(page); })};
    };
    m_steps = {
        {historyMs, [this] { m_window->showPage(MainWindow::DashboardIndex); }},
        {1500, [this] { hoverLatency(); }},
        {600, [this] { saveWithTooltip(QStringLiteral("dashboard")); }},
        // The system-proxy switch turned on (scripts/screenshots runs the console in a private D-Bus session).
        {0, [this] { SystemProxyController::of(m_window->connection())->setOn(true); }},
        {1200, [this] {
             if (auto *panel = m_window->findChild<QWidget *>(QStringLiteral("systemProxyPanel")))
                 save(panel, QStringLiteral("system-proxy"));
             SystemProxyController::of(m_window->connection())->setOn(false);
         }},
        show(MainWindow::BackendsIndex),
        shot(MainWindow::BackendsIndex, QStringLiteral("backends")),
        {0, [this] {
             auto *p = m_window->backends();
             if (!p->select(QStringLiteral("httpbin"), QStringLiteral("static-origin")))
                 p->table()->selectRow(0);
             if (auto *e = p->editSelected())
                 e->resize(760, 640);
         }},
        {1200, [this] {
             if (auto *e = m_window->backends()->currentEditor()) {
                 save(e, QStringLiteral("backend-editor"));
                 e->close();
             }
         }},
        show(MainWindow::RoutesIndex),
        shot(MainWindow::RoutesIndex, QStringLiteral("routes")),
        {0, [this] {
             auto *p = m_window->routes();
             if (!p->select(QStringLiteral("httpbin"), QStringLiteral("api-route")))
                 p->table()->selectRow(0);
             p->editSelected(); // at the size it opens with, which fits a 1280x800 screen
         }},
        {1200, [this] {
             if (auto *e = m_window->routes()->currentEditor())
                 save(e, QStringLiteral("route-editor"));
         }},
        {0, [this] {
             if (auto *e = m_window->routes()->currentEditor())
                 e->findChild<QTabWidget *>(QStringLiteral("editorTabs"))->setCurrentIndex(2);
         }},
        {800, [this] {
             if (auto *e = m_window->routes()->currentEditor()) {
                 save(e, QStringLiteral("route-status"));
                 e->close();
             }
         }},
        show(MainWindow::PoliciesIndex),
        shot(MainWindow::PoliciesIndex, QStringLiteral("policies")),
    };
    // One editor per policy kind, on the objects scripts/screenshots creates.
    const QList<std::tuple<QString, QString, QString, QString>> editors = {
        {QStringLiteral("RateLimitPolicy"), QStringLiteral("httpbin"), QStringLiteral("per-client"),
         QStringLiteral("policy-ratelimit-editor")},
        {QStringLiteral("AuthenticationPolicy"), QStringLiteral("httpbin"), QStringLiteral("api-users"),
         QStringLiteral("policy-authentication-editor")},
        {QStringLiteral("AuthorizationPolicy"), QStringLiteral("agentgateway-system"), QStringLiteral("egress-rules"),
         QStringLiteral("policy-authorization-editor")},
    };
    for (const auto &[kind, ns, name, file] : editors) {
        m_steps.append({0, [this, kind, ns, name] {
                            auto *p = m_window->policies();
                            if (p->select(kind, ns, name))
                                p->editSelected(); // at its own size (900x720), which fits 1280x800
                        }});
        m_steps.append({1200, [this, file] {
                            if (auto *e = m_window->policies()->currentEditor()) {
                                save(e, file);
                                e->close();
                            }
                        }});
    }
    m_steps += QList<std::pair<int, std::function<void()>>>{
        show(MainWindow::LoggingIndex),
        shot(MainWindow::LoggingIndex, QStringLiteral("logging")),
        show(MainWindow::DnsIndex),
        shot(MainWindow::DnsIndex, QStringLiteral("dns-cache")),
        show(MainWindow::TrafficIndex),
        {2000, [this] {
             m_window->traffic()->table()->selectRow(0);
         }},
        shot(MainWindow::TrafficIndex, QStringLiteral("live-traffic")),
        show(MainWindow::ApplicationsIndex),
        {1500, [this] { // a host selected: both buttons enabled
             QTreeWidget *t = m_window->applications()->tree();
             if (t->topLevelItemCount() > 0 && t->topLevelItem(0)->childCount() > 0)
                 t->setCurrentItem(t->topLevelItem(0)->child(0));
         }},
        shot(MainWindow::ApplicationsIndex, QStringLiteral("applications")),
    };
    // Wait for the first connection (at most 30 s), then run the steps.
    auto *timer = new QTimer(this);
    auto *clock = new QElapsedTimer;
    clock->start();
    connect(timer, &QTimer::timeout, this, [this, timer, clock] {
        if (!m_window->connection()->isConnected() && clock->elapsed() < 30000)
            return;
        timer->stop();
        delete clock;
        next();
    });
    timer->start(200);
}

void ScreenshotRunner::next()
{
    if (m_steps.isEmpty()) {
        Q_EMIT done();
        return;
    }
    const auto [delay, action] = m_steps.takeFirst();
    QTimer::singleShot(delay, this, [this, action] {
        action();
        next();
    });
}

} // namespace dfproxy::gui
