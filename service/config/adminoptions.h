// SPDX-License-Identifier: Apache-2.0
#pragma once
// The config's admin block, parsed once per config version (the service's validator keeps it in
// app::GlobalOptions): the admin server listens with it and the SSRF guard refuses its endpoint.

#include "config/resource.h"

#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QString>

namespace dfproxy::config {

/// {"address", "port", "headTimeoutMs", "idleTimeoutMs", "maxConnections"} (docs/admin-api.md).
struct AdminOptions
{
    static constexpr quint16 kDefaultPort = 15000;

    QString address = QStringLiteral("127.0.0.1"); ///< an IP address or "localhost", as written
    int port = kDefaultPort;                        ///< 0 = any free port
    // The admin gate's connection limits; 0 = the gate's default (admin/server/admingate.h GateLimits).
    int headTimeoutMs = 0;
    int idleTimeoutMs = 0;
    int maxConnections = 0;

    /// Parses the block; a field with an error keeps its default, and the error names it ("admin.port").
    static AdminOptions fromJson(const QJsonObject &admin, QList<FieldError> *errors);
    /// The address to bind: "localhost" is 127.0.0.1; null when `address` is not an IP address.
    static QHostAddress hostAddress(const QString &address);

    bool operator==(const AdminOptions &) const = default;
};

} // namespace dfproxy::config
