// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HTTP/2 server side of one client connection (h2 by ALPN on HTTPS listeners, h2c by prior knowledge on HTTP
// listeners): the nghttp2 session (http2/serversession.h) turns the client's bytes into streams, and each stream
// is one Transaction through the same stages as an HTTP/1 request (proxy/stages/stages.h), forwarded to the origin
// over HTTP/1.1 by the same engines.
//
// Backpressure: a stream's request body opens the client's window only once the exchange took it (below
// bufferLimit); a stream's response pauses the exchange while more than bufferLimit waits for the client, and the
// whole connection stops producing frames while the client's socket holds more than bufferLimit.
//
// Lifetime: streams are deleted from the event loop after nghttp2 closed them, never inside their callbacks; the
// connection deletes itself with deleteLater() when closed.

#include "base/lazytimer.h"
#include "http2/serversession.h"
#include "net/stream.h"
#include "proxy/clientapplication.h"
#include "proxy/connectionlimiter.h"
#include "routing/routetable.h"

#include <QByteArray>
#include <QObject>

#include <map>
#include <memory>
#include <vector>

namespace dfproxy::platform {
struct ProcessInfo;
}

namespace dfproxy::proxy {

struct ProxyContext;
class ProxyWorker;
class Http2Stream;

class Http2Connection final : public QObject,
                              public net::StreamListener,
                              public http2::ServerSessionHandler,
                              private net::WriteBatch::Deferred
{
public:
    /// Takes `stream` and `slot`; `received` holds what was read from the client already (the preface, ...).
    Http2Connection(ProxyWorker *worker, ProxyContext *ctx, net::Stream *stream, bool tls,
                    std::shared_ptr<const routing::Listener> listener, ConnectionSlot slot, QByteArray received,
                    std::unique_ptr<ConnectionApplication> application);
    ~Http2Connection() override;

    /// Graceful stop: GOAWAY; the streams in flight finish, then the connection closes.
    void drain();
    /// Closes at once.
    void abort();

    // For the streams.
    http2::ServerSession &session() { return m_session; }
    ProxyContext *context() const { return m_ctx; }
    ProxyWorker *worker() const { return m_worker; }
    const routing::Listener *listener() const { return m_listener.get(); }
    bool tls() const { return m_tls; }
    QHostAddress peerAddress() const { return m_socket->peerAddress(); }
    quint16 peerPort() const { return m_socket->peerPort(); }
    /// The program behind the client (proxy/clientapplication.h): the lookup the HTTP/1 side started when it
    /// accepted the connection, for every stream; null: none.
    ConnectionApplication *clientApplication() { return m_application.get(); }
    /// Sends what the session has to send: when the thread's WriteBatch closes (inside any socket callback), so the
    /// frames of every stream that moved during it are framed together (a response whose head, body and end came
    /// in one read is one HEADERS and one DATA frame with END_STREAM) and leave in one send; else now, or (inside
    /// a session callback) when it returns.
    void flush();

    // net::StreamListener
    void onStreamReadable() override;
    void onStreamWritten() override { flush(); }
    void onStreamClosed(QAbstractSocket::SocketError) override { close(); }

    // http2::ServerSessionHandler
    void onRequestHead(qint32 stream, const http2::HeaderList &pseudo, const http2::HeaderList &headers,
                       bool endStream) override;
    void onRequestData(qint32 stream, const char *data, qsizetype size) override;
    void onRequestEnd(qint32 stream) override;
    void onRequestTrailers(qint32 stream, const http2::HeaderList &trailers) override;
    http2::HeaderList responseTrailers(qint32 stream) override;
    void onRequestRefused(qint32 stream, int status, const QByteArray &reason) override;
    void onStreamClosed(qint32 stream, quint32 errorCode) override;
    void onViolation(http2::Violation v) override;
    qsizetype readResponseBody(qint32 stream, char *out, qsizetype max, bool *eof) override;
    bool peekResponseBody(qint32 stream, qsizetype max, qsizetype *size, bool *eof) override;
    void takeResponseBody(qint32 stream, qsizetype size, QByteArray &out) override;

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    Http2Stream *stream(qint32 id) const;
    /// flush() without waiting for the batch.
    void flushNow();
    void runDeferred() override;
    void receive(const char *data, qsizetype size);
    void close();
    void maybeIdle();

    ProxyWorker *m_worker;
    ProxyContext *m_ctx;
    net::Stream *m_socket;
    std::shared_ptr<const routing::Listener> m_listener;
    bool m_tls;
    http2::ServerSession m_session;
    std::map<qint32, std::unique_ptr<Http2Stream>> m_streams;
    std::vector<std::unique_ptr<Http2Stream>> m_closedStreams; ///< deleted from the event loop (reapStreams)
    QByteArray m_initial; ///< read by the HTTP/1 connection before the hand-over (the preface, ...): fed first
    int m_inSession = 0;  ///< inside ServerSession::receive: flushing waits until it returns
    bool m_flushPending = false;
    bool m_flushDeferred = false; ///< queued with the thread's WriteBatch (net::WriteBatch::defer)
    bool m_sessionOver = false;   ///< the session refused more input: close once its GOAWAY is out
    bool m_draining = false;
    bool m_closed = false;
    bool m_reapQueued = false;
    LazyTimer m_idleTimer;
    ConnectionSlot m_slot;
    std::unique_ptr<ConnectionApplication> m_application;
};

} // namespace dfproxy::proxy
