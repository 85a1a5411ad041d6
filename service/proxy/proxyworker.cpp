// SPDX-License-Identifier: Apache-2.0
#include "proxy/proxyworker.h"

#include "base/logcategories.h"
#include "forward/http1forwarder.h"
#include "forward/http2forwarder.h"
#include "forward/qnamforwarder.h"
#include "proxy/downstreamconnection.h"
#include "proxy/http2connection.h"
#include "proxy/localreply.h"
#include "proxy/proxycontext.h"

#include "net/stream.h"
#include "platform/socket.h"

#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

namespace dfproxy::proxy {

namespace {

/// How long a refused connection is kept open, reading and discarding, after its 503 went out: closing a socket
/// with unread input sends a reset, which can make the client lose the 503 before reading it (nginx's lingering
/// close does the same).
constexpr int kLingerMs = 1000;
/// Refused connections lingering at once per worker; beyond this they are closed at once.
constexpr int kMaxLingering = 64;

QByteArray refusal(QByteArrayView reason)
{
    const LocalReply reply{503, reason.toByteArray(), "dfproxy: too many connections (" + reason.toByteArray() + ")\n",
                           {}, {{QByteArrayLiteral("Retry-After"), QByteArrayLiteral("1")}}};
    QByteArray out;
    appendLocalReply(out, reply, 1, false, true);
    return out;
}

} // namespace

ProxyWorker::ProxyWorker(ProxyContext *ctx) : m_ctx(ctx) {}

ProxyWorker::~ProxyWorker()
{
    closeAll();
}

void ProxyWorker::adopt(qintptr descriptor, std::shared_ptr<const routing::Listener> listener,
                        std::shared_ptr<const QSslConfiguration> tls)
{
    QHostAddress client;
    quint16 clientPort = 0;
    if (!platform::socketPeer(descriptor, &client, &clientPort)) {
        platform::closeSocket(descriptor); // gone already
        return;
    }
    const auto admission = m_ctx->limiter.admit(client);
    if (admission != ConnectionLimiter::Admission::Admitted) {
        const bool global = admission == ConnectionLimiter::Admission::GlobalLimit;
        qCDebug(lcNet).noquote() << "refused" << client.toString() << "port" << clientPort << "on listener"
                                 << listener->name << "-"
                                 << (global ? QStringLiteral("proxy.maxConnections (%1) reached")
                                                  .arg(m_ctx->limiter.maxConnections())
                                            : QStringLiteral("proxy.maxConnectionsPerClient (%1) reached")
                                                  .arg(m_ctx->limiter.maxConnectionsPerClient()));
        (global ? m_ctx->stats.connectionsRejectedGlobal : m_ctx->stats.connectionsRejectedClient)
            .fetch_add(1, std::memory_order_relaxed);
        auto *socket = new QTcpSocket;
        if (!socket->setSocketDescriptor(descriptor)) {
            delete socket;
            platform::closeSocket(descriptor);
            return;
        }
        // HTTPS listeners: no handshake is spent on a refused connection; it is just closed.
        refuse(socket, tls ? QByteArrayView() : (global ? "max_connections" : "max_connections_per_client"));
        return;
    }
    ConnectionSlot slot(&m_ctx->limiter, client);
    qCDebug(lcNet).noquote() << "accepted" << client.toString() << "port" << clientPort << "on listener"
                             << listener->name << (tls ? "(TLS)" : "");
    net::Stream *stream = nullptr;
    if (tls) {
        auto *ssl = new QSslSocket;
        ssl->setSslConfiguration(*tls);
        if (!ssl->setSocketDescriptor(descriptor)) {
            delete ssl;
            platform::closeSocket(descriptor);
            return;
        }
        if (lcNet().isDebugEnabled()) { // a failed handshake is otherwise silent: the client just sees a close
            QObject::connect(ssl, &QAbstractSocket::errorOccurred, ssl, [ssl, client, clientPort] {
                if (!ssl->isEncrypted())
                    qCDebug(lcNet).noquote() << "TLS handshake with" << client.toString() << "port" << clientPort
                                             << "failed:" << ssl->errorString();
            });
        }
        ssl->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        ssl->setReadBufferSize(m_ctx->options.bufferLimit);
        ssl->startServerEncryption();
        stream = net::Stream::adopt(ssl);
    } else {
        // Plain HTTP runs on the descriptor itself (net/stream.h).
        stream = net::Stream::fromDescriptor(descriptor);
    }
    if (!stream)
        return;
    auto *c = new DownstreamConnection(this, m_ctx, stream, tls != nullptr, std::move(listener), std::move(slot));
    m_connections.insert(c);
    if (m_ctx->draining.load())
        c->drain();
}

void ProxyWorker::refuse(QTcpSocket *socket, QByteArrayView reason)
{
    if (reason.isEmpty() || m_lingering >= kMaxLingering) {
        socket->abort();
        delete socket;
        return;
    }
    // Answer 503, send FIN, then read and drop what the client still sends until it closes or kLingerMs pass.
    ++m_lingering;
    socket->setParent(this);
    auto *timer = new QTimer(socket);
    timer->setSingleShot(true);
    auto done = [this, socket] {
        if (socket->property("dfproxyDone").toBool())
            return;
        socket->setProperty("dfproxyDone", true);
        --m_lingering;
        socket->abort();
        socket->deleteLater();
    };
    connect(timer, &QTimer::timeout, socket, done);
    connect(socket, &QAbstractSocket::disconnected, socket, done);
    connect(socket, &QAbstractSocket::errorOccurred, socket, done);
    connect(socket, &QIODevice::readyRead, socket, [socket] { socket->skip(socket->bytesAvailable()); });
    connect(socket, &QIODevice::bytesWritten, socket, [socket] {
        if (socket->bytesToWrite() == 0)
            platform::shutdownWrite(socket->socketDescriptor());
    });
    socket->write(refusal(reason));
    socket->flush();
    timer->start(kLingerMs);
}

namespace {
forward::ForwarderOptions forwarderOptions(ProxyContext *ctx)
{
    forward::ForwarderOptions o;
    o.hostCache = ctx->hostCache.load();
    o.idleTimeoutMs = ctx->options.upstreamIdleTimeoutMs;
    o.bodyBufferLimit = ctx->options.bufferLimit;
    o.connectionsOpenedCounter = &ctx->stats.upstreamConnectionsOpened;
    o.requestsCounter = &ctx->stats.upstreamRequests;
    return o;
}
} // namespace

forward::Forwarder *ProxyWorker::http2Forwarder()
{
    if (!m_http2Upstream) {
        auto h2 = std::make_unique<forward::Http2Forwarder>(forwarderOptions(m_ctx));
        // Auto: origins that pick http/1.1 by ALPN go on in the native engine (its pool, its connection).
        h2->setHttp1Engine(static_cast<forward::Http1Forwarder *>(forwarder(routing::Backend::Engine::Native)));
        m_http2Upstream = std::move(h2);
    }
    return m_http2Upstream.get();
}

forward::Forwarder *ProxyWorker::forwarder(routing::Backend::Engine engine)
{
    forward::ForwarderOptions o;
    o.hostCache = m_ctx->hostCache.load();
    o.idleTimeoutMs = m_ctx->options.upstreamIdleTimeoutMs;
    o.bodyBufferLimit = m_ctx->options.bufferLimit;
    o.connectionsOpenedCounter = &m_ctx->stats.upstreamConnectionsOpened;
    o.requestSplicedBytesCounter = &m_ctx->stats.requestBytesSpliced;
    o.responseSplicedBytesCounter = &m_ctx->stats.responseBytesSpliced;
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
    const auto h2 = m_http2;
    for (Http2Connection *c : h2)
        c->drain();
    if (auto *n = dynamic_cast<forward::Http1Forwarder *>(m_native.get()))
        n->closeIdle();
    if (auto *h2 = dynamic_cast<forward::Http2Forwarder *>(m_http2Upstream.get()))
        h2->closeIdle();
}

void ProxyWorker::closeAll()
{
    const auto conns = std::exchange(m_connections, {});
    for (DownstreamConnection *c : conns)
        delete c;
    const auto h2 = std::exchange(m_http2, {});
    for (Http2Connection *c : h2)
        delete c;
    m_native.reset();
    m_qnam.reset();
    m_http2Upstream.reset();
}

void ProxyWorker::connectionClosed(DownstreamConnection *c)
{
    m_connections.remove(c);
}

void ProxyWorker::startHttp2(net::Stream *stream, bool tls, std::shared_ptr<const routing::Listener> listener,
                             ConnectionSlot slot, QByteArray received,
                             std::unique_ptr<ConnectionApplication> application)
{
    auto *c = new Http2Connection(this, m_ctx, stream, tls, std::move(listener), std::move(slot), std::move(received),
                                  std::move(application));
    m_http2.insert(c);
    if (m_ctx->draining.load())
        c->drain();
}

void ProxyWorker::http2ConnectionClosed(Http2Connection *c)
{
    m_http2.remove(c);
}

} // namespace dfproxy::proxy
