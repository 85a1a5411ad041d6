// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/managedprocess.h"
#include "support/tempdir.h"

#include <QHostAddress>
#include <QList>
#include <QMap>
#include <QPair>
#include <QString>
#include <QStringList>

#include <memory>

namespace dfproxy::test {

// A real DNS server for integration tests: /usr/sbin/dnsmasq on its own loopback address (127.77.X.Y, port 53,
// distinct per test process and instance so ctest -j runs do not collide). Needs root (port 53).
// Names in options.localDomains that have no record answer NXDOMAIN; other unknown names answer REFUSED.
// Every query is logged, so tests can count how often the proxy really asked.
class Dnsmasq
{
public:
    struct Options
    {
        quint32 localTtl = 60;                              // TTL of every answer (--local-ttl)
        QStringList localDomains{QStringLiteral("test")};   // --local=/d/: authoritative, NXDOMAIN if unknown
        QList<QPair<QString, QHostAddress>> fixedAddresses; // --address=/name/ip (name and all subdomains)
    };

    Dnsmasq();
    explicit Dnsmasq(Options options);
    ~Dnsmasq();

    // True if dnsmasq is installed and we may bind port 53.
    static bool available();

    // Starts dnsmasq and waits until it answers; false (see errorString()) otherwise.
    bool start(int timeoutMs = 10000);
    QString errorString() const { return m_error; }

    // The address to send queries to (port 53). Valid once constructed.
    QHostAddress address() const { return m_address; }

    // Sets the A/AAAA records of name (replacing earlier ones) or removes them. While running, reloads dnsmasq
    // (SIGHUP; also clears its cache) and waits until it has re-read its records. False on failure.
    bool setHost(const QString &name, const QList<QHostAddress> &addresses);
    bool removeHost(const QString &name);

    // How many queries of type ("A", "AAAA", ...) for name dnsmasq has logged so far (case-insensitive).
    int queryCount(const QString &name, const QString &type = QStringLiteral("A")) const;
    // Waits until queryCount(name, type) >= atLeast (dnsmasq may log a moment after it answers).
    bool waitForQueryCount(const QString &name, int atLeast, int timeoutMs = 5000,
                           const QString &type = QStringLiteral("A")) const;
    // The query log so far.
    QString log() const;

    ManagedProcess *process() const { return m_process.get(); }
    QString describe() const;

private:
    bool writeHosts();
    bool reload(int timeoutMs);
    int hostsReadCount() const;

    Options m_options;
    TempDir m_dir;
    QHostAddress m_address;
    QMap<QString, QList<QHostAddress>> m_hosts;
    std::unique_ptr<ManagedProcess> m_process;
    QString m_error;
};

} // namespace dfproxy::test
