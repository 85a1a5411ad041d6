// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"
#include "dashboard/statshistory.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QLabel;
class QTableWidget;
QT_END_NAMESPACE

namespace dfproxy::gui {

class TimeChart;

/// Service state, version, uptime and listeners (GET /api/v1/server); live charts of requests/s, error rates,
/// p50/p99 latency and the DNS cache hit ratio from GET /api/v1/stats polled every interval, each titled with its
/// average over the last 5 s and showing values on hover; active connections, CONNECT tunnels and the top
/// destination hosts by requests, errors and bytes, counted from the access-log records the console receives; a red
/// line for each route that uses a backend or Gateway that does not exist (such a route answers 500 no_backend).
class DashboardPage : public Page
{
    Q_OBJECT
public:
    explicit DashboardPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Dashboard"); }
    void refresh() override;

    void setPollIntervalMs(int ms);
    /// Access-log records as they arrive (the live-traffic feed): they count into the top-hosts table.
    void addAccessLogRecords(const QList<QJsonObject> &records);
    /// The span the chart titles average over.
    static constexpr int kTitleWindowMs = 5000;
    TimeChart *requestsChart() const { return m_rps; }
    TimeChart *errorsChart() const { return m_errors; }
    TimeChart *latencyChart() const { return m_latency; }
    TimeChart *dnsChart() const { return m_dns; }
    const StatsHistory &history() const { return m_history; }
    /// Text of a summary card, by key: state, version, uptime, connections, tunnels, requests, hosts.
    QString cardText(const QString &key) const;
    QTableWidget *listenersTable() const { return m_listeners; }
    QTableWidget *topHostsTable() const { return m_topHosts; }
    int statsPolls() const { return m_polls; }
    /// The "Data path" line: how the service moves plain-TCP bytes on its machine (dataPath of GET /api/v1/server).
    QString dataPathText() const;
    /// The routes-with-missing-references line as plain text ("" when every route's references exist).
    QString routeProblemsText() const;
    /// Completed loads of the objects the route line is worked out from (tests wait on it).
    int referenceLoads() const { return m_referenceLoads; }
    void setActive(bool active) override;

Q_SIGNALS:
    /// The route line's "Show routes" link was clicked.
    void showRoutesRequested();

private:
    void loadReferences();
    void pollStats();
    void onStats(const QJsonObject &stats);
    void onServerInfo(const QJsonObject &info);
    void updateState();
    void updateTopHosts();
    void updateTitles();
    /// The mean of a sample field over the last kTitleWindowMs (NaN when no sample there has it).
    double recentMean(double StatsSample::*field) const;
    QLabel *addCard(const QString &key, const QString &title);

    QTimer m_timer;
    QElapsedTimer m_clock;
    StatsHistory m_history;
    QHash<QString, QLabel *> m_cards;
    QTableWidget *m_listeners;
    QTableWidget *m_topHosts;
    QLabel *m_topHostsTitle;
    TimeChart *m_rps;
    TimeChart *m_errors;
    TimeChart *m_latency;
    TimeChart *m_dns;
    QLabel *m_latencyNote;
    QLabel *m_dataPath;
    QLabel *m_routeProblems;
    QStringList m_routeProblemLines;
    QTimer m_referencesTimer;
    int m_referenceLoads = 0;
    bool m_referencesInFlight = false;
    double m_uptimeBase = 0;
    QElapsedTimer m_uptimeClock;
    int m_polls = 0;
    bool m_inFlight = false;
    bool m_metricsAvailable = true; ///< false once GET /api/v1/metrics answered 404
    bool m_latencyReported = false; ///< the service reported latency at least once (stats or metrics histogram)
    struct HostCount
    {
        qint64 requests = 0;
        qint64 errors = 0; ///< 4xx, 5xx and requests that got no response
        qint64 bytes = 0;  ///< both directions
    };
    QHash<QString, HostCount> m_hostCounts;
    QDateTime m_countingSince;
};

} // namespace dfproxy::gui
