// SPDX-License-Identifier: Apache-2.0
#include "dashboard/dashboardpage.h"

#include "app/connection.h"
#include "dashboard/timechart.h"
#include "resources/references.h"
#include "desktop/systemproxycontroller.h"
#include "desktop/systemproxypanel.h"
#include "traffic/accesslogmodel.h"
#include "widgets/jsonutil.h"

#include <QFrame>
#include <QGridLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QPointer>
#include <QScrollArea>
#include <QTableWidget>
#include <QVBoxLayout>

namespace dfproxy::gui {

namespace {

QTableWidget *makeTable(const QStringList &headers, const QString &name)
{
    auto *t = new QTableWidget(0, int(headers.size()));
    t->setObjectName(name);
    t->setHorizontalHeaderLabels(headers);
    t->horizontalHeader()->setStretchLastSection(true);
    t->verticalHeader()->setVisible(false);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionMode(QAbstractItemView::NoSelection);
    t->setMinimumHeight(150);
    t->setWordWrap(false);
    t->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < headers.size(); ++c)
        t->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    t->horizontalHeader()->setStretchLastSection(false);
    return t;
}

QString number(double v, int decimals = 1)
{
    if (std::isnan(v))
        return QStringLiteral("–");
    return QString::number(v, 'f', decimals);
}

} // namespace

DashboardPage::DashboardPage(Connection *connection, QWidget *parent)
    : Page(connection, parent),
      m_listeners(makeTable({tr("Gateway"), tr("Listener"), tr("Protocol"), tr("Addresses"), tr("Port")},
                            QStringLiteral("listenersTable"))),
      m_topHosts(makeTable({tr("Host"), tr("Requests"), tr("Errors"), tr("Bytes")}, QStringLiteral("topHostsTable"))),
      m_topHostsTitle(new QLabel(tr("Top destination hosts"))),
      m_rps(new TimeChart(tr("Requests/s"), tr("req/s"), false)),
      m_errors(new TimeChart(tr("Error rate"), tr("% of responses"), true)),
      m_latency(new TimeChart(tr("Latency"), tr("ms"), false)),
      m_dns(new TimeChart(tr("DNS cache hit ratio"), tr("% of lookups"), true)),
      m_latencyNote(new QLabel),
      m_dataPath(new QLabel),
      m_routeProblems(new QLabel)
{
    setObjectName(QStringLiteral("dashboardPage"));
    auto *outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto *scroll = new QScrollArea;
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto *content = new QWidget;
    scroll->setWidget(content);
    outer->addWidget(scroll);
    auto *layout = new QVBoxLayout(content);

    auto *cards = new QGridLayout;
    const QList<QPair<QString, QString>> cardDefs = {
        {"state", tr("State")},          {"version", tr("Version")},       {"uptime", tr("Uptime")},
        {"connections", tr("Active connections")}, {"tunnels", tr("CONNECT tunnels")}, {"requests", tr("Requests")},
        {"hosts", tr("Cached hosts")}};
    int col = 0;
    for (const auto &[key, title] : cardDefs) {
        auto *frame = new QFrame;
        frame->setFrameShape(QFrame::StyledPanel);
        frame->setObjectName(QStringLiteral("card"));
        auto *v = new QVBoxLayout(frame);
        v->setContentsMargins(10, 6, 10, 6);
        auto *t = new QLabel(title);
        t->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 9pt;"));
        auto *value = addCard(key, title);
        v->addWidget(t);
        v->addWidget(value);
        cards->addWidget(frame, 0, col++);
    }
    layout->addLayout(cards);
    // The same "missing" the Routes list marks, where it is seen first: such a route answers 500 no_backend.
    m_routeProblems->setObjectName(QStringLiteral("routeProblems"));
    m_routeProblems->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_routeProblems->setWordWrap(true);
    m_routeProblems->setTextFormat(Qt::RichText);
    m_routeProblems->hide();
    connect(m_routeProblems, &QLabel::linkActivated, this, &DashboardPage::showRoutesRequested);
    layout->addWidget(m_routeProblems);
    layout->addWidget(new SystemProxyPanel(SystemProxyController::of(connection))); // docs/desktop.md

    m_rps->addLine(tr("requests/s"), QColor(0x1f, 0x77, 0xb4));
    m_errors->addLine(tr("4xx"), QColor(0xff, 0x7f, 0x0e));
    m_errors->addLine(tr("5xx"), QColor(0xd6, 0x27, 0x28));
    m_latency->addLine(tr("p50"), QColor(0x2c, 0xa0, 0x2c));
    m_latency->addLine(tr("p99"), QColor(0x94, 0x67, 0xbd));
    m_dns->addLine(tr("hit ratio"), QColor(0x17, 0xbe, 0xcf));
    m_rps->setObjectName(QStringLiteral("requestsChart"));
    m_errors->setObjectName(QStringLiteral("errorsChart"));
    m_latency->setObjectName(QStringLiteral("latencyChart"));
    m_dns->setObjectName(QStringLiteral("dnsChart"));
    auto *charts = new QGridLayout;
    charts->addWidget(m_rps, 0, 0);
    charts->addWidget(m_errors, 0, 1);
    charts->addWidget(m_latency, 1, 0);
    charts->addWidget(m_dns, 1, 1);
    layout->addLayout(charts, 3);
    m_latencyNote->setObjectName(QStringLiteral("latencyNote"));
    m_latencyNote->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_latencyNote->setText(tr("Latency percentiles appear when the service reports them."));
    m_latencyNote->hide();
    layout->addWidget(m_latencyNote);
    m_topHostsTitle->setObjectName(QStringLiteral("topHostsTitle"));
    m_topHostsTitle->setToolTip(tr("Counted from the access-log records the console received (the live-traffic "
                                   "feed): requests, responses 4xx/5xx or none, and bytes both ways."));

    auto *tables = new QGridLayout;
    tables->addWidget(new QLabel(tr("Listeners")), 0, 0);
    tables->addWidget(m_listeners, 1, 0);
    tables->addWidget(m_topHostsTitle, 0, 1);
    tables->addWidget(m_topHosts, 1, 1);
    tables->setColumnStretch(0, 1);
    tables->setColumnStretch(1, 1);
    tables->setRowStretch(1, 1);
    // The tables take the height left below the charts instead of leaving it empty.
    layout->addLayout(tables, 2);
    m_dataPath->setObjectName(QStringLiteral("dataPath"));
    m_dataPath->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_dataPath->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_dataPath->setToolTip(tr("How the service moves plain-TCP bytes on its machine: one epoll set per worker, "
                              "bodies spliced socket to socket, a poll's sends in one io_uring submission "
                              "(docs/proxy.md, \"Engines\")"));
    layout->addWidget(m_dataPath);

    m_clock.start();
    m_timer.setInterval(1000);
    connect(&m_timer, &QTimer::timeout, this, &DashboardPage::pollStats);
    m_timer.start();
    connect(connection, &Connection::serverInfoChanged, this, &DashboardPage::onServerInfo);
    connect(connection, &Connection::stateChanged, this, &DashboardPage::updateState);
    // A restarted service starts its counters again: forget the old baseline.
    connect(connection, &Connection::connected, this, [this] {
        m_history.clear();
        loadReferences();
    });
    // Objects change from other clients too; a few lists every 5 s while the dashboard is shown is cheap.
    m_referencesTimer.setInterval(5000);
    connect(&m_referencesTimer, &QTimer::timeout, this, &DashboardPage::loadReferences);
    m_countingSince = QDateTime::currentDateTime();
    updateTopHosts();
    updateState();
}

QLabel *DashboardPage::addCard(const QString &key, const QString &)
{
    auto *l = new QLabel(QStringLiteral("–"));
    l->setObjectName(QStringLiteral("card:") + key);
    l->setStyleSheet(QStringLiteral("font-size: 14pt; font-weight: 600;"));
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_cards.insert(key, l);
    return l;
}

QString DashboardPage::cardText(const QString &key) const
{
    const QLabel *l = m_cards.value(key);
    return l ? l->text() : QString();
}

void DashboardPage::setPollIntervalMs(int ms)
{
    m_timer.setInterval(std::max(200, ms));
}

void DashboardPage::refresh()
{
    pollStats();
    loadReferences();
}

void DashboardPage::setActive(bool active)
{
    Page::setActive(active);
    if (active) {
        loadReferences();
        m_referencesTimer.start();
    } else {
        m_referencesTimer.stop();
    }
}

QString DashboardPage::routeProblemsText() const
{
    return m_routeProblemLines.join(u'\n');
}

void DashboardPage::loadReferences()
{
    if (!m_connection->isConnected() || m_referencesInFlight)
        return;
    m_referencesInFlight = true;
    QPointer<DashboardPage> self(this);
    loadReferencedObjects(m_connection->api(), [self](const QList<QJsonObject> &objects, bool complete) {
        if (!self)
            return;
        self->m_referencesInFlight = false;
        ++self->m_referenceLoads;
        if (!complete)
            return; // a partial set would call objects missing that are not: keep what the last full load said
        ReferenceIndex index;
        index.setObjects(objects);
        QStringList lines;
        for (const QJsonObject &o : objects) {
            if (o.value("kind").toString() != QLatin1String("HTTPRoute"))
                continue;
            const ObjectKey route = ObjectKey::of(o);
            for (const ObjectKey &gone : index.missing(route)) {
                lines.append(gone.kind == QLatin1String("Gateway")
                                 ? tr("⚠ %1 uses %2, which does not exist (the route is not attached)")
                                       .arg(route.label(), gone.label())
                                 : tr("⚠ %1 uses %2, which does not exist (its requests get 500 no_backend)")
                                       .arg(route.label(), gone.label()));
            }
        }
        lines.sort();
        self->m_routeProblemLines = lines;
        self->m_routeProblems->setVisible(!lines.isEmpty());
        QStringList html;
        for (const QString &l : std::as_const(lines))
            html.append(l.toHtmlEscaped());
        self->m_routeProblems->setText(html.join(QStringLiteral("<br>"))
                                       + QStringLiteral(" &nbsp;<a href=\"routes\">%1</a>").arg(tr("Show routes")));
    });
}

void DashboardPage::updateState()
{
    const ConnectionState s = m_connection->state();
    QLabel *l = m_cards.value(QStringLiteral("state"));
    const bool ready = m_connection->serverInfo().value("ready").toBool(true);
    l->setText(s == ConnectionState::Connected ? (ready ? tr("Running") : tr("Starting"))
                                               : Connection::stateName(s));
    if (s == ConnectionState::Connected && ready && m_connection->serverInfo().value("usingBackup").toBool())
        l->setText(tr("Running on config.json.bak")); // config.json was bad at start (docs/admin-api.md)
    l->setStyleSheet(QStringLiteral("font-size: 14pt; font-weight: 600; color: %1;")
                         .arg(s == ConnectionState::Connected ? "#1b7f3b" : "#b00020"));
}

QString DashboardPage::dataPathText() const
{
    return m_dataPath->text();
}

void DashboardPage::onServerInfo(const QJsonObject &info)
{
    updateState();
    const QJsonObject path = info.value("dataPath").toObject();
    if (path.isEmpty()) {
        m_dataPath->clear(); // an older service
    } else {
        const QString sends = path.value("batchedSends").toString();
        m_dataPath->setText(tr("Data path: %1 poller, splicing %2, batched sends %3")
                                .arg(path.value("poller").toString(),
                                     path.value("splice").toBool() ? tr("on") : tr("off"),
                                     sends == QLatin1String("off") ? tr("off") : sends));
    }
    m_cards.value("version")->setText(info.value("version").toString(QStringLiteral("–")));
    m_cards.value("uptime")->setText(formatDuration(qint64(info.value("uptimeSeconds").toDouble() * 1000)));
    const QJsonArray listeners = info.value("listeners").toArray();
    m_listeners->setRowCount(int(listeners.size()));
    for (int i = 0; i < listeners.size(); ++i) {
        const QJsonObject l = listeners[i].toObject();
        const QString addresses = jsonText(l.value("addresses"));
        const QStringList cells = {l.value("gateway").toString(), l.value("name").toString(),
                                   l.value("protocol").toString(), addresses.isEmpty() ? "127.0.0.1" : addresses,
                                   jsonText(l.value("port"))};
        for (int c = 0; c < cells.size(); ++c)
            m_listeners->setItem(i, c, new QTableWidgetItem(cells[c]));
    }
}

void DashboardPage::pollStats()
{
    if (!m_connection->isConnected() || m_inFlight)
        return;
    m_inFlight = true;
    QPointer<DashboardPage> self(this);
    m_connection->api()->stats([self](const client::ApiResult &r) {
        if (!self)
            return;
        if (!r.ok() || !self->m_metricsAvailable) {
            self->m_inFlight = false;
            if (r.ok())
                self->onStats(r.object());
            return;
        }
        // Latency percentiles come from the metrics registry's request-duration histogram, when the service has one.
        const QJsonObject stats = r.object();
        self->m_connection->api()->send("GET", QStringLiteral("/api/v1/metrics"), {}, {}, {},
                                        [self, stats](const client::ApiResult &m) {
                                            if (!self)
                                                return;
                                            self->m_inFlight = false;
                                            QJsonObject merged = stats;
                                            if (m.ok()) {
                                                const QJsonObject latency = StatsHistory::latencyFromMetrics(m.object());
                                                if (!latency.isEmpty()) {
                                                    merged.insert("latencyMs", latency);
                                                    self->m_latencyReported = true;
                                                }
                                            } else if (m.error->status == 404) {
                                                self->m_metricsAvailable = false;
                                            }
                                            self->onStats(merged);
                                        });
    });
}

void DashboardPage::onStats(const QJsonObject &stats)
{
    ++m_polls;
    const qint64 now = m_clock.elapsed();
    const StatsSample s = m_history.add(stats, now);
    m_cards.value("connections")->setText(number(s.activeConnections, 0));
    m_cards.value("tunnels")->setText(number(s.activeTunnels, 0));
    m_cards.value("requests")->setText(number(s.requestsTotal, 0));
    m_cards.value("hosts")->setText(number(numberAt(stats, {"dns.num_hosts", "dns.numHosts"}).value_or(NAN), 0));

    QList<QPointF> rps, e4, e5, p50, p99, dns;
    for (const auto &h : m_history.samples()) {
        rps.append({double(h.timeMs), h.requestsPerSecond});
        e4.append({double(h.timeMs), h.clientErrorPercent});
        e5.append({double(h.timeMs), h.serverErrorPercent});
        p50.append({double(h.timeMs), h.p50Ms});
        p99.append({double(h.timeMs), h.p99Ms});
        dns.append({double(h.timeMs), h.dnsHitPercent});
    }
    m_rps->setPoints(0, rps, now);
    m_errors->setPoints(0, e4, now);
    m_errors->setPoints(1, e5, now);
    m_latency->setPoints(0, p50, now);
    m_latency->setPoints(1, p99, now);
    m_dns->setPoints(0, dns, now);
    if (!std::isnan(s.p50Ms) || !std::isnan(s.p99Ms))
        m_latencyReported = true;
    updateTitles();
}

double DashboardPage::recentMean(double StatsSample::*field) const
{
    const qint64 from = m_clock.elapsed() - kTitleWindowMs;
    double sum = 0;
    int n = 0;
    for (auto it = m_history.samples().rbegin(); it != m_history.samples().rend() && it->timeMs >= from; ++it) {
        if (!std::isnan((*it).*field)) {
            sum += (*it).*field;
            ++n;
        }
    }
    return n == 0 ? NAN : sum / n;
}

void DashboardPage::updateTitles()
{
    // Each title says what its number is over, so it agrees with the spike the chart shows beside it.
    const QString last = tr("last %1 s").arg(kTitleWindowMs / 1000);
    const double rps = recentMean(&StatsSample::requestsPerSecond);
    m_rps->setCurrent(std::isnan(rps) ? QString() : tr("%1 avg, %2").arg(number(rps), last));
    const double e4 = recentMean(&StatsSample::clientErrorPercent);
    const double e5 = recentMean(&StatsSample::serverErrorPercent);
    m_errors->setCurrent(std::isnan(e5) ? QString()
                                        : tr("4xx %1%, 5xx %2%, %3").arg(number(e4), number(e5), last));
    const double p50 = recentMean(&StatsSample::p50Ms);
    const double p99 = recentMean(&StatsSample::p99Ms);
    if (!std::isnan(p99))
        m_latency->setCurrent(tr("p50 %1 ms, p99 %2 ms, %3").arg(number(p50), number(p99), last));
    else if (m_latencyReported)
        m_latency->setCurrent(tr("no requests in the %1").arg(last));
    else
        m_latency->setCurrent(tr("not reported by this service version"));
    const double dns = recentMean(&StatsSample::dnsHitPercent);
    m_dns->setCurrent(std::isnan(dns) ? tr("no lookups in the %1").arg(last)
                                      : tr("%1%, %2").arg(number(dns), last));
}

void DashboardPage::addAccessLogRecords(const QList<QJsonObject> &records)
{
    bool changed = false;
    for (const QJsonObject &r : records) {
        if (AccessLogModel::isSeparator(r))
            continue;
        const QString host = AccessLogModel::text(r, AccessLogModel::Host);
        if (host.isEmpty())
            continue;
        HostCount &c = m_hostCounts[host];
        ++c.requests;
        const int status = r.value("status").toInt();
        if (status == 0 || status >= 400)
            ++c.errors;
        c.bytes += qint64(r.value("bytesIn").toDouble()) + qint64(r.value("bytesOut").toDouble());
        changed = true;
    }
    if (changed)
        updateTopHosts();
}

void DashboardPage::updateTopHosts()
{
    QList<QPair<QString, HostCount>> hosts;
    for (auto it = m_hostCounts.cbegin(); it != m_hostCounts.cend(); ++it)
        hosts.append({it.key(), it.value()});
    std::sort(hosts.begin(), hosts.end(), [](const auto &a, const auto &b) {
        return a.second.requests != b.second.requests ? a.second.requests > b.second.requests : a.first < b.first;
    });
    m_topHostsTitle->setText(tr("Top destination hosts — requests since %1")
                                 .arg(m_countingSince.toString(QStringLiteral("HH:mm"))));
    m_topHosts->setRowCount(int(std::min<qsizetype>(hosts.size(), 20)));
    for (int i = 0; i < m_topHosts->rowCount(); ++i) {
        const HostCount &c = hosts[i].second;
        const QStringList cells = {hosts[i].first, QString::number(c.requests), QString::number(c.errors),
                                   formatBytes(c.bytes)};
        for (int col = 0; col < cells.size(); ++col) {
            auto *item = new QTableWidgetItem(cells[col]);
            if (col > 0)
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_topHosts->setItem(i, col, item);
        }
    }
}

} // namespace dfproxy::gui
