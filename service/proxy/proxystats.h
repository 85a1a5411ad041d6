// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QJsonObject>

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

    void countStatus(int status);
    QJsonObject toJson() const;
};

} // namespace dfproxy::proxy
