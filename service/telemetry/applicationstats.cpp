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

ApplicationStats::Application &ApplicationStats::applicationOf(const std::shared_ptr<const platform::ProcessInfo> &info,
                                                               const QDateTime &time)
{
    // The same process as the record before (the same information, or another connection's copy of it): its
    // application, and its pid is already the last of the list.
    if (const platform::ProcessInfo *last = m_last.info.get(); m_last.app && last
        && (last == info.get() || (last->pid == info->pid && last->path == info->path && last->user == info->user)))
        return *m_last.app;
    Application &a = m_apps[info->user + u'\n' + info->path];
    if (a.processPath.isEmpty()) {
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
    m_last = {info, &a, {}, nullptr};
    return a;
}

ApplicationStats::Counts &ApplicationStats::hostOf(Application &a, const QByteArray &host)
{
    if (m_last.hostCounts && m_last.host == host)
        return *m_last.hostCounts;
    Counts &c = a.hosts[QString::fromUtf8(host)];
    m_last.host = host;
    m_last.hostCounts = &c;
    return c;
}

void ApplicationStats::observe(const AccessLogEntry &e)
{
    const platform::ProcessInfo *app = e.application.get();
    if (!app || app->pid == 0 || app->path.isEmpty())
        return;
    QMutexLocker lock(&m_mutex);
    Application &a = applicationOf(e.application, e.time);
    a.total.add(e);
    hostOf(a, e.host).add(e);
    if (a.hosts.size() > m_maxHosts) {
        forgetOldest(a.hosts, m_maxHosts, [](const Counts &c) { return c.lastSeen; });
        m_last.hostCounts = nullptr;
    }
    if (m_apps.size() > m_maxApplications) {
        forgetOldest(m_apps, m_maxApplications, [](const Application &x) { return x.total.lastSeen; });
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
