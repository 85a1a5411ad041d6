// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "proxy/accesslog.h"
#include "proxy/proxyoptions.h"
#include "proxy/proxystats.h"
#include "proxy/router.h"

#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QObject>

#include <memory>

class QThread;

namespace dfproxy::dns {
class HostCache;
}
namespace dfproxy::policy {
class PolicyEngine;
}
namespace dfproxy::platform {
class ProcessLookup;
}

namespace dfproxy::proxy {

struct ProxyContext;
class ProxyWorker;
class Acceptor;

/// The proxy: binds the listeners of the route table on the main thread and hands accepted connections
/// round-robin to N worker threads, each with its own event loop, connections and upstream pools.
/// Lives on the main thread; call everything from there.
class ProxyServer final : public QObject
{
    Q_OBJECT
public:
    explicit ProxyServer(ProxyOptions options = {}, QObject *parent = nullptr);
    ~ProxyServer() override;

    /// Swaps the routes atomically; new requests see them. Re-binds listeners when they changed (if started).
    void setRouteTable(std::shared_ptr<const routing::RouteTable> table);
    /// Same with any Router (tests).
    void setRouter(std::shared_ptr<const Router> router);
    /// The DNS cache every request resolves through. Set before start(); not owned; must outlive the server.
    void setHostCache(dns::HostCache *cache);
    /// Swaps the egress policies atomically (null = allow everything); new requests see them. The proxy asks
    /// checkRequest() after routing and checkResolved() after DNS for every request and tunnel.
    void setPolicyEngine(std::shared_ptr<const policy::PolicyEngine> engine);
    /// Where access-log records go (not owned, may be null; must outlive the server).
    void setAccessLogSink(AccessLogSink *sink);
    /// proxy.maxConnections / maxConnectionsPerClient (0 = no limit); applies to connections accepted from now on.
    void setConnectionLimits(int maxConnections, int maxConnectionsPerClient);
    /// proxy.applicationLookup: find the program behind each local client connection (docs/applications.md).
    void setApplicationLookup(bool on);
    /// Replaces the platform's process lookup (tests). Call before start().
    void setProcessLookup(std::unique_ptr<platform::ProcessLookup> lookup);

    /// Starts the workers and binds every listener. Returns false (and says why) when a listener could not bind;
    /// the others stay bound.
    bool start(QString *error = nullptr);
    /// Stops accepting, lets in-flight requests finish (up to drainTimeoutMs), then closes everything.
    void stop();
    bool isRunning() const { return m_running; }

    struct BoundListener
    {
        QString gatewayNamespace, gatewayName, name;
        QHostAddress address;
        quint16 port = 0; ///< the bound port (the real one when the listener asked for 0)
    };
    /// What is bound right now.
    QList<BoundListener> boundListeners() const;
    /// The bound port of the listener called `name` (0 when not bound).
    quint16 portOf(const QString &listenerName) const;
    /// Counters: requests by status class, active connections and tunnels, upstream connections and requests.
    QJsonObject stats() const;
    /// The counters of stats() as integers (atomics only: any thread).
    ProxyStats::Snapshot counters() const;

Q_SIGNALS:
    /// A listener failed to bind (after start() or a route-table change).
    void listenerError(const QString &message);

private:
    friend class Acceptor;
    void dispatch(qintptr descriptor, Acceptor *acceptor);
    bool syncListeners(QString *error);

    std::unique_ptr<ProxyContext> m_ctx;
    QList<QThread *> m_threads;
    QList<ProxyWorker *> m_workers;
    QList<Acceptor *> m_acceptors;
    int m_next = 0;
    bool m_running = false;
};

} // namespace dfproxy::proxy
