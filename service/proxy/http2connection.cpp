// SPDX-License-Identifier: Apache-2.0
#include "proxy/http2connection.h"

#include "net/stream.h"
#include "proxy/http2stream.h"
#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"

#include <nghttp2/nghttp2.h>

#include <QLoggingCategory>
#include <QTimerEvent>

namespace dfproxy::proxy {

namespace {

Q_LOGGING_CATEGORY(lcHttp2, "dfproxy.http2", QtWarningMsg)

/// Frames are written to the client's socket in runs of about this size.
constexpr qsizetype kWriteAt = 64 * 1024;

http2::ServerLimits limitsFrom(const ProxyOptions &o)
{
    http2::ServerLimits l;
    l.maxConcurrentStreams = quint32(o.http2MaxConcurrentStreams);
    l.maxHeaderListBytes = quint32(o.limits.maxHeaderBytes);
    return l;
}

} // namespace

Http2Connection::Http2Connection(ProxyWorker *worker, ProxyContext *ctx, net::Stream *stream, bool tls,
                                 std::shared_ptr<const routing::Listener> listener, ConnectionSlot slot,
                                 QByteArray received, std::unique_ptr<ConnectionApplication> application)
    : QObject(worker), m_worker(worker), m_ctx(ctx), m_socket(stream), m_listener(std::move(listener)), m_tls(tls),
      m_session(this, limitsFrom(ctx->options)), m_slot(std::move(slot)), m_application(std::move(application))
{
    m_socket->setParent(this);
    m_socket->setListener(this);
    m_ctx->stats.activeConnections.fetch_add(1, std::memory_order_relaxed);
    m_ctx->stats.http2Connections.fetch_add(1, std::memory_order_relaxed);
    m_idleTimer.start(this, m_ctx->options.clientIdleTimeoutMs);
    // From the event loop, not here: what the bytes do may close the connection, and the worker only starts
    // tracking it once this constructor has returned. Whichever comes first, this or the next read, takes them.
    m_initial = std::move(received);
    QMetaObject::invokeMethod(
        this, [this] { onStreamReadable(); }, Qt::QueuedConnection);
}

Http2Connection::~Http2Connection()
{
    if (m_flushDeferred)
        net::WriteBatch::cancel(this);
    m_streams.clear(); // each stream cancels what it has in flight and logs
    m_closedStreams.clear();
    m_ctx->stats.activeConnections.fetch_sub(1, std::memory_order_relaxed);
}

Http2Stream *Http2Connection::stream(qint32 id) const
{
    const auto it = m_streams.find(id);
    return it == m_streams.end() ? nullptr : it->second.get();
}

void Http2Connection::drain()
{
    if (m_draining || m_closed)
        return;
    m_draining = true;
    m_session.shutdown();
    flushNow(); // maybeIdle closes once the GOAWAY is out
    maybeIdle();
}

void Http2Connection::abort()
{
    m_socket->abort();
    close();
}

void Http2Connection::onStreamReadable()
{
    if (!m_initial.isEmpty()) {
        const QByteArray initial = std::exchange(m_initial, QByteArray());
        receive(initial.constData(), initial.size());
        flush();
    }
    char buf[16 * 1024];
    // Read while the client's socket takes our answers; above bufferLimit the client waits for us. The answers are
    // framed when the batch of socket events closes (flush()), so what one call reads is bounded too: the rest is
    // read after them (flushNow sees the pending input), and one busy client does not hold up the others.
    const qint64 limit = m_ctx->options.bufferLimit;
    qint64 taken = 0;
    while (!m_closed && !m_sessionOver && m_socket->bytesToWrite() <= limit && taken < limit) {
        const qint64 n = m_socket->read(buf, sizeof buf);
        if (n <= 0)
            break;
        taken += n;
        receive(buf, qsizetype(n));
        flush();
    }
}

void Http2Connection::receive(const char *data, qsizetype size)
{
    if (size <= 0 || m_closed)
        return;
    m_idleTimer.stop();
    ++m_inSession;
    const bool ok = m_session.receive(data, size);
    --m_inSession;
    if (!ok) {
        // Debug only: a client's protocol error is the client's business, and logging it would let one flood logs.
        qCDebug(lcHttp2) << "HTTP/2 session of" << m_socket->peerAddress().toString()
                         << "ended:" << m_session.lastError();
        m_sessionOver = true;
    }
}

void Http2Connection::flush()
{
    if (m_closed || m_flushDeferred)
        return;
    if (net::WriteBatch::defer(this)) {
        m_flushDeferred = true;
        return;
    }
    flushNow();
}

void Http2Connection::runDeferred()
{
    m_flushDeferred = false;
    flushNow();
}

void Http2Connection::flushNow()
{
    if (m_closed)
        return;
    // nghttp2 is not reentrant: from inside one of its callbacks, send once it returned.
    if (m_inSession > 0) {
        m_flushPending = true;
        return;
    }
    m_flushPending = false;
    const qint64 limit = m_ctx->options.bufferLimit;
    {
        // The frames are gathered and written kWriteAt at a time: a DATA frame is at most 16 KiB, and one send per
        // frame costs the kernel more than the copy saves (a DATA frame's bytes come straight from its stream's
        // buffer: ServerSessionHandler::takeResponseBody). The gathering buffer is the thread's, not one per
        // connection (each would keep kWriteAt of capacity for as long as its client stays connected).
        net::WriteBatch batch;
        thread_local QByteArray t_out;
        thread_local bool t_outTaken = false;
        QByteArray spare; // the thread's buffer is taken (not expected: nothing here flushes another connection)
        QByteArray &out = t_outTaken ? spare : t_out;
        const bool took = !std::exchange(t_outTaken, true);
        while (m_socket->bytesToWrite() <= limit) {
            out.resize(0);
            ++m_inSession; // the data source runs inside send()
            const qsizetype n = m_session.send(out, kWriteAt);
            --m_inSession;
            if (n <= 0)
                break;
            m_socket->write(out.constData(), out.size());
        }
        out.resize(0);
        if (took)
            t_outTaken = false;
    }
    m_socket->flush();
    if (m_flushPending && m_socket->bytesToWrite() <= limit)
        QMetaObject::invokeMethod(
            this, [this] { flush(); }, Qt::QueuedConnection);
    if (m_sessionOver || m_session.finished()) {
        if (m_socket->bytesToWrite() == 0 || m_sessionOver) {
            m_socket->closeAfterFlush();
            if (!m_socket->isOpen())
                close();
        }
        return;
    }
    // Reading stopped while the client's socket was full: go on now that it drained.
    if (m_socket->hasPendingInput() && m_socket->bytesToWrite() <= limit)
        QMetaObject::invokeMethod(
            this, [this] { onStreamReadable(); }, Qt::QueuedConnection);
    maybeIdle();
}

void Http2Connection::maybeIdle()
{
    if (!m_streams.empty() || m_closed)
        return;
    if (m_draining && m_socket->bytesToWrite() == 0) {
        m_socket->closeAfterFlush();
        if (!m_socket->isOpen())
            close();
        return;
    }
    if (!m_idleTimer.isActive())
        m_idleTimer.start(this, m_ctx->options.clientIdleTimeoutMs);
}

void Http2Connection::close()
{
    if (m_closed)
        return;
    m_closed = true;
    m_idleTimer.stop();
    for (auto &[id, s] : m_streams) {
        s->onClosed(NGHTTP2_CANCEL);
    }
    m_worker->http2ConnectionClosed(this);
    deleteLater();
}

void Http2Connection::timerEvent(QTimerEvent *ev)
{
    if (m_idleTimer.fired(this, ev) && m_streams.empty()) {
        m_draining = true;
        m_session.shutdown();
        flushNow();
        maybeIdle();
    }
}

void Http2Connection::onRequestHead(qint32 id, const http2::HeaderList &pseudo, const http2::HeaderList &headers,
                                    bool endStream)
{
    m_ctx->stats.http2Streams.fetch_add(1, std::memory_order_relaxed);
    auto s = std::make_unique<Http2Stream>(this, id);
    Http2Stream *raw = s.get();
    m_streams[id] = std::move(s);
    raw->start(pseudo, headers, endStream);
}

void Http2Connection::onRequestData(qint32 id, const char *data, qsizetype size)
{
    if (Http2Stream *s = stream(id))
        s->onData(data, size);
    else
        m_session.consume(id, size);
}

void Http2Connection::onRequestEnd(qint32 id)
{
    if (Http2Stream *s = stream(id))
        s->onEnd();
}

void Http2Connection::onRequestRefused(qint32 id, int status, const QByteArray &reason)
{
    auto s = std::make_unique<Http2Stream>(this, id);
    Http2Stream *raw = s.get();
    m_streams[id] = std::move(s);
    raw->refuse(status, reason);
}

void Http2Connection::onStreamClosed(qint32 id, quint32 errorCode)
{
    const auto it = m_streams.find(id);
    if (it == m_streams.end())
        return;
    it->second->onClosed(errorCode);
    // Not deleted here: this runs inside the session, maybe inside one of the stream's own callbacks.
    m_closedStreams.push_back(std::move(it->second));
    m_streams.erase(it);
    if (!m_reapQueued) {
        m_reapQueued = true;
        QMetaObject::invokeMethod(
            this,
            [this] {
                m_reapQueued = false;
                m_closedStreams.clear();
                maybeIdle();
            },
            Qt::QueuedConnection);
    }
}

void Http2Connection::onViolation(http2::Violation v)
{
    ProxyStats &st = m_ctx->stats;
    switch (v) {
    case http2::Violation::RapidReset:
        st.http2RapidResets.fetch_add(1, std::memory_order_relaxed);
        break;
    case http2::Violation::ContinuationFlood:
        st.http2ContinuationFloods.fetch_add(1, std::memory_order_relaxed);
        break;
    case http2::Violation::HpackBomb:
        st.http2HpackBombs.fetch_add(1, std::memory_order_relaxed);
        break;
    case http2::Violation::HeaderListTooLarge:
        st.http2HeaderListsTooLarge.fetch_add(1, std::memory_order_relaxed);
        break;
    case http2::Violation::PingFlood:
        st.http2PingFloods.fetch_add(1, std::memory_order_relaxed);
        break;
    case http2::Violation::SettingsFlood:
        st.http2SettingsFloods.fetch_add(1, std::memory_order_relaxed);
        break;
    }
}

void Http2Connection::onRequestTrailers(qint32 id, const http2::HeaderList &trailers)
{
    if (Http2Stream *s = stream(id))
        s->onTrailers(trailers);
}

http2::HeaderList Http2Connection::responseTrailers(qint32 id)
{
    Http2Stream *s = stream(id);
    return s ? s->responseTrailers() : http2::HeaderList();
}

bool Http2Connection::peekResponseBody(qint32 id, qsizetype max, qsizetype *size, bool *eof)
{
    if (Http2Stream *s = stream(id))
        return s->peekBody(max, size, eof);
    *size = 0;
    *eof = true;
    return true;
}

void Http2Connection::takeResponseBody(qint32 id, qsizetype size, QByteArray &out)
{
    if (Http2Stream *s = stream(id))
        s->takeBody(size, out);
}

qsizetype Http2Connection::readResponseBody(qint32 id, char *out, qsizetype max, bool *eof)
{
    if (Http2Stream *s = stream(id))
        return s->readBody(out, max, eof);
    *eof = true;
    return 0;
}

} // namespace dfproxy::proxy
