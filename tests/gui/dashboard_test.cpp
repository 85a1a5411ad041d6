// SPDX-License-Identifier: Apache-2.0
// The dashboard's labels agree with its data (#28 item 3): each chart title says what its number is over, latency
// is shown whenever the service reports it, the top-hosts table counts requests from the access log (with errors
// and bytes), the tables take the room there is, and every chart shows a value on hover.
#include "consolefixture.h"
#include "dashboard/dashboardpage.h"
#include "dashboard/timechart.h"
#include "support/testsupport.h"

#include <QLabel>
#include <QLineSeries>
#include <QTableWidget>

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

QString cell(QTableWidget *t, int row, int column)
{
    const QTableWidgetItem *i = t->item(row, column);
    return i ? i->text() : QString();
}

int rowOf(QTableWidget *t, const QString &host)
{
    for (int r = 0; r < t->rowCount(); ++r)
        if (cell(t, r, 0) == host)
            return r;
    return -1;
}

} // namespace

TEST_F(Console, DashboardTitlesSayWhatTheNumberIsOverAndLatencyStaysShown)
{
    DashboardPage *d = window->dashboard();
    applySeed();
    // Requests until a poll interval holds some (the first poll is only the baseline).
    ASSERT_TRUE(waitUntil([&] {
        curlThroughProxy();
        return d->latencyChart()->titleText().contains("p99");
    }, 20000)) << d->latencyChart()->titleText().toStdString();
    EXPECT_TRUE(d->latencyChart()->titleText().endsWith(", last 5 s")) << d->latencyChart()->titleText().toStdString();
    EXPECT_TRUE(d->requestsChart()->titleText().startsWith("Requests/s — "));
    EXPECT_TRUE(d->requestsChart()->titleText().endsWith(" avg, last 5 s"))
        << d->requestsChart()->titleText().toStdString();
    EXPECT_TRUE(d->errorsChart()->titleText().contains("5xx")) << d->errorsChart()->titleText().toStdString();

    // Quiet for longer than the window: the title says there was nothing to measure, not that the service cannot.
    ASSERT_TRUE(waitUntil([&] { return !d->latencyChart()->titleText().contains("p99"); }, 20000));
    EXPECT_EQ(d->latencyChart()->titleText(), "Latency — no requests in the last 5 s");
    EXPECT_GT(d->latencyChart()->pointCount(1), 0) << "the earlier p99 values stay plotted";
}

TEST_F(Console, DashboardTopHostsCountRequestsErrorsAndBytesFromTheAccessLog)
{
    DashboardPage *d = window->dashboard();
    applySeed();
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_EQ(curl({"-H", "host: nowhere.test:81", service->proxyUrl("/")}).status, 503); // no such name
    QTableWidget *t = d->topHostsTable();
    ASSERT_EQ(t->columnCount(), 4);
    EXPECT_EQ(t->horizontalHeaderItem(1)->text(), "Requests");
    EXPECT_EQ(t->horizontalHeaderItem(2)->text(), "Errors");
    EXPECT_EQ(t->horizontalHeaderItem(3)->text(), "Bytes");
    const QString host = "httpbin.test:" + QString::number(origin->port());
    ASSERT_TRUE(waitUntil([&] { return rowOf(t, "nowhere.test:81") >= 0 && cell(t, rowOf(t, host), 1) == "3"; }, 15000))
        << cell(t, 0, 0).toStdString() << " " << cell(t, 0, 1).toStdString();
    EXPECT_EQ(rowOf(t, host), 0) << "most requests first";
    EXPECT_EQ(cell(t, 0, 2), "0");
    EXPECT_NE(cell(t, 0, 3), "0 B");
    EXPECT_EQ(cell(t, rowOf(t, "nowhere.test:81"), 1), "1");
    EXPECT_EQ(cell(t, rowOf(t, "nowhere.test:81"), 2), "1");

    // The tables use the height below the charts (they were held to 170 px beside empty space).
    window->resize(1280, 900);
    spinFor(200);
    EXPECT_GT(t->height(), 170);
}

TEST_F(Console, DashboardChartsShowTheValueUnderThePointer)
{
    DashboardPage *d = window->dashboard();
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_TRUE(waitUntil([&] { return d->requestsChart()->pointCount(0) >= 2; }, 15000));
    for (TimeChart *c : {d->requestsChart(), d->errorsChart(), d->latencyChart(), d->dnsChart()}) {
        auto *series = qobject_cast<QLineSeries *>(c->chart()->series().value(0));
        ASSERT_NE(series, nullptr);
        const QPointF p = series->count() > 0 ? series->at(series->count() - 1) : QPointF(-1, 0);
        Q_EMIT series->hovered(p, true);
        EXPECT_TRUE(c->lastHoverText().startsWith(series->name() + ": ")) << c->lastHoverText().toStdString();
        EXPECT_TRUE(c->lastHoverText().endsWith(" s ago")) << c->lastHoverText().toStdString();
        Q_EMIT series->hovered(p, false);
        EXPECT_TRUE(c->lastHoverText().isEmpty());
    }
}

// #28 item 4: a route whose backend is gone is marked on the dashboard too (it answers 500 no_backend), with a link
// to the Routes list; the line goes when the backend is back.
TEST_F(Console, DashboardMarksARouteWhoseBackendIsMissing)
{
    DashboardPage *d = window->dashboard();
    applySeed();
    auto loadAgain = [&] {
        const int loads = d->referenceLoads();
        d->refresh();
        return waitUntil([&] { return d->referenceLoads() > loads; }, 10000);
    };
    // A load already in flight when the objects changed can bring the state before the change (the routes read
    // before, the backends after it): load again until the line shows `want`, at most five times.
    auto loadUntil = [&](const QString &want) {
        for (int i = 0; i < 5; ++i) {
            if (!loadAgain())
                return false;
            if (d->routeProblemsText() == want)
                return true;
        }
        return true; // the EXPECT below says what it shows
    };
    ASSERT_TRUE(loadUntil(QString()));
    EXPECT_EQ(d->routeProblemsText(), "");
    auto *line = d->findChild<QLabel *>("routeProblems");
    ASSERT_NE(line, nullptr);
    EXPECT_FALSE(line->isVisibleTo(d));

    ASSERT_EQ(api->sendBlocking("DELETE", "/api/v1/namespaces/httpbin/backends/dfp-backend").status, 200);
    ASSERT_TRUE(loadUntil(QStringLiteral("⚠ HTTPRoute httpbin/dfp-httproute uses AgentgatewayBackend "
                                         "httpbin/dfp-backend, which does not exist (its requests get 500 no_backend)")));
    EXPECT_EQ(d->routeProblemsText(), "⚠ HTTPRoute httpbin/dfp-httproute uses AgentgatewayBackend httpbin/dfp-backend, "
                                      "which does not exist (its requests get 500 no_backend)");
    EXPECT_TRUE(line->isVisibleTo(d));
    Q_EMIT line->linkActivated(QStringLiteral("routes"));
    EXPECT_EQ(window->currentPage(), MainWindow::RoutesIndex);

    applySeed();
    window->showPage(MainWindow::DashboardIndex);
    ASSERT_TRUE(loadUntil(QString()));
    EXPECT_EQ(d->routeProblemsText(), "");
    EXPECT_FALSE(line->isVisibleTo(d));
}
