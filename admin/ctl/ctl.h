// SPDX-License-Identifier: Apache-2.0
#pragma once
// dfproxyctl: the kubectl-like command-line client of the admin API.

#include "client/apiclient.h"
#include "config/resource.h"
#include "desktop/systemproxy.h"

#include <QCommandLineParser>
#include <QTextStream>
#include <QUrlQuery>

namespace dfproxy::ctl {

/// One run of dfproxyctl: global options, the command, and where output goes. Exit codes: 0 ok, 1 error.
class Ctl
{
public:
    Ctl(QTextStream &out, QTextStream &err) : m_out(out), m_err(err) {}

    /// Runs the command line (argv as QStringList, program name first). Returns the process exit code.
    int run(const QStringList &args);

private:
    int cmdApply();
    /// Prints a warning line for each applied policy whose status says it is not in effect (Conflicted, Invalid).
    void warnAboutPolicies(const QJsonArray &results);
    int cmdGet();
    int cmdDescribe();
    int cmdDelete();
    int cmdExport();
    int exportFor(const QString &engine, const QString &format, QUrlQuery query);
    int cmdVersion();
    int cmdEdit();
    int cmdDns();
    int cmdStats();
    int cmdApps();
    int cmdLogs();
    int cmdServer();
    /// system-proxy on|off|status|env: changes the desktop's settings in this (the user's) process (desktop/).
    int cmdSystemProxy();
    /// GET /api/v1/system-proxy: where the desktop should point. Prints the error and returns nullopt on failure.
    std::optional<desktop::ProxyTarget> systemProxyTarget();
    int printServerObject(const QString &path, const QString &defaultFormat, const QString &command);

    void addGlobalOptions(QCommandLineParser &parser);
    /// Sets up m_client from --server/--token/--token-file/--config, DFPROXY_SERVER/DFPROXY_TOKEN, or discovery.
    bool connectClient();
    /// Prints a failed call (problem detail, field errors, hints for 401 / connection refused).
    void printError(const client::ApiError &e, const QList<QPair<QString, QString>> &itemNames = {});
    /// Reads manifests from files ("-" is stdin): YAML or JSON, multi-document, Lists flattened.
    std::optional<QJsonArray> readManifests(const QStringList &files);
    /// Resolves a kind the user typed ("backends", "httproute", "gw") or prints an error.
    std::optional<config::KindInfo> kindArg(const QString &name);
    /// The namespace from -n, or "default".
    QString namespaceArg() const;
    int usageError(const QString &message);

    QTextStream &m_out;
    QTextStream &m_err;
    QCommandLineParser m_parser;
    QString m_command;
    QStringList m_args; ///< positional arguments after the command
    std::unique_ptr<client::ApiClient> m_client;
    QString m_tokenHint;
};

/// "agentgatewaybackend.agentgateway.dev/dfp-backend" (kubectl's resource/name form).
QString qualifiedName(const QString &kind, const QString &apiVersion, const QString &name);
/// kubectl-style age: "45s", "12m", "5h", "3d".
QString humanAge(const QString &creationTimestamp, const QDateTime &now);

} // namespace dfproxy::ctl
