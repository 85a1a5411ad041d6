// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <atomic>

namespace dfproxy::proxy {

/// Process-wide counters of one ProxyServer, bumped lock-free from every worker.
struct ProxyStats
{
    std::atomic<quint64> requestsTotal{0};
    std::atomic<quint64> responses1xx{0}, responses2xx{0}, responses3xx{0}, responses4xx{0}, responses5xx{0};
    std::atomic<qint64> activeConnections{0};
    std::atomic<qint64> activeTunnels{0};
    std::atomic<quint64> connectionsAccepted{0};
    std::atomic<quint64> connectionsRejectedGlobal{0}; ///< refused: proxy.maxConnections reached
    std::atomic<quint64> connectionsRejectedClient{0}; ///< refused: proxy.maxConnectionsPerClient reached
    std::atomic<quint64> upstreamConnectionsOpened{0};
    std::atomic<quint64> upstreamRequests{0};
    std::atomic<quint64> requestBytesSpliced{0};  ///< request body bytes moved client to upstream socket (splice)
    std::atomic<quint64> responseBytesSpliced{0}; ///< response body bytes moved upstream to client socket (splice)
    std::atomic<quint64> tunnelsThrottled{0};     ///< tunnels opened with a bandwidth limit (RateLimitPolicy)
    std::atomic<quint64> tunnelThrottlePauses{0}; ///< times a tunnel direction stopped reading for lack of budget
    // upstream (corporate) proxies, #22: requests of backends with a tunnel, by outcome
    std::atomic<quint64> upstreamProxyRequests{0};     ///< sent through an upstream proxy
    std::atomic<quint64> upstreamProxyDirect{0};       ///< sent DIRECT (bypass)
    std::atomic<quint64> upstreamProxyAuthFailed{0};   ///< answered 502 upstream_proxy_auth_failed
    std::atomic<quint64> upstreamProxyUnreachable{0};  ///< answered 502 upstream_proxy_unreachable
    std::atomic<quint64> upstreamProxyOtherErrors{0};  ///< upstream_proxy_connect_failed / _unsupported
    // HTTP/2 clients (proxy/http2connection.h); each attack pattern ends its connection with GOAWAY.
    std::atomic<quint64> http2Connections{0};        ///< client connections that spoke HTTP/2
    std::atomic<quint64> http2Streams{0};            ///< requests (streams) on them
    std::atomic<quint64> http2RapidResets{0};        ///< connections ended for resetting streams too fast
    std::atomic<quint64> http2ContinuationFloods{0}; ///< ... for too many CONTINUATION frames in one header block
    std::atomic<quint64> http2HpackBombs{0};         ///< ... for a header block decoding far past the size limit
    std::atomic<quint64> http2HeaderListsTooLarge{0}; ///< streams answered 431 (header list over maxHeaderBytes)
    std::atomic<quint64> http2PingFloods{0};         ///< connections ended for too many PINGs
    std::atomic<quint64> http2SettingsFloods{0};     ///< ... for too many SETTINGS

    /// The counters at one moment, as plain integers: what /api/v1/stats (ProxyServer::stats()) and the app's metrics
    /// collector read, so neither goes through the other's format. Each field is its atomic's value.
    struct Snapshot
    {
        quint64 requestsTotal = 0;
        quint64 responses1xx = 0, responses2xx = 0, responses3xx = 0, responses4xx = 0, responses5xx = 0;
        qint64 activeConnections = 0;
        qint64 activeTunnels = 0;
        quint64 connectionsAccepted = 0;
        quint64 connectionsRejectedGlobal = 0, connectionsRejectedClient = 0;
        quint64 upstreamConnectionsOpened = 0;
        quint64 upstreamRequests = 0;
        quint64 requestBytesSpliced = 0, responseBytesSpliced = 0;
        quint64 tunnelsThrottled = 0, tunnelThrottlePauses = 0;
        quint64 upstreamProxyRequests = 0, upstreamProxyDirect = 0, upstreamProxyAuthFailed = 0;
        quint64 upstreamProxyUnreachable = 0, upstreamProxyOtherErrors = 0;
        quint64 http2Connections = 0, http2Streams = 0, http2RapidResets = 0, http2ContinuationFloods = 0;
        quint64 http2HpackBombs = 0, http2HeaderListsTooLarge = 0, http2PingFloods = 0, http2SettingsFloods = 0;

        QJsonObject toJson() const;
    };
    Snapshot snapshot() const;

    void countStatus(int status);
    /// One request of a backend with a tunnel: `upstreamProxy` as the access log shows it, `reason` its error.
    void countUpstreamProxy(const QString &upstreamProxy, const QByteArray &reason);
};

} // namespace dfproxy::proxy
