// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QJsonObject>
#include <QList>

#include <cmath>
#include <deque>
#include <optional>

namespace dfproxy::gui {

/// One point of the dashboard's charts, computed from two successive GET /api/v1/stats answers.
/// NaN means "unknown in this interval" (no traffic, or the service does not report it).
struct StatsSample
{
    qint64 timeMs = 0;
    double requestsPerSecond = NAN;
    double clientErrorPercent = NAN; ///< 4xx share of responses in the interval
    double serverErrorPercent = NAN; ///< 5xx share
    double p50Ms = NAN;
    double p99Ms = NAN;
    double dnsHitPercent = NAN;      ///< cache_hit / (cache_hit + cache_miss) in the interval
    double activeConnections = NAN;
    double activeTunnels = NAN;
    double requestsTotal = NAN;
};

/// Turns the counters of successive stats snapshots into rates and ratios. Tolerant of missing keys and of shapes
/// other service versions may use: latency as {p50, p99} (or p50Ms…) anywhere under a key containing "latency",
/// or a cumulative histogram {buckets: [{le, count}]} from which the interval's quantiles are estimated.
/// Counters that go down (service restarted) start a new baseline.
class StatsHistory
{
public:
    explicit StatsHistory(int capacity = 300) : m_capacity(capacity) {}

    /// Adds a snapshot taken at `timeMs`; returns the sample (rates are NaN for the first snapshot).
    StatsSample add(const QJsonObject &stats, qint64 timeMs);
    const std::deque<StatsSample> &samples() const { return m_samples; }
    void clear();

    /// Sums the series of the request-duration histogram in a GET /api/v1/metrics answer (seconds) into
    /// {"buckets": [{le, count}]} in milliseconds; empty when the metrics have no such histogram.
    static QJsonObject latencyFromMetrics(const QJsonObject &metrics);
    /// Quantile q (0..1) from cumulative buckets (le ascending, counts cumulative); nullopt when empty.
    static std::optional<double> quantile(const QList<QPair<double, double>> &cumulativeBuckets, double q);

private:
    int m_capacity;
    std::deque<StatsSample> m_samples;
    std::optional<QJsonObject> m_previous;
    qint64 m_previousTime = 0;
};

} // namespace dfproxy::gui
