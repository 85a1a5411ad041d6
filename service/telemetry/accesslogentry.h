// SPDX-License-Identifier: Apache-2.0
#pragma once
// The access-log record telemetry stores, formats and serves (GET /api/v1/accesslog).

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QString>

namespace dfproxy::telemetry {

/// One access-log record as telemetry stores and formats it. The proxy's proxy::AccessLogRecord is converted to
/// this in app/telemetrysink.cpp (telemetry links only QtCore, so addresses travel as text). Fields a request did
/// not reach (no identity without authentication, no upstream before the connect stage) stay empty and are written
/// as empty / "-".
struct AccessLogEntry
{
    quint64 seq = 0;             ///< assigned by AccessLogger when queued: strictly increasing, starts at 1
    QDateTime time;              ///< when the request head arrived (UTC)
    QString clientAddress;       ///< "127.0.0.1" / "::1"
    quint16 clientPort = 0;
    QString identity;            ///< authenticated principal (policies), empty when none
    QByteArray method;
    QByteArray host;             ///< target host, no port
    quint16 port = 0;            ///< target port
    QByteArray path;             ///< request target as received (path+query, or the CONNECT authority)
    QByteArray protocol;         ///< what the client spoke: "HTTP/1.1", "HTTP/1.0", "HTTP/2"; empty without a request
    QString resolvedAddress;     ///< upstream address used, empty when none
    bool dnsCacheHit = false;
    int status = 0;              ///< status sent to the client (0 when none was sent)
    QByteArray reason;           ///< x-dfproxy-error reason for proxy-generated errors
    qint64 bytesIn = 0;          ///< request body bytes from the client (tunnels: client -> upstream)
    qint64 bytesOut = 0;         ///< response body bytes to the client (tunnels: upstream -> client)
    qint64 totalMs = 0;
    qint64 totalUs = -1;         ///< the same in microseconds for the histograms; -1 = only totalMs is known
    qint64 dnsMs = 0;
    qint64 dnsWaitUs = -1;       ///< request head to DNS answer (us) when the request waited for DNS, -1 otherwise
    qint64 connectMs = 0;
    qint64 connectUs = -1;       ///< likewise
    qint64 upstreamMs = 0;
    QString gateway;             ///< "ns/name" of the gateway, empty until the proxy reports it
    QString route;               ///< "ns/name#rule" or empty
    QString backend;             ///< "ns/name" or empty
    QString decision;            ///< policy decision ("allow", "deny:<policy>", ...), empty until policies land
    bool upstreamReused = false;
    bool tunnel = false;         ///< CONNECT or websocket
    // The program behind the client connection (docs/applications.md); empty / 0 when unknown or not local.
    QString process;             ///< the executable's name ("curl")
    QString processPath;         ///< its absolute path
    qint64 pid = 0;
    QString processUser;         ///< the account it runs as
    QString upstreamProxy;       ///< the upstream proxy taken ("host:port") or "DIRECT"; empty: the backend has none
    QString upstreamProxyReason; ///< why: "tunnel" (the fixed proxy), "bypass <entry>"
    int grpcStatus = -1;         ///< gRPC status of the response; -1 = none (the field is then left out)
    int trailersDropped = 0;     ///< response trailer fields dropped on the way to the client (left out when 0)

    /// The JSON object of the JSON Lines format and of the admin API (stable field names, see docs/telemetry.md).
    QJsonObject toJson() const;
};

} // namespace dfproxy::telemetry
