// SPDX-License-Identifier: Apache-2.0
#include "telemetry/metrics.h"

#include <QJsonArray>
#include <QLocale>

#include <algorithm>
#include <cmath>
#include <variant>

namespace dfproxy::telemetry {

Histogram::Histogram(std::vector<double> upperBounds) : m_bounds(std::move(upperBounds))
{
    std::sort(m_bounds.begin(), m_bounds.end());
    m_bounds.erase(std::unique(m_bounds.begin(), m_bounds.end()), m_bounds.end());
    if (!m_bounds.empty() && std::isinf(m_bounds.back()))
        m_bounds.pop_back();
    m_buckets = std::make_unique<std::atomic<quint64>[]>(m_bounds.size() + 1);
    for (size_t i = 0; i <= m_bounds.size(); ++i)
        m_buckets[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v)
{
    const size_t i = size_t(std::lower_bound(m_bounds.begin(), m_bounds.end(), v) - m_bounds.begin());
    m_buckets[i].fetch_add(1, std::memory_order_relaxed);
    m_sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const
{
    Snapshot s;
    s.upperBounds = m_bounds;
    quint64 running = 0;
    for (size_t i = 0; i <= m_bounds.size(); ++i) {
        running += m_buckets[i].load(std::memory_order_relaxed);
        s.cumulativeCounts.push_back(running);
    }
    s.count = running;
    s.sum = m_sum.load(std::memory_order_relaxed);
    return s;
}

struct MetricsRegistry::Entry
{
    std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>, std::unique_ptr<HistogramFamily>> family;
    QString name() const
    {
        return std::visit([](const auto &f) { return f->name(); }, family);
    }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

template<class F, class Make>
F *MetricsRegistry::findOrAdd(const QString &name, Make make)
{
    std::lock_guard lock(m_mutex);
    for (const auto &e : m_entries) {
        if (e->name() == name && std::holds_alternative<std::unique_ptr<F>>(e->family))
            return std::get<std::unique_ptr<F>>(e->family).get();
    }
    std::unique_ptr<F> f = make();
    F *raw = f.get();
    m_entries.push_back(std::make_unique<Entry>(Entry{std::move(f)}));
    return raw;
}

CounterFamily *MetricsRegistry::counter(const QString &name, const QString &help, const QStringList &labelNames)
{
    return findOrAdd<CounterFamily>(name, [&] {
        return std::make_unique<CounterFamily>(name, help, labelNames, [] { return std::make_unique<Counter>(); });
    });
}

GaugeFamily *MetricsRegistry::gauge(const QString &name, const QString &help, const QStringList &labelNames)
{
    return findOrAdd<GaugeFamily>(name, [&] {
        return std::make_unique<GaugeFamily>(name, help, labelNames, [] { return std::make_unique<Gauge>(); });
    });
}

HistogramFamily *MetricsRegistry::histogram(const QString &name, const QString &help, const QStringList &labelNames,
                                            std::vector<double> upperBounds)
{
    return findOrAdd<HistogramFamily>(name, [&] {
        return std::make_unique<HistogramFamily>(
            name, help, labelNames, [b = std::move(upperBounds)] { return std::make_unique<Histogram>(b); });
    });
}

void MetricsRegistry::addCollector(Collector collector)
{
    std::lock_guard lock(m_mutex);
    m_collectors.push_back(std::move(collector));
}

std::vector<double> MetricsRegistry::durationBuckets()
{
    // From 100 us: a proxied request on a LAN or loopback takes a fraction of a millisecond.
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

QByteArray formatMetricValue(double v)
{
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15)
        return QByteArray::number(static_cast<qint64>(v));
    // Plain decimals where they are short enough (bucket bounds read "0.0001", not Qt's shorter "1e-04"), as the
    // Prometheus client libraries write them.
    const double a = std::fabs(v);
    if (a >= 1e-4 && a < 1e15)
        return QString::number(v, 'f', QLocale::FloatingPointShortest).toLatin1();
    return QString::number(v, 'g', QLocale::FloatingPointShortest).toLatin1();
}

QByteArray escapeLabelValue(const QString &v)
{
    QByteArray out;
    const QByteArray utf8 = v.toUtf8();
    out.reserve(utf8.size());
    for (char c : utf8) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

namespace {

QByteArray escapeHelp(const QString &v)
{
    return v.toUtf8().replace('\\', "\\\\").replace('\n', "\\n");
}

QByteArray labelText(const QStringList &names, const QStringList &values, const QByteArray &extra = {})
{
    QByteArray out;
    for (qsizetype i = 0; i < names.size(); ++i) {
        if (!out.isEmpty())
            out += ',';
        out += names[i].toUtf8() + "=\"" + escapeLabelValue(values.value(i)) + '"';
    }
    if (!extra.isEmpty()) {
        if (!out.isEmpty())
            out += ',';
        out += extra;
    }
    return out.isEmpty() ? out : '{' + out + '}';
}

void header(QByteArray &out, const QString &name, const QString &help, const char *type)
{
    out += "# HELP " + name.toUtf8() + ' ' + escapeHelp(help) + '\n';
    out += "# TYPE " + name.toUtf8() + ' ' + type + '\n';
}

QJsonObject labelsJson(const QStringList &names, const QStringList &values)
{
    QJsonObject o;
    for (qsizetype i = 0; i < names.size(); ++i)
        o.insert(names[i], values.value(i));
    return o;
}

const char *typeName(MetricType t)
{
    switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
    }
    return "untyped";
}

} // namespace

QByteArray MetricsRegistry::exposition() const
{
    QByteArray out;
    out.reserve(16 * 1024);
    std::vector<Collector> collectors;
    {
        std::lock_guard lock(m_mutex);
        collectors = m_collectors;
        for (const auto &e : m_entries) {
            std::visit(
                [&out](const auto &f) {
                    using F = std::decay_t<decltype(*f)>;
                    const QString &name = f->name();
                    if constexpr (std::is_same_v<F, CounterFamily>) {
                        header(out, name, f->help(), "counter");
                        f->forEach([&](const LabelValues &v, const Counter &c) {
                            out += name.toUtf8() + labelText(f->labelNames(), v) + ' '
                                   + QByteArray::number(c.value()) + '\n';
                        });
                    } else if constexpr (std::is_same_v<F, GaugeFamily>) {
                        header(out, name, f->help(), "gauge");
                        f->forEach([&](const LabelValues &v, const Gauge &g) {
                            out += name.toUtf8() + labelText(f->labelNames(), v) + ' ' + formatMetricValue(g.value())
                                   + '\n';
                        });
                    } else {
                        header(out, name, f->help(), "histogram");
                        f->forEach([&](const LabelValues &v, const Histogram &h) {
                            const auto s = h.snapshot();
                            for (size_t i = 0; i <= s.upperBounds.size(); ++i) {
                                const QByteArray le = i < s.upperBounds.size() ? formatMetricValue(s.upperBounds[i])
                                                                               : QByteArray("+Inf");
                                out += name.toUtf8() + "_bucket" + labelText(f->labelNames(), v, "le=\"" + le + '"')
                                       + ' ' + QByteArray::number(s.cumulativeCounts[i]) + '\n';
                            }
                            out += name.toUtf8() + "_sum" + labelText(f->labelNames(), v) + ' '
                                   + formatMetricValue(s.sum) + '\n';
                            out += name.toUtf8() + "_count" + labelText(f->labelNames(), v) + ' '
                                   + QByteArray::number(s.count) + '\n';
                        });
                    }
                },
                e->family);
        }
    }
    for (const auto &collect : collectors) {
        for (const auto &fam : collect()) {
            header(out, fam.name, fam.help, typeName(fam.type));
            for (const auto &s : fam.samples) {
                QStringList names, values;
                for (const auto &l : s.labels) {
                    names << l.first;
                    values << l.second;
                }
                out += fam.name.toUtf8() + labelText(names, values) + ' ' + formatMetricValue(s.value) + '\n';
            }
        }
    }
    return out;
}

QJsonObject MetricsRegistry::toJson() const
{
    QJsonObject out;
    std::vector<Collector> collectors;
    {
        std::lock_guard lock(m_mutex);
        collectors = m_collectors;
        for (const auto &e : m_entries) {
            std::visit(
                [&out](const auto &f) {
                    using F = std::decay_t<decltype(*f)>;
                    QJsonArray series;
                    MetricType type = MetricType::Counter;
                    if constexpr (std::is_same_v<F, CounterFamily>) {
                        f->forEach([&](const LabelValues &v, const Counter &c) {
                            series.append(QJsonObject{{"labels", labelsJson(f->labelNames(), v)},
                                                      {"value", double(c.value())}});
                        });
                    } else if constexpr (std::is_same_v<F, GaugeFamily>) {
                        type = MetricType::Gauge;
                        f->forEach([&](const LabelValues &v, const Gauge &g) {
                            series.append(QJsonObject{{"labels", labelsJson(f->labelNames(), v)}, {"value", g.value()}});
                        });
                    } else {
                        type = MetricType::Histogram;
                        f->forEach([&](const LabelValues &v, const Histogram &h) {
                            const auto s = h.snapshot();
                            QJsonArray buckets;
                            for (size_t i = 0; i < s.upperBounds.size(); ++i)
                                buckets.append(QJsonObject{{"le", s.upperBounds[i]},
                                                           {"count", double(s.cumulativeCounts[i])}});
                            buckets.append(QJsonObject{{"le", "+Inf"}, {"count", double(s.count)}});
                            series.append(QJsonObject{{"labels", labelsJson(f->labelNames(), v)},
                                                      {"buckets", buckets},
                                                      {"count", double(s.count)},
                                                      {"sum", s.sum}});
                        });
                    }
                    out.insert(f->name(), QJsonObject{{"type", typeName(type)}, {"help", f->help()}, {"series", series}});
                },
                e->family);
        }
    }
    for (const auto &collect : collectors) {
        for (const auto &fam : collect()) {
            QJsonArray series;
            for (const auto &s : fam.samples) {
                QJsonObject labels;
                for (const auto &l : s.labels)
                    labels.insert(l.first, l.second);
                series.append(QJsonObject{{"labels", labels}, {"value", s.value}});
            }
            out.insert(fam.name, QJsonObject{{"type", typeName(fam.type)}, {"help", fam.help}, {"series", series}});
        }
    }
    return out;
}

} // namespace dfproxy::telemetry
