// SPDX-License-Identifier: Apache-2.0
#include "base/logcategories.h"

namespace dfproxy {

// Debug lines are off unless asked for (QT_LOGGING_RULES, the logging API): they are per request.
Q_LOGGING_CATEGORY(lcDns, "dfproxy.dns", QtInfoMsg)
Q_LOGGING_CATEGORY(lcProxy, "dfproxy.proxy", QtInfoMsg)
Q_LOGGING_CATEGORY(lcForward, "dfproxy.forward", QtInfoMsg)
Q_LOGGING_CATEGORY(lcNet, "dfproxy.net", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPolicy, "dfproxy.policy", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConfig, "dfproxy.config", QtInfoMsg)
Q_LOGGING_CATEGORY(lcAdmin, "dfproxy.admin", QtInfoMsg)
Q_LOGGING_CATEGORY(lcTelemetry, "dfproxy.telemetry", QtInfoMsg)
Q_LOGGING_CATEGORY(lcService, "dfproxy.service", QtInfoMsg)

const QList<LogCategoryInfo> &knownLogCategories()
{
    static const QList<LogCategoryInfo> all{
        {QStringLiteral("dfproxy.dns"), QStringLiteral("host cache hits, misses, refreshes; resolver answers and failures")},
        {QStringLiteral("dfproxy.proxy"), QStringLiteral("routes taken, stages that wait, local replies and their reasons")},
        {QStringLiteral("dfproxy.forward"), QStringLiteral("dials, upstream connections, failed addresses")},
        {QStringLiteral("dfproxy.net"), QStringLiteral("listeners, connections accepted and refused, failed TLS handshakes")},
        {QStringLiteral("dfproxy.policy"), QStringLiteral("authentication, authorization and rate-limit decisions")},
        {QStringLiteral("dfproxy.config"), QStringLiteral("versions accepted and rejected, the backup used, reloads")},
        {QStringLiteral("dfproxy.admin"), QStringLiteral("the REST admin API: requests its gate refuses, and why")},
        {QStringLiteral("dfproxy.admin.gate"), QStringLiteral("the admin API gate: tokens, Host/Origin, limits")},
        {QStringLiteral("dfproxy.telemetry"), QStringLiteral("access-log rotation and dropped records")},
        {QStringLiteral("dfproxy.accesslog"), QStringLiteral("the access-log file writer: rotation, write errors")},
        {QStringLiteral("dfproxy.service"), QStringLiteral("start, stop, reload, the platform's service manager")},
    };
    return all;
}

bool isKnownLogCategoryPattern(const QString &pattern)
{
    if (pattern != QLatin1String("dfproxy") && !pattern.startsWith(QLatin1String("dfproxy.")))
        return true;
    if (pattern == QLatin1String("dfproxy.*"))
        return true;
    const bool wildcard = pattern.endsWith(QLatin1String(".*"));
    const QString stem = wildcard ? pattern.chopped(2) : pattern;
    for (const auto &c : knownLogCategories()) {
        if (c.name == stem || (wildcard && c.name.startsWith(stem + QLatin1Char('.'))))
            return true;
    }
    return false;
}

const QStringList &logLevelNames()
{
    static const QStringList names{"debug", "info", "warning", "error", "critical"};
    return names;
}

std::optional<LogLevel> logLevelFromString(const QString &name)
{
    const qsizetype i = logLevelNames().indexOf(name);
    return i < 0 ? std::nullopt : std::optional<LogLevel>(LogLevel(i));
}

QString toString(LogLevel level)
{
    return logLevelNames().value(int(level));
}

} // namespace dfproxy
