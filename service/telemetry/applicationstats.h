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
    struct Counts
    {
        qint64 requests = 0, denied = 0, bytesIn = 0, bytesOut = 0;
        QDateTime lastSeen;
        void add(const AccessLogEntry &e);
    };
    struct Application
    {
        QString process, processPath, processUser;
        QList<qint64> pids;
        QDateTime firstSeen;
        Counts total;
        QHash<QString, Counts> hosts;
    };

    /// The slot of the record before: nearly every record comes from the program and goes to the host the one
    /// before did (one client, one origin), and building the key, hashing it and converting the host cost more
    /// than the counting. Pointers into the hashes, so reset whenever an entry is inserted or forgotten.
    struct LastSlot
    {
        std::shared_ptr<const platform::ProcessInfo> info; ///< held: its address cannot be reused meanwhile
        Application *app = nullptr;
        QByteArray host;
        Counts *hostCounts = nullptr;
    };
    Application &applicationOf(const std::shared_ptr<const platform::ProcessInfo> &info, const QDateTime &time);
    Counts &hostOf(Application &a, const QByteArray &host);

    int m_maxApplications, m_maxHosts;
    mutable QMutex m_mutex;
    QHash<QString, Application> m_apps; ///< by processUser + '\n' + processPath
    LastSlot m_last;
};

} // namespace dfproxy::telemetry
