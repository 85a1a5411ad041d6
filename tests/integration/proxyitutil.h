// SPDX-License-Identifier: Apache-2.0
#pragma once
// Config snippets for the proxy integration tests: DFP backends and host-routed HTTPRoutes.

#include "support/testsupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

namespace dfproxy::test::proxyit {

/// An AgentgatewayBackend in ns httpbin with dynamicForwardProxy and the given extra spec (tls, engine).
inline QJsonObject dfpBackend(const QString &name, const QJsonObject &extraSpec = {})
{
    QJsonObject spec = extraSpec;
    spec.insert("dynamicForwardProxy", QJsonObject());
    return QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                       {"kind", "AgentgatewayBackend"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", "httpbin"}}},
                       {"spec", spec}};
}

/// An HTTPRoute in ns httpbin attached to the given Gateways (agentgateway-system) sending `hostnames` (all when
/// empty) to `backend`.
inline QJsonObject route(const QString &name, const QStringList &hostnames, const QString &backend,
                         const QStringList &gateways = {QStringLiteral("agentgateway-proxy")})
{
    QJsonArray parents;
    for (const QString &g : gateways)
        parents.append(QJsonObject{{"name", g}, {"namespace", "agentgateway-system"}});
    const QJsonObject ref{{"group", "agentgateway.dev"}, {"kind", "AgentgatewayBackend"}, {"name", backend}};
    const QJsonObject rule{{"backendRefs", QJsonArray{ref}}};
    QJsonObject spec{{"parentRefs", parents}, {"rules", QJsonArray{rule}}};
    if (!hostnames.isEmpty())
        spec.insert("hostnames", QJsonArray::fromStringList(hostnames));
    return QJsonObject{{"apiVersion", "gateway.networking.k8s.io/v1"},
                       {"kind", "HTTPRoute"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", "httpbin"}}},
                       {"spec", spec}};
}

/// A second Gateway with one listener (protocol HTTP or HTTPS with certFile/keyFile).
inline QJsonObject gateway(const QString &name, const QString &listenerName, const QString &protocol, quint16 port,
                           const QString &certFile = {}, const QString &keyFile = {},
                           const QJsonArray &connectPorts = {})
{
    QJsonObject l{{"name", listenerName}, {"protocol", protocol}, {"port", port}};
    if (!certFile.isEmpty())
        l.insert("tls", QJsonObject{{"mode", "Terminate"}, {"certFile", certFile}, {"keyFile", keyFile}});
    if (!connectPorts.isEmpty())
        l.insert("allowedConnectPorts", connectPorts);
    return QJsonObject{{"apiVersion", "gateway.networking.k8s.io/v1"},
                       {"kind", "Gateway"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", "agentgateway-system"}}},
                       {"spec", QJsonObject{{"gatewayClassName", "agentgateway"}, {"listeners", QJsonArray{l}}}}};
}

/// The status of a raw HTTP/1.x response (0 when it is not one).
inline int statusOf(const QByteArray &response)
{
    return response.startsWith("HTTP/1.") ? response.mid(9, 3).toInt() : 0;
}

/// A header's value in a raw response head (`name` in lower case); empty when absent.
inline QByteArray headerOf(const QByteArray &response, const QByteArray &name)
{
    const qsizetype end = response.indexOf("\r\n\r\n");
    for (const QByteArray &line : response.left(end).split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().toLower() == name)
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

/// What follows the head of a raw response.
inline QByteArray bodyOf(const QByteArray &response)
{
    const qsizetype end = response.indexOf("\r\n\r\n");
    return end < 0 ? QByteArray() : response.mid(end + 4);
}

/// GET on the admin API of `proxy`, with its bearer token.
inline CurlResult adminGet(const DfproxyProcess &proxy, const QString &path)
{
    return proxy.apiGet(path);
}

/// The "proxy" block of GET /api/v1/stats.
inline QJsonObject proxyStats(const DfproxyProcess &proxy)
{
    return QJsonDocument::fromJson(adminGet(proxy, "/api/v1/stats").body).object().value("proxy").toObject();
}

/// True once something accepts TCP connections on 127.0.0.1:port.
inline bool waitForPort(quint16 port, int timeoutMs = 10000)
{
    return dfproxy::test::waitUntil(
        [port] {
            QTcpSocket s;
            s.connectToHost(QHostAddress::LocalHost, port);
            return s.waitForConnected(200);
        },
        timeoutMs);
}

} // namespace dfproxy::test::proxyit
