// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/curl.h"
#include "support/managedprocess.h"
#include "support/tempdir.h"

#include <QHostAddress>
#include <QJsonArray>
#include <QJsonObject>
#include <QStringList>

#include <memory>

namespace dfproxy::test {

/// The real `dfproxy` binary on its own config in a temp dir: the default Gateway (agentgateway-proxy in
/// agentgateway-system) with its HTTP listener and the admin API on free loopback ports, resolving through
/// the given DNS server.
class DfproxyProcess
{
public:
    struct Options
    {
        QStringList dnsServers;     ///< dns.servers (a dnsmasq or TestDnsServer address)
        QJsonObject dnsBlock;       ///< extra dns settings, merged over servers
        QJsonArray extraResources;  ///< added after the Gateway
        int workers = 2;
        QJsonObject proxyBlock;     ///< extra proxy settings (requestHeadTimeoutMs, ...), merged with workers
        QJsonObject adminBlock;     ///< extra admin settings (headTimeoutMs, maxConnections, ...), merged with address/port
        QStringList extraArgs;
        QStringList extraEnvironment; ///< "NAME=value" entries added to the test's environment
    };
    DfproxyProcess();
    explicit DfproxyProcess(Options options);
    ~DfproxyProcess();

    /// Writes the config, starts dfproxy and waits until the listener and the admin API accept connections.
    bool start(int timeoutMs = 15000);
    /// Restarts on the same config file and ports.
    bool restart(int timeoutMs = 15000);
    QString errorString() const { return m_error; }

    quint16 proxyPort() const { return m_proxyPort; }
    quint16 adminPort() const { return m_adminPort; }
    QString proxyUrl(const QString &path = QStringLiteral("/")) const;
    QString adminUrl(const QString &path = QStringLiteral("/")) const;
    QString configPath() const { return m_dir.filePath("config.json"); }
    QByteArray token() const;
    /// "Authorization: Bearer <token>": the header every admin API call but the health checks needs.
    QString authorization() const;
    /// Calls the admin API with curl and the bearer token (none when `auth` is false). A body, when not null, goes
    /// through a temporary file (bodies over 128 KiB do not fit in argv).
    CurlResult api(const QString &method, const QString &path, const QByteArray &body = {},
                   const QString &contentType = QStringLiteral("application/json"),
                   const QStringList &extraHeaders = {}, bool auth = true) const;
    /// GET `path` on the admin API, with the token.
    CurlResult apiGet(const QString &path) const { return api(QStringLiteral("GET"), path); }
    const TempDir &dir() const { return m_dir; }
    ManagedProcess *process() const { return m_process.get(); }
    QString describe() const;

    struct CtlResult
    {
        int exitCode = -1;
        QString out;
        QString err;
    };
    /// Runs `dfproxyctl --config <this config> args...`, feeding `stdinData` when given.
    CtlResult ctl(const QStringList &args, const QByteArray &stdinData = {}, int timeoutMs = 30000) const;

private:
    Options m_options;
    TempDir m_dir;
    quint16 m_proxyPort = 0;
    quint16 m_adminPort = 0;
    std::unique_ptr<ManagedProcess> m_process;
    QString m_error;
};

} // namespace dfproxy::test
