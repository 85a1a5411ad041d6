// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "dns/dnstypes.h"
#include "config/resource.h"
#include "http/canonical.h"
#include "http/httpparser.h"

#include <QJsonObject>
#include <QList>

namespace dfproxy::proxy {

/// Tunables of the data path. Defaults suit a desktop proxy.
struct ProxyOptions
{
    int workerThreads = 0;                 ///< 0 = one per core
    http::ParserLimits limits;             ///< 64 KiB headers, 8 KiB URI
    qint64 bufferLimit = 256 * 1024;       ///< pause the faster side above this many buffered bytes
    qint64 connectTimeoutMs = 5000;        ///< per upstream address
    qint64 responseTimeoutMs = 60000;      ///< request sent -> response head (rules may shorten it)
    qint64 upstreamIdleTimeoutMs = 60000;  ///< pooled upstream connections
    qint64 clientIdleTimeoutMs = 300000;   ///< keep-alive client connections with nothing in flight
    qint64 tunnelIdleTimeoutMs = 3600000;  ///< CONNECT / websocket tunnels with no byte either way; 0 = none
    /// First byte of a request head -> its end (slowloris); 408 and close when it runs out. 0 = none.
    qint64 requestHeadTimeoutMs = 30000;
    /// End of a request head -> end of its body (slow uploads); 408 (or reset, once answering) when it runs out.
    qint64 requestBodyTimeoutMs = 300000;
    qint64 drainTimeoutMs = 5000;          ///< stop(): how long in-flight requests may finish
    /// Client connections open at once, all listeners together; more are answered 503 and closed. 0 = no limit.
    int maxConnections = 10000;
    /// Client connections open at once from one client IP address. 0 = no limit.
    int maxConnectionsPerClient = 0;
    dns::LookupFamily defaultLookupFamily = dns::LookupFamily::V4Preferred;
    bool addXForwardedFor = false;
    bool addXForwardedProto = false;
    http::PathOptions paths;               ///< proxy.paths: how request paths are canonicalised
    bool applicationLookup = true;         ///< proxy.applicationLookup: find the program behind local clients
    /// HTTP/2 clients (h2 by ALPN, h2c by prior knowledge): streams open at once per connection (SETTINGS).
    int http2MaxConcurrentStreams = 100;
};

/// Reads the config's "proxy" block: workers, connectTimeoutMs, responseTimeoutMs, upstreamIdleTimeoutMs,
/// clientIdleTimeoutMs, tunnelIdleTimeoutMs, requestHeadTimeoutMs, requestBodyTimeoutMs, drainTimeoutMs, bufferLimitBytes, maxHeaderBytes,
/// maxUriBytes, maxConnections, maxConnectionsPerClient, http2MaxConcurrentStreams (integers),
/// addXForwardedFor, addXForwardedProto (booleans), paths {mergeSlashes: boolean, escapedSlashes: "reject" | "keep" |
/// "unescape"}, parsing ("strict" or "lenient": bare LF line endings in requests), applicationLookup ("on" or "off"; YAML's
/// unquoted on/off arrive as booleans and are taken too). Missing keys keep the defaults;
/// bad values and unknown keys are reported in `errors` (paths "proxy.<key>", may be null); bad values keep the
/// default.
ProxyOptions optionsFromJson(const QJsonObject &block, QList<config::FieldError> *errors = nullptr);

} // namespace dfproxy::proxy
