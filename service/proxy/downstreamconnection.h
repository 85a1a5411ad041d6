// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/lazytimer.h"
#include "forward/forwarder.h"
#include "http/httpparser.h"
#include "http/readbuffer.h"
#include "net/stream.h"
#include "policy/policy.h"
#include "proxy/clientapplication.h"
#include "proxy/connectionlimiter.h"
#include "proxy/transaction.h"
#include "routing/routetable.h"

#include <QObject>

#include <memory>

namespace dfproxy::proxy {

struct ProxyContext;
class ProxyWorker;
class Tunnel;

/// The HTTP/1 server side of one client connection, on a worker thread: parses requests (keep-alive, pipelining
/// order), feeds request bodies to the exchange with backpressure, writes responses (relayed or local replies, the
/// one place that turns a LocalReply into bytes), enforces the read and idle timeouts, and turns into a tunnel
/// (CONNECT, websocket). What happens to each request between its head and its response is the Transaction's
/// (proxy/transaction.h), which runs the stages (proxy/stages/stages.h).
///
/// Lifetime: the connection deletes itself with deleteLater() when closed, never synchronously; what it owns
/// (transaction handles, exchanges, connectors) is cancelled by destroying it outside its own callbacks.
class DownstreamConnection final : public QObject,
                                   public forward::ResponseSink,
                                   public http::BodyHandler,
                                   public net::StreamListener,
                                   public TransactionHost
{
public:
    /// Takes `stream` (accepted on an HTTPS listener when `tls`).
    DownstreamConnection(ProxyWorker *worker, ProxyContext *ctx, net::Stream *stream, bool tls,
                         std::shared_ptr<const routing::Listener> listener, ConnectionSlot slot = {});
    ~DownstreamConnection() override;

    /// Graceful stop: close now when idle, after the current response otherwise.
    void drain();
    /// Closes at once.
    void abort();

    // forward::ResponseSink
    void onUpstreamConnected(const QHostAddress &address, bool reused) override;
    void onResponseHead(const http::MessageHead &head) override;
    void onResponseBody(const char *data, qsizetype size) override;
    net::Stream *bodySpliceTarget() override;
    void onResponseBodySpliced(qint64 size) override;
    void onResponseTrailers(const http::HeaderList &trailers) override;
    void onResponseComplete() override;
    void onUpgraded(net::Stream *upstream, const QByteArray &leftover) override;
    void onRequestBodyDrained() override;
    void onError(forward::ForwardError error, const QString &detail) override;
    void onUpstreamProxyUsed(const forward::UpstreamProxy *proxy) override;

    // http::BodyHandler (request body)
    void onBody(const char *data, qsizetype size) override;

    // net::StreamListener (the client)
    void onStreamReadable() override { pump(); }
    void onStreamWritten() override { onClientBytesWritten(); }
    void onStreamClosed(QAbstractSocket::SocketError) override { onClientDisconnected(); }

    // TransactionHost
    void sendLocalReply(const LocalReply &reply) override;
    void armRequestTimeout(qint64 ms) override { m_requestTimer.start(this, ms); }
    forward::ResponseSink *responseSink() override { return this; }
    void exchangeStarted() override;
    void tunnelConnected(net::Stream *upstream) override;
    void readMore() override { pump(); }
    QObject *callbackContext() override { return this; }
    ConnectionApplication *clientApplication() override { return m_application.get(); }

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    enum class State { ReadingHead, Stages, Forwarding, Tunnel, Closing };

    void pump();
    /// HTTP/2 (#26): whether the connection's first bytes are the HTTP/2 connection preface (h2 after ALPN, h2c by
    /// prior knowledge); if so the connection hands its stream to ProxyWorker::startHttp2 and closes itself.
    enum class Http2Sniff { Http1, NeedMore, HandedOver };
    Http2Sniff sniffHttp2();
    bool spliceRequestBody();
    void onRequestHead();
    void onRequestComplete();
    void onReadTimeout();
    /// Ends the request with a reply of the connection's own (a bad head, a timeout): a fresh record when none is
    /// open, then sendLocalReply, then close.
    void failConnection(const LocalReply &reply);
    void finishTransaction();
    void closeAfterFlush();
    void onClientBytesWritten();
    void onClientDisconnected();
    /// The client's connection is over: its program's next socket is likely where this one was (now, not when
    /// this object goes later: the client's next connection is often accepted meanwhile).
    void releaseApplication()
    {
        if (m_application)
            m_application->release();
    }
    void armIdleTimer();
    void becomeTunnel(net::Stream *upstream, const QByteArray &leftover, const QByteArray &clientBytes);
    /// The exchange is over (it called its last callback): destroyed later, never inside its own callback.
    void retireExchange();

    ProxyWorker *m_worker;
    ProxyContext *m_ctx;
    net::Stream *m_socket; ///< the client
    std::shared_ptr<const routing::Listener> m_listener;
    http::HttpParser m_parser;
    http::ReadBuffer m_in;
    QByteArray m_out;
    State m_state = State::ReadingHead;
    bool m_inPump = false;
    bool m_pumpAgain = false;
    bool m_closed = false;
    bool m_sniffHttp2 = true; ///< HTTP/2 (#26): the first bytes are not looked at yet

    Transaction m_tx; ///< the request in flight (one at a time: pipelined requests wait in m_in)
    /// The finished exchange, kept until the next request or the connection's end (its callback is where it ended).
    std::unique_ptr<forward::Exchange> m_retiredExchange;
    bool m_requestDone = false;
    bool m_splicingBody = false; ///< this request's body is being spliced (spliceRequestBody)
    bool m_responseStarted = false;
    bool m_responseDone = false;
    bool m_keepAlive = true;
    bool m_headRequest = false;
    bool m_teTrailers = false;      ///< the client sent "TE: trailers": response trailers may go in chunked framing
    http::HeaderList m_trailersOut; ///< an HTTP/2 origin's response trailers, written after the last chunk
    bool m_chunkedOut = false;
    bool m_closeDelimited = false;
    bool m_responsePaused = false;
    int m_clientMinor = 1;
    LazyTimer m_requestTimer;
    LazyTimer m_idleTimer;
    LazyTimer m_readTimer; ///< requestHeadTimeoutMs while reading a head, requestBodyTimeoutMs while reading a body
    Tunnel *m_tunnel = nullptr;
    /// The program behind the client (proxy/clientapplication.h), looked up from accept on; null: none.
    std::unique_ptr<ConnectionApplication> m_application;
    ConnectionSlot m_slot; ///< released last, when the connection (and any tunnel) is gone
};

} // namespace dfproxy::proxy
