// SPDX-License-Identifier: Apache-2.0
#pragma once
// The metrics registry: lock-free counters, gauges and histograms, rendered as Prometheus text (GET /metrics)
// and as JSON (GET /api/v1/metrics).

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QPair>
#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace dfproxy::telemetry {

/// A monotonically increasing count. inc() is one relaxed atomic add: cheap on any thread.
class Counter
{
public:
    void inc(quint64 n = 1) { m_value.fetch_add(n, std::memory_order_relaxed); }
    quint64 value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<quint64> m_value{0};
};

/// A value that goes up and down. Lock-free, any thread.
class Gauge
{
public:
    void set(double v) { m_value.store(v, std::memory_order_relaxed); }
    void add(double v) { m_value.fetch_add(v, std::memory_order_relaxed); }
    double value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> m_value{0};
};

/// Observations counted in fixed buckets (upper bounds, ascending; +Inf is implicit). Lock-free, any thread.
class Histogram
{
public:
    explicit Histogram(std::vector<double> upperBounds);
    void observe(double v);

    struct Snapshot
    {
        std::vector<double> upperBounds;
        std::vector<quint64> cumulativeCounts; ///< one per bound, then +Inf (== count)
        quint64 count = 0;
        double sum = 0;
    };
    Snapshot snapshot() const;

private:
    std::vector<double> m_bounds;
    std::unique_ptr<std::atomic<quint64>[]> m_buckets; // non-cumulative, m_bounds.size() + 1 (+Inf)
    std::atomic<double> m_sum{0};
};

/// Label values of one series, in the order of the family's label names.
using LabelValues = QStringList;

enum class MetricType { Counter, Gauge, Histogram };

/// One metric name with its labelled series. labels() finds or creates a series: a shared lock for the lookup
/// (an exclusive one only the first time a label set is seen); the returned reference stays valid for the
/// family's lifetime, so hot paths may cache it. With a series limit, label sets past the limit share the
/// overflow series (e.g. host="other"), which keeps cardinality bounded and every series monotonic.
template <class Metric>
class Family
{
public:
    Family(QString name, QString help, QStringList labelNames, std::function<std::unique_ptr<Metric>()> make)
        : m_name(std::move(name)), m_help(std::move(help)), m_labelNames(std::move(labelNames)), m_make(std::move(make))
    {
    }

    /// The series for `values` (missing values are empty, extra ones ignored).
    Metric &labels(LabelValues values)
    {
        values.resize(m_labelNames.size());
        m_lookups.fetch_add(1, std::memory_order_relaxed);
        {
            std::shared_lock lock(m_mutex);
            if (auto it = m_series.find(values); it != m_series.end())
                return *it->second;
        }
        std::unique_lock lock(m_mutex);
        if (auto it = m_series.find(values); it != m_series.end())
            return *it->second;
        if (m_limit > 0 && m_series.size() >= m_limit) {
            values = m_overflow;
            if (auto it = m_series.find(values); it != m_series.end())
                return *it->second;
        }
        auto &slot = m_series[values];
        slot = m_make();
        return *slot;
    }
    /// The series without labels (families with no label names).
    Metric &get() { return labels({}); }

    /// At most `maxSeries` distinct label sets; later ones go to `overflowValues` (which may add one more series).
    void setSeriesLimit(size_t maxSeries, LabelValues overflowValues)
    {
        std::unique_lock lock(m_mutex);
        m_limit = maxSeries;
        overflowValues.resize(m_labelNames.size());
        m_overflow = std::move(overflowValues);
    }
    size_t seriesCount() const
    {
        std::shared_lock lock(m_mutex);
        return m_series.size();
    }

    /// How many times labels() was called: tests check that per-record paths look series up once, not per record.
    size_t lookups() const { return m_lookups.load(std::memory_order_relaxed); }

    const QString &name() const { return m_name; }
    const QString &help() const { return m_help; }
    const QStringList &labelNames() const { return m_labelNames; }

    /// Calls f(labelValues, metric) for each series in label order, under the shared lock.
    template <class F>
    void forEach(F &&f) const
    {
        std::shared_lock lock(m_mutex);
        for (const auto &[values, metric] : m_series)
            f(values, *metric);
    }

private:
    QString m_name, m_help;
    QStringList m_labelNames;
    std::function<std::unique_ptr<Metric>()> m_make;
    mutable std::shared_mutex m_mutex;
    std::map<LabelValues, std::unique_ptr<Metric>> m_series;
    size_t m_limit = 0;
    LabelValues m_overflow;
    std::atomic<size_t> m_lookups{0};
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

/// A sample produced at scrape time by a collector (values owned elsewhere, e.g. the DNS cache's counters).
struct CollectedSample
{
    QList<QPair<QString, QString>> labels;
    double value = 0;
};
struct CollectedFamily
{
    QString name;
    QString help;
    MetricType type = MetricType::Gauge; ///< Counter or Gauge
    QList<CollectedSample> samples;
};
using Collector = std::function<QList<CollectedFamily>()>;

/// The process's metrics. Register families at startup (main thread); update series from any thread; render
/// with exposition() (Prometheus text format 0.0.4) or toJson() from any thread.
class MetricsRegistry
{
public:
    MetricsRegistry();
    ~MetricsRegistry();

    /// Registers a family; the pointer stays valid for the registry's lifetime. Registering a name twice
    /// returns the first family (same type expected).
    CounterFamily *counter(const QString &name, const QString &help, const QStringList &labelNames = {});
    GaugeFamily *gauge(const QString &name, const QString &help, const QStringList &labelNames = {});
    HistogramFamily *histogram(const QString &name, const QString &help, const QStringList &labelNames,
                               std::vector<double> upperBounds);
    /// Adds a scrape-time source of samples. Called from the scraping thread; must be thread-safe.
    void addCollector(Collector collector);

    /// Prometheus text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
    QByteArray exposition() const;
    /// The same figures as JSON: {"<name>": {"type", "help", "series": [{"labels": {..}, "value"} |
    /// {"labels", "buckets": [{"le", "count"}], "count", "sum"}]}}.
    QJsonObject toJson() const;

    /// Default buckets for durations in seconds (1 ms .. 60 s).
    static std::vector<double> durationBuckets();

private:
    struct Entry;
    /// The family F registered as `name`, or a new one made by `make()` (registration is idempotent).
    template<class F, class Make>
    F *findOrAdd(const QString &name, Make make);

    mutable std::mutex m_mutex; // the registration lists (series have their own locks)
    std::vector<std::unique_ptr<Entry>> m_entries;
    std::vector<Collector> m_collectors;
};

/// Prometheus number formatting: shortest round-trip text, "+Inf", "-Inf", "NaN".
QByteArray formatMetricValue(double v);
/// Escapes a label value (backslash, double quote, newline).
QByteArray escapeLabelValue(const QString &v);

} // namespace dfproxy::telemetry
