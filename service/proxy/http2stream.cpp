// SPDX-License-Identifier: Apache-2.0
#include "proxy/http2stream.h"

#include "forward/upstreamproxy.h"
#include "platform/socket.h"
#include "proxy/http2connection.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

#include <nghttp2/nghttp2.h>

#include <QTcpSocket>
#include <QTimerEvent>

#include <cstring>

namespace dfproxy::proxy {

namespace {

const QByteArray kHost = QByteArrayLiteral("host");

QByteArray pseudo(const http2::HeaderList &list, QByteArrayView name)
{
    for (const auto &h : list) {
        if (h.first == name)
            return h.second;
    }
    return QByteArray();
}

/// HTTP/2 field names are lower case (RFC 9113 8.2.1); the HTTP/1 side and the config may spell them otherwise.
void appendField(http2::HeaderList &out, const QByteArray &name, const QByteArray &value)
{
    out.append({name.toLower(), value});
}

} // namespace

Http2Stream::Http2Stream(Http2Connection *connection, qint32 id)
    : QObject(connection), m_conn(connection), m_id(id),
      m_tx(connection->context(), connection->worker(), this, connection->listener(), connection->tls())
{
}

Http2Stream::~Http2Stream()
{
    onClosed(NGHTTP2_CANCEL); // a no-op when nghttp2 closed the stream already
    m_tx.cancel();
    m_retiredExchange.reset();
    m_tx.emitLog();
}

QByteArray Http2Stream::buildHead(const http2::HeaderList &ps, const http2::HeaderList &headers, bool endStream)
{
    // nghttp2 already refused what RFC 9113 8.2 and 8.3 forbid (missing or repeated pseudo-headers, upper-case
    // names, connection-specific fields, a content-length its DATA frames contradict).
    m_head.clear();
    m_head.versionMajor = 2;
    m_head.versionMinor = 0;
    m_head.method = pseudo(ps, ":method");
    const QByteArray authority = pseudo(ps, ":authority");
    m_head.target = m_head.isConnect() ? authority : pseudo(ps, ":path");
    m_head.upgrade = m_head.isConnect();
    m_head.headers.reserve(headers.size() + 1);
    const QByteArray *host = nullptr;
    for (const auto &h : headers) {
        if (h.first == kHost)
            host = &h.second;
    }
    // :authority and Host name the same thing; two different names would let routing and the origin disagree
    // about where the request goes (RFC 9113 8.3.1).
    if (host && !authority.isEmpty() && *host != authority)
        return QByteArrayLiteral("h2_host_mismatch");
    if (!host && !authority.isEmpty())
        m_head.headers.append({kHost, authority});
    // HTTP/2 lets a client split Cookie into several fields; HTTP/1.1 origins (and the policies) expect one, joined
    // with "; " (RFC 9113 8.2.3).
    qsizetype cookie = -1;
    for (const auto &h : headers) {
        if (h.first == "cookie" && cookie >= 0) {
            m_head.headers[cookie].second.append("; ").append(h.second);
            continue;
        }
        if (h.first == "cookie")
            cookie = m_head.headers.size();
        m_head.headers.append(h);
    }
    if (const QByteArray *cl = http::findHeader(m_head.headers, "content-length")) {
        bool ok = false;
        m_head.contentLength = cl->toLongLong(&ok);
        if (!ok || m_head.contentLength < 0)
            return QByteArrayLiteral("invalid_content_length");
    } else if (!endStream) {
        m_head.chunked = true; // a body of unknown length: sent to the origin chunked
    }
    return QByteArray();
}

void Http2Stream::start(const http2::HeaderList &ps, const http2::HeaderList &headers, bool endStream)
{
    m_requestDone = endStream;
    const QByteArray refusal = buildHead(ps, headers, endStream);
    m_tx.begin(&m_head, m_conn->peerAddress(), m_conn->peerPort());
    if (!refusal.isEmpty()) {
        sendLocalReply({400, refusal, "bad request: " + refusal + "\n", {}, {}});
        return;
    }
    m_tx.start();
}

void Http2Stream::refuse(int status, const QByteArray &reason)
{
    m_head.clear();
    m_head.versionMajor = 2;
    m_tx.begin(&m_head, m_conn->peerAddress(), m_conn->peerPort());
    sendLocalReply({status, reason, reason + "\n", {}, {}});
}

void Http2Stream::onData(const char *data, qsizetype size)
{
    m_tx.rec.bytesIn += size;
    if (m_upstream) {
        m_upstream->write(data, size);
        m_held += size;
        passTunnelBody();
    } else if (m_tx.exchange) {
        m_tx.exchange->writeBody(data, size);
        m_held += size;
        passBody();
    } else if (m_responseStarted) {
        m_conn->session().consume(m_id, size); // answered already: the rest of the body is dropped
    } else {
        m_pendingBody.append(data, size); // the stages still run; the stream window bounds this
    }
}

void Http2Stream::passBody()
{
    if (m_held > 0 && m_tx.exchange && m_tx.exchange->bufferedBodyBytes() <= m_tx.ctx->options.bufferLimit) {
        m_conn->session().consume(m_id, qsizetype(m_held));
        m_held = 0;
        m_conn->flush();
    }
}

void Http2Stream::onEnd()
{
    m_requestDone = true;
    if (m_tx.exchange) {
        m_tx.exchange->setRequestTrailers(m_requestTrailers);
        m_tx.exchange->endBody();
    }
    if (m_upstream)
        halfCloseUpstream();
}

void Http2Stream::exchangeStarted()
{
    if (!m_pendingBody.isEmpty()) {
        const QByteArray body = std::exchange(m_pendingBody, QByteArray());
        m_tx.exchange->writeBody(body.constData(), body.size());
        m_held += body.size();
        passBody();
    }
    if (m_requestDone && m_tx.exchange) {
        m_tx.exchange->setRequestTrailers(m_requestTrailers);
        m_tx.exchange->endBody();
    }
}

/// The CONNECT's upstream is connected: 200 on the stream, then bytes both ways as DATA frames (RFC 9113 8.5).
/// Each direction is bounded like a tunnel's: the client's window opens as the upstream takes its bytes, and the
/// upstream is read only while less than bufferLimit waits for the client.
void Http2Stream::tunnelConnected(QTcpSocket *upstream)
{
    m_requestTimer.stop();
    m_upstream = upstream;
    m_upstream->setParent(this);
    m_upstream->setReadBufferSize(m_tx.ctx->options.bufferLimit);
    m_responseStarted = true;
    m_tx.rec.status = 200;
    m_tx.rec.tunnel = true;
    m_tx.ctx->stats.activeTunnels.fetch_add(1, std::memory_order_relaxed);
    connect(m_upstream, &QIODevice::readyRead, this, [this] { readUpstream(); });
    connect(m_upstream, &QIODevice::bytesWritten, this, [this] {
        passTunnelBody();
        if (m_requestDone)
            halfCloseUpstream();
    });
    connect(m_upstream, &QAbstractSocket::disconnected, this, [this] { upstreamEnded(); });
    connect(m_upstream, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) {
        if (e == QAbstractSocket::RemoteHostClosedError) {
            upstreamEnded();
        } else if (!m_closed) {
            m_tx.rec.reason = QByteArrayLiteral("upstream_reset");
            m_conn->session().resetStream(m_id, NGHTTP2_CONNECT_ERROR);
            m_conn->flush();
        }
    });
    m_conn->session().submitResponse(m_id, 200, {}, true);
    if (!m_pendingBody.isEmpty()) {
        const QByteArray early = std::exchange(m_pendingBody, QByteArray());
        m_upstream->write(early);
        m_held += early.size();
    }
    passTunnelBody();
    if (m_requestDone)
        halfCloseUpstream();
    readUpstream();
    m_conn->flush();
}

void Http2Stream::readUpstream()
{
    if (!m_upstream || m_closed)
        return;
    const qint64 limit = m_tx.ctx->options.bufferLimit;
    bool any = false;
    while (m_body.size() - m_bodyPos < limit && m_upstream->bytesAvailable() > 0) {
        const QByteArray chunk = m_upstream->read(16 * 1024);
        if (chunk.isEmpty())
            break;
        m_body.append(chunk);
        m_tx.rec.bytesOut += chunk.size();
        any = true;
    }
    if (any) {
        m_conn->session().resumeData(m_id);
        m_conn->flush();
    }
}

void Http2Stream::passTunnelBody()
{
    if (m_held > 0 && m_upstream && m_upstream->bytesToWrite() <= m_tx.ctx->options.bufferLimit) {
        m_conn->session().consume(m_id, qsizetype(m_held));
        m_held = 0;
        m_conn->flush();
    }
}

/// The client ended its side (END_STREAM): the upstream gets a FIN once what the client sent is out.
void Http2Stream::halfCloseUpstream()
{
    if (m_upstream && m_upstream->bytesToWrite() == 0 && m_upstream->state() == QAbstractSocket::ConnectedState)
        platform::shutdownWrite(m_upstream->socketDescriptor());
}

void Http2Stream::upstreamEnded()
{
    if (m_upstreamEnded || !m_upstream)
        return;
    m_upstreamEnded = true;
    while (m_upstream->bytesAvailable() > 0) { // the last bytes, whatever the bound: the socket is done
        const QByteArray chunk = m_upstream->readAll();
        m_body.append(chunk);
        m_tx.rec.bytesOut += chunk.size();
    }
    m_responseEnded = true;
    m_conn->session().resumeData(m_id);
    m_conn->flush();
}

void Http2Stream::sendLocalReply(const LocalReply &reply)
{
    m_requestTimer.stop();
    if (m_responseStarted || m_closed)
        return;
    m_responseStarted = m_responseEnded = true;
    m_tx.rec.status = reply.status;
    m_tx.rec.reason = reply.reason;
    http2::HeaderList headers;
    if (!reply.location.isEmpty())
        headers.append({QByteArrayLiteral("location"), reply.location});
    if (!reply.reason.isEmpty())
        headers.append({QByteArrayLiteral("x-dfproxy-error"), reply.reason});
    bool typed = false; // the extra headers may set the Content-Type (the PAC file does), as appendLocalReply
    for (const auto &h : reply.headers) {
        if (!http::isValidHeaderName(h.first) || !http::isValidHeaderValue(h.second))
            continue;
        appendField(headers, h.first, h.second);
        typed = typed || h.first.compare("content-type", Qt::CaseInsensitive) == 0;
    }
    if (!typed)
        headers.append({QByteArrayLiteral("content-type"), QByteArrayLiteral("text/plain; charset=utf-8")});
    // A 304 has no content, and a content-length there would have to be the 200's (RFC 9110 8.6).
    if (reply.status != 304)
        headers.append({QByteArrayLiteral("content-length"), QByteArray::number(reply.body.size())});
    const bool body = !m_head.isHead() && !reply.body.isEmpty();
    if (body)
        m_body = reply.body;
    m_tx.rec.bytesOut = body ? reply.body.size() : 0;
    m_conn->session().submitResponse(m_id, reply.status, headers, body);
    // The rest of the request body is not wanted: what is held opens the window so the client can finish.
    m_conn->session().consume(m_id, qsizetype(m_held) + m_pendingBody.size());
    m_held = 0;
    m_pendingBody.clear();
    m_conn->flush();
}

void Http2Stream::onUpstreamConnected(const QHostAddress &address, bool reused)
{
    m_tx.connectedUs = m_tx.nowUs();
    m_tx.rec.connectUs = reused ? 0 : m_tx.connectedUs - m_tx.dnsDoneUs;
    m_tx.rec.resolvedAddress = address;
    m_tx.rec.upstreamReused = reused;
}

void Http2Stream::onResponseHead(const http::MessageHead &head)
{
    m_requestTimer.stop();
    m_responseStarted = true;
    m_tx.rec.status = head.status;
    m_tx.rec.upstreamUs = m_tx.nowUs() - m_tx.connectedUs;
    m_tx.rec.grpcStatus = forward::grpcStatusOf(head.headers, -1); // gRPC's trailers-only responses
    http::HeaderList fields = head.headers;
    http::stripHopByHop(fields, false);
    if (m_tx.match && !m_tx.match->responseHeaders.isEmpty())
        stages::applyHeaderModifier(fields, m_tx.match->responseHeaders);
    http2::HeaderList out;
    out.reserve(fields.size() + 2);
    for (const auto &h : fields)
        appendField(out, h.first, h.second);
    out.append({QByteArrayLiteral("via"), QByteArrayLiteral("1.1 dfproxy")});
    const bool noBody = m_head.isHead() || head.status == 204 || head.status == 304 || head.contentLength == 0;
    if (head.contentLength >= 0 && (head.status != 204))
        out.append({QByteArrayLiteral("content-length"), QByteArray::number(head.contentLength)});
    if (noBody)
        m_responseEnded = true;
    m_conn->session().submitResponse(m_id, head.status, out, !noBody);
    m_conn->flush();
}

void Http2Stream::onResponseBody(const char *data, qsizetype size)
{
    m_tx.rec.bytesOut += size;
    m_body.append(data, size);
    m_conn->session().resumeData(m_id);
    if (!m_responsePaused && m_body.size() - m_bodyPos > m_tx.ctx->options.bufferLimit && m_tx.exchange) {
        m_responsePaused = true;
        m_tx.exchange->setResponsePaused(true);
    }
    m_conn->flush();
}

qsizetype Http2Stream::readBody(char *out, qsizetype max, bool *eof)
{
    const qsizetype n = std::min(max, m_body.size() - m_bodyPos);
    if (n == 0 && !m_responseEnded)
        return -1;
    if (n > 0)
        std::memcpy(out, m_body.constData() + m_bodyPos, size_t(n));
    m_bodyPos += n;
    const qsizetype left = m_body.size() - m_bodyPos;
    if (left == 0) {
        m_body.resize(0);
        m_bodyPos = 0;
    }
    *eof = m_responseEnded && left == 0;
    if (m_upstream && !m_upstreamEnded && left <= m_tx.ctx->options.bufferLimit / 2 &&
        m_upstream->bytesAvailable() > 0) // read on, from the event loop (this runs inside the session)
        QMetaObject::invokeMethod(
            this, [this] { readUpstream(); }, Qt::QueuedConnection);
    if (m_responsePaused && left <= m_tx.ctx->options.bufferLimit / 2 && m_tx.exchange) {
        m_responsePaused = false;
        m_tx.exchange->setResponsePaused(false);
    }
    return n;
}

void Http2Stream::onResponseTrailers(const http::HeaderList &trailers)
{
    // HTTP/2 to HTTP/2: the trailers go on as they came (gRPC's grpc-status, grpc-message), lower-case.
    for (const auto &t : trailers)
        appendField(m_responseTrailers, t.first, t.second);
    m_tx.rec.grpcStatus = forward::grpcStatusOf(trailers, m_tx.rec.grpcStatus);
}

void Http2Stream::onResponseComplete()
{
    m_responseEnded = true;
    retireExchange();
    m_conn->session().resumeData(m_id);
    m_conn->flush();
}

void Http2Stream::onUpgraded(QTcpSocket *socket, const QByteArray &)
{
    // Not reached: HTTP/2 requests carry no Upgrade (nghttp2 refuses the field), so no 101 is asked for.
    retireExchange();
    socket->abort();
    socket->deleteLater();
    m_conn->session().resetStream(m_id, NGHTTP2_INTERNAL_ERROR);
    m_conn->flush();
}

void Http2Stream::onRequestBodyDrained()
{
    passBody();
}

std::shared_ptr<const platform::ProcessInfo> Http2Stream::clientApplication()
{
    return m_conn->clientApplication();
}

void Http2Stream::onUpstreamProxyUsed(const forward::UpstreamProxy *proxy)
{
    // a later entry of the PAC result carried the request
    m_tx.rec.upstreamProxy = proxy ? proxy->address : QStringLiteral("DIRECT");
}

void Http2Stream::onError(forward::ForwardError error, const QString &detail)
{
    retireExchange();
    const QByteArray reason = forward::reasonString(error);
    if (m_responseStarted) {
        m_tx.rec.reason = reason;
        m_conn->session().resetStream(m_id, NGHTTP2_INTERNAL_ERROR);
        m_conn->flush();
        return;
    }
    static const QString kBadResponse = QStringLiteral("bad response: ");
    policy::HeaderList rule;
    if (error == forward::ForwardError::BadResponse && detail.startsWith(kBadResponse))
        rule.append({QByteArrayLiteral("x-dfproxy-error-detail"), detail.mid(kBadResponse.size()).toLatin1()});
    sendLocalReply({forward::statusFor(error), reason, reason + ": " + detail.toUtf8() + "\n", {}, rule});
}

void Http2Stream::retireExchange()
{
    m_retiredExchange = std::move(m_tx.exchange);
}

void Http2Stream::onClosed(quint32 errorCode)
{
    if (m_closed)
        return;
    m_closed = true;
    if (QTcpSocket *up = std::exchange(m_upstream, nullptr)) {
        up->disconnect(this);
        up->abort();
        up->deleteLater();
        m_tx.ctx->stats.activeTunnels.fetch_sub(1, std::memory_order_relaxed);
    }
    m_requestTimer.stop();
    m_tx.cancel();
    if (!m_tx.logged && errorCode != NGHTTP2_NO_ERROR && !(m_responseEnded && m_body.isEmpty())) {
        if (m_tx.rec.reason.isEmpty())
            m_tx.rec.reason = m_tx.rec.status ? QByteArrayLiteral("stream_reset") : QByteArrayLiteral("client_reset");
    }
    m_tx.emitLog();
}

void Http2Stream::timerEvent(QTimerEvent *ev)
{
    if (!m_requestTimer.fired(this, ev))
        return;
    m_tx.cancel();
    if (!m_responseStarted) {
        sendLocalReply({504, "upstream_response_timeout", "request timed out\n", {}, {}});
    } else {
        m_conn->session().resetStream(m_id, NGHTTP2_CANCEL);
        m_conn->flush();
    }
}

} // namespace dfproxy::proxy
