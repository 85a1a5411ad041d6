// SPDX-License-Identifier: Apache-2.0
// The console's pure pieces: stats arithmetic, SSE parsing, access-log rendering, form text formats, field errors.
#include "dashboard/statshistory.h"
#include "resources/ruleeditor.h"
#include "support/gtestqt.h"
#include "traffic/accesslogmodel.h"
#include "traffic/sseparser.h"
#include "widgets/fieldbox.h"

#include <QJsonArray>
#include <QLineEdit>
#include <QVBoxLayout>

#include <gtest/gtest.h>

using namespace dfproxy::gui;

namespace {

QJsonObject stats(double requests, double r2xx, double r4xx, double r5xx, double hits, double misses)
{
    return QJsonObject{
        {"proxy", QJsonObject{{"requestsTotal", requests},
                              {"activeConnections", 3},
                              {"activeTunnels", 1},
                              {"responsesByClass", QJsonObject{{"2xx", r2xx}, {"4xx", r4xx}, {"5xx", r5xx}}}}},
        {"dns", QJsonObject{{"cache_hit", hits}, {"cache_miss", misses}}}};
}

} // namespace

TEST(StatsHistory, ComputesRatesAndRatiosBetweenSnapshots)
{
    StatsHistory h;
    const StatsSample first = h.add(stats(100, 90, 5, 5, 10, 10), 0);
    EXPECT_TRUE(std::isnan(first.requestsPerSecond));
    EXPECT_EQ(first.activeConnections, 3);
    const StatsSample s = h.add(stats(120, 106, 7, 7, 28, 12), 2000);
    EXPECT_DOUBLE_EQ(s.requestsPerSecond, 10.0);
    EXPECT_DOUBLE_EQ(s.clientErrorPercent, 10.0);
    EXPECT_DOUBLE_EQ(s.serverErrorPercent, 10.0);
    EXPECT_DOUBLE_EQ(s.dnsHitPercent, 90.0);
    EXPECT_EQ(h.samples().size(), 2u);
}

TEST(StatsHistory, ToleratesMissingKeysAndCounterResets)
{
    StatsHistory h;
    h.add(QJsonObject{}, 0);
    const StatsSample empty = h.add(QJsonObject{{"unexpected", 1}}, 1000);
    EXPECT_TRUE(std::isnan(empty.requestsPerSecond));
    EXPECT_TRUE(std::isnan(empty.p99Ms));
    h.add(stats(500, 500, 0, 0, 5, 5), 2000);
    const StatsSample restarted = h.add(stats(3, 3, 0, 0, 1, 1), 3000);
    EXPECT_TRUE(std::isnan(restarted.requestsPerSecond)) << "a counter that went down is a restart, not a rate";
}

TEST(StatsHistory, ReadsLatencyPercentilesOrHistogramBuckets)
{
    StatsHistory direct;
    const auto s = direct.add(QJsonObject{{"proxy", QJsonObject{{"latencyMs", QJsonObject{{"p50", 4}, {"p99", 40}}}}}}, 0);
    EXPECT_EQ(s.p50Ms, 4);
    EXPECT_EQ(s.p99Ms, 40);

    auto histogram = [](double b10, double b100, double inf) {
        return QJsonObject{{"metrics", QJsonObject{{"request_duration_ms",
            QJsonObject{{"buckets", QJsonArray{QJsonObject{{"le", 10}, {"count", b10}},
                                               QJsonObject{{"le", 100}, {"count", b100}},
                                               QJsonObject{{"le", "+Inf"}, {"count", inf}}}}}}}}};
    };
    StatsHistory h;
    h.add(histogram(0, 0, 0), 0);
    const auto q = h.add(histogram(50, 100, 100), 1000);
    EXPECT_DOUBLE_EQ(q.p50Ms, 10.0);
    EXPECT_GT(q.p99Ms, 90.0);
    EXPECT_LE(q.p99Ms, 100.0);
}

TEST(SseParser, JoinsDataLinesAcrossChunksAndSkipsComments)
{
    SseParser p;
    EXPECT_TRUE(p.feed(": keepalive\n\ndata: {\"a\":").isEmpty());
    const auto events = p.feed("1}\r\n\r\ndata: x\ndata: y\n\nevent: other\n\n");
    ASSERT_EQ(events.size(), 2);
    EXPECT_EQ(events[0], QByteArray("{\"a\":1}"));
    EXPECT_EQ(events[1], QByteArray("x\ny"));
}

TEST(AccessLogModel, ShowsNewestFirstAndBuildsCurlCommands)
{
    AccessLogModel m(2);
    m.append({QJsonObject{{"host", "a.test"}, {"port", 8080}, {"method", "GET"}, {"path", "/x?y=1"}, {"status", 200}},
              QJsonObject{{"host", "b.test"}, {"method", "POST"}, {"path", "/"}, {"totalMs", 12}}});
    m.append({QJsonObject{{"host", "c.test"}, {"method", "CONNECT"}, {"port", 443}, {"tunnel", true}}});
    ASSERT_EQ(m.rowCount(), 2);
    EXPECT_EQ(AccessLogModel::text(m.recordAt(0), AccessLogModel::Host), "c.test:443");
    EXPECT_EQ(AccessLogModel::text(m.recordAt(1), AccessLogModel::Duration), "12 ms");
    EXPECT_EQ(AccessLogModel::curlCommand(QJsonObject{{"host", "a.test"}, {"port", 8080}, {"method", "GET"}, {"path", "/x?y=1"}},
                                          "http://127.0.0.1:8080"),
              "curl -v -H 'Host: a.test:8080' 'http://127.0.0.1:8080/x?y=1'");
    EXPECT_EQ(AccessLogModel::curlCommand(m.recordAt(0), "http://127.0.0.1:8080"),
              "curl -v -x 'http://127.0.0.1:8080' -p 'https://c.test:443/'");
}

TEST(AccessLogModel, ShowsTheUpstreamProxyAndWhy)
{
    EXPECT_EQ(AccessLogModel::text(QJsonObject{{"upstreamProxy", "proxy.corp:3128"}, {"upstreamProxyReason", "tunnel"}},
                                   AccessLogModel::Upstream),
              "proxy.corp:3128 (tunnel)");
    EXPECT_EQ(AccessLogModel::text(QJsonObject{{"upstreamProxy", "DIRECT"}, {"upstreamProxyReason", "bypass <local>"}},
                                   AccessLogModel::Upstream),
              "DIRECT (bypass <local>)");
    EXPECT_EQ(AccessLogModel::text(QJsonObject{{"host", "a.test"}}, AccessLogModel::Upstream), "");
    AccessLogModel m(1);
    EXPECT_EQ(m.headerData(AccessLogModel::Upstream, Qt::Horizontal, Qt::DisplayRole).toString(), "Upstream proxy");
}

TEST(RuleEditor, ValueMatchTextRoundTrips)
{
    const QJsonArray m = parseValueMatches("x-env=prod, x-id~=^[0-9]+$");
    ASSERT_EQ(m.size(), 2);
    EXPECT_EQ(m[0].toObject().value("name").toString(), "x-env");
    EXPECT_FALSE(m[0].toObject().contains("type"));
    EXPECT_EQ(m[1].toObject().value("type").toString(), "RegularExpression");
    EXPECT_EQ(m[1].toObject().value("value").toString(), "^[0-9]+$");
    EXPECT_EQ(valueMatchesText(m), "x-env=prod, x-id~=^[0-9]+$");
}

TEST(RuleEditor, RuleJsonRoundTripsEveryField)
{
    const QJsonObject rule{
        {"name", "r1"},
        {"matches", QJsonArray{QJsonObject{{"path", QJsonObject{{"type", "Exact"}, {"value", "/a"}}},
                                           {"method", "POST"},
                                           {"headers", QJsonArray{QJsonObject{{"name", "x"}, {"value", "1"}}}},
                                           {"queryParams", QJsonArray{QJsonObject{{"name", "q"}, {"value", "2"}}}}}}},
        {"filters", QJsonArray{QJsonObject{{"type", "RequestHeaderModifier"},
                                           {"requestHeaderModifier", QJsonObject{{"set", QJsonArray{QJsonObject{{"name", "a"}, {"value", "b"}}}},
                                                                                 {"remove", QJsonArray{"c"}}}}},
                               QJsonObject{{"type", "RequestRedirect"},
                                           {"requestRedirect", QJsonObject{{"scheme", "https"}, {"hostname", "x.test"}, {"port", 8443},
                                                                           {"statusCode", 301},
                                                                           {"path", QJsonObject{{"type", "ReplaceFullPath"}, {"replaceFullPath", "/b"}}}}}}}},
        {"backendRefs", QJsonArray{QJsonObject{{"group", "agentgateway.dev"}, {"kind", "AgentgatewayBackend"}, {"name", "be"},
                                               {"namespace", "ns"}, {"weight", 3}, {"port", 81}}}},
        {"timeouts", QJsonObject{{"request", "10s"}, {"backendRequest", "5s"}}}};
    RuleEditor e;
    e.load(rule);
    EXPECT_EQ(e.toJson(), rule);
}

TEST(FieldBox, ErrorsLandOnTheLongestMatchingField)
{
    QWidget root;
    auto *layout = new QVBoxLayout(&root);
    auto *spec = new FieldBox("spec", new QLineEdit);
    auto *host = new FieldBox("spec.static.host", new QLineEdit);
    auto *rules = new FieldBox("spec.rules[0].matches", new QLineEdit);
    layout->addWidget(spec);
    layout->addWidget(host);
    layout->addWidget(rules);
    const auto rest = showFieldErrors(&root, {{"spec.static.host", "must be a hostname"},
                                              {"spec.rules[0].matches[1].path.value", "must start with \"/\""},
                                              {"spec.static.hostx", "unknown field"},
                                              {"metadata.name", "is required"}});
    EXPECT_EQ(host->errorText(), "must be a hostname");
    EXPECT_EQ(rules->errorText(), "[1].path.value: must start with \"/\"");
    EXPECT_EQ(spec->errorText(), "static.hostx: unknown field");
    ASSERT_EQ(rest.size(), 1);
    EXPECT_EQ(rest[0].first, "metadata.name");
}

TEST(StatsHistory, TakesLatencyFromTheMetricsHistogramInMilliseconds)
{
    auto metrics = [](double fast, double all) {
        auto series = [&](double f, double a) {
            return QJsonObject{{"labels", QJsonObject{}},
                               {"buckets", QJsonArray{QJsonObject{{"le", 0.01}, {"count", f}},
                                                      QJsonObject{{"le", 0.1}, {"count", a}},
                                                      QJsonObject{{"le", "+Inf"}, {"count", a}}}}};
        };
        return QJsonObject{{"dfproxy_request_duration_seconds",
                            QJsonObject{{"type", "histogram"}, {"series", QJsonArray{series(fast, all), series(fast, all)}}}}};
    };
    EXPECT_TRUE(StatsHistory::latencyFromMetrics(QJsonObject{}).isEmpty());
    StatsHistory h;
    h.add(QJsonObject{{"latencyMs", StatsHistory::latencyFromMetrics(metrics(0, 0))}}, 0);
    const auto s = h.add(QJsonObject{{"latencyMs", StatsHistory::latencyFromMetrics(metrics(40, 50))}}, 1000);
    EXPECT_GT(s.p50Ms, 0.0);
    EXPECT_LE(s.p50Ms, 10.0);
    EXPECT_GT(s.p99Ms, 10.0);
    EXPECT_LE(s.p99Ms, 100.0);
}
