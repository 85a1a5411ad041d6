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

ApplicationStats::Application &ApplicationStats::applicationOf(const std::shared_ptr<const platform::ProcessInfo> &info,
                                                               const QDateTime &time, bool *fresh)
{
    // The same process as the record before (the same information, or another connection's copy of it): its
    // application, and its pid is already the last of the list.
    if (const platform::ProcessInfo *last = m_last.info.get(); m_last.app && last
        && (last == info.get() || (last->pid == info->pid && last->path == info->path && last->user == info->user))) {
        *fresh = false;
        return *m_last.app;
    }
    QString key = info->user + u'\n' + info->path;
    Application &a = m_apps[key];
    *fresh = a.processPath.isEmpty();
    if (*fresh) {
        a.process = info->name;
        a.processPath = info->path;
        a.processUser = info->user;
        a.firstSeen = time;
    }
    if (!a.pids.contains(info->pid)) {
        a.pids.append(info->pid);
        if (a.pids.size() > 8)
            a.pids.removeFirst();
    }
    // An insertion may have moved every application: only this one is remembered.
    m_last = {info, &a, std::move(key), {}, {}, nullptr};
    return a;
}

ApplicationStats::Counts &ApplicationStats::hostOf(Application &a, const QByteArray &host, bool *fresh)
{
    if (m_last.hostCounts && m_last.host == host) {
        *fresh = false;
        return *m_last.hostCounts;
    }
    QString key = QString::fromUtf8(host);
    const qsizetype before = a.hosts.size();
    Counts &c = a.hosts[key];
    *fresh = a.hosts.size() != before;
    m_last.host = host;
    m_last.hostKey = std::move(key);
    m_last.hostCounts = &c;
    return c;
}

void ApplicationStats::observe(const AccessLogEntry &e)
{
    const platform::ProcessInfo *app = e.application.get();
    if (!app || app->pid == 0 || app->path.isEmpty())
        return;
    const qint64 ms = e.time.isValid() ? e.time.toMSecsSinceEpoch() : 0;
    QMutexLocker lock(&m_mutex);
    bool newApp = false, newHost = false;
    Application &a = applicationOf(e.application, e.time, &newApp);
    a.total.add(e, ms, m_appsByLastSeen, m_last.appKey, newApp);
    hostOf(a, e.host, &newHost).add(e, ms, a.hostsByLastSeen, m_last.hostKey, newHost);
    if (a.hosts.size() > m_maxHosts) {
        forgetOldest(a.hosts, a.hostsByLastSeen, m_maxHosts);
        m_last.hostCounts = nullptr;
    }
    if (m_apps.size() > m_maxApplications) {
        forgetOldest(m_apps, m_appsByLastSeen, m_maxApplications); // `a` may go: not used below
        m_last = {};
    }
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
