// SPDX-License-Identifier: Apache-2.0
#include "forward/http1forwarder.h"

#include "forward/connector.h"
#include "forward/proxyauth.h"
#include "forward/upstreamproxy.h"

#include "base/bytes.h"
#include "base/lazytimer.h"
#include "dns/hostcache.h"
#include "http/readbuffer.h"
#include "http/responserules.h"
#include "net/stream.h"
#include "platform/nulladdress.h"
#include "platform/proxysecurity.h"

#include <QTcpSocket>
#include <QFile>
#include <QTimerEvent>

namespace dfproxy::forward {

using http::HttpParser;

namespace {
/// The first read of a response that may be spliced: the head and the body's start (below readSocket's quick-ACK
/// size, so it costs no setsockopt).
constexpr qint64 kSpliceHeadReadBytes = 8 * 1024;
} // namespace

/// One upstream TCP (or TLS) connection; owned by the forwarder's pool while idle, by an exchange while busy.
class UpstreamConnection final : public QObject, public net::StreamListener
{
public:
    /// Takes a connected stream from the Connector (isOpen() tells whether it is still usable): plain TCP on its
    /// descriptor (dialled as a raw socket when direct), TLS with OpenSSL on that descriptor when direct
    /// (TlsClientStream), through QSslSocket otherwise.
    UpstreamConnection(Http1Forwarder *fwd, QByteArray key, net::Stream *stream)
        : m_fwd(fwd)
        , m_key(std::move(key))
        , m_stream(stream)
        , m_parser(HttpParser::Kind::Response)
    {
        m_stream->setParent(this);
        m_stream->setListener(this);
        m_parser.setKeepTrailers(true); // an origin's chunked trailers go on (ResponseSink::onResponseTrailers)
    }

    bool isOpen() const { return m_stream && m_stream->isOpen(); }
    /// (An idle connection holds no read buffer: an empty one goes back to the thread's spares after each read.)
    void startIdleTimer(qint64 ms)
    {
        m_responseTimer.stop();
        m_idleTimer.start(this, ms);
    }
    void stopIdleTimer() { m_idleTimer.stop(); }
    bool isUsable() const
    {
        return m_stream && m_stream->isOpen() && !m_stream->hasPendingInput() && m_buffer.isEmpty();
    }
    /// Closes the socket quietly and deletes this later (safe to call twice).
    void destroy()
    {
        if (m_dying)
            return;
        m_dying = true;
        stopIdleTimer();
        m_owner = nullptr;
        if (m_stream) {
            m_stream->setListener(nullptr);
            m_stream->abort();
        }
        deleteLater();
    }
    /// The connection's stream for a tunnel (parentless, no listener; null when it is gone).
    net::Stream *releaseStream()
    {
        if (!m_stream || !m_stream->isOpen())
            return nullptr;
        m_stream->setListener(nullptr);
        m_stream->setParent(nullptr);
        return std::exchange(m_stream, nullptr);
    }
    QString errorString() const
    {
        return m_stream ? m_stream->errorString() : QString();
    }

    // net::StreamListener
    void onStreamReadable() override { onReadyRead(); }
    void onStreamWritten() override { onBytesWritten(); }
    void onStreamClosed(QAbstractSocket::SocketError e) override
    {
        if (e == QAbstractSocket::RemoteHostClosedError)
            onDisconnected();
        else
            onError(e);
    }

    Http1Forwarder *m_fwd;
    QByteArray m_key;
    net::Stream *m_stream = nullptr;
    HttpParser m_parser;
    http::ReadBuffer m_buffer;
    Http1Exchange *m_owner = nullptr;
    QHostAddress m_peer = platform::nullAddress(); ///< the address dialled (the upstream proxy's, through one)
    LazyTimer m_idleTimer;
    LazyTimer m_responseTimer; ///< the owner's response-head timeout: lives here so it is not re-created per request
    bool m_connected = false;
    bool m_dying = false;

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    void onReadyRead();
    void onBytesWritten();
    void onDisconnected();
    void onError(QAbstractSocket::SocketError e);
};

/// One request/response on an UpstreamConnection.
class Http1Exchange final : public QObject, public Exchange, public http::BodyHandler
{
public:
    Http1Exchange(Http1Forwarder *fwd, ForwardRequest &&req, ResponseSink *sink)
        : m_fwd(fwd)
        , m_sink(sink)
        , m_req(std::move(req))
    {
        m_idempotent = http::isIdempotent(m_req.method) && m_req.contentLength == 0;
        // Through an upstream proxy, TLS and upgrades take a CONNECT tunnel; plain HTTP goes to the proxy itself,
        // in absolute form.
        if (m_req.upstream.tls || m_req.upgrade) // (matters only when a proxy carries it)
            m_req.upstream.viaConnect = true;
        m_plainProxy = m_req.upstream.proxy && !m_req.upstream.viaConnect;
        buildHead();
    }
    ~Http1Exchange() override
    {
        killTimers();
        if (m_conn) {
            UpstreamConnection *c = m_conn;
            m_conn = nullptr;
            c->destroy();
        }
    }

    /// A connection another engine opened (Http2Forwarder's, where the origin picked http/1.1 by ALPN; it counted
    /// the connection): used as if dialled here, and pooled afterwards under this engine's key.
    void beginOn(QTcpSocket *socket, const QHostAddress &address)
    {
        m_reused = false;
        ++m_fwd->m_requests;
        socket->setReadBufferSize(256 * 1024); // as the Connector's stream mode sets it (dial())
        net::Stream *stream = net::Stream::adopt(socket, nullptr);
        if (!stream) {
            fail(ForwardError::Reset, QStringLiteral("upstream closed the connection as soon as it was open"));
            return;
        }
        adopt(stream, address);
    }

    void begin()
    {
        if (!m_req.upgrade && (!m_req.upstream.addresses.isEmpty() || m_req.upstream.proxy) && reuseIdle())
            return;
        dial(); // (callbacks never run from inside start(): the Connector reports from the event loop)
    }

    // Exchange
    void writeBody(const char *data, qsizetype size) override
    {
        if (size <= 0 || m_bodyEnded)
            return;
        if (m_req.contentLength < 0) {
            m_scratch.resize(0);
            http::appendChunk(m_scratch, data, size);
            writeOut(m_scratch.constData(), m_scratch.size());
        } else {
            writeOut(data, size);
        }
        if (bufferedBodyBytes() > m_fwd->m_options.bodyBufferLimit)
            m_bodyBlocked = true;
    }
    void endBody() override
    {
        if (m_bodyEnded)
            return;
        m_bodyEnded = true;
        if (m_req.contentLength < 0)
            writeOut("0\r\n\r\n", 5);
        if (m_connected)
            armResponseTimer();
    }
    qint64 bufferedBodyBytes() const override
    {
        return (m_connected && m_conn && m_conn->m_stream) ? m_conn->m_stream->bytesToWrite() : m_pending.size();
    }
    net::Stream *bodySpliceTarget() override
    {
        if (m_bodyEnded || m_req.contentLength < 0 || !m_connected || !m_conn || !m_conn->m_stream || !m_pending.isEmpty())
            return nullptr;
        return m_conn->m_stream;
    }
    void onBodySpliced(qint64 size) override
    {
        if (size > 0 && m_fwd->m_options.requestSplicedBytesCounter)
            m_fwd->m_options.requestSplicedBytesCounter->fetch_add(quint64(size), std::memory_order_relaxed);
        if (bufferedBodyBytes() > 0)
            m_bodyBlocked = true; // the client's side waits for bytesWritten() to tell it the upstream took them
    }
    void setResponsePaused(bool paused) override
    {
        if (m_paused == paused)
            return;
        m_paused = paused;
        if (!paused && m_conn && m_connected)
            QMetaObject::invokeMethod(this, [this] { readResponse(); }, Qt::QueuedConnection);
    }

    // BodyHandler (response body)
    void onBody(const char *data, qsizetype size) override
    {
        if (m_interim || m_authRetry)
            return;
        m_sink->onResponseBody(data, size);
    }

    // from UpstreamConnection
    void connected()
    {
        if (!m_conn || m_done)
            return;
        killTimers();
        m_connected = true;
        m_conn->m_connected = true;
        m_sink->onUpstreamConnected(m_address, m_reused);
        sendPending();
    }
    void bytesWritten()
    {
        if (m_bodyBlocked && bufferedBodyBytes() <= m_fwd->m_options.bodyBufferLimit / 2) {
            m_bodyBlocked = false;
            m_sink->onRequestBodyDrained();
        }
    }
    void socketError(QAbstractSocket::SocketError e)
    {
        if (!m_connected) {
            pooledConnectionDied(); // before its reuse was even announced
            return;
        }
        if (e == QAbstractSocket::RemoteHostClosedError)
            return; // handled by disconnected()
        brokenAfterConnect();
    }
    void disconnected()
    {
        if (!m_connected) {
            pooledConnectionDied();
            return;
        }
        brokenAfterConnect();
    }

    void readResponse()
    {
        if (!m_conn || !m_conn->m_stream || m_paused)
            return;
        // No liveness checks after the calls into the sink (the parser's onBody, onHead): a sink never destroys
        // its exchange inside one of its callbacks (forwarder.h), the connection and the HTTP/2 stream retire it.
        UpstreamConnection *c = m_conn;
        for (;;) {
            if (c->m_buffer.isEmpty()) {
                if (m_gotHead && spliceBody(c))
                    return;
                const qint64 n = c->m_buffer.fill(c->m_stream, m_gotHead ? 0 : headReadLimit(c));
                if (n <= 0)
                    return;
            }
            while (!c->m_buffer.isEmpty()) {
                HttpParser::Stop stop;
                const qsizetype used = c->m_parser.feed(c->m_buffer.data(), c->m_buffer.size(), &stop);
                c->m_buffer.consume(used);
                switch (stop) {
                case HttpParser::Stop::NeedMore:
                    break;
                case HttpParser::Stop::Head:
                    if (!onHead())
                        return;
                    break;
                case HttpParser::Stop::Complete:
                    if (m_interim) {
                        m_interim = false;
                        break;
                    }
                    if (m_authRetry) {
                        retryWithProxyAuth();
                        return;
                    }
                    finish();
                    return;
                case HttpParser::Stop::Error:
                    fail(ForwardError::BadResponse,
                         QStringLiteral("bad response: %1").arg(QString::fromLatin1(c->m_parser.error().reason)));
                    return;
                }
                if (m_paused)
                    return;
            }
        }
    }

    /// Moves the rest of a Content-Length body straight from the upstream socket to the client's (splice() on
    /// Linux, plain TCP both ways) instead of reading it into the buffer and writing it out again: a 64 KiB body
    /// is then never copied through user space. True when done for now (or the exchange ended); false to read
    /// (nothing happened).
    bool spliceBody(UpstreamConnection *c)
    {
        const qint64 left = m_interim ? -1 : c->m_parser.bodyBytesLeft();
        if (left <= 0 || (!m_splicing && left < net::kSpliceMinBytes))
            return false;
        net::Stream *to = m_sink->bodySpliceTarget();
        if (!to)
            return false;
        const qint64 moved = c->m_stream->spliceTo(to, left);
        if (moved < 0)
            return false; // bytes already read wait (or the streams cannot splice): read them
        m_splicing = true;
        if (moved > 0 && m_fwd->m_options.responseSplicedBytesCounter)
            m_fwd->m_options.responseSplicedBytesCounter->fetch_add(quint64(moved), std::memory_order_relaxed);
        m_sink->onResponseBodySpliced(moved);
        if (moved > 0 && c->m_parser.skipBody(moved) == HttpParser::Stop::Complete)
            finish();
        // Otherwise spliceTo went as far as it could: the upstream announces more input, the client room (the
        // sink has paused the response until then).
        return true;
    }

    /// How much the first read of a response takes: little where the body may be spliced (what the read takes in
    /// is copied), so that a large body mostly stays in the kernel; otherwise as much as the buffer holds.
    qint64 headReadLimit(UpstreamConnection *c)
    {
        if (m_headReadLimit < 0) {
            net::Stream *to = m_sink->bodySpliceTarget();
            m_headReadLimit = to && c->m_stream->canSpliceTo(to) ? kSpliceHeadReadBytes : 0;
        }
        return m_headReadLimit;
    }

    void onResponseTimeout()
    {
        killTimers();
        fail(ForwardError::ResponseTimeout, QStringLiteral("no response head in time"));
    }

private:
    /// The request target as the upstream proxy takes it: http://host[:port]/path?query.
    QByteArray absoluteTarget() const
    {
        const QByteArray host = m_req.upstream.host.toUtf8();
        QByteArray uri = "http://" + (host.contains(':') ? '[' + host + ']' : host);
        if (m_req.upstream.port != 80)
            uri += ':' + QByteArray::number(m_req.upstream.port);
        return uri + m_req.target;
    }

    void buildHead()
    {
        m_head.clear();
        m_head.reserve(256);
        if (m_plainProxy) {
            const QByteArray target = absoluteTarget();
            http::appendRequestHead(m_head, m_req.method, target, m_req.headers);
            QByteArray authorization = m_proxyAuthorization;
            if (authorization.isEmpty() && m_req.upstream.proxy->auth)
                authorization = m_req.upstream.proxy->auth->preemptive(m_req.method, target);
            if (!authorization.isEmpty())
                http::appendHeader(m_head, "Proxy-Authorization", authorization);
        } else {
            http::appendRequestHead(m_head, m_req.method, m_req.target, m_req.headers);
        }
        if (m_req.contentLength < 0)
            m_head.append("Transfer-Encoding: chunked\r\n");
        else if (m_req.contentLength > 0 || m_req.method == "POST" || m_req.method == "PUT"
                 || m_req.method == "PATCH")
            http::appendHeader(m_head, "Content-Length", QByteArray::number(m_req.contentLength));
        if (m_req.upgrade)
            m_head.append("Connection: Upgrade\r\n");
        appendRaw(m_head, "\r\n", 2);
        m_pending = m_head;
    }

    QByteArray poolKey(const QHostAddress &address) const
    {
        if (const UpstreamProxy *proxy = m_req.upstream.proxy.get()) {
            // Connections to the proxy itself are shared by every target; CONNECT tunnels belong to theirs.
            QByteArray key = "via " + proxy->address.toUtf8() + (proxy->tls ? " tls" : "");
            if (!proxy->caFile.isEmpty()) // verified against other CAs than the system's: not the same proxy
                key += " ca " + proxy->caFile.toUtf8();
            if (proxy->auth)
                key += " as " + proxy->auth->user().toUtf8();
            if (m_req.upstream.viaConnect)
                key += " to " + m_req.upstream.host.toUtf8() + ':' + QByteArray::number(m_req.upstream.port);
            if (m_req.upstream.tls) {
                key.append(":tls:").append(m_req.upstream.tlsName().toUtf8());
                if (m_req.upstream.tlsInsecureSkipVerify)
                    key.append(":insecure");
                if (!m_req.upstream.tlsCaFile.isEmpty())
                    key.append(":ca:").append(m_req.upstream.tlsCaFile.toUtf8());
            }
            return key;
        }
        // Raw address bytes and port: no text formatting per request.
        QByteArray key;
        key.reserve(24);
        const quint16 port = m_req.upstream.port;
        if (address.protocol() == QAbstractSocket::IPv4Protocol) {
            const quint32 v4 = address.toIPv4Address();
            char *p = growBy(key, qsizetype(sizeof v4 + sizeof port));
            memcpy(p, &v4, sizeof v4);
            memcpy(p + sizeof v4, &port, sizeof port);
        } else {
            const Q_IPV6ADDR v6 = address.toIPv6Address();
            key.append(reinterpret_cast<const char *>(v6.c), sizeof v6.c);
            key.append(address.scopeId().toLatin1());
            key.append(reinterpret_cast<const char *>(&port), sizeof port);
        }
        if (m_req.upstream.tls) {
            key.append(":tls:").append(m_req.upstream.tlsName().toUtf8());
            if (m_req.upstream.tlsInsecureSkipVerify)
                key.append(":insecure");
            if (!m_req.upstream.tlsCaFile.isEmpty())
                key.append(":ca:").append(m_req.upstream.tlsCaFile.toUtf8());
        }
        return key;
    }

    /// A pooled connection to the first address, announced at once: no event-loop hop per request. Only
    /// onUpstreamConnected runs inside start() (see the contract); a connection that died in the pool shows up as a
    /// close from the event loop, and the request is retried on a fresh one (brokenAfterConnect).
    bool reuseIdle()
    {
        m_address = m_req.upstream.proxy ? platform::nullAddress() : m_req.upstream.addresses.constFirst();
        UpstreamConnection *c = m_fwd->takeIdle(poolKey(m_address));
        if (!c)
            return false;
        m_address = c->m_peer;
        ++m_fwd->m_reused;
        ++m_fwd->m_requests;
        attach(c);
        m_reused = true;
        connected();
        return true;
    }

    /// A fresh connection through the Connector (addresses in order, connect timeout, fallback, DNS cache reports).
    void dial()
    {
        m_reused = false;
        ++m_fwd->m_requests;
        Connector::Options options;
        options.timeoutMs = m_req.connectTimeoutMs;
        options.hostCache = m_fwd->m_options.hostCache;
        options.caCertificates = [fwd = m_fwd](const QString &path) { return fwd->caCertificates(path); };
        options.readBufferSize = 256 * 1024; // a TLS connection's decrypted bytes waiting to be read
        m_connector = std::make_unique<Connector>(
            m_req.upstream, std::move(options),
            Connector::ConnectedStream(
                [this](net::Stream *stream, const QHostAddress &address) { dialled(stream, address); }),
            [this](ForwardError error, const QString &detail) { dialFailed(error, detail); });
        m_connector->start();
    }

    void dialled(net::Stream *stream, const QHostAddress &address)
    {
        if (m_connector->proxy() != m_req.upstream.proxy)
            switchHop(m_connector->proxy());
        endDial();
        ++m_fwd->m_opened;
        if (m_fwd->m_options.connectionsOpenedCounter)
            m_fwd->m_options.connectionsOpenedCounter->fetch_add(1, std::memory_order_relaxed);
        adopt(stream, address);
    }

    void adopt(net::Stream *stream, const QHostAddress &address)
    {
        m_address = address;
        auto *c = new UpstreamConnection(m_fwd, poolKey(address), stream);
        c->m_peer = address;
        attach(c);
        if (!c->isOpen()) {
            fail(ForwardError::Reset, QStringLiteral("upstream closed the connection as soon as it was open"));
            return;
        }
        connected();
    }

    /// The Connector fell back to another entry of a PAC result: the request goes in that hop's form (absolute to
    /// a proxy, origin-form otherwise), with whatever body bytes already wait behind the head.
    void switchHop(const std::shared_ptr<const UpstreamProxy> &proxy)
    {
        const QByteArray body = m_pending.mid(m_head.size());
        m_req.upstream.proxy = proxy;
        m_plainProxy = proxy && !m_req.upstream.viaConnect;
        m_proxyAuthorization.clear();
        buildHead();
        m_pending = m_head + body;
        m_sink->onUpstreamProxyUsed(proxy.get());
    }

    void dialFailed(ForwardError error, const QString &detail)
    {
        endDial();
        fail(error, detail);
    }

    /// The Connector is done (this runs inside its callback: it goes later).
    void endDial()
    {
        if (!m_connector)
            return;
        m_fwd->m_connectFailures += quint64(m_connector->failures());
        m_connector.release()->deleteLater();
    }

    void attach(UpstreamConnection *c)
    {
        m_conn = c;
        c->m_owner = this;
        c->m_responseTimer.stop();
        c->m_parser.reset();
        c->m_parser.setExpectNoBody(m_req.method == "HEAD");
        c->m_parser.setBodyHandler(this);
        m_connected = false;
    }

    void detachAndDrop()
    {
        if (!m_conn)
            return;
        UpstreamConnection *c = m_conn;
        m_conn = nullptr;
        c->destroy();
    }

    /// A pooled connection closed between being taken from the pool and carrying the request: once, on a fresh
    /// connection, when the request can be replayed.
    void pooledConnectionDied()
    {
        if (m_done)
            return;
        if (!m_retried && m_idempotent) {
            m_retried = true;
            ++m_fwd->m_retries;
            detachAndDrop();
            m_pending = m_head;
            dial();
            return;
        }
        fail(ForwardError::Reset, QStringLiteral("the pooled upstream connection closed before the request was sent"));
    }

    void brokenAfterConnect()
    {
        if (!m_conn)
            return;
        // Bytes may still be buffered; a read-until-close body ends here (and may end the exchange: m_conn is
        // null then).
        readResponse();
        if (!m_conn)
            return;
        if (m_gotHead) {
            if (m_conn->m_parser.feedEof() == HttpParser::Stop::Complete && m_conn->m_buffer.isEmpty()) {
                m_keepConnection = false;
                finish();
                return;
            }
            fail(ForwardError::Reset, QStringLiteral("upstream closed the connection mid-response"));
            return;
        }
        if (m_reused && !m_retried && m_idempotent && !m_gotAnyByte) {
            // A pooled connection died while idle: once, on a fresh connection.
            m_retried = true;
            ++m_fwd->m_retries;
            detachAndDrop();
            m_pending = m_head;
            dial();
            return;
        }
        fail(ForwardError::Reset, QStringLiteral("upstream closed the connection before responding"));
    }

    void writeOut(const char *data, qsizetype size)
    {
        if (m_connected && m_conn && m_conn->m_stream) {
            m_conn->m_stream->write(data, size);
        } else {
            m_pending.append(data, size);
        }
    }

    void sendPending()
    {
        net::Stream *s = m_conn->m_stream;
        s->write(m_pending);
        s->flush();
        m_pending.clear();
        // The body buffered while connecting may have gone at once: no bytesWritten() then releases a client side
        // that stopped reading at the limit.
        bytesWritten();
        if (m_bodyEnded)
            armResponseTimer();
        if (s->hasPendingInput()) // otherwise the stream announces the response
            readResponse();
    }

    void armResponseTimer()
    {
        if (m_req.responseTimeoutMs > 0 && !m_gotHead && m_conn && !m_conn->m_responseTimer.isActive())
            m_conn->m_responseTimer.start(m_conn, m_req.responseTimeoutMs);
    }

    void killTimers()
    {
        if (m_conn)
            m_conn->m_responseTimer.stop();
    }

    /// Returns false when the exchange handed over or ended.
    bool onHead()
    {
        UpstreamConnection *c = m_conn;
        const http::MessageHead &h = c->m_parser.head();
        m_gotAnyByte = true;
        // What the parser lets through on the status line (a status below 100 would go out as a head without a
        // body, with the body behind it; control bytes in the reason phrase); the QNAM engine applies the same.
        if (const QByteArray reason = http::checkResponseStatus(h.status, h.reasonPhrase); !reason.isEmpty()) {
            fail(ForwardError::BadResponse, QStringLiteral("bad response: %1").arg(QLatin1String(reason)));
            return false;
        }
        if (h.status >= 100 && h.status < 200 && h.status != 101) {
            m_interim = true;
            return true;
        }
        killTimers();
        if (m_plainProxy && h.status == 407)
            return onProxyAuthRequired(h);
        if (h.status == 101) {
            if (!m_req.upgrade) {
                fail(ForwardError::BadResponse, QStringLiteral("unexpected 101 response"));
                return false;
            }
            m_gotHead = true;
            // Let the parser step over the end of the head, then hand the socket over with what follows.
            HttpParser::Stop stop;
            const qsizetype used = c->m_parser.feed(c->m_buffer.data(), c->m_buffer.size(), &stop);
            c->m_buffer.consume(used);
            QByteArray leftover(c->m_buffer.data(), c->m_buffer.size());
            c->m_buffer.clear();
            m_sink->onResponseHead(h);
            net::Stream *upstream = c->releaseStream();
            if (!upstream) {
                fail(ForwardError::Reset, QStringLiteral("upstream closed the connection after its 101"));
                return false;
            }
            m_conn = nullptr;
            c->m_owner = nullptr;
            c->deleteLater();
            m_done = true;
            m_sink->onUpgraded(upstream, leftover);
            return false;
        }
        m_gotHead = true;
        m_keepConnection = h.keepAlive;
        m_sink->onResponseHead(h);
        return true;
    }

    /// A 407 from the upstream proxy: answered once, on the same connection when the proxy keeps it (the 407's
    /// body is dropped first), for a request that can be sent again (no body); else 502 upstream_proxy_auth_failed.
    bool onProxyAuthRequired(const http::MessageHead &h)
    {
        const UpstreamProxy &proxy = *m_req.upstream.proxy;
        const QString what = QStringLiteral("the upstream proxy %1").arg(proxy.address);
        if (!proxy.auth) {
            fail(ForwardError::ProxyAuthFailed, what + QStringLiteral(" asks for credentials (407), and the tunnel "
                                                                      "names no dfproxy.dev/tunnel-credentials-file"));
            return false;
        }
        if (m_authRetried && !proxy.auth->isConnectionBased()) {
            fail(ForwardError::ProxyAuthFailed,
                 what + QStringLiteral(" refused the credentials of %1 (407)").arg(proxy.auth->user()));
            return false;
        }
        if (proxy.auth->isConnectionBased() && m_securityLegs >= 3) {
            fail(ForwardError::ProxyAuthFailed,
                 what + QStringLiteral(" refused %1 (407)").arg(QString::fromLatin1(proxy.auth->connectionScheme())));
            return false;
        }
        if (m_req.contentLength != 0 || !m_bodyEnded) {
            fail(ForwardError::ProxyAuthFailed,
                 what + QStringLiteral(" asked for credentials (407) after a request body was sent, which cannot be "
                                       "sent again"));
            return false;
        }
        QList<QByteArray> challenges;
        for (const auto &hdr : h.headers) {
            if (hdr.first.compare("proxy-authenticate", Qt::CaseInsensitive) == 0)
                challenges.append(hdr.second);
        }
        QString error;
        if (proxy.auth->isConnectionBased()) {
            if (!m_security)
                m_security = proxy.auth->newContext(proxy.host, &error);
            m_proxyAuthorization = m_security ? proxy.auth->connectionAnswer(*m_security, challenges, &error)
                                              : QByteArray();
            ++m_securityLegs;
        } else {
            m_proxyAuthorization = proxy.auth->answer(challenges, m_req.method, absoluteTarget(), &error);
        }
        if (m_proxyAuthorization.isEmpty()) {
            fail(ForwardError::ProxyAuthFailed, what + QStringLiteral(": ") + error);
            return false;
        }
        m_authRetry = true;
        m_authKeepConnection = h.keepAlive;
        return true; // the 407's body goes by; then retryWithProxyAuth()
    }

    void retryWithProxyAuth()
    {
        m_authRetry = false;
        m_authRetried = true;
        buildHead();
        m_pending = m_head;
        UpstreamConnection *c = m_conn;
        if (m_authKeepConnection && c && c->m_buffer.isEmpty() && c->isOpen()) {
            attach(c);
            connected();
            return;
        }
        detachAndDrop();
        if (m_security) { // a Negotiate/NTLM context belongs to its connection: start again on the new one
            m_security.reset();
            m_proxyAuthorization.clear();
            buildHead();
            m_pending = m_head;
        }
        dial();
    }

    void finish()
    {
        killTimers();
        m_done = true;
        UpstreamConnection *c = m_conn;
        m_conn = nullptr;
        http::HeaderList trailers;
        if (c) {
            trailers = c->m_parser.takeTrailers();
            c->m_owner = nullptr;
            c->m_parser.setBodyHandler(nullptr);
            const bool reusable = m_keepConnection && m_bodyEnded && c->m_buffer.isEmpty() && c->m_stream
                && c->m_stream->isOpen() && c->m_stream->bytesToWrite() == 0;
            if (reusable) {
                m_fwd->putIdle(c);
            } else {
                c->destroy();
            }
        }
        if (!trailers.isEmpty())
            m_sink->onResponseTrailers(trailers);
        m_sink->onResponseComplete();
    }

    void fail(ForwardError err, const QString &detail)
    {
        if (m_done)
            return;
        m_done = true;
        killTimers();
        detachAndDrop();
        m_sink->onError(err, detail);
    }

    Http1Forwarder *m_fwd;
    ResponseSink *m_sink;
    ForwardRequest m_req;
    QByteArray m_head;
    QByteArray m_pending;
    QByteArray m_scratch;
    UpstreamConnection *m_conn = nullptr;
    QHostAddress m_address = platform::nullAddress();
    std::unique_ptr<Connector> m_connector; ///< while dialling
    bool m_idempotent = false;
    bool m_reused = false;
    bool m_retried = false;
    bool m_connected = false;
    bool m_bodyEnded = false;
    bool m_bodyBlocked = false;
    bool m_paused = false;
    bool m_gotHead = false;
    bool m_gotAnyByte = false;
    bool m_interim = false;
    bool m_splicing = false;      ///< this response's body is being spliced (spliceBody)
    qint64 m_headReadLimit = -1;  ///< headReadLimit(), once known
    bool m_keepConnection = false;
    bool m_done = false;
    bool m_plainProxy = false;         ///< to an upstream proxy in absolute form (not through CONNECT)
    bool m_authRetry = false;          ///< a 407 being read: the request goes again with m_proxyAuthorization
    bool m_authRetried = false;
    bool m_authKeepConnection = false; ///< the 407 came on a connection the proxy keeps
    QByteArray m_proxyAuthorization;   ///< the answer to the upstream proxy's challenge
    std::unique_ptr<platform::ProxySecurityContext> m_security; ///< Negotiate/NTLM on this exchange's connection
    int m_securityLegs = 0;
};

void UpstreamConnection::timerEvent(QTimerEvent *ev)
{
    if (m_idleTimer.fired(this, ev)) {
        m_fwd->dropIdle(this);
    } else if (m_responseTimer.fired(this, ev)) {
        if (m_owner)
            m_owner->onResponseTimeout();
    }
}

void UpstreamConnection::onReadyRead()
{
    if (m_owner) {
        m_owner->readResponse();
        m_buffer.recycle(); // (this is deleted later, never inside the call)
        return;
    }
    // Idle connections must not talk: whatever arrives makes them unusable.
    m_fwd->dropIdle(this);
}

void UpstreamConnection::onBytesWritten()
{
    if (m_owner)
        m_owner->bytesWritten();
}

void UpstreamConnection::onDisconnected()
{
    if (m_owner) {
        m_owner->disconnected();
        return;
    }
    m_fwd->dropIdle(this);
}

void UpstreamConnection::onError(QAbstractSocket::SocketError e)
{
    if (m_owner) {
        m_owner->socketError(e);
        return;
    }
    m_fwd->dropIdle(this);
}

Http1Forwarder::Http1Forwarder(ForwarderOptions options, QObject *parent)
    : QObject(parent)
    , m_options(options)
{
}

Http1Forwarder::~Http1Forwarder()
{
    closeIdle();
}

std::unique_ptr<Exchange> Http1Forwarder::start(ForwardRequest &&request, ResponseSink *sink)
{
    if (m_options.requestsCounter)
        m_options.requestsCounter->fetch_add(1, std::memory_order_relaxed);
    auto ex = std::make_unique<Http1Exchange>(this, std::move(request), sink);
    ex->begin();
    return ex;
}

std::unique_ptr<Exchange> Http1Forwarder::startFallback(QTcpSocket *socket, const QHostAddress &address,
                                                        ForwardRequest &&request, ResponseSink *sink)
{
    auto ex = std::make_unique<Http1Exchange>(this, std::move(request), sink);
    if (socket)
        ex->beginOn(socket, address);
    else
        ex->begin();
    return ex;
}

QList<QSslCertificate> Http1Forwarder::caCertificates(const QString &path)
{
    // Read once per worker; a config change that edits the file in place needs a restart (documented).
    auto it = m_caCache.constFind(path);
    if (it != m_caCache.constEnd())
        return it.value();
    const QList<QSslCertificate> certs = QSslCertificate::fromPath(path, QSsl::Pem);
    m_caCache.insert(path, certs);
    return certs;
}

QJsonObject Http1Forwarder::stats() const
{
    return QJsonObject{{QStringLiteral("connectionsOpened"), qint64(m_opened)},
                       {QStringLiteral("connectionsReused"), qint64(m_reused)},
                       {QStringLiteral("requests"), qint64(m_requests)},
                       {QStringLiteral("connectFailures"), qint64(m_connectFailures)},
                       {QStringLiteral("retries"), qint64(m_retries)},
                       {QStringLiteral("idleConnections"), idleConnections()}};
}

int Http1Forwarder::idleConnections() const
{
    int n = 0;
    for (const auto &list : m_idle)
        n += int(list.size());
    return n;
}

void Http1Forwarder::closeIdle()
{
    const auto idle = std::exchange(m_idle, {});
    for (const auto &list : idle) {
        for (UpstreamConnection *c : list)
            c->destroy();
    }
}

UpstreamConnection *Http1Forwarder::takeIdle(const QByteArray &key)
{
    auto it = m_idle.find(key);
    if (it == m_idle.end())
        return nullptr;
    auto &list = it.value();
    while (!list.isEmpty()) {
        UpstreamConnection *c = list.takeLast();
        c->stopIdleTimer();
        if (c->isUsable())
            return c;
        c->destroy();
    }
    m_idle.erase(it);
    return nullptr;
}

void Http1Forwarder::putIdle(UpstreamConnection *c)
{
    auto &list = m_idle[c->m_key];
    if (list.size() >= m_options.maxIdlePerKey) {
        c->destroy();
        return;
    }
    list.append(c);
    c->startIdleTimer(m_options.idleTimeoutMs);
}

void Http1Forwarder::dropIdle(UpstreamConnection *c)
{
    auto it = m_idle.find(c->m_key);
    if (it != m_idle.end()) {
        it.value().removeOne(c);
        if (it.value().isEmpty())
            m_idle.erase(it);
    }
    c->destroy();
}

} // namespace dfproxy::forward
