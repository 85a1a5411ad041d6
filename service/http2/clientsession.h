// SPDX-License-Identifier: Apache-2.0
#pragma once
// The client side of one HTTP/2 connection to an origin, on nghttp2's client session (framing, HPACK, flow control
// and HTTP messaging checks are nghttp2's: a response with a bad :status, a connection-specific header field or a
// body that disagrees with its content-length resets its stream with PROTOCOL_ERROR). It turns requests into frames
// and the origin's bytes into response events per stream. One instance per connection, on its thread.

#include "http2/serversession.h"

#include <QByteArray>

struct nghttp2_session;

namespace dfproxy::http2 {

/// The response side of the streams. Calls come from inside ClientSession::receive() (readRequestBody and
/// requestTrailers also from send()).
class ClientSessionHandler
{
public:
    /// The final response head (1xx are dropped): `headers` without pseudo-headers, lower-case names.
    /// `endStream`: no body follows.
    virtual void onResponseHead(qint32 stream, int status, const HeaderList &headers, bool endStream) = 0;
    /// Response body bytes; the handler calls ClientSession::consume(stream, n) once it has passed them on.
    virtual void onResponseData(qint32 stream, const char *data, qsizetype size) = 0;
    /// The response's trailer fields (a HEADERS frame after the body).
    virtual void onResponseTrailers(qint32 stream, const HeaderList &trailers) = 0;
    /// The origin ended the response (END_STREAM).
    virtual void onResponseEnd(qint32 stream) = 0;
    /// The stream is over (`errorCode` 0 when it ended normally; REFUSED_STREAM: the origin did not process it).
    virtual void onStreamClosed(qint32 stream, quint32 errorCode) = 0;
    /// The origin sent GOAWAY: streams above `lastStreamId` were not processed and will be closed.
    virtual void onGoaway(qint32 lastStreamId, quint32 errorCode) = 0;
    /// Request body for `stream`: up to `max` bytes into `out`, *eof when the body ends with them. Returns the number
    /// of bytes, or -1 when none are there yet (the session waits for ClientSession::resumeData).
    virtual qsizetype readRequestBody(qint32 stream, char *out, qsizetype max, bool *eof) = 0;
    /// The request's trailer fields, asked once the body ended; empty: none (the last DATA frame ends the stream).
    virtual HeaderList requestTrailers(qint32 stream) = 0;

protected:
    ~ClientSessionHandler() = default;
};

class ClientSession
{
public:
    /// Sends the connection preface and SETTINGS (push off; `streamWindowBytes` per stream).
    explicit ClientSession(ClientSessionHandler *handler, quint32 streamWindowBytes = 256 * 1024);
    ~ClientSession();
    ClientSession(const ClientSession &) = delete;
    ClientSession &operator=(const ClientSession &) = delete;

    /// Feeds the origin's bytes. False when the connection is dead (a protocol error: lastError() says which).
    bool receive(const char *data, qsizetype size);
    /// Appends the frames to send to `out`, at most about `max` bytes. Returns the number appended.
    qsizetype send(QByteArray &out, qsizetype max);

    /// Opens a stream: `pseudo` (:method, :scheme, :authority, :path) then `headers` (lower-case names, no
    /// connection-specific fields). With `hasBody` the body comes from readRequestBody. Returns the stream id, or -1
    /// (no stream can be opened on this connection: see canOpenStream()).
    qint32 submitRequest(const HeaderList &pseudo, const HeaderList &headers, bool hasBody);
    /// A new stream would be accepted: no GOAWAY either way, and fewer streams open than the origin's
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    bool canOpenStream() const;
    /// readRequestBody has bytes again.
    void resumeData(qint32 stream);
    /// The handler passed on `n` response body bytes of `stream` (opens its window again).
    void consume(qint32 stream, qsizetype n);
    void resetStream(qint32 stream, quint32 errorCode);
    /// Ends the connection gracefully (GOAWAY NO_ERROR): the streams in flight finish.
    void shutdown();
    /// Streams open on this connection.
    int openStreams() const { return m_open; }
    /// Nothing to read or write any more.
    bool finished() const;
    QByteArray lastError() const { return m_lastError; }

private:
    struct Callbacks; ///< the nghttp2 callbacks (clientsession.cpp)
    friend struct Callbacks;

    ClientSessionHandler *m_handler;
    nghttp2_session *m_session = nullptr;
    HeaderList m_headers; ///< the header block being received
    int m_status = 0;
    int m_open = 0;
    bool m_goaway = false;
    bool m_dead = false;
    QByteArray m_lastError;
};

} // namespace dfproxy::http2
