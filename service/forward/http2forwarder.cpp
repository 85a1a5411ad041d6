// SPDX-License-Identifier: Apache-2.0
#include "forward/http2forwarder.h"

#include "forward/connector.h"
#include "forward/http1forwarder.h"
#include "forward/proxyauth.h"
#include "forward/tlslayer.h"
#include "forward/upstreamproxy.h"

#include "base/lazytimer.h"
#include "base/logcategories.h"
#include "http/responserules.h"
#include "http2/clientsession.h"
#include "platform/nulladdress.h"

#include <nghttp2/nghttp2.h>

#include <QPointer>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimerEvent>

#include <cstring>

namespace dfproxy::forward {

namespace {

constexpr qsizetype kSendChunk = 256 * 1024;

/// The connection a request shares: the origin's first address and port (or the upstream proxy's tunnel to it) and
/// the TLS settings.
QByteArray connectionKey(const Upstream &up)
{
    QByteArray key;
    if (const UpstreamProxy *proxy = up.proxy.get()) {
        key = "via " + proxy->address.toUtf8() + (proxy->tls ? " tls" : "");
        if (proxy->auth)
            key += " as " + proxy->auth->user().toUtf8();
        key += " to " + up.host.toUtf8();
    } else if (!up.addresses.isEmpty()) {
        key = up.addresses.constFirst().toString().toUtf8();
    }
    key += ':' + QByteArray::number(up.port);
    if (up.tls) {
        key.append(":tls:").append(up.tlsName().toUtf8());
        if (up.tlsInsecureSkipVerify)
            key.append(":insecure");
        if (!up.tlsCaFile.isEmpty())
            key.append(":ca:").append(up.tlsCaFile.toUtf8());
        if (up.http1Fallback) // a strict HTTP2 request must not wait for a connection that may become http/1.1
            key.append(":auto");
    }
    return key;
}

QByteArray lower(const QByteArray &s)
{
    return s.toLower();
}

} // namespace

/// One request as an HTTP/2 stream. Its body waits in m_body until the session reads it; until the response head
/// arrives the bytes sent are kept (up to the body buffer limit), so that a stream the origin refused can be sent
/// again on a new connection.
class Http2Exchange final : public QObject, public Exchange
{
public:
    Http2Exchange(Http2Forwarder *fwd, ForwardRequest &&req, ResponseSink *sink)
        : m_fwd(fwd), m_req(std::move(req)), m_sink(sink)
    {
        m_hasBody = m_req.contentLength != 0;
        m_bodyEnded = !m_hasBody;
        m_replayable = !m_hasBody || http::isIdempotent(m_req.method);
    }
    ~Http2Exchange() override;

    void begin(bool fresh);

    // Exchange (after a fall-back to HTTP/1.1, everything goes to the HTTP/1.1 exchange)
    void writeBody(const char *data, qsizetype size) override;
    void endBody() override;
    void setRequestTrailers(const http::HeaderList &trailers) override
    {
        if (m_http1)
            m_http1->setRequestTrailers(trailers);
        else
            m_requestTrailers = trailers;
    }
    qint64 bufferedBodyBytes() const override
    {
        return m_http1 ? m_http1->bufferedBodyBytes() : m_body.size() - m_bodyPos;
    }
    void setResponsePaused(bool paused) override;
    net::Stream *bodySpliceTarget() override { return m_http1 ? m_http1->bodySpliceTarget() : nullptr; }
    void onBodySpliced(qint64 size) override
    {
        if (m_http1)
            m_http1->onBodySpliced(size);
    }

    // from the connection
    void connected(const QHostAddress &address, bool reused);
    void connectFailed(ForwardError error, const QString &detail);
    void proxyUsed(const UpstreamProxy *proxy) { m_sink->onUpstreamProxyUsed(proxy); }
    void submit();
    void onHead(int status, const http2::HeaderList &headers, bool endStream);
    void onData(const char *data, qsizetype size);
    void onTrailers(const http2::HeaderList &trailers);
    void onEnd();
    void onClosed(quint32 errorCode, bool unprocessed);
    void onConnectionLost(const QString &detail, bool unprocessed);
    /// The origin picked http/1.1 by ALPN (Auto): the request goes on over HTTP/1.1, on `socket` (null: on a
    /// connection of the HTTP/1.1 engine's own), with the body received so far.
    void fallBack(QTcpSocket *socket, const QHostAddress &address);
    qsizetype readBody(char *out, qsizetype max, bool *eof);
    http2::HeaderList trailers() const;

    qint32 m_stream = -1;
    Http2Upstream *m_conn = nullptr;
    const ForwardRequest &request() const { return m_req; }

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    void fail(ForwardError error, const QString &detail);
    /// The origin did not process the request: once more on a new connection, if that is safe.
    bool retry();
    void detach();
    void armResponseTimer();

    Http2Forwarder *m_fwd;
    ForwardRequest m_req;
    ResponseSink *m_sink;
    QByteArray m_body;
    qsizetype m_bodyPos = 0;
    http::HeaderList m_requestTrailers;
    qint64 m_unconsumed = 0; ///< response bytes passed on while paused: the stream's window opens on resume
    LazyTimer m_responseTimer;
    bool m_hasBody = false;
    bool m_bodyEnded = false;
    bool m_replayable = false;
    bool m_retried = false;
    bool m_gotHead = false;
    bool m_done = false;
    bool m_paused = false;
    bool m_wantDrained = false;
    bool m_endCalled = false; ///< the caller's endBody(), to repeat to m_http1
    std::unique_ptr<Exchange> m_http1; ///< after fallBack(): the exchange that carries the request
};

/// One HTTP/2 connection to an origin, shared by the exchanges of its key.
class Http2Upstream final : public QObject, public http2::ClientSessionHandler
{
public:
    Http2Upstream(Http2Forwarder *fwd, QByteArray key, const ForwardRequest &req)
        : m_fwd(fwd), m_key(std::move(key)), m_session(this)
    {
        Connector::Options options;
        options.timeoutMs = req.connectTimeoutMs;
        options.hostCache = fwd->m_options.hostCache;
        options.caCertificates = [fwd](const QString &path) { return fwd->caCertificates(path); };
        Upstream up = req.upstream;
        m_proxy = up.proxy;
        m_http1Fallback = up.http1Fallback;
        m_connector = std::make_unique<Connector>(
            up, std::move(options), [this](QTcpSocket *s, const QHostAddress &a) { dialled(s, a); },
            [this](ForwardError e, const QString &d) { dialFailed(e, d); });
        m_connector->start();
    }
    ~Http2Upstream() override
    {
        if (m_socket) {
            m_socket->abort();
            m_socket->deleteLater();
        }
    }

    const QByteArray &key() const { return m_key; }
    bool takesStream() const
    {
        return !m_dead && (m_connector || m_session.canOpenStream())
            && m_streams.size() + m_waiting.size() < qsizetype(m_maxStreams);
    }
    int streams() const { return int(m_streams.size() + m_waiting.size()); }

    /// Queues or opens the exchange's stream.
    void attach(Http2Exchange *ex)
    {
        ex->m_conn = this;
        m_idle.stop();
        if (m_socket) {
            ++m_fwd->m_reused;
            ex->connected(m_peer, true);
            openStream(ex);
        } else {
            m_waiting.append(ex);
        }
    }
    void detach(Http2Exchange *ex, bool reset)
    {
        m_waiting.removeOne(ex);
        if (ex->m_stream > 0) {
            m_streams.remove(ex->m_stream);
            if (reset && !m_dead) {
                m_session.resetStream(ex->m_stream, NGHTTP2_CANCEL);
                scheduleFlush();
            }
        }
        ex->m_conn = nullptr;
        ex->m_stream = -1;
        idleCheck();
    }
    http2::ClientSession &session() { return m_session; }

    /// Sends what the session has, from the event loop (never from inside a caller's call).
    void scheduleFlush()
    {
        if (m_flushQueued || !m_socket)
            return;
        m_flushQueued = true;
        QMetaObject::invokeMethod(this, [this] { flush(); }, Qt::QueuedConnection);
    }

    void shutdown()
    {
        if (m_dead)
            return;
        m_session.shutdown();
        m_maxStreams = 0;
        scheduleFlush();
        idleCheck();
    }

    // http2::ClientSessionHandler
    void onResponseHead(qint32 stream, int status, const http2::HeaderList &headers, bool endStream) override
    {
        if (Http2Exchange *ex = m_streams.value(stream))
            ex->onHead(status, headers, endStream);
    }
    void onResponseData(qint32 stream, const char *data, qsizetype size) override
    {
        if (Http2Exchange *ex = m_streams.value(stream))
            ex->onData(data, size);
        else
            m_session.consume(stream, size);
    }
    void onResponseTrailers(qint32 stream, const http2::HeaderList &trailers) override
    {
        if (Http2Exchange *ex = m_streams.value(stream))
            ex->onTrailers(trailers);
    }
    void onResponseEnd(qint32 stream) override
    {
        if (Http2Exchange *ex = m_streams.value(stream))
            ex->onEnd();
    }
    void onStreamClosed(qint32 stream, quint32 errorCode) override
    {
        Http2Exchange *ex = m_streams.take(stream);
        if (ex) {
            ex->m_conn = nullptr;
            ex->m_stream = -1;
            ex->onClosed(errorCode, errorCode == NGHTTP2_REFUSED_STREAM || (m_goaway && stream > m_lastStreamId));
        }
        idleCheck();
    }
    void onGoaway(qint32 lastStreamId, quint32 errorCode) override
    {
        qCDebug(lcForward).noquote() << "HTTP/2 origin" << m_key << "sent GOAWAY, last stream" << lastStreamId
                                     << "code" << errorCode;
        m_goaway = true;
        m_lastStreamId = lastStreamId;
        m_maxStreams = 0; // a new request gets a new connection
    }
    qsizetype readRequestBody(qint32 stream, char *out, qsizetype max, bool *eof) override
    {
        Http2Exchange *ex = m_streams.value(stream);
        if (!ex) {
            *eof = true;
            return 0;
        }
        return ex->readBody(out, max, eof);
    }
    http2::HeaderList requestTrailers(qint32 stream) override
    {
        const Http2Exchange *ex = m_streams.value(stream);
        return ex ? ex->trailers() : http2::HeaderList();
    }

protected:
    void timerEvent(QTimerEvent *ev) override
    {
        if (m_idle.fired(this, ev))
            close();
    }

private:
    void dialled(QTcpSocket *socket, const QHostAddress &address)
    {
        if (m_connector->proxy() != m_proxy) {
            for (Http2Exchange *ex : std::as_const(m_waiting))
                ex->proxyUsed(m_connector->proxy().get());
        }
        endDial();
        ++m_fwd->m_opened;
        if (m_fwd->m_options.connectionsOpenedCounter)
            m_fwd->m_options.connectionsOpenedCounter->fetch_add(1, std::memory_order_relaxed);
        m_socket = socket;
        m_peer = address;
        if (QByteArray alpn; tlsNegotiatedProtocol(socket, &alpn)) {
            // Over TLS the origin must have chosen h2 by ALPN: anything else would read our preface as garbage.
            if (alpn != "h2" && m_http1Fallback && m_fwd->m_http1) {
                fallBack(alpn);
                return;
            }
            if (alpn != "h2") {
                lose(ForwardError::BadResponse,
                     QStringLiteral("the origin did not select HTTP/2 by ALPN (it chose \"%1\"); the backend's "
                                    "AgentgatewayPolicy asks for spec.backend.http.version HTTP2")
                         .arg(QString::fromLatin1(alpn.isEmpty() ? QByteArray("none") : alpn)),
                     true);
                return;
            }
        }
        socket->setReadBufferSize(0);
        connect(socket, &QIODevice::readyRead, this, [this] { onReadable(); });
        connect(socket, &QAbstractSocket::disconnected, this, [this] {
            lose(ForwardError::Reset, QStringLiteral("the HTTP/2 origin closed the connection"), false);
        });
        connect(socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError) {
            if (m_socket && m_socket->error() != QAbstractSocket::RemoteHostClosedError)
                lose(ForwardError::Reset, QStringLiteral("HTTP/2 connection error: %1").arg(m_socket->errorString()),
                     false);
        });
        connect(socket, &QIODevice::bytesWritten, this, [this] {
            if (m_socket && m_socket->bytesToWrite() < kSendChunk)
                flush();
        });
        const QList<Http2Exchange *> waiting = std::exchange(m_waiting, {});
        for (Http2Exchange *ex : waiting) {
            if (ex->m_conn != this)
                continue;
            ex->connected(address, false);
            if (ex->m_conn == this)
                openStream(ex);
        }
        flush();
        if (m_socket && m_socket->bytesAvailable() > 0)
            onReadable();
        idleCheck();
    }

    /// Auto, and the origin chose http/1.1 (or no ALPN): the waiting requests go to the HTTP/1.1 engine, the first
    /// on this already-handshaken connection, and the origin is remembered so that later ones go there at once.
    void fallBack(const QByteArray &alpn)
    {
        qCDebug(lcForward).noquote() << "origin" << m_key << "chose" << (alpn.isEmpty() ? "no ALPN" : alpn.constData())
                                     << "over h2: HTTP/1.1 on the same connection";
        m_dead = true;
        m_fwd->rememberHttp1(m_key);
        m_fwd->forget(this);
        QTcpSocket *socket = std::exchange(m_socket, nullptr);
        const QList<Http2Exchange *> waiting = std::exchange(m_waiting, {});
        for (Http2Exchange *ex : waiting) {
            if (ex->m_conn != this)
                continue;
            ex->m_conn = nullptr;
            ex->fallBack(std::exchange(socket, nullptr), m_peer);
        }
        if (socket) { // every request went away while dialling
            socket->abort();
            socket->deleteLater();
        }
        deleteLater();
    }

    void dialFailed(ForwardError error, const QString &detail)
    {
        endDial();
        m_dead = true;
        const QList<Http2Exchange *> waiting = std::exchange(m_waiting, {});
        for (Http2Exchange *ex : waiting) {
            ex->m_conn = nullptr;
            ex->connectFailed(error, detail);
        }
        m_fwd->forget(this);
        deleteLater();
    }

    void endDial()
    {
        if (!m_connector)
            return;
        m_fwd->m_connectFailures += quint64(m_connector->failures());
        m_connector.release()->deleteLater();
    }

    void openStream(Http2Exchange *ex)
    {
        const ForwardRequest &req = ex->request();
        http2::HeaderList pseudo{{":method", req.method},
                                 {":scheme", req.upstream.tls ? QByteArray("https") : QByteArray("http")},
                                 {":authority", {}},
                                 {":path", req.target.isEmpty() ? QByteArray("/") : req.target}};
        http2::HeaderList headers;
        headers.reserve(req.headers.size() + 2);
        for (const auto &h : req.headers) {
            const QByteArray name = lower(h.first);
            if (name == "host") {
                if (pseudo[2].second.isEmpty())
                    pseudo[2].second = h.second;
                continue;
            }
            headers.append({name, h.second});
        }
        if (pseudo[2].second.isEmpty())
            pseudo[2].second = req.upstream.host.toUtf8() + ':' + QByteArray::number(req.upstream.port);
        if (req.teTrailers)
            headers.append({QByteArrayLiteral("te"), QByteArrayLiteral("trailers")});
        if (req.contentLength > 0 || (req.contentLength == 0
                                      && (req.method == "POST" || req.method == "PUT" || req.method == "PATCH")))
            headers.append({QByteArrayLiteral("content-length"), QByteArray::number(req.contentLength)});
        const qint32 id = m_session.submitRequest(pseudo, headers, req.contentLength != 0);
        if (id < 0) {
            ex->m_conn = nullptr;
            ex->onConnectionLost(QStringLiteral("the HTTP/2 connection takes no more streams: %1")
                                     .arg(QString::fromLatin1(m_session.lastError())),
                                 true);
            return;
        }
        ex->m_stream = id;
        m_streams.insert(id, ex);
        ex->submit();
        scheduleFlush();
    }

    void onReadable()
    {
        while (m_socket && m_socket->bytesAvailable() > 0) {
            const QByteArray in = m_socket->read(64 * 1024);
            QPointer<Http2Upstream> alive(this);
            const bool ok = m_session.receive(in.constData(), in.size());
            if (!alive)
                return;
            if (!ok) {
                flush();
                lose(ForwardError::BadResponse,
                     QStringLiteral("HTTP/2 protocol error from the origin: %1")
                         .arg(QString::fromLatin1(m_session.lastError())),
                     false);
                return;
            }
        }
        flush();
    }

    void flush()
    {
        m_flushQueued = false;
        if (!m_socket || m_dead)
            return;
        QByteArray out;
        if (m_socket->bytesToWrite() < kSendChunk)
            m_session.send(out, kSendChunk);
        if (!out.isEmpty())
            m_socket->write(out);
        if (m_session.finished() && m_streams.isEmpty())
            close();
    }

    /// The connection is gone: every stream on it fails (or is retried when the origin had not processed it).
    void lose(ForwardError error, const QString &detail, bool unprocessed)
    {
        if (m_dead)
            return;
        m_dead = true;
        m_fwd->forget(this);
        QList<Http2Exchange *> all = std::exchange(m_waiting, {});
        for (auto it = m_streams.cbegin(); it != m_streams.cend(); ++it)
            all.append(it.value());
        m_streams.clear();
        for (Http2Exchange *ex : std::as_const(all)) {
            ex->m_conn = nullptr;
            ex->m_stream = -1;
        }
        for (Http2Exchange *ex : std::as_const(all)) {
            if (error == ForwardError::Reset)
                ex->onConnectionLost(detail, unprocessed);
            else
                ex->connectFailed(error, detail);
        }
        if (m_socket) {
            m_socket->disconnect(this);
            m_socket->abort();
            m_socket->deleteLater();
            m_socket = nullptr;
        }
        deleteLater();
    }

    void idleCheck()
    {
        if (m_dead || m_connector || !m_streams.isEmpty() || !m_waiting.isEmpty())
            return;
        if (m_maxStreams == 0)
            close(); // after GOAWAY (either way) an idle connection has nothing left to do
        else
            m_idle.start(this, m_fwd->m_options.idleTimeoutMs);
    }

    void close()
    {
        if (m_dead)
            return;
        m_dead = true;
        m_fwd->forget(this);
        if (m_socket) {
            m_socket->disconnect(this);
            m_socket->disconnectFromHost();
            m_socket->deleteLater();
            m_socket = nullptr;
        }
        deleteLater();
    }

    Http2Forwarder *m_fwd;
    QByteArray m_key;
    http2::ClientSession m_session;
    std::unique_ptr<Connector> m_connector;
    std::shared_ptr<const UpstreamProxy> m_proxy;
    QTcpSocket *m_socket = nullptr; ///< parentless; deleted later
    QHostAddress m_peer = platform::nullAddress();
    QHash<qint32, Http2Exchange *> m_streams;
    QList<Http2Exchange *> m_waiting; ///< until connected
    LazyTimer m_idle;
    quint32 m_maxStreams = 0xffffffffu; ///< 0 after GOAWAY
    qint32 m_lastStreamId = 0;
    bool m_goaway = false;
    bool m_dead = false;
    bool m_http1Fallback = false; ///< Upstream::http1Fallback: ALPN offered http/1.1 too
    bool m_flushQueued = false;
};

// --- Http2Exchange ---

Http2Exchange::~Http2Exchange()
{
    if (m_conn)
        m_conn->detach(this, !m_done);
}

void Http2Exchange::begin(bool fresh)
{
    const QByteArray key = connectionKey(m_req.upstream);
    Http2Upstream *c = fresh ? nullptr : m_fwd->usable(key);
    if (!c)
        c = m_fwd->open(key, m_req);
    c->attach(this);
}

void Http2Exchange::fallBack(QTcpSocket *socket, const QHostAddress &address)
{
    ForwardRequest req = m_req;
    req.upstream.http2 = false;
    req.upstream.http1Fallback = false;
    m_http1 = m_fwd->m_http1->startFallback(socket, address, std::move(req), m_sink);
    // Nothing was sent yet: the body so far is all still here.
    const QByteArray body = std::exchange(m_body, {}).mid(m_bodyPos);
    m_bodyPos = 0;
    if (!body.isEmpty())
        m_http1->writeBody(body.constData(), body.size());
    if (m_endCalled)
        m_http1->endBody();
    if (m_paused)
        m_http1->setResponsePaused(true);
}

void Http2Exchange::connected(const QHostAddress &address, bool reused)
{
    m_sink->onUpstreamConnected(address, reused);
}

void Http2Exchange::connectFailed(ForwardError error, const QString &detail)
{
    fail(error, detail);
}

void Http2Exchange::submit()
{
    if (m_bodyEnded)
        armResponseTimer();
}

void Http2Exchange::writeBody(const char *data, qsizetype size)
{
    if (m_http1) {
        m_http1->writeBody(data, size);
        return;
    }
    if (size <= 0)
        return;
    m_body.append(data, size);
    if (m_conn && m_stream > 0) {
        m_conn->session().resumeData(m_stream);
        m_conn->scheduleFlush();
    }
}

void Http2Exchange::endBody()
{
    m_endCalled = true;
    if (m_http1) {
        m_http1->endBody();
        return;
    }
    m_bodyEnded = true;
    if (m_conn && m_stream > 0) {
        m_conn->session().resumeData(m_stream);
        m_conn->scheduleFlush();
        armResponseTimer();
    }
}

qsizetype Http2Exchange::readBody(char *out, qsizetype max, bool *eof)
{
    const qsizetype n = std::min(max, m_body.size() - m_bodyPos);
    if (n == 0 && !m_bodyEnded)
        return -1;
    if (n > 0)
        memcpy(out, m_body.constData() + m_bodyPos, size_t(n));
    m_bodyPos += n;
    const qint64 limit = m_fwd->m_options.bodyBufferLimit;
    // Keep what was sent until the origin answers (a refused stream is sent again), unless it grows too large.
    if (m_gotHead || m_bodyPos > limit) {
        if (!m_gotHead)
            m_replayable = !m_hasBody;
        m_body.remove(0, m_bodyPos);
        m_bodyPos = 0;
    }
    *eof = m_bodyEnded && m_bodyPos == m_body.size();
    if (bufferedBodyBytes() < limit && !m_wantDrained) {
        // Told from the event loop: this runs inside the session's send.
        m_wantDrained = true;
        QMetaObject::invokeMethod(this, [this] {
            m_wantDrained = false;
            if (!m_done && !m_bodyEnded)
                m_sink->onRequestBodyDrained();
        }, Qt::QueuedConnection);
    }
    return n;
}

http2::HeaderList Http2Exchange::trailers() const
{
    http2::HeaderList out;
    for (const auto &h : m_requestTrailers)
        out.append({h.first.toLower(), h.second});
    return out;
}

void Http2Exchange::setResponsePaused(bool paused)
{
    m_paused = paused;
    if (m_http1) {
        m_http1->setResponsePaused(paused);
        return;
    }
    if (!paused && m_unconsumed > 0 && m_conn && m_stream > 0) {
        m_conn->session().consume(m_stream, qsizetype(m_unconsumed));
        m_unconsumed = 0;
        m_conn->scheduleFlush();
    }
}

void Http2Exchange::onHead(int status, const http2::HeaderList &headers, bool endStream)
{
    m_responseTimer.stop();
    http::MessageHead head;
    head.status = status;
    head.versionMajor = 2;
    head.versionMinor = 0;
    head.headers = headers;
    // The rules the HTTP/1.1 engine's parser applies (nghttp2 already refused connection-specific fields).
    const http::ResponseCheck check = http::checkResponseHeaders(head.headers);
    QByteArray reason = check.ok() ? http::checkResponseStatus(status, {}) : check.reason;
    if (status == 101)
        reason = "invalid_status";
    if (!reason.isEmpty()) {
        if (m_conn && m_stream > 0)
            m_conn->session().resetStream(m_stream, NGHTTP2_PROTOCOL_ERROR);
        fail(ForwardError::BadResponse, QStringLiteral("bad response: %1").arg(QLatin1String(reason)));
        return;
    }
    // A head that ends the stream has no body: say so with a length of 0 (gRPC's trailers-only responses must then
    // reach an HTTP/2 client as one HEADERS frame that ends the stream, with grpc-status in it).
    head.contentLength = check.contentLength < 0 && endStream ? 0 : check.contentLength;
    m_gotHead = true;
    if (m_bodyPos > 0) {
        m_body.remove(0, m_bodyPos);
        m_bodyPos = 0;
    }
    m_sink->onResponseHead(head); // with endStream, onEnd follows from the session
}

void Http2Exchange::onData(const char *data, qsizetype size)
{
    if (m_done)
        return;
    if (m_paused)
        m_unconsumed += size;
    else if (m_conn)
        m_conn->session().consume(m_stream, size);
    m_sink->onResponseBody(data, size);
}

void Http2Exchange::onTrailers(const http2::HeaderList &trailers)
{
    if (!m_done && m_gotHead)
        m_sink->onResponseTrailers(trailers);
}

void Http2Exchange::onEnd()
{
    if (m_done || !m_gotHead)
        return;
    m_done = true;
    m_responseTimer.stop();
    m_sink->onResponseComplete();
}

void Http2Exchange::onClosed(quint32 errorCode, bool unprocessed)
{
    if (m_done)
        return;
    if (!m_gotHead && unprocessed && retry())
        return;
    if (!m_gotHead && errorCode == NGHTTP2_PROTOCOL_ERROR)
        fail(ForwardError::BadResponse,
             QStringLiteral("the HTTP/2 origin's response broke the protocol (stream reset with PROTOCOL_ERROR)"));
    else
        fail(ForwardError::Reset, QStringLiteral("the HTTP/2 origin reset the stream (error code %1)").arg(errorCode));
}

void Http2Exchange::onConnectionLost(const QString &detail, bool unprocessed)
{
    if (m_done)
        return;
    if (!m_gotHead && unprocessed && retry())
        return;
    fail(ForwardError::Reset, detail);
}

bool Http2Exchange::retry()
{
    if (m_retried || !m_replayable)
        return false;
    m_retried = true;
    ++m_fwd->m_retries;
    m_bodyPos = 0;
    m_unconsumed = 0;
    qCDebug(lcForward).noquote() << "HTTP/2 origin did not process" << m_req.method << m_req.target
                                 << "; sending it again on a new connection";
    // From the event loop: this runs inside the old connection's session.
    QMetaObject::invokeMethod(this, [this] { begin(true); }, Qt::QueuedConnection);
    return true;
}

void Http2Exchange::armResponseTimer()
{
    if (m_req.responseTimeoutMs > 0 && !m_gotHead)
        m_responseTimer.start(this, m_req.responseTimeoutMs);
}

void Http2Exchange::timerEvent(QTimerEvent *ev)
{
    if (m_responseTimer.fired(this, ev) && !m_gotHead && !m_done)
        fail(ForwardError::ResponseTimeout, QStringLiteral("no response head within %1 ms").arg(m_req.responseTimeoutMs));
}

void Http2Exchange::fail(ForwardError error, const QString &detail)
{
    if (m_done)
        return;
    m_done = true;
    m_responseTimer.stop();
    if (m_conn)
        m_conn->detach(this, true);
    m_sink->onError(error, detail);
}

// --- Http2Forwarder ---

Http2Forwarder::Http2Forwarder(ForwarderOptions options, QObject *parent) : QObject(parent), m_options(options)
{
    m_clock.start();
}

Http2Forwarder::~Http2Forwarder()
{
    // The exchanges belong to the connections' users, which are gone by now (the worker deletes them first).
    const auto all = std::exchange(m_conns, {});
    for (const auto &list : all)
        qDeleteAll(list);
}

std::unique_ptr<Exchange> Http2Forwarder::start(ForwardRequest &&request, ResponseSink *sink)
{
    if (request.upstream.http1Fallback && m_http1 && picksHttp1(connectionKey(request.upstream))) {
        request.upstream.http2 = false;
        request.upstream.http1Fallback = false;
        return m_http1->start(std::move(request), sink);
    }
    ++m_requests;
    if (m_options.requestsCounter)
        m_options.requestsCounter->fetch_add(1, std::memory_order_relaxed);
    // Through an upstream proxy an h2 connection is a tunnel to the origin: a proxy forwards HTTP/1.1 only.
    if (request.upstream.proxy)
        request.upstream.viaConnect = true;
    auto ex = std::make_unique<Http2Exchange>(this, std::move(request), sink);
    ex->begin(false);
    return ex;
}

Http2Upstream *Http2Forwarder::usable(const QByteArray &key) const
{
    for (Http2Upstream *c : m_conns.value(key)) {
        if (c->takesStream())
            return c;
    }
    return nullptr;
}

Http2Upstream *Http2Forwarder::open(const QByteArray &key, const ForwardRequest &request)
{
    auto *c = new Http2Upstream(this, key, request);
    m_conns[key].append(c);
    return c;
}

void Http2Forwarder::forget(Http2Upstream *conn)
{
    auto it = m_conns.find(conn->key());
    if (it == m_conns.end())
        return;
    it->removeOne(conn);
    if (it->isEmpty())
        m_conns.erase(it);
}

void Http2Forwarder::closeIdle()
{
    const auto all = m_conns;
    for (const auto &list : all) {
        for (Http2Upstream *c : list)
            c->shutdown();
    }
}

void Http2Forwarder::rememberHttp1(const QByteArray &key)
{
    // Bounded: a client that names many origins must not grow it without end (forgetting costs one handshake).
    if (m_http1Origins.size() >= kMaxRememberedOrigins)
        m_http1Origins.clear();
    m_http1Origins.insert(key, m_clock.elapsed());
}

bool Http2Forwarder::picksHttp1(const QByteArray &key)
{
    auto it = m_http1Origins.find(key);
    if (it == m_http1Origins.end())
        return false;
    if (m_clock.elapsed() - it.value() > kRememberMs) { // it may have learnt h2 since: ask again
        m_http1Origins.erase(it);
        return false;
    }
    return true;
}

int Http2Forwarder::connections() const
{
    int n = 0;
    for (const auto &list : m_conns)
        n += int(list.size());
    return n;
}

QList<QSslCertificate> Http2Forwarder::caCertificates(const QString &path)
{
    auto it = m_caCache.constFind(path);
    if (it != m_caCache.constEnd())
        return it.value();
    const QList<QSslCertificate> certs = QSslCertificate::fromPath(path, QSsl::Pem);
    m_caCache.insert(path, certs);
    return certs;
}

QJsonObject Http2Forwarder::stats() const
{
    return QJsonObject{{QStringLiteral("connectionsOpened"), qint64(m_opened)},
                       {QStringLiteral("streamsOnOpenConnections"), qint64(m_reused)},
                       {QStringLiteral("requests"), qint64(m_requests)},
                       {QStringLiteral("connectFailures"), qint64(m_connectFailures)},
                       {QStringLiteral("retries"), qint64(m_retries)},
                       {QStringLiteral("connections"), connections()}};
}

} // namespace dfproxy::forward
