// SPDX-License-Identifier: Apache-2.0
#pragma once
// One HTTP/2 stream of an Http2Connection: its request head as a MessageHead (the pseudo-headers in the places
// of the HTTP/1 start line, :authority as Host), its Transaction through the stages, and its response as HTTP/2
// frames. The HTTP/1 connection's counterpart per request (proxy/downstreamconnection.h).
//
// Two kinds of stream become a relay of DATA frames <-> an upstream net::Stream (the Connector's or the forwarder's;
// a raw socket when plain, no QTcpSocket round trip): a classic CONNECT (a tunnel to
// host:port, RFC 9113 8.5) and an extended CONNECT with `:protocol websocket` (RFC 8441), which is a request like
// any other to the stages (a GET with "Upgrade: websocket", routed by host and path) and reaches the HTTP/1.1
// origin as a websocket handshake whose key this stream makes and whose 101 it checks. Both relays keep the
// tunnel rules of HTTP/1: the same bounds, and the policy's tunnel bandwidth per direction.

#include "base/lazytimer.h"
#include "forward/forwarder.h"
#include "http/httpparser.h"
#include "http2/serversession.h"
#include "net/stream.h"
#include "proxy/bytebucket.h"
#include "proxy/transaction.h"

#include <QObject>

#include <optional>

class QTimer;

namespace dfproxy::proxy {

class Http2Connection;

class Http2Stream final : public QObject, public TransactionHost, public forward::ResponseSink,
                          private net::StreamListener
{
public:
    Http2Stream(Http2Connection *connection, qint32 id);
    ~Http2Stream() override;

    /// The request head arrived: runs the transaction.
    void start(const http2::HeaderList &pseudo, const http2::HeaderList &headers, bool endStream);
    /// Answers a head the session refused (431) without running the stages.
    void refuse(int status, const QByteArray &reason);
    void onData(const char *data, qsizetype size);
    void onEnd();
    /// The request's trailers (passed to the exchange with the end of the body).
    void onTrailers(const http2::HeaderList &trailers) { m_requestTrailers = trailers; }
    /// The response's trailers for the session, once its body is sent.
    http2::HeaderList responseTrailers() const { return m_responseTrailers; }
    /// nghttp2 closed the stream (`errorCode` 0 after a complete exchange): cancels what is in flight, logs.
    void onClosed(quint32 errorCode);
    /// The session's data source for the response body (ServerSessionHandler::readResponseBody).
    qsizetype readBody(char *out, qsizetype max, bool *eof);
    /// The same without a copy (ServerSessionHandler::peekResponseBody, takeResponseBody).
    bool peekBody(qsizetype max, qsizetype *size, bool *eof);
    void takeBody(qsizetype size, QByteArray &out);

    // TransactionHost
    void sendLocalReply(const LocalReply &reply) override;
    void armRequestTimeout(qint64 ms) override { m_requestTimer.start(this, ms); }
    forward::ResponseSink *responseSink() override { return this; }
    void exchangeStarted() override;
    void tunnelConnected(net::Stream *upstream) override;
    void readMore() override {}
    QObject *callbackContext() override { return this; }
    ConnectionApplication *clientApplication() override;

    // forward::ResponseSink
    void onUpstreamConnected(const QHostAddress &address, bool reused) override;
    void onResponseHead(const http::MessageHead &head) override;
    void onResponseBody(const char *data, qsizetype size) override;
    void onResponseTrailers(const http::HeaderList &trailers) override;
    void onResponseComplete() override;
    void onUpgraded(net::Stream *upstream, const QByteArray &leftover) override;
    void onRequestBodyDrained() override;
    void onError(forward::ForwardError error, const QString &detail) override;
    void onUpstreamProxyUsed(const forward::UpstreamProxy *proxy) override;

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    /// The head as the stages read it; empty `refusal` when it is well formed.
    QByteArray buildHead(const http2::HeaderList &pseudo, const http2::HeaderList &headers, bool endStream);
    /// Request body bytes the exchange took while it is below bufferLimit open the client's window again.
    void passBody();
    void retireExchange();
    // CONNECT on this stream (a tunnel per stream): DATA frames <-> the upstream net::Stream, with the same bounds.
    /// The relay starts: `upstream` is this stream's now; 200 with `headers` to the client, `leftover` (what
    /// the upstream sent after its 101) first.
    void startRelay(net::Stream *upstream, const http2::HeaderList &headers, const QByteArray &leftover);
    // net::StreamListener, for the relay's upstream
    void onStreamReadable() override { readUpstream(); }
    void onStreamWritten() override;
    void onStreamClosed(QAbstractSocket::SocketError error) override;
    void readUpstream();
    /// Client bytes to the upstream, as far as the direction's bandwidth allows.
    void pumpToUpstream();
    void passTunnelBody();
    void halfCloseUpstream();
    void upstreamEnded();
    /// RFC 8441: the head becomes the websocket handshake the origin gets; empty, or the refusal's reason.
    QByteArray websocketHead(const QByteArray &protocol);
    /// The origin's answer to the handshake: true when it is taken here (a 101 kept for onUpgraded, a 2xx refused).
    bool websocketResponse(const http::MessageHead &head);
    /// 502 upstream_bad_response with m_upgradeRefusal as the detail.
    void refuseUpgrade();
    /// Bytes one direction of the relay may pass now (unbounded without a bandwidth limit).
    qint64 allowance(int direction, qint64 want);
    void consumed(int direction, qint64 bytes);
    /// The direction's bucket is empty: try again once about a read's worth is back.
    void pauseDirection(int direction);
    Http2Connection *m_conn;
    const qint32 m_id;
    http::MessageHead m_head;
    Transaction m_tx;
    std::unique_ptr<forward::Exchange> m_retiredExchange;
    QByteArray m_pendingBody; ///< request body received before the exchange started (bounded by the window)
    qint64 m_held = 0;        ///< body bytes given to the exchange and not yet consumed (the window stays shut)
    http::HeaderList m_requestTrailers;
    http2::HeaderList m_responseTrailers;
    /// `size` response body bytes waiting for the session, each run passed to `sink(data, n)`; then what follows
    /// a read (a relay reads on, an exchange resumes).
    template <typename Sink> void consumeBody(qsizetype size, Sink &&sink);
    qsizetype pendingBody() const { return m_body.size() - m_bodyPos; }
    /// Response body waiting for the session. One buffer, reserved for a whole response of up to 64 KiB: bytes
    /// in 32 KiB reads, each freed as its own allocation, cost the kernel more (page faults) than they save.
    QByteArray m_body;
    qsizetype m_bodyPos = 0;
    bool m_requestDone = false;
    bool m_responseStarted = false;
    bool m_responseEnded = false;
    bool m_responsePaused = false;
    bool m_closed = false;
    LazyTimer m_requestTimer;
    net::Stream *m_upstream = nullptr; ///< CONNECT: the tunnel's upstream (a child of this stream)
    bool m_upstreamEnded = false;
    QByteArray m_toUpstream; ///< client bytes the bandwidth limit holds back (bounded by the stream window)
    // The policy's tunnel bandwidth, per direction: [0] upstream -> client, [1] client -> upstream.
    std::optional<ByteBucket> m_throttle[2];
    QTimer *m_throttleTimer = nullptr;
    // RFC 8441 websocket streams.
    bool m_websocket = false;
    QByteArray m_websocketKey;          ///< the Sec-WebSocket-Key sent to the origin
    http2::HeaderList m_upgradeHeaders; ///< the 101's end-to-end headers, for the client's 200
    QByteArray m_upgradeRefusal;        ///< why the origin's answer opened no websocket (then answered 502)
};

} // namespace dfproxy::proxy
