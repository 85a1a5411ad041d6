// SPDX-License-Identifier: Apache-2.0
#include "proxy/proxyoptions.h"

namespace dfproxy::proxy {

namespace {

template<class T>
void readInt(const QJsonObject &o, const char *key, qint64 min, qint64 max, T *out, QList<config::FieldError> *errors)
{
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined())
        return;
    const double d = v.toDouble(-1);
    if (!v.isDouble() || d != double(qint64(d)) || qint64(d) < min || qint64(d) > max) {
        if (errors)
            errors->append({QStringLiteral("proxy.%1").arg(QLatin1String(key)),
                            QStringLiteral("must be an integer from %1 to %2").arg(min).arg(max)});
        return;
    }
    *out = T(qint64(d));
}

void readBool(const QJsonObject &o, const char *key, bool *out, QList<config::FieldError> *errors)
{
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined())
        return;
    if (!v.isBool()) {
        if (errors)
            errors->append({QStringLiteral("proxy.%1").arg(QLatin1String(key)), QStringLiteral("must be true or false")});
        return;
    }
    *out = v.toBool();
}

void readPaths(const QJsonObject &block, http::PathOptions *out, QList<config::FieldError> *errors)
{
    const QJsonValue v = block.value(QLatin1String("paths"));
    if (v.isUndefined())
        return;
    const auto fail = [&](const QString &path, const QString &message) {
        if (errors)
            errors->append({path, message});
    };
    if (!v.isObject()) {
        fail(QStringLiteral("proxy.paths"), QStringLiteral("must be an object"));
        return;
    }
    const QJsonObject o = v.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (it.key() != QLatin1String("mergeSlashes") && it.key() != QLatin1String("escapedSlashes"))
            fail(QStringLiteral("proxy.paths.") + it.key(), QStringLiteral("is not a known field"));
    }
    const QJsonValue merge = o.value(QLatin1String("mergeSlashes"));
    if (merge.isBool())
        out->mergeSlashes = merge.toBool();
    else if (!merge.isUndefined())
        fail(QStringLiteral("proxy.paths.mergeSlashes"), QStringLiteral("must be true or false"));
    const QJsonValue escaped = o.value(QLatin1String("escapedSlashes"));
    if (!escaped.isUndefined() && !http::parseEscapedSlashes(escaped.toString(), &out->escapedSlashes))
        fail(QStringLiteral("proxy.paths.escapedSlashes"), QStringLiteral("must be one of reject, keep, unescape"));
}

/// "parsing": "strict" (the default) or "lenient" (bare LF line endings accepted in requests; docs/reliability.md).
void readParsing(const QJsonObject &o, bool *lenient, QList<config::FieldError> *errors)
{
    const QJsonValue v = o.value(QLatin1String("parsing"));
    if (v.isUndefined())
        return;
    if (v != QJsonValue(QStringLiteral("strict")) && v != QJsonValue(QStringLiteral("lenient"))) {
        if (errors)
            errors->append(
                {QStringLiteral("proxy.parsing"), QStringLiteral("must be \"strict\" or \"lenient\"")});
        return;
    }
    *lenient = v.toString() == QLatin1String("lenient");
}

/// "applicationLookup": "on" (the default) or "off" (docs/applications.md). YAML 1.1 reads an unquoted on/off as a
/// boolean, so true/false mean the same.
void readApplicationLookup(const QJsonObject &o, bool *on, QList<config::FieldError> *errors)
{
    const QJsonValue v = o.value(QLatin1String("applicationLookup"));
    if (v.isUndefined())
        return;
    if (v.isBool()) {
        *on = v.toBool();
        return;
    }
    if (v != QJsonValue(QStringLiteral("on")) && v != QJsonValue(QStringLiteral("off"))) {
        if (errors)
            errors->append({QStringLiteral("proxy.applicationLookup"), QStringLiteral("must be \"on\" or \"off\"")});
        return;
    }
    *on = v.toString() == QLatin1String("on");
}

} // namespace

ProxyOptions optionsFromJson(const QJsonObject &block, QList<config::FieldError> *errors)
{
    // A field dfproxy does not implement is refused with its path, never silently ignored (a misspelt
    // "connectTimeoutMS" would otherwise leave the default in force). ssrf is read by the policy area.
    static const QStringList known{
        "workers", "connectTimeoutMs", "responseTimeoutMs", "upstreamIdleTimeoutMs", "clientIdleTimeoutMs",
        "tunnelIdleTimeoutMs",
        "requestHeadTimeoutMs", "requestBodyTimeoutMs", "drainTimeoutMs", "bufferLimitBytes", "maxHeaderBytes",
        "maxUriBytes", "maxConnections", "maxConnectionsPerClient", "addXForwardedFor", "addXForwardedProto", "paths",
        "parsing", "ssrf", "applicationLookup", "http2MaxConcurrentStreams"};
    if (errors) {
        for (auto it = block.begin(); it != block.end(); ++it) {
            if (!known.contains(it.key()))
                errors->append({QStringLiteral("proxy.") + it.key(), QStringLiteral("is not a known field")});
        }
    }
    ProxyOptions o;
    constexpr qint64 day = 24LL * 3600 * 1000;
    readInt(block, "workers", 0, 256, &o.workerThreads, errors);
    readInt(block, "connectTimeoutMs", 1, day, &o.connectTimeoutMs, errors);
    readInt(block, "responseTimeoutMs", 0, day, &o.responseTimeoutMs, errors);
    readInt(block, "upstreamIdleTimeoutMs", 0, day, &o.upstreamIdleTimeoutMs, errors);
    readInt(block, "clientIdleTimeoutMs", 0, day, &o.clientIdleTimeoutMs, errors);
    readInt(block, "tunnelIdleTimeoutMs", 0, 7 * day, &o.tunnelIdleTimeoutMs, errors);
    readInt(block, "requestHeadTimeoutMs", 0, day, &o.requestHeadTimeoutMs, errors);
    readInt(block, "requestBodyTimeoutMs", 0, day, &o.requestBodyTimeoutMs, errors);
    readInt(block, "drainTimeoutMs", 0, day, &o.drainTimeoutMs, errors);
    readInt(block, "bufferLimitBytes", 4096, 64LL * 1024 * 1024, &o.bufferLimit, errors);
    readInt(block, "maxHeaderBytes", 1024, 1024 * 1024, &o.limits.maxHeaderBytes, errors);
    readInt(block, "maxUriBytes", 256, 1024 * 1024, &o.limits.maxUriBytes, errors);
    readInt(block, "maxConnections", 0, 1000000, &o.maxConnections, errors);
    readInt(block, "maxConnectionsPerClient", 0, 1000000, &o.maxConnectionsPerClient, errors);
    readInt(block, "http2MaxConcurrentStreams", 1, 1000, &o.http2MaxConcurrentStreams, errors);
    readBool(block, "addXForwardedFor", &o.addXForwardedFor, errors);
    readBool(block, "addXForwardedProto", &o.addXForwardedProto, errors);
    readPaths(block, &o.paths, errors);
    readParsing(block, &o.limits.lenientLineEndings, errors);
    readApplicationLookup(block, &o.applicationLookup, errors);
    return o;
}

} // namespace dfproxy::proxy
