// SPDX-License-Identifier: Apache-2.0
// The http2_client fuzz target: the bytes an origin sends (server preface onwards) fed to http2::ClientSession with
// two requests open (one with a body), as Http2Forwarder drives it. A hostile origin must not make the session call
// back for a stream it did not open, give a stream two heads or anything after its close, or write a frame cut
// short. Part of dfproxy_fuzz_http2 (dfproxy_http2 only).
#include "fuzzentries.h"

#include "http2/clientsession.h"

#include <QHash>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace dfproxy::fuzz {

namespace {

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
        std::abort();
    }
}

/// What the forwarder keeps per stream: the events so far must come in HTTP's order.
struct Handler : http2::ClientSessionHandler
{
    enum class State { Open, Head, Ended, Closed };
    http2::ClientSession *session = nullptr;
    QHash<qint32, State> streams;
    qsizetype bodyLeft = 3000; ///< the second request's body (more than one DATA frame once windows are small)

    State &stateOf(qint32 stream)
    {
        auto it = streams.find(stream);
        check(it != streams.end(), "a callback for a stream the client did not open");
        return it.value();
    }
    void onResponseHead(qint32 stream, int status, const http2::HeaderList &, bool endStream) override
    {
        State &s = stateOf(stream);
        check(s == State::Open, "a second response head, or one after the stream ended");
        check(status >= 200 && status <= 999, "a final status outside 200..999");
        s = endStream ? State::Ended : State::Head;
    }
    void onResponseData(qint32 stream, const char *, qsizetype size) override
    {
        check(stateOf(stream) == State::Head, "response data without a head, or after the end");
        check(size >= 0, "negative data size");
        session->consume(stream, size);
    }
    void onResponseTrailers(qint32 stream, const http2::HeaderList &) override
    {
        check(stateOf(stream) == State::Head, "trailers without a head, or after the end");
    }
    void onResponseEnd(qint32 stream) override
    {
        State &s = stateOf(stream);
        check(s == State::Head || s == State::Ended, "an end without a head");
        s = State::Ended;
    }
    void onStreamClosed(qint32 stream, quint32) override
    {
        State &s = stateOf(stream);
        check(s != State::Closed, "a stream closed twice");
        s = State::Closed;
    }
    void onGoaway(qint32 lastStreamId, quint32) override { check(lastStreamId >= 0, "a negative last stream id"); }
    qsizetype readRequestBody(qint32 stream, char *out, qsizetype max, bool *eof) override
    {
        check(streams.contains(stream), "a body read for a stream the client did not open");
        const qsizetype n = std::min(max, bodyLeft);
        std::fill_n(out, n, 'b');
        bodyLeft -= n;
        *eof = bodyLeft == 0;
        return n;
    }
    http2::HeaderList requestTrailers(qint32 stream) override
    {
        check(streams.contains(stream), "trailers asked for a stream the client did not open");
        return {{"x-request-trailer", "1"}};
    }
};

/// Checks the frames the session wrote: complete, none larger than the default MAX_FRAME_SIZE (the origin's
/// SETTINGS may raise it, but the client never needs larger frames for these requests).
void checkOutput(const QByteArray &out, bool afterPreface)
{
    qsizetype p = afterPreface ? 0 : 24;
    check(afterPreface || out.startsWith("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), "no client preface first");
    while (p < out.size()) {
        check(out.size() - p >= 9, "a frame header cut short");
        const auto *d = reinterpret_cast<const uchar *>(out.constData() + p);
        const quint32 len = (quint32(d[0]) << 16) | (quint32(d[1]) << 8) | d[2];
        check(len <= 16384, "a frame larger than 16384 bytes");
        check(out.size() - p - 9 >= qsizetype(len), "a frame payload cut short");
        p += 9 + qsizetype(len);
    }
}

} // namespace

int fuzzHttp2Client(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    // The first byte picks the size of the pieces the bytes arrive in (0: all at once).
    const qsizetype step = data[0] % 64 == 0 ? 0 : qsizetype(data[0] % 64) * 7;
    const QByteArray input(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    Handler handler;
    http2::ClientSession session(&handler, 4096); // small windows: flow control is reached
    handler.session = &session;
    const http2::HeaderList pseudo{{":method", "GET"}, {":scheme", "http"}, {":authority", "o.test"}, {":path", "/"}};
    for (bool body : {false, true}) {
        const qint32 id = session.submitRequest(pseudo, {{"x-a", "b"}}, body);
        check(id > 0, "no stream for a request on a fresh connection");
        handler.streams.insert(id, Handler::State::Open);
    }
    QByteArray out;
    session.send(out, 1 << 20);
    checkOutput(out, false);
    bool alive = true;
    qsizetype pos = 0;
    while (alive && pos < input.size()) {
        const qsizetype n = step > 0 ? std::min(step, input.size() - pos) : input.size() - pos;
        alive = session.receive(input.constData() + pos, n);
        pos += n;
        out.clear();
        session.send(out, 1 << 20);
        checkOutput(out, true);
    }
    for (int i = 0; i < 64; ++i) {
        out.clear();
        if (session.send(out, 1 << 20) == 0)
            break;
        checkOutput(out, true);
    }
    return 0;
}

} // namespace dfproxy::fuzz
