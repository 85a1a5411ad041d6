// SPDX-License-Identifier: Apache-2.0
#include "telemetry/metrics.h"
#include "telemetry/proxymetrics.h"

#include <QJsonArray>
#include <QJsonObject>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <thread>

using namespace dfproxy::telemetry;

TEST(Metrics, ExpositionOfCountersAndGaugesIsExact)
{
    MetricsRegistry r;
    auto *c = r.counter("t_requests_total", "Requests.", {"code", "route"});
    c->labels({"200", "a/b#0"}).inc();
    c->labels({"200", "a/b#0"}).inc(2);
    c->labels({"404", ""}).inc();
    r.gauge("t_active", "Active things.")->get().set(2.5);
    EXPECT_EQ(r.exposition(), QByteArray("# HELP t_requests_total Requests.\n"
                                         "# TYPE t_requests_total counter\n"
                                         "t_requests_total{code=\"200\",route=\"a/b#0\"} 3\n"
                                         "t_requests_total{code=\"404\",route=\"\"} 1\n"
                                         "# HELP t_active Active things.\n"
                                         "# TYPE t_active gauge\n"
                                         "t_active 2.5\n"));
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfEqualToCount)
{
    MetricsRegistry r;
    auto *h = r.histogram("t_seconds", "Durations.", {"route"}, {0.1, 1, 0.5});
    for (double v : {0.05, 0.1, 0.3, 0.7, 5.0})
        h->labels({"x"}).observe(v);
    EXPECT_EQ(r.exposition(), QByteArray("# HELP t_seconds Durations.\n"
                                         "# TYPE t_seconds histogram\n"
                                         "t_seconds_bucket{route=\"x\",le=\"0.1\"} 2\n"
                                         "t_seconds_bucket{route=\"x\",le=\"0.5\"} 3\n"
                                         "t_seconds_bucket{route=\"x\",le=\"1\"} 4\n"
                                         "t_seconds_bucket{route=\"x\",le=\"+Inf\"} 5\n"
                                         "t_seconds_sum{route=\"x\"} 6.15\n"
                                         "t_seconds_count{route=\"x\"} 5\n"));
}

TEST(Metrics, LabelValuesAndHelpAreEscaped)
{
    MetricsRegistry r;
    r.counter("t_total", "Back\\slash\nnewline.", {"v"})->labels({"a\"b\\c\nd"}).inc();
    EXPECT_EQ(r.exposition(), QByteArray("# HELP t_total Back\\\\slash\\nnewline.\n"
                                         "# TYPE t_total counter\n"
                                         "t_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(Metrics, CollectorsAreReadAtScrapeTime)
{
    MetricsRegistry r;
    double value = 1;
    r.addCollector([&value] {
        return QList<CollectedFamily>{{"t_hosts", "Hosts.", MetricType::Gauge, {{{}, value}}}};
    });
    EXPECT_TRUE(r.exposition().contains("t_hosts 1\n"));
    value = 42;
    EXPECT_TRUE(r.exposition().contains("t_hosts 42\n"));
    EXPECT_EQ(r.toJson().value("t_hosts").toObject().value("series").toArray().at(0).toObject().value("value").toInt(),
              42);
}

TEST(Metrics, SeriesLimitSendsNewLabelSetsToTheOverflowSeries)
{
    MetricsRegistry r;
    auto *f = r.counter("t_dest_total", "Destinations.", {"host"});
    f->setSeriesLimit(3, {"other"});
    for (int i = 0; i < 10; ++i)
        f->labels({QStringLiteral("h%1.test").arg(i)}).inc();
    f->labels({"h0.test"}).inc();
    EXPECT_EQ(f->seriesCount(), 4u);
    EXPECT_EQ(f->labels({"h0.test"}).value(), 2u);
    EXPECT_EQ(f->labels({"other"}).value(), 7u);
    EXPECT_EQ(f->labels({"h9.test"}).value(), 7u); // the same overflow series
}

TEST(Metrics, ConcurrentIncrementsAreAllCounted)
{
    MetricsRegistry r;
    auto *f = r.counter("t_total", "Concurrent.", {"worker"});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([f] {
            for (int i = 0; i < 10000; ++i)
                f->labels({QString::number(i % 3)}).inc();
        });
    }
    for (auto &t : threads)
        t.join();
    quint64 total = 0;
    f->forEach([&](const LabelValues &, const Counter &c) { total += c.value(); });
    EXPECT_EQ(total, 40000u);
}

TEST(Metrics, ValuesAreFormattedAsPrometheusExpects)
{
    EXPECT_EQ(formatMetricValue(3), QByteArray("3"));
    EXPECT_EQ(formatMetricValue(0.005), QByteArray("0.005"));
    EXPECT_EQ(formatMetricValue(0.0001), QByteArray("0.0001")); // not "1e-04"
    EXPECT_EQ(formatMetricValue(0.00505), QByteArray("0.00505"));
    EXPECT_EQ(formatMetricValue(2.5e-7), QByteArray("2.5e-07"));
    EXPECT_EQ(formatMetricValue(1.5e20), QByteArray("1.5e+20"));
    EXPECT_EQ(formatMetricValue(std::numeric_limits<double>::infinity()), QByteArray("+Inf"));
    EXPECT_EQ(formatMetricValue(std::nan("")), QByteArray("NaN"));
}

namespace {
/// A GET answered 200 through route ns/r#0 by an upstream at 127.0.0.1.
AccessLogEntry proxiedGet()
{
    AccessLogEntry e;
    e.method = "GET";
    e.status = 200;
    e.route = "ns/r#0";
    e.resolvedAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    return e;
}
} // namespace

TEST(ProxyMetrics, HostsPastTheLimitCountAsOtherWithoutLookingUpTheFamily)
{
    // A cold name per request (#21, bench/dnswait.sh): once the destination family is full, a host never seen before
    // must not cost a label list and a search of the family (the memo answers "other" itself), and the answers stay
    // exactly the family's: the first `hostLimit` hosts get their own series, "other" appears with the first host
    // past the limit, a host literally named "other" shares it.
    MetricsRegistry r;
    ProxyMetrics m(r, 3);
    AccessLogEntry e = proxiedGet();
    for (const char *host : {"a.test", "other", "b.test"}) {
        e.host = host;
        m.observe(e);
    }
    EXPECT_EQ(m.destinations()->seriesCount(), 3u);
    const size_t lookups = m.destinations()->lookups();
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 1000; ++i) {
            e.host = "cold" + QByteArray::number(i) + ".test";
            m.observe(e);
            e.host = "a.test";
            m.observe(e);
        }
    }
    EXPECT_LE(m.destinations()->lookups() - lookups, 1u); // "other", once
    EXPECT_EQ(m.destinations()->seriesCount(), 3u);
    EXPECT_EQ(m.destinations()->labels({"a.test"}).value(), 2001u);
    EXPECT_EQ(m.destinations()->labels({"other"}).value(), 2001u);
    EXPECT_EQ(m.destinations()->labels({"b.test"}).value(), 1u);

    // Without a host named "other", the overflow series appears only with the first host past the limit.
    MetricsRegistry r2;
    ProxyMetrics m2(r2, 2);
    for (const char *host : {"a.test", "b.test", "a.test"}) {
        e.host = host;
        m2.observe(e);
    }
    EXPECT_FALSE(r2.exposition().contains("dfproxy_destination_requests_total{host=\"other\"}"));
    e.host = "c.test";
    m2.observe(e);
    EXPECT_TRUE(r2.exposition().contains("dfproxy_destination_requests_total{host=\"other\"} 1\n"));
    EXPECT_EQ(m2.destinations()->seriesCount(), 3u);
}

TEST(ProxyMetrics, CountsRequestsBytesAndBoundedDestinations)
{
    MetricsRegistry r;
    ProxyMetrics m(r, 2);
    AccessLogEntry e = proxiedGet();
    e.backend = "ns/b";
    e.bytesIn = 10;
    e.bytesOut = 100;
    e.totalUs = 20'000;
    for (const char *host : {"a.test", "b.test", "c.test", "d.test", "a.test"}) {
        e.host = host;
        m.observe(e);
    }
    EXPECT_EQ(m.requests()->labels({"", "ns/r#0", "ns/b", "GET", "200", ""}).value(), 5u);
    EXPECT_EQ(m.destinations()->labels({"a.test"}).value(), 2u);
    EXPECT_EQ(m.destinations()->labels({"other"}).value(), 2u);
    EXPECT_EQ(m.destinations()->seriesCount(), 3u);
    const QByteArray text = r.exposition();
    EXPECT_TRUE(text.contains("dfproxy_downstream_bytes_total{direction=\"sent\"} 500\n"));
    EXPECT_TRUE(text.contains("dfproxy_upstream_bytes_total{direction=\"sent\"} 50\n"));
    EXPECT_TRUE(text.contains("dfproxy_request_duration_seconds_bucket{route=\"ns/r#0\",le=\"0.025\"} 5\n"));
    EXPECT_TRUE(text.contains("dfproxy_build_info{version=\"" DFPROXY_VERSION "\"} 1\n"));
}

TEST(ProxyMetrics, CountsUpstreamProxyRequestsByProxyAndOutcome)
{
    MetricsRegistry r;
    ProxyMetrics m(r);
    AccessLogEntry e = proxiedGet();
    m.observe(e); // a backend without an upstream proxy: no series
    e.upstreamProxy = "proxy.corp:3128";
    m.observe(e);
    m.observe(e);
    e.reason = "upstream_proxy_auth_failed";
    e.status = 502;
    m.observe(e);
    e.upstreamProxy = "DIRECT";
    e.reason.clear();
    e.status = 200;
    m.observe(e);
    const QByteArray text = r.exposition();
    EXPECT_TRUE(text.contains(
        "dfproxy_upstream_proxy_requests_total{upstream_proxy=\"proxy.corp:3128\",outcome=\"forwarded\"} 2\n"))
        << text.constData();
    EXPECT_TRUE(text.contains("dfproxy_upstream_proxy_requests_total{upstream_proxy=\"proxy.corp:3128\","
                              "outcome=\"upstream_proxy_auth_failed\"} 1\n"));
    EXPECT_TRUE(text.contains("dfproxy_upstream_proxy_requests_total{upstream_proxy=\"DIRECT\",outcome=\"forwarded\"} 1\n"));
}

TEST(ProxyMetrics, DurationsUseMicrosecondsWhenTheProxyMeasuredThem)
{
    // A proxied request often takes a fraction of a millisecond: the histograms start at 100 us and take the
    // microsecond readings, so 250 us and 1.8 ms land in their own buckets instead of 0 and 1 ms.
    MetricsRegistry r;
    ProxyMetrics m(r, 10);
    AccessLogEntry e = proxiedGet();
    e.totalUs = 250;
    e.connectUs = 90;
    e.dnsUs = 400;
    e.dnsWaited = true; // the name was not in the cache
    m.observe(e);
    e.dnsWaited = false; // cache hits are not counted
    e.totalUs = 1800;
    e.upstreamReused = true; // no new connection: the connect histogram skips it
    m.observe(e);
    e.totalUs = 3000;
    m.observe(e);
    const QByteArray text = r.exposition();
    for (const char *line : {"dfproxy_request_duration_seconds_bucket{route=\"ns/r#0\",le=\"0.0001\"} 0\n",
                             "dfproxy_request_duration_seconds_bucket{route=\"ns/r#0\",le=\"0.00025\"} 1\n",
                             "dfproxy_request_duration_seconds_bucket{route=\"ns/r#0\",le=\"0.001\"} 1\n",
                             "dfproxy_request_duration_seconds_bucket{route=\"ns/r#0\",le=\"0.0025\"} 2\n",
                             "dfproxy_request_duration_seconds_bucket{route=\"ns/r#0\",le=\"0.005\"} 3\n",
                             "dfproxy_upstream_connect_duration_seconds_bucket{le=\"0.0001\"} 1\n",
                             "dfproxy_upstream_connect_duration_seconds_count 1\n",
                             "dfproxy_dns_wait_duration_seconds_bucket{le=\"0.00025\"} 0\n",
                             "dfproxy_dns_wait_duration_seconds_bucket{le=\"0.0005\"} 1\n",
                             "dfproxy_dns_wait_duration_seconds_count 1\n"})
        EXPECT_TRUE(text.contains(line)) << line << "\n" << text.constData();
}

// observe() remembers the series it looked up by the entry's own values: every label must still count apart, and
// the memo starting over past its bound must not lose or double a count.
TEST(ProxyMetrics, EveryLabelSetCountsApartAcrossTheSeriesMemo)
{
    MetricsRegistry r;
    ProxyMetrics m(r, 10000);
    AccessLogEntry e;
    e.gateway = "gw/g";
    e.backend = "ns/b";
    e.resolvedAddress = QHostAddress(QStringLiteral("127.0.0.1"));
    struct Variant
    {
        const char *route, *method;
        int status;
        const char *reason;
    };
    const Variant variants[] = {{"ns/r#0", "GET", 200, ""},   {"ns/r#0", "GET", 503, "dns_nxdomain"},
                                {"ns/r#0", "POST", 200, ""},  {"ns/r#1", "GET", 200, ""},
                                {"ns/r#0", "GET", 503, "dns_timeout"}};
    for (int round = 0; round < 3; ++round) {
        for (const auto &v : variants) {
            e.route = v.route;
            e.method = v.method;
            e.status = v.status;
            e.reason = v.reason;
            e.host = "svc.test";
            m.observe(e);
        }
    }
    // Each label set twice in a row: the second record is the memo's last hit, the first of the next set is not.
    for (const auto &v : variants) {
        e.route = v.route;
        e.method = v.method;
        e.status = v.status;
        e.reason = v.reason;
        m.observe(e);
        m.observe(e);
    }
    for (const auto &v : variants)
        EXPECT_EQ(m.requests()->labels({"gw/g", v.route, "ns/b", v.method, QString::number(v.status), v.reason})
                      .value(), 5u) << v.route << ' ' << v.method << ' ' << v.status << ' ' << v.reason;
    EXPECT_EQ(m.requests()->seriesCount(), 5u);

    // More distinct hosts than the memo holds (4096), twice over.
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 5000; ++i) {
            e.host = "h" + QByteArray::number(i) + ".test";
            m.observe(e);
        }
    }
    EXPECT_EQ(m.destinations()->seriesCount(), 5001u);
    EXPECT_EQ(m.destinations()->labels({"h0.test"}).value(), 2u);
    EXPECT_EQ(m.destinations()->labels({"h4999.test"}).value(), 2u);
    EXPECT_EQ(m.destinations()->labels({"svc.test"}).value(), 25u);
}
