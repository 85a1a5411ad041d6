// SPDX-License-Identifier: Apache-2.0
#pragma once
// One HTTP/2 stream of an Http2Connection: its request head as a MessageHead (the pseudo-headers in the places
// of the HTTP/1 start line, :authority as Host), its Transaction through the stages, and its response as HTTP/2
// frames. The HTTP/1 connection's counterpart per request (proxy/downstreamconnection.h).

#include "base/lazytimer.h"
#include "forward/forwarder.h"
#include "http/httpparser.h"
#include "http2/serversession.h"
#include "proxy/transaction.h"

#include <QObject>

namespace dfproxy::proxy {

class Http2Connection;

class Http2Stream final : public QObject, public TransactionHost, public forward::ResponseSink
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

    // TransactionHost
    void sendLocalReply(const LocalReply &reply) override;
    void armRequestTimeout(qint64 ms) override { m_requestTimer.start(this, ms); }
    forward::ResponseSink *responseSink() override { return this; }
    void exchangeStarted() override;
    void tunnelConnected(QTcpSocket *upstream) override;
    void readMore() override {}
    QObject *callbackContext() override { return this; }
    std::shared_ptr<const platform::ProcessInfo> clientApplication() override;

    // forward::ResponseSink
    void onUpstreamConnected(const QHostAddress &address, bool reused) override;
    void onResponseHead(const http::MessageHead &head) override;
    void onResponseBody(const char *data, qsizetype size) override;
    void onResponseTrailers(const http::HeaderList &trailers) override;
    void onResponseComplete() override;
    void onUpgraded(QTcpSocket *socket, const QByteArray &leftover) override;
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
    // CONNECT on this stream (a tunnel per stream): DATA frames <-> the upstream socket, with the same bounds.
    void readUpstream();
    void passTunnelBody();
    void halfCloseUpstream();
    void upstreamEnded();

    Http2Connection *m_conn;
    const qint32 m_id;
    http::MessageHead m_head;
    Transaction m_tx;
    std::unique_ptr<forward::Exchange> m_retiredExchange;
    QByteArray m_pendingBody; ///< request body received before the exchange started (bounded by the window)
    qint64 m_held = 0;        ///< body bytes given to the exchange and not yet consumed (the window stays shut)
    http::HeaderList m_requestTrailers;
    http2::HeaderList m_responseTrailers;
    QByteArray m_body;        ///< response body waiting for the session
    qsizetype m_bodyPos = 0;
    bool m_requestDone = false;
    bool m_responseStarted = false;
    bool m_responseEnded = false;
    bool m_responsePaused = false;
    bool m_closed = false;
    LazyTimer m_requestTimer;
    QTcpSocket *m_upstream = nullptr; ///< CONNECT: the tunnel's upstream (a child of this stream)
    bool m_upstreamEnded = false;
};

} // namespace dfproxy::proxy
