// SPDX-License-Identifier: Apache-2.0
#include "proxy/proxyworker.h"

#include "forward/http1forwarder.h"
#include "forward/qnamforwarder.h"
#include "proxy/downstreamconnection.h"
#include "proxy/proxycontext.h"

#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>

namespace dfproxy::proxy {

ProxyWorker::ProxyWorker(ProxyContext *ctx) : m_ctx(ctx) {}

ProxyWorker::~ProxyWorker()
{
    closeAll();
}

void ProxyWorker::adopt(qintptr descriptor, std::shared_ptr<const routing::Listener> listener,
                        std::shared_ptr<const QSslConfiguration> tls)
{
    QTcpSocket *socket = nullptr;
    if (tls) {
        auto *ssl = new QSslSocket;
        ssl->setSslConfiguration(*tls);
        socket = ssl;
    } else {
        socket = new QTcpSocket;
    }
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    if (tls)
        static_cast<QSslSocket *>(socket)->startServerEncryption();
    auto *c = new DownstreamConnection(this, m_ctx, socket, std::move(listener));
    m_connections.insert(c);
    if (m_ctx->draining.load())
        c->drain();
}

forward::Forwarder *ProxyWorker::forwarder(routing::Backend::Engine engine)
{
    forward::ForwarderOptions o;
    o.hostCache = m_ctx->hostCache.load();
    o.idleTimeoutMs = m_ctx->options.upstreamIdleTimeoutMs;
    o.bodyBufferLimit = m_ctx->options.bufferLimit;
    o.connectionsOpenedCounter = &m_ctx->stats.upstreamConnectionsOpened;
    o.requestsCounter = &m_ctx->stats.upstreamRequests;
    if (engine == routing::Backend::Engine::Qnam) {
        if (!m_qnam)
            m_qnam = std::make_unique<forward::QnamForwarder>(o);
        return m_qnam.get();
    }
    if (!m_native)
        m_native = std::make_unique<forward::Http1Forwarder>(o);
    return m_native.get();
}

void ProxyWorker::drain()
{
    const auto conns = m_connections;
    for (DownstreamConnection *c : conns)
        c->drain();
    if (auto *n = dynamic_cast<forward::Http1Forwarder *>(m_native.get()))
        n->closeIdle();
}

void ProxyWorker::closeAll()
{
    const auto conns = std::exchange(m_connections, {});
    for (DownstreamConnection *c : conns)
        delete c;
    m_native.reset();
    m_qnam.reset();
}

void ProxyWorker::connectionClosed(DownstreamConnection *c)
{
    m_connections.remove(c);
}

} // namespace dfproxy::proxy
