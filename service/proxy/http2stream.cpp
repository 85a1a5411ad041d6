// SPDX-License-Identifier: Apache-2.0
#include "proxy/http2stream.h"

#include "forward/upstreamproxy.h"
#include "http/responserules.h"
#include "net/stream.h"
#include "proxy/http2connection.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

#include <nghttp2/nghttp2.h>

#include <QCryptographicHash>
#include <QRandomGenerator>
#include <QTimer>
#include <QTimerEvent>

#include <algorithm>
#include <cstring>

namespace dfproxy::proxy {

namespace {

const QByteArray kHost = QByteArrayLiteral("host");
const QByteArray kUnsupportedProtocol = QByteArrayLiteral("h2_connect_protocol_not_supported");
constexpr qint64 kRelayChunk = 16 * 1024;
/// A response body's buffer is reserved up to this (its Content-Length) with the head.
constexpr qint64 kBodyReserve = 64 * 1024;
enum Direction { kToClient = 0, kToUpstream = 1 };

/// RFC 6455 4.2.2: the Sec-WebSocket-Accept that answers `key`.
QByteArray websocketAccept(const QByteArray &key)
{
    return QCryptographicHash::hash(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", QCryptographicHash::Sha1).toBase64();
}

QByteArray pseudo(const http2::HeaderList &list, QByteArrayView name)
{
    for (const auto &h : list) {
        if (h.first == name)
            return h.second;
    }
    return QByteArray();
}

/// The lower-case spelling of `name`. A name that is lower case already is shared, and the fields origins send
/// most are shared from this table: the usual response costs no allocation per field.
QByteArray lowerName(const QByteArray &name)
{
    char lower[32];
    const qsizetype size = name.size();
    if (size > qsizetype(sizeof lower))
        return name.toLower(); // no origin field the table knows is this long
    bool upper = false;
    for (qsizetype i = 0; i < size; ++i) {
        const char c = name[i];
        upper = upper || (c >= 'A' && c <= 'Z');
        lower[i] = c >= 'A' && c <= 'Z' ? char(c + ('a' - 'A')) : c;
    }
    if (!upper)
        return name;
    static const QByteArray kKnown[] = {
        QByteArrayLiteral("accept-ranges"),
        QByteArrayLiteral("access-control-allow-origin"),
        QByteArrayLiteral("age"),
        QByteArrayLiteral("cache-control"),
        QByteArrayLiteral("content-encoding"),
        QByteArrayLiteral("content-language"),
        QByteArrayLiteral("content-length"),
        QByteArrayLiteral("content-type"),
        QByteArrayLiteral("date"),
        QByteArrayLiteral("etag"),
        QByteArrayLiteral("expires"),
        QByteArrayLiteral("last-modified"),
        QByteArrayLiteral("location"),
        QByteArrayLiteral("server"),
        QByteArrayLiteral("set-cookie"),
        QByteArrayLiteral("strict-transport-security"),
        QByteArrayLiteral("vary"),
        QByteArrayLiteral("x-content-type-options"),
        QByteArrayLiteral("x-frame-options"),
    };
    for (const QByteArray &k : kKnown) {
        if (k.size() == size && std::memcmp(k.constData(), lower, size_t(size)) == 0)
            return k;
    }
    return QByteArray(lower, size);
}

/// HTTP/2 field names are lower case (RFC 9113 8.2.1); the HTTP/1 side and the config may spell them otherwise.
void appendField(http2::HeaderList &out, const QByteArray &name, const QByteArray &value)
{
    out.append({lowerName(name), value});
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
    m_websocket = false;
    const QByteArray authority = pseudo(ps, ":authority");
    // nghttp2 lets :protocol through only with CONNECT, :scheme and :path (RFC 8441 4).
    const QByteArray protocol = pseudo(ps, ":protocol");
    m_head.target = m_head.isConnect() && protocol.isEmpty() ? authority : pseudo(ps, ":path");
    m_head.upgrade = m_head.isConnect();
    m_head.headers.reserve(headers.size() + 1);
    const QByteArray *host = nullptr;
    for (const auto &h : headers) {
        if (h.first == kHost)
            host = &h.second; // nghttp2 refuses a second Host field
    }
    // :authority and Host name the same thing; two different names would let routing and the origin disagree
    // about where the request goes (RFC 9113 8.3.1).
    if (host && !authority.isEmpty() && *host != authority)
        return QByteArrayLiteral("h2_host_mismatch");
    if (!m_head.isConnect() || !protocol.isEmpty()) {
        // The target URI is :scheme://:authority:path (RFC 9113 8.3.1; an RFC 8441 websocket's too: https = wss). When its scheme is not the one of the
        // client's own connection to dfproxy, the stream asks for what an absolute-form request asks for in HTTP/1.1
        // (`GET https://name/` over cleartext is fetched over verified TLS, never as plaintext), so it is written in
        // that form and the canonical stage treats both the same.
        const QByteArray scheme = pseudo(ps, ":scheme");
        if (scheme != "http" && scheme != "https")
            return QByteArrayLiteral("invalid_scheme");
        const QByteArray &name = authority.isEmpty() && host ? *host : authority;
        if ((scheme == "https") != m_conn->tls() && !name.isEmpty() && m_head.target.startsWith('/'))
            m_head.target = scheme + "://" + name + m_head.target;
    }
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
    if (!protocol.isEmpty())
        return websocketHead(protocol);
    return QByteArray();
}

QByteArray Http2Stream::websocketHead(const QByteArray &protocol)
{
    // Upgrade tokens compare case-insensitively (RFC 9110 7.8); websocket is the only protocol an HTTP/1.1 origin
    // can be asked for here.
    if (protocol.compare("websocket", Qt::CaseInsensitive) != 0)
        return kUnsupportedProtocol;
    // To the stages this is the request an HTTP/1 client sends for the same websocket (a GET with Upgrade, routed
    // by host and path, checked by the same policies), so no spelling of it passes where the HTTP/1 one would not.
    m_websocket = true;
    m_head.method = QByteArrayLiteral("GET"); // m_head.target is :path already
    m_head.upgrade = true;
    m_head.chunked = false; // DATA frames are the websocket's, after the handshake: the GET has no body
    m_head.contentLength = -1;
    // The key is this proxy's: the client sends none over HTTP/2, and the 101 must answer the one sent.
    for (const char *name : {"content-length", "sec-websocket-key", "sec-websocket-accept"})
        http::removeHeader(m_head.headers, name);
    QByteArray nonce(16, Qt::Uninitialized);
    QRandomGenerator::system()->generate(reinterpret_cast<quint32 *>(nonce.data()),
                                         reinterpret_cast<quint32 *>(nonce.data() + nonce.size()));
    m_websocketKey = nonce.toBase64();
    m_head.headers.append({QByteArrayLiteral("upgrade"), QByteArrayLiteral("websocket")});
    m_head.headers.append({QByteArrayLiteral("sec-websocket-key"), m_websocketKey});
    return QByteArray();
}

void Http2Stream::start(const http2::HeaderList &ps, const http2::HeaderList &headers, bool endStream)
{
    m_requestDone = endStream;
    const QByteArray refusal = buildHead(ps, headers, endStream);
    m_tx.begin(&m_head, m_conn->peerAddress(), m_conn->peerPort());
    if (refusal == kUnsupportedProtocol) {
        sendLocalReply({501, refusal, "extended CONNECT supports :protocol websocket only\n", {}, {}});
        return;
    }
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
        m_toUpstream.append(data, size);
        pumpToUpstream();
    } else if (m_websocket && !m_responseStarted) {
        m_pendingBody.append(data, size); // websocket frames before the 101: held (the stream window bounds them)
    } else if (m_tx.exchange && !m_websocket) {
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
    if (m_tx.exchange && !m_websocket) {
        m_tx.exchange->setRequestTrailers(m_requestTrailers);
        m_tx.exchange->endBody();
    }
    if (m_upstream)
        halfCloseUpstream();
}

void Http2Stream::exchangeStarted()
{
    if (m_websocket) {
        m_tx.exchange->endBody(); // the handshake is a GET without a body; DATA waits for the relay
        return;
    }
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
void Http2Stream::tunnelConnected(net::Stream *upstream)
{
    // Relayed as it came from the Connector: direct, a raw socket; through an upstream proxy, an adopted one.
    if (!upstream->isOpen()) {
        upstream->deleteLater();
        m_tx.rec.reason = QByteArrayLiteral("upstream_reset");
        m_conn->session().resetStream(m_id, NGHTTP2_CONNECT_ERROR);
        m_conn->flush();
        return;
    }
    startRelay(upstream, {}, {});
}

/// The relay of a CONNECT tunnel or an RFC 8441 websocket. The policy's tunnel bandwidth (RateLimitPolicy
/// bytesPerSecond) throttles each direction as proxy/tunnel.h does for HTTP/1: a direction whose bucket is empty
/// stops passing bytes (the upstream socket is not read; the client's window stays shut) until a timer says
/// enough is back.
void Http2Stream::startRelay(net::Stream *upstream, const http2::HeaderList &headers, const QByteArray &leftover)
{
    m_requestTimer.stop();
    m_upstream = upstream;
    m_upstream->setParent(this);
    m_upstream->setListener(this);
    // Either side may end first (RFC 9113 8.5: a FIN is END_STREAM, END_STREAM a FIN); the stream's close ends
    // the connection.
    m_upstream->setKeepOpenAtEnd(true);
    m_responseStarted = true;
    m_tx.rec.status = 200;
    m_tx.rec.tunnel = true;
    m_tx.ctx->stats.activeTunnels.fetch_add(1, std::memory_order_relaxed);
    if (m_tx.tunnelBytesPerSecond > 0) {
        const qint64 burst = m_tx.tunnelBurstBytes > 0 ? m_tx.tunnelBurstBytes : m_tx.tunnelBytesPerSecond;
        for (auto &t : m_throttle)
            t.emplace(m_tx.tunnelBytesPerSecond, burst, &SystemClock::instance());
        m_tx.ctx->stats.tunnelsThrottled.fetch_add(1, std::memory_order_relaxed);
    }
    m_conn->session().submitResponse(m_id, 200, headers, true);
    // What came right behind the 101 (already read from the origin): the client's first bytes.
    m_body.append(leftover);
    m_tx.rec.bytesOut += leftover.size();
    m_toUpstream = std::exchange(m_pendingBody, QByteArray());
    pumpToUpstream();
    if (m_requestDone)
        halfCloseUpstream();
    readUpstream();
    m_conn->flush();
}

void Http2Stream::onStreamWritten()
{
    pumpToUpstream();
    if (m_requestDone)
        halfCloseUpstream();
}

void Http2Stream::onStreamClosed(QAbstractSocket::SocketError error)
{
    if (error == QAbstractSocket::RemoteHostClosedError) {
        upstreamEnded(); // (a TLS stream: what it read before is still there to relay)
    } else if (!m_closed) {
        m_tx.rec.reason = QByteArrayLiteral("upstream_reset");
        m_conn->session().resetStream(m_id, NGHTTP2_CONNECT_ERROR);
        m_conn->flush();
    }
}

void Http2Stream::readUpstream()
{
    if (!m_upstream || m_closed)
        return;
    const qint64 limit = m_tx.ctx->options.bufferLimit;
    bool any = false;
    // Read while the client keeps up: what waits for it stays under bufferLimit, the rest waits in the upstream's
    // stream (a bounded read-ahead) and the kernel.
    char chunk[kRelayChunk];
    while (m_body.size() - m_bodyPos < limit) {
        const qint64 want = allowance(kToClient, kRelayChunk);
        if (want <= 0) {
            pauseDirection(kToClient);
            break;
        }
        const qint64 n = m_upstream->read(chunk, want);
        if (n <= 0)
            break;
        consumed(kToClient, n);
        m_body.append(chunk, n);
        m_tx.rec.bytesOut += n;
        any = true;
    }
    // The upstream ended: the stream ends once what it sent is read (still under the bounds above).
    if (m_upstream->inputEnded())
        m_upstreamEnded = true;
    if (m_upstreamEnded && !m_responseEnded && !m_upstream->hasPendingInput()) {
        m_responseEnded = true;
        any = true;
    }
    if (any) {
        m_conn->session().resumeData(m_id);
        m_conn->flush();
    }
}

void Http2Stream::pumpToUpstream()
{
    if (!m_upstream || m_closed)
        return;
    if (!m_toUpstream.isEmpty()) {
        const qint64 n = allowance(kToUpstream, m_toUpstream.size());
        if (n > 0) {
            m_upstream->write(m_toUpstream.constData(), n);
            m_toUpstream.remove(0, n);
            consumed(kToUpstream, n);
            m_held += n; // written: its window opens as the upstream takes it (passTunnelBody)
        }
        if (!m_toUpstream.isEmpty())
            pauseDirection(kToUpstream);
    }
    passTunnelBody();
}

qint64 Http2Stream::allowance(int direction, qint64 want)
{
    return m_throttle[direction] ? std::min(want, m_throttle[direction]->available()) : want;
}

void Http2Stream::consumed(int direction, qint64 bytes)
{
    if (m_throttle[direction])
        m_throttle[direction]->consume(bytes);
}

void Http2Stream::pauseDirection(int direction)
{
    if (!m_throttle[direction])
        return;
    ByteBucket &bucket = *m_throttle[direction];
    if (!m_throttleTimer) {
        m_throttleTimer = new QTimer(this);
        m_throttleTimer->setSingleShot(true);
        m_throttleTimer->setTimerType(Qt::PreciseTimer);
        connect(m_throttleTimer, &QTimer::timeout, this, [this] {
            pumpToUpstream();
            if (m_requestDone)
                halfCloseUpstream();
            readUpstream();
        });
    }
    // Waiting for ~50 ms worth (at most one read chunk) rather than a single byte keeps wake-ups few (as
    // Tunnel::pauseUntilRefilled).
    const qint64 want = std::clamp<qint64>(bucket.capacity() / 20, 1, std::min(kRelayChunk, bucket.capacity()));
    const int ms = int(std::clamp<qint64>(bucket.msUntil(want), 1, 60000));
    if (m_throttleTimer->isActive() && m_throttleTimer->remainingTime() <= ms)
        return; // paused already (more client bytes came while waiting, or the other direction waits too)
    if (!m_throttleTimer->isActive())
        m_tx.ctx->stats.tunnelThrottlePauses.fetch_add(1, std::memory_order_relaxed);
    m_throttleTimer->start(ms);
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
    // The stream sends the FIN once its queue is out (a TLS stream, which cannot half-close, closes then).
    if (m_upstream && m_toUpstream.isEmpty() && m_upstream->isOpen())
        m_upstream->shutdownWrite();
}

void Http2Stream::upstreamEnded()
{
    if (m_upstreamEnded || !m_upstream)
        return;
    m_upstreamEnded = true;
    // The socket keeps what it read (at most bufferLimit): readUpstream passes it on as the client and the
    // bandwidth limit take it, then ends the stream.
    readUpstream();
}

void Http2Stream::sendLocalReply(const LocalReply &reply)
{
    m_requestTimer.stop();
    if (m_responseStarted || m_closed)
        return;
    if (m_websocket && reply.status >= 200 && reply.status < 300) {
        // A 2xx tells an RFC 8441 client its websocket is open; a local answer (the listener's PAC file) opens none.
        sendLocalReply({400, "h2_websocket_not_served", "no websocket is served here\n", {}, {}});
        return;
    }
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
    if (m_closed)
        return; // the client reset the stream; the retired exchange goes with this stream
    if (m_websocket && websocketResponse(head))
        return;
    m_requestTimer.stop();
    m_responseStarted = true;
    m_tx.rec.status = head.status;
    m_tx.rec.upstreamUs = m_tx.nowUs() - m_tx.connectedUs;
    m_tx.rec.grpcStatus = forward::grpcStatusOf(head.headers, -1); // gRPC's trailers-only responses
    http2::HeaderList out;
    out.reserve(head.headers.size() + 2);
    if (m_tx.match && !m_tx.match->responseHeaders.isEmpty()) {
        http::HeaderList fields = head.headers;
        http::stripHopByHop(fields, false);
        stages::applyHeaderModifier(fields, m_tx.match->responseHeaders);
        for (const auto &h : fields)
            appendField(out, h.first, h.second);
    } else {
        // stripHopByHop's test on the origin's list itself: no copy of it to strip.
        const http::HopByHopFilter hopByHop(head.headers, false);
        for (const auto &h : head.headers) {
            if (!hopByHop.drops(h.first))
                appendField(out, h.first, h.second);
        }
    }
    out.append({QByteArrayLiteral("via"), QByteArrayLiteral("1.1 dfproxy")});
    const bool noBody = m_head.isHead() || head.status == 204 || head.status == 304 || head.contentLength == 0;
    if (head.contentLength >= 0 && (head.status != 204))
        out.append({QByteArrayLiteral("content-length"), QByteArray::number(head.contentLength)});
    if (noBody)
        m_responseEnded = true;
    else if (head.contentLength > 0)
        m_body.reserve(qsizetype(std::min<qint64>(head.contentLength, kBodyReserve))); // not grown (copied) by reads
    m_conn->session().submitResponse(m_id, head.status, out, !noBody);
    m_conn->flush();
}

void Http2Stream::onResponseBody(const char *data, qsizetype size)
{
    if (m_closed || !m_upgradeRefusal.isEmpty())
        return; // the client reset the stream, or it was answered 502 already
    m_tx.rec.bytesOut += size;
    if (m_bodyPos > 0) {
        // What the session took goes first (Qt moves the start, no copy), so the buffer is not grown by it.
        m_body.remove(0, m_bodyPos);
        m_bodyPos = 0;
    }
    m_body.append(data, size);
    m_conn->session().resumeData(m_id);
    if (!m_responsePaused && pendingBody() > m_tx.ctx->options.bufferLimit && m_tx.exchange) {
        m_responsePaused = true;
        m_tx.exchange->setResponsePaused(true);
    }
    m_conn->flush();
}

template <typename Sink> void Http2Stream::consumeBody(qsizetype size, Sink &&sink)
{
    size = std::min(size, pendingBody());
    if (size > 0) {
        sink(m_body.constData() + m_bodyPos, size);
        m_bodyPos += size;
    }
    if (m_bodyPos == m_body.size()) {
        m_body.resize(0);
        m_bodyPos = 0;
    }
    const qsizetype left = pendingBody();
    // Read on, from the event loop (this runs inside the session); also after the upstream ended, as its last bytes
    // wait in the socket.
    if (m_upstream && left <= m_tx.ctx->options.bufferLimit / 2 && m_upstream->hasPendingInput())
        QMetaObject::invokeMethod(
            this, [this] { readUpstream(); }, Qt::QueuedConnection);
    if (m_responsePaused && left <= m_tx.ctx->options.bufferLimit / 2 && m_tx.exchange) {
        m_responsePaused = false;
        m_tx.exchange->setResponsePaused(false);
    }
}

bool Http2Stream::peekBody(qsizetype max, qsizetype *size, bool *eof)
{
    const qsizetype pending = pendingBody();
    if (pending == 0 && !m_responseEnded) {
        *size = -1;
        return true;
    }
    *size = std::min(max, pending);
    *eof = m_responseEnded && *size == pending;
    return true;
}

void Http2Stream::takeBody(qsizetype size, QByteArray &out)
{
    consumeBody(size, [&out](const char *data, qsizetype n) { out.append(data, n); });
}

qsizetype Http2Stream::readBody(char *out, qsizetype max, bool *eof)
{
    const qsizetype pending = pendingBody();
    const qsizetype n = std::min(max, pending);
    if (n == 0 && !m_responseEnded)
        return -1;
    *eof = m_responseEnded && n == pending;
    consumeBody(n, [&out](const char *data, qsizetype k) {
        std::memcpy(out, data, size_t(k));
        out += k;
    });
    return n;
}

void Http2Stream::onResponseTrailers(const http::HeaderList &trailers)
{
    // HTTP/2 to HTTP/2: the trailers go on as they came (gRPC's grpc-status, grpc-message), lower-case, but for
    // the fields no trailer may carry (http::isForbiddenTrailer), which are dropped and counted.
    for (const auto &t : trailers) {
        if (http::isForbiddenTrailer(t.first))
            ++m_tx.rec.trailersDropped;
        else
            appendField(m_responseTrailers, t.first, t.second);
    }
    m_tx.rec.grpcStatus = forward::grpcStatusOf(trailers, m_tx.rec.grpcStatus);
}

void Http2Stream::onResponseComplete()
{
    if (!m_upgradeRefusal.isEmpty()) {
        retireExchange();
        return;
    }
    m_responseEnded = true;
    retireExchange();
    if (m_closed)
        return;
    m_conn->session().resumeData(m_id);
    m_conn->flush();
}

void Http2Stream::refuseUpgrade()
{
    sendLocalReply({502, "upstream_bad_response", "upstream_bad_response: " + m_upgradeRefusal + "\n", {},
                    {{QByteArrayLiteral("x-dfproxy-error-detail"), m_upgradeRefusal}}});
}

bool Http2Stream::websocketResponse(const http::MessageHead &head)
{
    if (head.status == 101) {
        // Kept for onUpgraded, which follows at once: the client's answer is a 200 (RFC 8441 5) with the 101's
        // end-to-end headers (Sec-WebSocket-Protocol, -Extensions), not its handshake fields.
        m_requestTimer.stop();
        m_tx.rec.upstreamUs = m_tx.nowUs() - m_tx.connectedUs;
        const QByteArray *accept = http::findHeader(head.headers, "sec-websocket-accept");
        if (!accept)
            m_upgradeRefusal = QByteArrayLiteral("the origin's 101 has no Sec-WebSocket-Accept");
        else if (accept->trimmed() != websocketAccept(m_websocketKey))
            m_upgradeRefusal = QByteArrayLiteral("the origin's Sec-WebSocket-Accept does not answer the key sent");
        http::HeaderList fields = head.headers;
        http::stripHopByHop(fields, false);
        http::removeHeader(fields, "sec-websocket-accept");
        if (m_tx.match && !m_tx.match->responseHeaders.isEmpty())
            stages::applyHeaderModifier(fields, m_tx.match->responseHeaders);
        m_upgradeHeaders.clear();
        for (const auto &h : fields)
            appendField(m_upgradeHeaders, h.first, h.second);
        m_upgradeHeaders.append({QByteArrayLiteral("via"), QByteArrayLiteral("1.1 dfproxy")});
        return true;
    }
    if (head.status >= 200 && head.status < 300) {
        // A 2xx tells an HTTP/2 client its websocket is open (RFC 8441 5); the origin opened none. Other statuses
        // (a redirect, a 401, a 404) are the stream's response as they are.
        m_upgradeRefusal =
            "the origin answered the websocket handshake with " + QByteArray::number(head.status) + ", not 101";
        if (m_tx.exchange)
            m_tx.exchange->setResponsePaused(true);
        retireExchange();
        refuseUpgrade();
        return true;
    }
    return false;
}

void Http2Stream::onUpgraded(net::Stream *upstream, const QByteArray &leftover)
{
    retireExchange();
    if (upstream->isOpen() && m_websocket && m_upgradeRefusal.isEmpty() && !m_closed) {
        startRelay(upstream, m_upgradeHeaders, leftover); // the forwarder's stream, relayed as DATA frames
        return;
    }
    upstream->abort();
    upstream->deleteLater();
    if (m_websocket && !m_closed) {
        refuseUpgrade();
        return;
    }
    // Not reached otherwise: other HTTP/2 requests carry no Upgrade (nghttp2 refuses the field), so no 101 is
    // asked for.
    m_conn->session().resetStream(m_id, NGHTTP2_INTERNAL_ERROR);
    m_conn->flush();
}

void Http2Stream::onRequestBodyDrained()
{
    passBody();
}

ConnectionApplication *Http2Stream::clientApplication()
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
    if (m_closed)
        return;
    if (!m_upgradeRefusal.isEmpty() && m_responseStarted)
        return; // answered 502 already
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
    if (m_tx.exchange) // a second call (a callback after onClosed) must not drop the exchange that is calling
        m_retiredExchange = std::move(m_tx.exchange);
}

void Http2Stream::onClosed(quint32 errorCode)
{
    if (m_closed)
        return;
    m_closed = true;
    if (net::Stream *up = std::exchange(m_upstream, nullptr)) {
        up->setListener(nullptr);
        up->abort();
        up->deleteLater();
        m_tx.ctx->stats.activeTunnels.fetch_sub(1, std::memory_order_relaxed);
    }
    m_requestTimer.stop();
    // This runs inside the session, which may be inside a call of the exchange's (onResponseHead sends a
    // HEADERS frame with END_STREAM, and the stream closes): the exchange is retired, not destroyed, and goes
    // with this stream, which the connection deletes from the event loop (the lifetime rule, forwarder.h).
    retireExchange();
    m_tx.cancel();
    if (!m_tx.logged && errorCode != NGHTTP2_NO_ERROR && !(m_responseEnded && pendingBody() == 0)) {
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
