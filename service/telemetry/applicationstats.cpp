// SPDX-License-Identifier: Apache-2.0
#include "telemetry/applicationstats.h"

#include <QJsonArray>

#include <algorithm>

namespace dfproxy::telemetry {

namespace {

QString iso(const QDateTime &t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

/// Forgets the least recently seen entries of `map` beyond `max`, found at the front of `order`.
template <class Map>
void forgetOldest(Map &map, std::set<std::pair<qint64, QString>> &order, qsizetype max)
{
    while (map.size() > max && !order.empty()) {
        map.remove(order.begin()->second);
        order.erase(order.begin());
    }
}

} // namespace

ApplicationStats::ApplicationStats(int maxApplications, int maxHostsPerApplication)
    : m_maxApplications(maxApplications), m_maxHosts(maxHostsPerApplication)
{
}

void ApplicationStats::Counts::add(const AccessLogEntry &e, qint64 ms, ByLastSeen &order, const QString &key,
                                   bool fresh)
{
    ++requests;
    // Refused by a policy (authz, application, rate limit, authn, SSRF): the decision says so.
    if (e.decision.startsWith("deny"))
        ++denied;
    bytesIn += e.bytesIn;
    bytesOut += e.bytesOut;
    if (fresh) {
        lastSeen = e.time;
        lastSeenMs = ms;
        order.emplace(ms, key);
    } else if (ms > lastSeenMs) {
        auto node = order.extract({lastSeenMs, key}); // the node is reused: no allocation
        lastSeen = e.time;
        lastSeenMs = ms;
        if (node.empty()) {
            order.emplace(ms, key);
        } else {
            node.value().first = ms;
            order.insert(std::move(node));
        }
    }
}

void ApplicationStats::observe(const AccessLogEntry &e)
{
    const platform::ProcessInfo *app = e.application.get();
    if (!app || app->pid == 0 || app->path.isEmpty())
        return;
    const qint64 ms = e.time.isValid() ? e.time.toMSecsSinceEpoch() : 0;
    const QString appKey = app->user + u'\n' + app->path;
    QMutexLocker lock(&m_mutex);
    Application &a = m_apps[appKey];
    const bool newApp = a.processPath.isEmpty();
    if (newApp) {
        a.process = app->name;
        a.processPath = app->path;
        a.processUser = app->user;
        a.firstSeen = e.time;
    }
    if (!a.pids.contains(app->pid)) {
        a.pids.append(app->pid);
        if (a.pids.size() > 8)
            a.pids.removeFirst();
    }
    a.total.add(e, ms, m_appsByLastSeen, appKey, newApp);
    const QString host = QString::fromUtf8(e.host);
    const qsizetype hostsBefore = a.hosts.size();
    Counts &h = a.hosts[host];
    h.add(e, ms, a.hostsByLastSeen, host, a.hosts.size() != hostsBefore);
    forgetOldest(a.hosts, a.hostsByLastSeen, m_maxHosts);
    forgetOldest(m_apps, m_appsByLastSeen, m_maxApplications); // `a` may go: not used below
}

QJsonObject ApplicationStats::toJson() const
{
    QList<const Application *> apps;
    QMutexLocker lock(&m_mutex);
    for (const Application &a : m_apps)
        apps.append(&a);
    std::sort(apps.begin(), apps.end(),
              [](const Application *x, const Application *y) { return x->total.lastSeen > y->total.lastSeen; });
    QJsonArray items;
    for (const Application *a : apps) {
        QJsonArray pids;
        for (const qint64 pid : a->pids)
            pids.append(pid);
        QList<QPair<QString, const Counts *>> hosts;
        for (auto it = a->hosts.begin(); it != a->hosts.end(); ++it)
            hosts.append({it.key(), &it.value()});
        std::sort(hosts.begin(), hosts.end(), [](const auto &x, const auto &y) {
            return x.second->requests != y.second->requests ? x.second->requests > y.second->requests
                                                            : x.first < y.first;
        });
        QJsonArray hostItems;
        for (const auto &[host, c] : hosts)
            hostItems.append(QJsonObject{{"host", host},
                                         {"requests", c->requests},
                                         {"denied", c->denied},
                                         {"bytesIn", c->bytesIn},
                                         {"bytesOut", c->bytesOut},
                                         {"lastSeen", iso(c->lastSeen)}});
        items.append(QJsonObject{{"process", a->process},
                                 {"processPath", a->processPath},
                                 {"processUser", a->processUser},
                                 {"pids", pids},
                                 {"firstSeen", iso(a->firstSeen)},
                                 {"lastSeen", iso(a->total.lastSeen)},
                                 {"requests", a->total.requests},
                                 {"denied", a->total.denied},
                                 {"bytesIn", a->total.bytesIn},
                                 {"bytesOut", a->total.bytesOut},
                                 {"hosts", hostItems}});
    }
    return QJsonObject{{"items", items}};
}

} // namespace dfproxy::telemetry
