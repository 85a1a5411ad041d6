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

template <class Map>
void forgetOldest(Map &map, qsizetype max, const auto &lastSeenOf)
{
    while (map.size() > max) {
        auto oldest = map.begin();
        for (auto it = map.begin(); it != map.end(); ++it) {
            if (lastSeenOf(*it) < lastSeenOf(*oldest))
                oldest = it;
        }
        map.erase(oldest);
    }
}

} // namespace

ApplicationStats::ApplicationStats(int maxApplications, int maxHostsPerApplication)
    : m_maxApplications(maxApplications), m_maxHosts(maxHostsPerApplication)
{
}

void ApplicationStats::Counts::add(const AccessLogEntry &e)
{
    ++requests;
    // Refused by a policy (authz, application, rate limit, authn, SSRF): the decision says so.
    if (e.decision.startsWith("deny"))
        ++denied;
    bytesIn += e.bytesIn;
    bytesOut += e.bytesOut;
    if (!lastSeen.isValid() || e.time > lastSeen)
        lastSeen = e.time;
}

void ApplicationStats::observe(const AccessLogEntry &e)
{
    const platform::ProcessInfo *app = e.application.get();
    if (!app || app->pid == 0 || app->path.isEmpty())
        return;
    QMutexLocker lock(&m_mutex);
    Application &a = m_apps[app->user + u'\n' + app->path];
    if (a.processPath.isEmpty()) {
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
    a.total.add(e);
    a.hosts[QString::fromUtf8(e.host)].add(e);
    forgetOldest(a.hosts, m_maxHosts, [](const Counts &c) { return c.lastSeen; });
    forgetOldest(m_apps, m_maxApplications, [](const Application &x) { return x.total.lastSeen; });
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
