// SPDX-License-Identifier: Apache-2.0
#pragma once
// The server side of one HTTP/2 connection, on nghttp2 (framing, HPACK, flow control and the protocol's own checks
// are nghttp2's; nothing here parses frames by hand). It turns the client's bytes into request events per stream,
// takes responses per stream, and keeps the limits against the known attack patterns, each with its own counter:
//   - rapid reset (CVE-2023-44487): streams the client resets, a token bucket per connection;
//   - CONTINUATION flood (CVE-2024-27316): CONTINUATION frames per header block;
//   - HPACK bomb: a header block whose decoded size passes the header-list limit at many times its encoded size;
//   - header lists over the limit (answered 431 on their stream);
//   - PING and SETTINGS floods: frames per connection, a token bucket each.
// A flood ends the connection with GOAWAY(ENHANCE_YOUR_CALM). One instance per connection, on its thread.

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QPair>

#include <array>
#include <cstdint>

struct nghttp2_session;

namespace dfproxy::http2 {

using HeaderList = QList<QPair<QByteArray, QByteArray>>;

struct ServerLimits
{
    quint32 maxConcurrentStreams = 100;
    quint32 maxHeaderListBytes = 64 * 1024; ///< decoded (RFC 9113 6.5.2 counting: name + value + 32 per field)
    quint32 streamWindowBytes = 64 * 1024;  ///< what a client may send on a stream before the proxy reads it
    quint32 connectionWindowBytes = 16 * 1024 * 1024; ///< consumed at once: one slow stream never stalls the others
    int maxContinuations = 16;                        ///< CONTINUATION frames after one HEADERS
    int resetBurst = 200;                             ///< client resets at once ...
    int resetsPerSecond = 100;                        ///< ... and after the burst
    int pingBurst = 100;
    int pingsPerSecond = 20;
    int settingsBurst = 100;
    int settingsPerSecond = 20;
    int bombRatio = 8; ///< decoded/encoded size over the limit that counts as an HPACK bomb
};

/// The attack patterns and limits the session counts.
enum class Violation { RapidReset, ContinuationFlood, HpackBomb, HeaderListTooLarge, PingFlood, SettingsFlood };

/// The request side of the streams, as the session decodes it. Calls come from inside ServerSession::receive().
class ServerSessionHandler
{
public:
    /// A request head: `pseudo` holds :method, :scheme, :authority, :path and, for an extended CONNECT (RFC 8441),
    /// :protocol (absent ones empty), `headers` the rest
    /// (lower-case names, as nghttp2 checked them). `endStream`: no body follows.
    virtual void onRequestHead(qint32 stream, const HeaderList &pseudo, const HeaderList &headers, bool endStream) = 0;
    /// Request body bytes; the handler calls ServerSession::consume(stream, n) once it has passed them on (that
    /// opens the stream's window again: the backpressure towards the client).
    virtual void onRequestData(qint32 stream, const char *data, qsizetype size) = 0;
    /// The client ended the request body.
    virtual void onRequestEnd(qint32 stream) = 0;
    /// The head was refused before onRequestHead (its header list was over the limit): answer `status`.
    virtual void onRequestRefused(qint32 stream, int status, const QByteArray &reason) = 0;
    /// The stream is over (answered, reset by either side, or the connection ended). Nothing follows for it.
    virtual void onStreamClosed(qint32 stream, quint32 errorCode) = 0;
    /// A limit was hit (counted by the handler).
    virtual void onViolation(Violation v) = 0;
    /// Response body for `stream`: up to `max` bytes into `out`, *eof when the body ends with them. Returns the
    /// number of bytes, or -1 when none are there yet (the session waits for ServerSession::resumeData).
    virtual qsizetype readResponseBody(qint32 stream, char *out, qsizetype max, bool *eof) = 0;
    /// readResponseBody without a copy into nghttp2's buffer: true when the handler supports it, with *size the
    /// body bytes of `stream` that can go now (at most `max`; -1: none yet) and *eof when the body ends with them.
    /// Those bytes are then asked for with takeResponseBody, once their frame is written.
    virtual bool peekResponseBody(qint32 /*stream*/, qsizetype /*max*/, qsizetype * /*size*/, bool * /*eof*/)
    {
        return false;
    }
    /// Appends the first `size` body bytes of `stream` (peekResponseBody said they are there) to `out`, and drops
    /// them.
    virtual void takeResponseBody(qint32 /*stream*/, qsizetype /*size*/, QByteArray & /*out*/) {}
    /// The request's trailer fields (lower-case names), before onRequestEnd.
    virtual void onRequestTrailers(qint32 stream, const HeaderList &trailers) { Q_UNUSED(stream) Q_UNUSED(trailers) }
    /// The response's trailer fields, asked once its body ended; empty: none (the last DATA frame ends the stream).
    virtual HeaderList responseTrailers(qint32 stream) { Q_UNUSED(stream) return {}; }

protected:
    ~ServerSessionHandler() = default;
};

class ServerSession
{
public:
    ServerSession(ServerSessionHandler *handler, const ServerLimits &limits);
    ~ServerSession();
    ServerSession(const ServerSession &) = delete;
    ServerSession &operator=(const ServerSession &) = delete;

    /// Feeds the client's bytes (the connection preface first). False when the connection must end (a protocol
    /// error or a flood): what send() still gives (a GOAWAY) goes out, then the connection closes.
    bool receive(const char *data, qsizetype size);
    bool receive(const QByteArray &bytes) { return receive(bytes.constData(), bytes.size()); }
    /// Appends the frames to send to `out`, at most about `max` bytes. Returns the number appended.
    qsizetype send(QByteArray &out, qsizetype max);
    /// Nothing left to send and nothing more to read: the connection can close.
    bool finished() const;

    /// Starts the response of `stream`. With `hasBody`, the body comes from readResponseBody.
    void submitResponse(qint32 stream, int status, const HeaderList &headers, bool hasBody);
    /// readResponseBody has bytes again.
    void resumeData(qint32 stream);
    /// The handler passed on `n` request body bytes of `stream`.
    void consume(qint32 stream, qsizetype n);
    void resetStream(qint32 stream, quint32 errorCode);
    /// Graceful end: GOAWAY with the last stream taken; those in flight finish.
    void shutdown();
    /// Immediate end: GOAWAY with `errorCode`; every stream is closed.
    void terminate(quint32 errorCode);
    /// The last nghttp2 error text (for logs and the x-dfproxy-error detail).
    QByteArray lastError() const { return m_lastError; }

private:
    struct Bucket
    {
        double tokens = 0;
        qint64 lastMs = 0;
        bool take(QElapsedTimer &clock, int burst, int perSecond);
    };
    struct HeaderBlock
    {
        qint32 stream = 0;
        qint64 encodedBytes = 0;
        qint64 decodedBytes = 0;
        int continuations = 0;
        bool tooLarge = false;
        HeaderList pseudo, headers;
        /// Ready for the next block; the lists keep their capacity (one allocation per connection, not per stream).
        void reset(qint32 id, qint64 encoded);
    };

    struct Callbacks; ///< the nghttp2 callbacks (serversession.cpp), which reach the members below
    friend struct Callbacks;

    /// A flood: GOAWAY(ENHANCE_YOUR_CALM), count it, stop reading.
    void flood(Violation v);
    /// A received field name or value: one this connection received recently is shared, not copied again (a
    /// client repeats the same fields on every request).
    QByteArray intern(const uint8_t *data, size_t size);

    ServerSessionHandler *m_handler;
    ServerLimits m_limits;
    nghttp2_session *m_session = nullptr;
    HeaderBlock m_block; ///< the header block being received (HTTP/2 allows one at a time per connection)
    std::array<QByteArray, 24> m_recent; ///< intern(): the last distinct short fields, replaced round-robin
    size_t m_recentNext = 0;
    QElapsedTimer m_clock;
    Bucket m_resets, m_pings, m_settings;
    bool m_dead = false;
    QByteArray m_lastError;
    QByteArray *m_sendOut = nullptr; ///< inside send(): where a DATA frame the handler writes itself goes
};

} // namespace dfproxy::http2
