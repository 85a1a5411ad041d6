// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API's (method, path) router with `{name}` captures, 404/405 with Allow.

#include "api/apitypes.h"

#include <QStringList>

namespace dfproxy::admin {

/// Maps (method, path) to handlers. Patterns are paths whose segments are literals or `{name}` captures:
/// "/api/v1/namespaces/{namespace}/{plural}/{name}". When several patterns match a path, the one with the most
/// literal segments wins (so "/api/v1/apply" beats "/api/v1/{plural}"); its methods decide between the handler
/// and 405 Method Not Allowed.
class ApiRouter
{
public:
    struct Route
    {
        QByteArray method;
        QStringList segments;
        ApiHandler handler;
        bool requireAuth = true;
    };

    struct Match
    {
        const Route *route = nullptr;   ///< set when path and method match
        QMap<QString, QString> params;  ///< captures of the matched route
        QStringList allowedMethods;     ///< set when the path matched but not the method (405)
    };

    /// Adds a route. A later route with the same method and pattern replaces the earlier one.
    void add(const QByteArray &method, const QString &pattern, ApiHandler handler, bool requireAuth = true);
    /// Finds the route for a request. Neither route nor allowedMethods set means 404.
    Match match(const QByteArray &method, const QString &path) const;
    /// Every registered route as (method, pattern), e.g. ("GET", "/api/v1/dns/cache"), in registration order.
    QList<QPair<QByteArray, QString>> routes() const;

private:
    QList<Route> m_routes;
};

} // namespace dfproxy::admin
