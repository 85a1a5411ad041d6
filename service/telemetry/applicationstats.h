// SPDX-License-Identifier: Apache-2.0
#pragma once
// Every program seen behind the proxy's local clients and the hosts it reached (docs/applications.md), built from
// the access-log records: GET /api/v1/applications, `dfproxyctl apps`, the console's Applications page.

#include "telemetry/accesslogentry.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QMutex>
#include <QString>

#include <memory>
#include <set>
#include <utility>

namespace dfproxy::telemetry {

class ApplicationStats
{
public:
    /// Bounds: the least recently seen application (and, per application, host) is forgotten beyond these.
    explicit ApplicationStats(int maxApplications = 1000, int maxHostsPerApplication = 256);

    /// Counts one record; records without a program (another machine, lookup off) are skipped. Thread-safe.
    void observe(const AccessLogEntry &e);
    /// {"items": [{"process", "processPath", "processUser", "pids": [..last 8], "firstSeen", "lastSeen",
    ///   "requests", "denied", "bytesIn", "bytesOut", "hosts": [{"host", "requests", "denied", "bytesIn",
    ///   "bytesOut", "lastSeen"}]}]}, most recently seen first. Thread-safe.
    QJsonObject toJson() const;

private:
    /// (lastSeen in ms since the epoch, key), least recently seen first: what goes beyond a bound is found at the
    /// front instead of by a scan of every host. A program reaching new hosts all the time (a crawler, a benchmark)
    /// went past maxHostsPerApplication on every request, and the scan of its 256 hosts cost more than the rest
    /// of the request's handling.
    using ByLastSeen = std::set<std::pair<qint64, QString>>;
    struct Counts
    {
        qint64 requests = 0, denied = 0, bytesIn = 0, bytesOut = 0;
        QDateTime lastSeen;
        qint64 lastSeenMs = 0; ///< lastSeen, as ordered in ByLastSeen
        /// Counts `e` (seen at `ms`) and keeps `key`'s place in `order` (inserted when `fresh`).
        void add(const AccessLogEntry &e, qint64 ms, ByLastSeen &order, const QString &key, bool fresh);
    };
    struct Application
    {
        QString process, processPath, processUser;
        QList<qint64> pids;
        QDateTime firstSeen;
        Counts total;
        QHash<QString, Counts> hosts;
        ByLastSeen hostsByLastSeen;
    };

    /// The slot of the record before: nearly every record comes from the program and goes to the host the one
    /// before did (one client, one origin), and building the key, hashing it and converting the host cost more
    /// than the counting. Pointers into the hashes, so reset whenever an entry is inserted or forgotten.
    struct LastSlot
    {
        std::shared_ptr<const platform::ProcessInfo> info; ///< held: its address cannot be reused meanwhile
        Application *app = nullptr;
        QString appKey; ///< app's key in m_apps and m_appsByLastSeen
        QByteArray host;
        QString hostKey; ///< host's key in app->hosts and app->hostsByLastSeen
        Counts *hostCounts = nullptr;
    };
    /// The application of `info` (`fresh`: created now); m_last.appKey is its key afterwards.
    Application &applicationOf(const std::shared_ptr<const platform::ProcessInfo> &info, const QDateTime &time,
                               bool *fresh);
    /// `a`'s counts for `host` (`fresh`: created now); m_last.hostKey is its key afterwards.
    Counts &hostOf(Application &a, const QByteArray &host, bool *fresh);

    int m_maxApplications, m_maxHosts;
    mutable QMutex m_mutex;
    QHash<QString, Application> m_apps; ///< by processUser + '\n' + processPath
    ByLastSeen m_appsByLastSeen;
    LastSlot m_last;
};

} // namespace dfproxy::telemetry
