// SPDX-License-Identifier: Apache-2.0
#pragma once
// The logging categories of dfproxy, one per area, so a user can turn one area up to debug while reproducing a
// problem (`PUT /api/v1/logging {"categories":{"dfproxy.dns":"debug"}}`, `dfproxyctl logging`, the console's
// Logging page) without drowning in the others. docs/telemetry.md ("Logging categories") lists them; the admin API
// refuses a dfproxy.* name that is not here.

#include <QList>
#include <QLoggingCategory>
#include <QString>
#include <QStringList>

#include <optional>

namespace dfproxy {

Q_DECLARE_LOGGING_CATEGORY(lcDns)       ///< dfproxy.dns: host cache hits, misses, refreshes, resolver answers and failures
Q_DECLARE_LOGGING_CATEGORY(lcProxy)     ///< dfproxy.proxy: connections, routing decisions, local replies
Q_DECLARE_LOGGING_CATEGORY(lcForward)   ///< dfproxy.forward: connects, pooled connections, upstream errors
Q_DECLARE_LOGGING_CATEGORY(lcNet)       ///< dfproxy.net: listeners, sockets, TLS handshakes
Q_DECLARE_LOGGING_CATEGORY(lcPolicy)    ///< dfproxy.policy: authentication, authorization and rate-limit decisions
Q_DECLARE_LOGGING_CATEGORY(lcConfig)    ///< dfproxy.config: loading, validation, writes, reloads
Q_DECLARE_LOGGING_CATEGORY(lcAdmin)     ///< dfproxy.admin: the REST API (dfproxy.admin.gate: its gate's decisions)
Q_DECLARE_LOGGING_CATEGORY(lcTelemetry) ///< dfproxy.telemetry: metrics, the access log stream (dfproxy.accesslog: the file)
Q_DECLARE_LOGGING_CATEGORY(lcService)   ///< dfproxy.service: start, stop, reload, the service manager

struct LogCategoryInfo
{
    QString name;        ///< "dfproxy.dns"
    QString description; ///< one line, for the API and the console
};

/// Every category dfproxy logs to, in the order the docs list them.
const QList<LogCategoryInfo> &knownLogCategories();

/// True when `pattern` ("dfproxy.dns", "dfproxy.*", "dfproxy.admin.*", "default", "qt.network.ssl") names or
/// covers at least one category that exists: a dfproxy.* name must be one of knownLogCategories() (or a prefix of
/// one followed by ".*"); names outside dfproxy (Qt's own, "default") are taken as they are.
bool isKnownLogCategoryPattern(const QString &pattern);

/// The level of dfproxy's own log lines (the config's logging.level, PUT /api/v1/logging): this and above are on.
enum class LogLevel { Debug, Info, Warning, Error, Critical };

/// "debug", "info", "warning", "error", "critical": the names of the levels, lowest first.
const QStringList &logLevelNames();
/// The level named exactly `name` (one of logLevelNames()); nullopt otherwise.
std::optional<LogLevel> logLevelFromString(const QString &name);
QString toString(LogLevel level);

} // namespace dfproxy
