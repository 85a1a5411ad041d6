// SPDX-License-Identifier: Apache-2.0
#include "config/adminoptions.h"

namespace dfproxy::config {

namespace {

bool isIntegerIn(const QJsonValue &v, int min, int max)
{
    return v.isDouble() && v.toDouble() == v.toInt() && v.toInt() >= min && v.toInt() <= max;
}

} // namespace

AdminOptions AdminOptions::fromJson(const QJsonObject &admin, QList<FieldError> *errors)
{
    AdminOptions o;
    const auto fail = [errors](const QString &path, const QString &message) {
        if (errors)
            errors->append(FieldError{path, message});
    };
    if (admin.contains("address")) {
        const QString a = admin.value("address").toString();
        if (hostAddress(a).isNull())
            fail(QStringLiteral("admin.address"), QStringLiteral("must be an IP address or \"localhost\""));
        else
            o.address = a;
    }
    if (admin.contains("port")) {
        const QJsonValue p = admin.value("port");
        if (!isIntegerIn(p, 0, 65535))
            fail(QStringLiteral("admin.port"), QStringLiteral("must be an integer from 0 to 65535"));
        else
            o.port = p.toInt();
    }
    // The admin API's connection limits (docs/admin-api.md, "Limits").
    const struct
    {
        const char *key;
        int max;
        int AdminOptions::*field;
    } limits[] = {{"headTimeoutMs", 3600000, &AdminOptions::headTimeoutMs},
                  {"idleTimeoutMs", 86400000, &AdminOptions::idleTimeoutMs},
                  {"maxConnections", 10000, &AdminOptions::maxConnections}};
    for (const auto &limit : limits) {
        const QJsonValue v = admin.value(QLatin1String(limit.key));
        if (v.isUndefined())
            continue;
        if (!isIntegerIn(v, 1, limit.max))
            fail(QStringLiteral("admin.") + limit.key, QStringLiteral("must be an integer from 1 to %1").arg(limit.max));
        else
            o.*limit.field = v.toInt();
    }
    return o;
}

QHostAddress AdminOptions::hostAddress(const QString &address)
{
    return address == QLatin1String("localhost") ? QHostAddress(QHostAddress::LocalHost) : QHostAddress(address);
}

} // namespace dfproxy::config
