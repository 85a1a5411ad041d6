// SPDX-License-Identifier: Apache-2.0
#include "proxy/downstreamconnection.h"

#include "base/bytes.h"
#include "forward/upstreamproxy.h"
#include "http/responserules.h"
#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"
#include "proxy/stages/stages.h"
#include "proxy/tunnel.h"

#include <charconv>
#include <cstring>
#include <QTimerEvent>

namespace dfproxy::proxy {

using http::HttpParser;

namespace {

/// A number's decimal digits on the stack (QByteArray::number allocates; this runs once per response).
struct Decimal
{
    explicit Decimal(qint64 v) : size(std::to_chars(digits, digits + sizeof digits, v).ptr - digits) {}
    QByteArrayView view() const { return {digits, size}; }
    char digits[24];
    qsizetype size;
};

} // namespace

DownstreamConnection::DownstreamConnection(ProxyWorker *worker, ProxyContext *ctx, net::Stream *stream, bool tls,
                                           std::shared_ptr<const routing::Listener> listener, ConnectionSlot slot)
    : QObject(worker)
    , m_worker(worker)
    , m_ctx(ctx)
    , m_socket(stream)
    , m_listener(std::move(listener))
    , m_parser(HttpParser::Kind::Request, ctx->options.limits)
    , m_tx(ctx, worker, this, m_listener.get(), tls)
    , m_slot(std::move(slot))
{
    m_socket->setParent(this);
    m_socket->setListener(this);
    m_parser.setBodyHandler(this);
    m_ctx->stats.activeConnections.fetch_add(1, std::memory_order_relaxed);
    m_ctx->stats.connectionsAccepted.fetch_add(1, std::memory_order_relaxed);
    // Begun by the first request (the `application` stage), which usually comes after this worker has seen the
    // program's previous connection close: then a probe of the descriptor that one left answers at once.
    m_application = m_ctx->applications.prepare(*m_socket, m_worker);
    armIdleTimer();
    if (m_socket->hasPendingInput())
        QMetaObject::invokeMethod(this, [this] { pump(); }, Qt::QueuedConnection);
}

DownstreamConnection::~DownstreamConnection()
{
    m_tx.cancel();
    m_retiredExchange.reset();
    m_tx.emitLog();
    m_ctx->stats.activeConnections.fetch_sub(1, std::memory_order_relaxed);
}

void DownstreamConnection::drain()
{
    if (m_state == State::ReadingHead && !m_parser.inMessage()) {
        closeAfterFlush();
        return;
    }
    m_keepAlive = false;
}

void DownstreamConnection::abort()
{
    if (m_tunnel) {
        m_tunnel->abort(); // the tunnel owns the client's stream
        return;
    }
    m_socket->abort();
    onClientDisconnected();
}

void DownstreamConnection::armIdleTimer()
{
    m_idleTimer.start(this, m_ctx->options.clientIdleTimeoutMs);
}

void DownstreamConnection::timerEvent(QTimerEvent *ev)
{
    if (m_idleTimer.fired(this, ev)) {
        if (m_state == State::ReadingHead && !m_parser.inMessage())
            closeAfterFlush();
        else
            armIdleTimer();
    } else if (m_readTimer.fired(this, ev)) {
        onReadTimeout();
    } else if (m_requestTimer.fired(this, ev)) {
        if (!m_responseStarted) {
            m_keepAlive = false;
            failConnection({504, "upstream_response_timeout", "request timed out\n", {}, {}});
        } else {
            abort();
        }
    }
}

void DownstreamConnection::onReadTimeout()
{
    // The client is too slow sending its request (slowloris): answer 408 if we may still answer, and close.
    if (m_closed || m_state == State::Closing || m_state == State::Tunnel)
        return; // already answering and closing; the flush has its own bounds
    const bool inHead = m_state == State::ReadingHead;
    m_keepAlive = false;
    if (m_responseStarted && !inHead) {
        abort();
        return;
    }
    failConnection(inHead ? LocalReply{408, "request_header_timeout", "request head not received in time\n", {}, {}}
                          : LocalReply{408, "request_body_timeout", "request body not received in time\n", {}, {}});
}

void DownstreamConnection::failConnection(const LocalReply &reply)
{
    if (m_tx.logged)
        m_tx.beginRecord(m_socket->peerAddress(), m_socket->peerPort());
    m_tx.cancel();
    if (!m_responseStarted)
        sendLocalReply(reply);
    closeAfterFlush();
}

void DownstreamConnection::pump()
{
    if (m_inPump) {
        m_pumpAgain = true;
        return;
    }
    m_inPump = true;
    // No liveness guard: nothing below deletes this connection synchronously (deleteLater only).
    for (;;) {
        m_pumpAgain = false;
        if (m_closed || m_state == State::Closing || m_state == State::Tunnel)
            break;
        // Forwarding without an exchange: a local response was sent and the rest of the request is dropped.
        const bool wantParse = m_state == State::ReadingHead
            || (m_state == State::Forwarding && !m_requestDone
                && (!m_tx.exchange || m_tx.exchange->bufferedBodyBytes() <= m_ctx->options.bufferLimit));
        if (!wantParse)
            break;
        if (m_in.isEmpty()) {
            if (m_state == State::Forwarding && spliceRequestBody()) {
                if (m_requestDone || m_pumpAgain)
                    continue; // the body is through (or something changed): look again
                break;        // the sockets announce the rest
            }
            if (m_in.fill(m_socket) <= 0)
                break;
        }
        if (m_sniffHttp2) { // HTTP/2 (#26)
            const Http2Sniff sniff = sniffHttp2();
            if (sniff == Http2Sniff::HandedOver)
                break;
            if (sniff == Http2Sniff::NeedMore) {
                if (!m_readTimer.isActive() && m_ctx->options.requestHeadTimeoutMs > 0)
                    m_readTimer.start(this, m_ctx->options.requestHeadTimeoutMs); // a preface sent slowly
                if (m_in.fill(m_socket) <= 0)
                    break;
                continue;
            }
        }
        HttpParser::Stop stop;
        const qsizetype used = m_parser.feed(m_in.data(), m_in.size(), &stop);
        m_in.consume(used);
        if (m_state == State::ReadingHead && stop == HttpParser::Stop::NeedMore && m_parser.inMessage()
            && !m_readTimer.isActive() && m_ctx->options.requestHeadTimeoutMs > 0)
            m_readTimer.start(this, m_ctx->options.requestHeadTimeoutMs);
        switch (stop) {
        case HttpParser::Stop::NeedMore:
            break;
        case HttpParser::Stop::Head:
            onRequestHead();
            break;
        case HttpParser::Stop::Complete:
            onRequestComplete();
            break;
        case HttpParser::Stop::Error: {
            const auto &err = m_parser.error();
            m_keepAlive = false;
            failConnection({err.status, err.reason, "bad request: " + err.reason + "\n", {}, {}});
            break;
        }
        }
    }
    m_inPump = false;
    m_in.recycle();
}

// HTTP/2 (#26): the hand-over to proxy/http2connection.h.
DownstreamConnection::Http2Sniff DownstreamConnection::sniffHttp2()
{
    static constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    constexpr qsizetype kSize = sizeof kPreface - 1;
    const qsizetype n = std::min(m_in.size(), kSize);
    if (std::memcmp(m_in.data(), kPreface, size_t(n)) != 0) {
        m_sniffHttp2 = false;
        return Http2Sniff::Http1;
    }
    if (n < kSize)
        return Http2Sniff::NeedMore;
    m_sniffHttp2 = false;
    QByteArray received(m_in.data(), m_in.size());
    m_in.clear();
    m_idleTimer.stop();
    m_readTimer.stop();
    m_socket->setListener(nullptr);
    m_socket->setParent(nullptr);
    m_state = State::Closing;
    m_closed = true;
    m_worker->startHttp2(m_socket, m_tx.tlsClient, m_listener, std::move(m_slot), std::move(received),
                         std::move(m_application));
    m_worker->connectionClosed(this);
    deleteLater();
    return Http2Sniff::HandedOver;
}

/// Moves the rest of a Content-Length request body from the client's socket straight to the upstream's (splice() on
/// Linux, plain TCP both ways) instead of reading it and writing it out again. True when it did what it could now
/// (the sockets announce the rest; the exchange's onRequestBodyDrained when the upstream was full), false to read.
bool DownstreamConnection::spliceRequestBody()
{
    if (m_requestDone || !m_tx.exchange)
        return false;
    const qint64 left = m_parser.bodyBytesLeft();
    if (left <= 0 || (!m_splicingBody && left < net::kSpliceMinBytes))
        return false;
    net::Stream *to = m_tx.exchange->bodySpliceTarget();
    if (!to)
        return false;
    const qint64 moved = m_socket->spliceTo(to, left);
    if (moved < 0)
        return false;
    m_splicingBody = true;
    m_tx.rec.bytesIn += moved;
    m_tx.exchange->onBodySpliced(moved);
    if (moved > 0 && m_parser.skipBody(moved) == HttpParser::Stop::Complete)
        onRequestComplete();
    return true;
}

/// A request head: the connection's part (timers, keep-alive, framing of the response) here, then the
/// transaction runs the stages.
void DownstreamConnection::onRequestHead()
{
    m_idleTimer.stop();
    m_readTimer.stop();
    const http::MessageHead &h = m_parser.head();
    if (h.hasRequestBody() && !h.isConnect() && m_ctx->options.requestBodyTimeoutMs > 0)
        m_readTimer.start(this, m_ctx->options.requestBodyTimeoutMs);
    m_retiredExchange.reset();
    // A CONNECT's client may send its first bytes and end its side before the tunnel is up (a script's
    // `printf ... | nc -N`): the end of its input must wait for the tunnel, which passes it on as a FIN, instead
    // of closing the connection now.
    m_socket->setKeepOpenAtEnd(h.isConnect());
    m_tx.begin(&h, m_socket->peerAddress(), m_socket->peerPort());
    m_requestDone = false;
    m_splicingBody = false;
    m_responseStarted = false;
    m_responseDone = false;
    m_chunkedOut = false;
    m_closeDelimited = false;
    m_responsePaused = false;
    m_keepAlive = h.keepAlive && !m_ctx->draining.load(std::memory_order_relaxed);
    m_clientMinor = h.versionMinor;
    m_headRequest = h.isHead();
    m_teTrailers = http::headerHasToken(h.headers, "te", "trailers");
    m_trailersOut.clear();
    m_state = State::Stages;
    m_tx.start();
}

void DownstreamConnection::exchangeStarted()
{
    m_state = State::Forwarding;
    if (m_tx.expectContinue && !m_requestDone)
        m_socket->write("HTTP/1.1 100 Continue\r\n\r\n", 25);
    pump();
}

void DownstreamConnection::tunnelConnected(net::Stream *upstream)
{
    m_tx.rec.status = 200;
    m_responseStarted = true;
    m_socket->write("HTTP/1.1 200 Connection Established\r\n\r\n", 39);
    // The parser stops at the head one byte early (http_parser pauses before the final LF): let it finish
    // the CONNECT message, so only what follows it goes into the tunnel.
    while (!m_requestDone && !m_in.isEmpty()) {
        HttpParser::Stop stop;
        const qsizetype used = m_parser.feed(m_in.data(), m_in.size(), &stop);
        m_in.consume(used);
        if (stop == HttpParser::Stop::Complete)
            m_requestDone = true;
        else if (stop == HttpParser::Stop::Error || used == 0)
            break;
    }
    QByteArray clientBytes(m_in.data(), m_in.size());
    m_in.clear();
    becomeTunnel(upstream, QByteArray(), clientBytes);
}

void DownstreamConnection::onBody(const char *data, qsizetype size)
{
    m_tx.rec.bytesIn += size;
    if (m_tx.exchange)
        m_tx.exchange->writeBody(data, size);
}

void DownstreamConnection::onRequestComplete()
{
    m_readTimer.stop();
    m_requestDone = true;
    if (m_tx.exchange)
        m_tx.exchange->endBody();
    if (m_responseDone)
        finishTransaction();
}

void DownstreamConnection::retireExchange()
{
    m_retiredExchange = std::move(m_tx.exchange);
}

void DownstreamConnection::onUpstreamProxyUsed(const forward::UpstreamProxy *proxy)
{
    // a later entry of the PAC result carried the request
    m_tx.rec.upstreamProxy = proxy ? proxy->address : QStringLiteral("DIRECT");
}

void DownstreamConnection::onUpstreamConnected(const QHostAddress &address, bool reused)
{
    m_tx.connectedUs = m_tx.nowUs();
    m_tx.rec.connectUs = reused ? 0 : m_tx.connectedUs - m_tx.dnsDoneUs;
    m_tx.rec.resolvedAddress = address;
    m_tx.rec.upstreamReused = reused;
}

void DownstreamConnection::onResponseHead(const http::MessageHead &head)
{
    m_responseStarted = true;
    m_requestTimer.stop();
    m_tx.rec.status = head.status;
    m_tx.rec.upstreamUs = m_tx.nowUs() - m_tx.connectedUs;
    m_tx.rec.grpcStatus = forward::grpcStatusOf(head.headers, -1); // gRPC's trailers-only responses
    const bool upgrade = head.status == 101;
    m_out.resize(0);
    http::appendResponseHead(m_out, m_clientMinor, head.status, head.reasonPhrase, {});
    if (m_tx.match && !m_tx.match->responseHeaders.isEmpty()) {
        http::HeaderList headers = head.headers;
        http::stripHopByHop(headers, upgrade);
        stages::applyHeaderModifier(headers, m_tx.match->responseHeaders);
        for (const auto &h : headers)
            http::appendHeader(m_out, h.first, h.second);
    } else {
        // No edits: write the end-to-end headers straight from the parsed head, without copying the list.
        const http::HopByHopFilter hop(head.headers, upgrade);
        for (const auto &h : head.headers) {
            if (!hop.drops(h.first))
                http::appendHeader(m_out, h.first, h.second);
        }
    }
    http::appendHeader(m_out, "Via", "1.1 dfproxy");
    const bool noBody = m_headRequest || head.status == 204 || head.status == 304 || head.status < 200;
    if (noBody) {
        if ((m_headRequest || head.status == 304) && head.contentLength >= 0)
            http::appendHeader(m_out, "Content-Length", Decimal(head.contentLength).view());
    } else if (head.contentLength >= 0) {
        http::appendHeader(m_out, "Content-Length", Decimal(head.contentLength).view());
    } else if (m_clientMinor >= 1) {
        m_chunkedOut = true;
        http::appendHeader(m_out, "Transfer-Encoding", "chunked");
    } else {
        m_closeDelimited = true;
        m_keepAlive = false;
    }
    if (!m_requestDone)
        m_keepAlive = false; // an early response: the rest of the request body is not worth reading
    if (upgrade)
        http::appendHeader(m_out, "Connection", "Upgrade");
    else if (!m_keepAlive)
        http::appendHeader(m_out, "Connection", "close");
    else if (m_clientMinor == 0)
        http::appendHeader(m_out, "Connection", "keep-alive");
    appendRaw(m_out, "\r\n", 2);
    m_socket->write(m_out);
}

void DownstreamConnection::onResponseBody(const char *data, qsizetype size)
{
    m_tx.rec.bytesOut += size;
    if (m_chunkedOut) {
        m_out.resize(0);
        http::appendChunk(m_out, data, size);
        m_socket->write(m_out);
    } else {
        m_socket->write(data, size);
    }
    if (!m_responsePaused && m_socket->bytesToWrite() > m_ctx->options.bufferLimit && m_tx.exchange) {
        m_responsePaused = true;
        m_tx.exchange->setResponsePaused(true);
    }
}

net::Stream *DownstreamConnection::bodySpliceTarget()
{
    return m_chunkedOut ? nullptr : m_socket;
}

void DownstreamConnection::onResponseBodySpliced(qint64 size)
{
    m_tx.rec.bytesOut += size;
    // The pipe holds at most a pipe's worth: wait for the client whenever anything is left, not at bufferLimit.
    if (!m_responsePaused && m_socket->bytesToWrite() > 0 && m_tx.exchange) {
        m_responsePaused = true;
        m_tx.exchange->setResponsePaused(true);
    }
}

void DownstreamConnection::onResponseTrailers(const http::HeaderList &trailers)
{
    // Trailer fields travel in chunked framing only, and only to a client that said it takes them (TE: trailers,
    // RFC 9110 6.5.1 / 10.1.4); anywhere else they are dropped and the access log counts them (trailersDropped).
    if (m_chunkedOut && m_teTrailers) {
        const http::HopByHopFilter hop(trailers);
        for (const auto &t : trailers) {
            if (!hop.drops(t.first) && !http::isForbiddenTrailer(t.first))
                m_trailersOut.append(t);
            else
                ++m_tx.rec.trailersDropped;
        }
    } else {
        m_tx.rec.trailersDropped += int(trailers.size());
    }
    m_tx.rec.grpcStatus = forward::grpcStatusOf(trailers, m_tx.rec.grpcStatus);
}

void DownstreamConnection::onResponseComplete()
{
    if (m_chunkedOut && !m_trailersOut.isEmpty()) {
        m_out.resize(0);
        appendRaw(m_out, "0\r\n", 3);
        for (const auto &t : std::as_const(m_trailersOut))
            http::appendHeader(m_out, t.first, t.second);
        appendRaw(m_out, "\r\n", 2);
        m_socket->write(m_out);
        m_trailersOut.clear();
    } else if (m_chunkedOut) {
        m_socket->write("0\r\n\r\n", 5);
    }
    m_socket->flush();
    m_responseDone = true;
    retireExchange();
    if (m_requestDone || !m_keepAlive)
        finishTransaction();
}

void DownstreamConnection::onUpgraded(net::Stream *upstream, const QByteArray &leftover)
{
    retireExchange();
    m_socket->flush();
    // Bytes the client sent after the handshake are already in m_in.
    QByteArray clientBytes(m_in.data(), m_in.size());
    m_in.clear();
    becomeTunnel(upstream, leftover, clientBytes);
}

void DownstreamConnection::onRequestBodyDrained()
{
    // Not from inside the exchange's callback: reading on may end the request (a bad chunk, a timeout), which
    // destroys the exchange (the lifetime rule: never inside its own callbacks).
    QMetaObject::invokeMethod(this, [this] { pump(); }, Qt::QueuedConnection);
}

void DownstreamConnection::onError(forward::ForwardError error, const QString &detail)
{
    retireExchange();
    if (m_responseStarted) {
        m_tx.rec.reason = forward::reasonString(error);
        abort();
        return;
    }
    // After a response that broke the rules the client connection ends too: nothing the origin sent may be
    // taken for the answer to the client's next request.
    if (!m_requestDone || error == forward::ForwardError::BadResponse)
        m_keepAlive = false;
    const QByteArray reason = forward::reasonString(error);
    // The rule a bad response broke (the same names on both engines) goes in x-dfproxy-error-detail; the error
    // itself stays upstream_bad_response, which logs and metrics count.
    static const QString kBadResponse = QStringLiteral("bad response: ");
    policy::HeaderList rule;
    if (error == forward::ForwardError::BadResponse && detail.startsWith(kBadResponse))
        rule.append({QByteArrayLiteral("x-dfproxy-error-detail"), detail.mid(kBadResponse.size()).toLatin1()});
    sendLocalReply({forward::statusFor(error), reason, reason + ": " + detail.toUtf8() + "\n", {}, rule});
}

/// The one place a response of dfproxy's own becomes bytes: every error, denial and redirect of every stage, of the
/// forwarders (onError) and of the connection itself (bad heads, timeouts).
void DownstreamConnection::sendLocalReply(const LocalReply &reply)
{
    m_requestTimer.stop();
    m_responseStarted = true;
    m_responseDone = true;
    m_tx.rec.status = reply.status;
    m_tx.rec.reason = reply.reason;
    if (m_parser.inMessage() && !m_requestDone && m_parser.head().hasRequestBody())
        m_keepAlive = false; // the unread body would be taken for the next request
    m_out.resize(0);
    appendLocalReply(m_out, reply, m_clientMinor, m_keepAlive, !m_headRequest);
    m_socket->write(m_out);
    m_socket->flush();
    m_tx.rec.bytesOut = m_headRequest ? 0 : reply.body.size();
    m_state = State::Forwarding;
    if (m_requestDone || !m_keepAlive)
        finishTransaction();
    else
        pump(); // read (and drop) the rest of the request until it completes
}

void DownstreamConnection::finishTransaction()
{
    m_requestTimer.stop();
    // A CONNECT answered without a tunnel: its client's end of input, if it came meanwhile, ends the connection.
    m_socket->setKeepOpenAtEnd(false);
    if (m_socket->inputEnded())
        m_keepAlive = false;
    m_tx.emitLog();
    m_tx.policyCheck.reset();
    m_tx.lookup.reset();
    m_tx.proxySelection.reset(); // a PAC answer still on its way is for nobody now
    if (m_closeDelimited || !m_keepAlive || m_ctx->draining.load(std::memory_order_relaxed)) {
        closeAfterFlush();
        return;
    }
    m_state = State::ReadingHead;
    m_requestDone = m_responseDone = false;
    armIdleTimer();
    // Pipelined requests may already be buffered; not from inside the exchange's callback. With nothing
    // buffered, the next readyRead starts the next request (no queued hop per request).
    if (!m_in.isEmpty() || m_socket->hasPendingInput())
        QMetaObject::invokeMethod(this, [this] { pump(); }, Qt::QueuedConnection);
}

void DownstreamConnection::closeAfterFlush()
{
    if (m_state == State::Closing || m_closed)
        return;
    m_state = State::Closing;
    m_tx.cancel();
    m_socket->closeAfterFlush();
    if (!m_socket->isOpen())
        onClientDisconnected();
}

void DownstreamConnection::onClientBytesWritten()
{
    if (m_responsePaused && m_socket->bytesToWrite() <= m_ctx->options.bufferLimit / 2) {
        m_responsePaused = false;
        if (m_tx.exchange)
            m_tx.exchange->setResponsePaused(false);
    }
}

void DownstreamConnection::onClientDisconnected()
{
    if (m_closed)
        return;
    if (m_state == State::Tunnel)
        return; // the tunnel owns the socket now
    m_closed = true;
    releaseApplication();
    m_tx.cancel();
    if (!m_tx.logged && m_tx.rec.status == 0)
        m_tx.rec.reason = "client_closed";
    m_tx.emitLog();
    m_worker->connectionClosed(this);
    deleteLater();
}

void DownstreamConnection::becomeTunnel(net::Stream *upstream, const QByteArray &leftover,
                                        const QByteArray &clientBytes)
{
    m_state = State::Tunnel;
    m_idleTimer.stop();
    m_readTimer.stop();
    m_requestTimer.stop();
    m_tx.rec.tunnel = true;
    m_socket->setListener(nullptr);
    m_tx.rec.bytesIn = clientBytes.size();
    m_tx.rec.bytesOut = leftover.size();
    m_ctx->stats.activeTunnels.fetch_add(1, std::memory_order_relaxed);
    if (!m_socket->isOpen()) { // the client left while the tunnel was being set up
        upstream->setListener(nullptr);
        upstream->abort();
        upstream->deleteLater();
        m_ctx->stats.activeTunnels.fetch_sub(1, std::memory_order_relaxed);
        m_closed = true;
        releaseApplication();
        m_tx.emitLog();
        m_worker->connectionClosed(this);
        deleteLater();
        return;
    }
    // The tunnel is a child of this connection, takes the client's stream (m_socket, from now on the tunnel's)
    // and calls `done` at most once, from its own events: this connection is alive then (it only goes by
    // deleteLater, after that call).
    m_tunnel = new Tunnel(m_socket, upstream, leftover, clientBytes, m_ctx->options.bufferLimit,
                          [this](qint64 up, qint64 down) {
                              m_ctx->stats.activeTunnels.fetch_sub(1, std::memory_order_relaxed);
                              m_tx.rec.bytesIn += up;
                              m_tx.rec.bytesOut += down;
                              if (m_tunnel->timedOut())
                                  m_tx.rec.reason = "tunnel_idle_timeout";
                              m_closed = true;
                              releaseApplication();
                              m_tx.emitLog();
                              m_worker->connectionClosed(this);
                              deleteLater();
                          },
                          this);
    m_tunnel->setIdleTimeout(m_ctx->options.tunnelIdleTimeoutMs);
    if (m_tx.tunnelBytesPerSecond > 0) {
        m_tunnel->setBandwidthLimit(m_tx.tunnelBytesPerSecond, m_tx.tunnelBurstBytes,
                                    &m_ctx->stats.tunnelThrottlePauses);
        m_ctx->stats.tunnelsThrottled.fetch_add(1, std::memory_order_relaxed);
    }
}

} // namespace dfproxy::proxy
