// SPDX-License-Identifier: Apache-2.0
#include "dashboard/statshistory.h"

#include "widgets/jsonutil.h"

#include <QJsonArray>

namespace dfproxy::gui {

namespace {

const QStringList kRequests = {"proxy.requestsTotal", "proxy.requests_total", "requestsTotal"};
const QStringList kHits = {"dns.cache_hit", "dns.cacheHit"};
const QStringList kMisses = {"dns.cache_miss", "dns.cacheMiss"};

double responses(const QJsonObject &s, const QString &cls)
{
    return numberAt(s, {"proxy.responsesByClass." + cls, "proxy.responses." + cls, "responsesByClass." + cls}).value_or(0);
}

// Finds an object describing latency: under a key containing "latency" (or "duration"), searched breadth-first.
QJsonObject findLatency(const QJsonObject &root)
{
    QList<QJsonObject> queue{root};
    while (!queue.isEmpty()) {
        const QJsonObject o = queue.takeFirst();
        for (auto it = o.begin(); it != o.end(); ++it) {
            if (!it.value().isObject())
                continue;
            const QString k = it.key().toLower();
            const QJsonObject v = it.value().toObject();
            if ((k.contains(QLatin1String("latency")) || k.contains(QLatin1String("duration")))
                && (v.contains("p50") || v.contains("p50Ms") || v.contains("buckets") || v.contains("total")))
                return v.contains("total") && v.value("total").isObject() ? v.value("total").toObject() : v;
            queue.append(v);
        }
    }
    return {};
}

QList<QPair<double, double>> buckets(const QJsonObject &latency)
{
    QList<QPair<double, double>> out;
    for (const auto &b : latency.value("buckets").toArray()) {
        const QJsonObject bo = b.toObject();
        const QJsonValue le = bo.value("le");
        const double bound = le.isString() ? (le.toString() == QLatin1String("+Inf") ? INFINITY : le.toString().toDouble())
                                           : le.toDouble(INFINITY);
        out.append({bound, bo.value("count").toDouble()});
    }
    return out;
}

} // namespace

std::optional<double> StatsHistory::quantile(const QList<QPair<double, double>> &b, double q)
{
    if (b.isEmpty() || b.last().second <= 0)
        return std::nullopt;
    const double target = q * b.last().second;
    double prevBound = 0, prevCount = 0;
    for (const auto &[bound, count] : b) {
        if (count >= target) {
            if (std::isinf(bound))
                return prevBound;
            // Linear inside the bucket, as Prometheus' histogram_quantile does.
            const double inBucket = count - prevCount;
            return inBucket <= 0 ? bound : prevBound + (bound - prevBound) * (target - prevCount) / inBucket;
        }
        prevBound = bound;
        prevCount = count;
    }
    return prevBound;
}

QJsonObject StatsHistory::latencyFromMetrics(const QJsonObject &metrics)
{
    const QJsonObject family = metrics.value("dfproxy_request_duration_seconds").toObject();
    QList<double> bounds;
    QList<double> counts;
    for (const auto &sv : family.value("series").toArray()) {
        const auto b = buckets(sv.toObject());
        if (bounds.isEmpty()) {
            for (const auto &[le, count] : b) {
                bounds.append(le);
                counts.append(count);
            }
        } else if (b.size() == bounds.size()) {
            for (int i = 0; i < b.size(); ++i)
                counts[i] += b[i].second;
        }
    }
    if (bounds.isEmpty())
        return {};
    QJsonArray out;
    for (int i = 0; i < bounds.size(); ++i)
        out.append(QJsonObject{{"le", std::isinf(bounds[i]) ? QJsonValue("+Inf") : QJsonValue(bounds[i] * 1000.0)},
                               {"count", counts[i]}});
    return QJsonObject{{"buckets", out}};
}

void StatsHistory::clear()
{
    m_samples.clear();
    m_previous.reset();
}

StatsSample StatsHistory::add(const QJsonObject &stats, qint64 timeMs)
{
    StatsSample s;
    s.timeMs = timeMs;
    s.activeConnections = numberAt(stats, {"proxy.activeConnections"}).value_or(NAN);
    s.activeTunnels = numberAt(stats, {"proxy.activeTunnels"}).value_or(NAN);
    const auto total = numberAt(stats, kRequests);
    s.requestsTotal = total.value_or(NAN);

    const QJsonObject latency = findLatency(stats);
    if (const auto p50 = numberAt(latency, {"p50", "p50Ms", "p50_ms"}))
        s.p50Ms = *p50;
    if (const auto p99 = numberAt(latency, {"p99", "p99Ms", "p99_ms"}))
        s.p99Ms = *p99;

    if (m_previous && timeMs > m_previousTime) {
        const QJsonObject &prev = *m_previous;
        const double dt = double(timeMs - m_previousTime) / 1000.0;
        const auto prevTotal = numberAt(prev, kRequests);
        if (total && prevTotal && *total >= *prevTotal) {
            s.requestsPerSecond = (*total - *prevTotal) / dt;
            double all = 0, d4 = 0, d5 = 0;
            for (const char *cls : {"1xx", "2xx", "3xx", "4xx", "5xx"}) {
                const double d = responses(stats, QLatin1String(cls)) - responses(prev, QLatin1String(cls));
                all += std::max(0.0, d);
            }
            d4 = std::max(0.0, responses(stats, "4xx") - responses(prev, "4xx"));
            d5 = std::max(0.0, responses(stats, "5xx") - responses(prev, "5xx"));
            if (all > 0) {
                s.clientErrorPercent = 100.0 * d4 / all;
                s.serverErrorPercent = 100.0 * d5 / all;
            } else {
                s.clientErrorPercent = s.serverErrorPercent = 0;
            }
        }
        const auto hits = numberAt(stats, kHits), misses = numberAt(stats, kMisses);
        const auto prevHits = numberAt(prev, kHits), prevMisses = numberAt(prev, kMisses);
        if (hits && misses && prevHits && prevMisses) {
            const double dh = *hits - *prevHits, dm = *misses - *prevMisses;
            if (dh >= 0 && dm >= 0 && dh + dm > 0)
                s.dnsHitPercent = 100.0 * dh / (dh + dm);
        }
        // A cumulative histogram: quantiles of this interval's observations.
        if (std::isnan(s.p50Ms) && latency.contains("buckets")) {
            const auto now = buckets(latency);
            const auto before = buckets(findLatency(prev));
            QList<QPair<double, double>> delta = now;
            if (before.size() == now.size()) {
                for (int i = 0; i < delta.size(); ++i)
                    delta[i].second -= before[i].second;
            }
            if (const auto p = quantile(delta, 0.5))
                s.p50Ms = *p;
            if (const auto p = quantile(delta, 0.99))
                s.p99Ms = *p;
        }
    }
    m_previous = stats;
    m_previousTime = timeMs;
    m_samples.push_back(s);
    while (int(m_samples.size()) > m_capacity)
        m_samples.pop_front();
    return s;
}

} // namespace dfproxy::gui
