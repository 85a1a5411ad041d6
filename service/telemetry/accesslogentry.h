// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one access-log record: filled by the proxy's transaction as the request goes (proxy/transaction.h), handed
// to the access-log sink (proxy/accesslog.h) when the request ends, and read as it is by the access logger (the
// JSON, Envoy and combined lines, the ring behind GET /api/v1/accesslog and the live stream), the request metrics
// and the per-application figures. It lives here, below the proxy, because telemetry must not depend on the proxy
// (docs/architecture.md); the fields are kept as the proxy has them (addresses, microseconds, the shared process
// information) and turned into text only by the readers that show them, on the writer thread.

#include <QByteArray>
#include <QDateTime>
#include <QHostAddress>
#include <QJsonObject>
#include <QString>

#include "platform/nulladdress.h"
#include "platform/processlookup.h"

#include <memory>

namespace dfproxy::telemetry {

/// Fields a request did not reach (no identity without authentication, no upstream before the connect stage) stay
/// empty / 0 and are written as empty / "-".
struct AccessLogEntry
{
    quint64 seq = 0;             ///< assigned by AccessLogger when queued: strictly increasing, starts at 1
    QDateTime time;              ///< when the request head arrived (UTC)
    QHostAddress clientAddress = platform::nullAddress();
    quint16 clientPort = 0;
    QByteArray method;
    QByteArray host;             ///< target host (lower-case, no port)
    quint16 port = 0;            ///< target port
    QByteArray path;             ///< request target as received (origin-form path+query, or CONNECT authority)
    QByteArray protocol;         ///< "HTTP/1.1", "HTTP/1.0", "HTTP/2" (the request's); empty without a request
    int status = 0;              ///< status sent to the client (0 when none was sent)
    QByteArray reason;           ///< x-dfproxy-error reason for proxy-generated errors, empty otherwise
    qint64 bytesIn = 0;          ///< request body bytes from the client (tunnels: client -> upstream)
    qint64 bytesOut = 0;         ///< response body bytes to the client (tunnels: upstream -> client)
    // Durations in microseconds (the log shows whole milliseconds, the histograms take these).
    qint64 totalUs = 0;
    qint64 dnsUs = 0;            ///< from the request head to the DNS answer
    bool dnsWaited = false;      ///< the name was not in the cache: the request waited for DNS
    qint64 connectUs = 0;        ///< from DNS done to upstream connected (0 when reused)
    qint64 upstreamUs = 0;       ///< from upstream connected to the response head
    QString gateway;             ///< "ns/name" of the Gateway whose listener accepted the request
    QString route;               ///< "ns/name#rule" or empty
    QString backend;             ///< "ns/name" or empty
    QHostAddress resolvedAddress = platform::nullAddress(); ///< the upstream address used; null when none
    bool dnsCacheHit = false;
    bool upstreamReused = false;
    bool tunnel = false;         ///< CONNECT or websocket
    QString identity;            ///< policy: the authenticated identity ("" = anonymous or no policy)
    QByteArray decision;         ///< policy: the decision summary ("allow", "deny:authz rule 2", ...; "" = no policy)
    /// The program behind the client connection (docs/applications.md); null when unknown or not local.
    std::shared_ptr<const platform::ProcessInfo> application;
    QString upstreamProxy;       ///< the upstream proxy taken ("host:port") or "DIRECT"; empty: the backend has none
    QString upstreamProxyReason; ///< why that one: "tunnel" (the fixed proxy), "bypass <entry>"
    int grpcStatus = -1;         ///< the response's grpc-status (trailers, or a trailers-only head); -1 = none
    int trailersDropped = 0;     ///< response trailer fields not sent (HTTP/1.1 without TE; forbidden in trailers)

    /// The JSON object of the admin API (stable field names, see docs/telemetry.md); the JSON Lines format writes
    /// the same bytes without building it (accesslogformat.h).
    QJsonObject toJson() const;
};

} // namespace dfproxy::telemetry
