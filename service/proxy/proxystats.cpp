// SPDX-License-Identifier: Apache-2.0
#include "proxy/proxystats.h"

namespace dfproxy::proxy {

void ProxyStats::countStatus(int status)
{
    requestsTotal.fetch_add(1, std::memory_order_relaxed);
    std::atomic<quint64> *c = nullptr;
    switch (status / 100) {
    case 1: c = &responses1xx; break;
    case 2: c = &responses2xx; break;
    case 3: c = &responses3xx; break;
    case 4: c = &responses4xx; break;
    default: c = &responses5xx; break;
    }
    c->fetch_add(1, std::memory_order_relaxed);
}

void ProxyStats::countUpstreamProxy(const QString &upstreamProxy, const QByteArray &reason)
{
    if (upstreamProxy.isEmpty())
        return;
    (upstreamProxy == QLatin1String("DIRECT") ? upstreamProxyDirect : upstreamProxyRequests)
        .fetch_add(1, std::memory_order_relaxed);
    if (!reason.startsWith("upstream_proxy_"))
        return;
    std::atomic<quint64> &c = reason == "upstream_proxy_auth_failed"   ? upstreamProxyAuthFailed
        : reason == "upstream_proxy_unreachable"                       ? upstreamProxyUnreachable
                                                                       : upstreamProxyOtherErrors;
    c.fetch_add(1, std::memory_order_relaxed);
}

ProxyStats::Snapshot ProxyStats::snapshot() const
{
    const auto v = [](const auto &a) { return a.load(std::memory_order_relaxed); };
    Snapshot s;
    s.requestsTotal = v(requestsTotal);
    s.responses1xx = v(responses1xx);
    s.responses2xx = v(responses2xx);
    s.responses3xx = v(responses3xx);
    s.responses4xx = v(responses4xx);
    s.responses5xx = v(responses5xx);
    s.activeConnections = v(activeConnections);
    s.activeTunnels = v(activeTunnels);
    s.connectionsAccepted = v(connectionsAccepted);
    s.connectionsRejectedGlobal = v(connectionsRejectedGlobal);
    s.connectionsRejectedClient = v(connectionsRejectedClient);
    s.upstreamConnectionsOpened = v(upstreamConnectionsOpened);
    s.upstreamRequests = v(upstreamRequests);
    s.requestBytesSpliced = v(requestBytesSpliced);
    s.responseBytesSpliced = v(responseBytesSpliced);
    s.tunnelsThrottled = v(tunnelsThrottled);
    s.tunnelThrottlePauses = v(tunnelThrottlePauses);
    s.upstreamProxyRequests = v(upstreamProxyRequests);
    s.upstreamProxyDirect = v(upstreamProxyDirect);
    s.upstreamProxyAuthFailed = v(upstreamProxyAuthFailed);
    s.upstreamProxyUnreachable = v(upstreamProxyUnreachable);
    s.upstreamProxyOtherErrors = v(upstreamProxyOtherErrors);
    s.http2Connections = v(http2Connections);
    s.http2Streams = v(http2Streams);
    s.http2RapidResets = v(http2RapidResets);
    s.http2ContinuationFloods = v(http2ContinuationFloods);
    s.http2HpackBombs = v(http2HpackBombs);
    s.http2HeaderListsTooLarge = v(http2HeaderListsTooLarge);
    s.http2PingFloods = v(http2PingFloods);
    s.http2SettingsFloods = v(http2SettingsFloods);
    return s;
}

QJsonObject ProxyStats::Snapshot::toJson() const
{
    const auto v = [](auto a) { return qint64(a); };
    return QJsonObject{
        {QStringLiteral("requestsTotal"), v(requestsTotal)},
        {QStringLiteral("responsesByClass"),
         QJsonObject{{QStringLiteral("1xx"), v(responses1xx)},
                     {QStringLiteral("2xx"), v(responses2xx)},
                     {QStringLiteral("3xx"), v(responses3xx)},
                     {QStringLiteral("4xx"), v(responses4xx)},
                     {QStringLiteral("5xx"), v(responses5xx)}}},
        {QStringLiteral("activeConnections"), v(activeConnections)},
        {QStringLiteral("activeTunnels"), v(activeTunnels)},
        {QStringLiteral("connectionsAccepted"), v(connectionsAccepted)},
        {QStringLiteral("connectionsRejected"),
         QJsonObject{{QStringLiteral("maxConnections"), v(connectionsRejectedGlobal)},
                     {QStringLiteral("maxConnectionsPerClient"), v(connectionsRejectedClient)}}},
        {QStringLiteral("upstreamConnectionsOpened"), v(upstreamConnectionsOpened)},
        {QStringLiteral("upstreamRequests"), v(upstreamRequests)},
        {QStringLiteral("requestBytesSpliced"), v(requestBytesSpliced)},
        {QStringLiteral("responseBytesSpliced"), v(responseBytesSpliced)},
        {QStringLiteral("tunnelsThrottled"), v(tunnelsThrottled)},
        {QStringLiteral("tunnelThrottlePauses"), v(tunnelThrottlePauses)},
        {QStringLiteral("upstreamProxy"),
         QJsonObject{{QStringLiteral("requests"), v(upstreamProxyRequests)},
                     {QStringLiteral("direct"), v(upstreamProxyDirect)},
                     {QStringLiteral("authFailed"), v(upstreamProxyAuthFailed)},
                     {QStringLiteral("unreachable"), v(upstreamProxyUnreachable)},
                     {QStringLiteral("otherErrors"), v(upstreamProxyOtherErrors)}}},
        {QStringLiteral("http2Connections"), v(http2Connections)},
        {QStringLiteral("http2Streams"), v(http2Streams)},
        {QStringLiteral("http2RapidResets"), v(http2RapidResets)},
        {QStringLiteral("http2ContinuationFloods"), v(http2ContinuationFloods)},
        {QStringLiteral("http2HpackBombs"), v(http2HpackBombs)},
        {QStringLiteral("http2HeaderListsTooLarge"), v(http2HeaderListsTooLarge)},
        {QStringLiteral("http2PingFloods"), v(http2PingFloods)},
        {QStringLiteral("http2SettingsFloods"), v(http2SettingsFloods)},
    };
}

} // namespace dfproxy::proxy
