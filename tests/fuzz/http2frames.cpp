// SPDX-License-Identifier: Apache-2.0
// The http2_frames fuzz target: the bytes an h2c client sends after the preface, fed to http2::ServerSession with a
// handler that answers every complete request and consumes request bodies. Its own library (dfproxy_http2 only), so
// the libFuzzer binary builds without the rest of dfproxy.
#include "fuzzentries.h"

#include "http2/serversession.h"

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

constexpr quint32 kDefaultMaxFrame = 16384;
constexpr quint32 kMaxConcurrent = 4; // small, so the fuzzer reaches the limit
const QByteArray kPreface = QByteArrayLiteral("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/// Answers each request once its body ended; the body size depends on the stream id so that some responses need
/// several DATA frames (the frame-size check below has something to check).
struct Handler : http2::ServerSessionHandler
{
    http2::ServerSession *session = nullptr;
    QHash<qint32, qsizetype> open; ///< streams with a head and no close: response bytes left (-1: not answered)
    qint32 lastStream = 0;

    void answer(qint32 stream)
    {
        const qsizetype size = (stream % 3 == 0) ? 40000 : 2;
        open[stream] = size;
        session->submitResponse(stream, 200, {{"content-length", QByteArray::number(size)}}, true);
    }
    void onRequestHead(qint32 stream, const http2::HeaderList &, const http2::HeaderList &, bool endStream) override
    {
        check(stream > lastStream && (stream & 1) == 1, "a request on a stream id that is not new and odd");
        lastStream = stream;
        open.insert(stream, -1);
        check(quint32(open.size()) <= kMaxConcurrent, "more open streams than SETTINGS_MAX_CONCURRENT_STREAMS");
        if (endStream)
            answer(stream);
    }
    void onRequestData(qint32 stream, const char *, qsizetype size) override
    {
        check(size >= 0, "negative body size");
        session->consume(stream, size);
    }
    void onRequestEnd(qint32 stream) override
    {
        if (open.value(stream, 0) == -1)
            answer(stream);
    }
    void onRequestRefused(qint32 stream, int status, const QByteArray &reason) override
    {
        check(status >= 400 && status < 600 && !reason.isEmpty(), "a refusal without a 4xx/5xx and a reason");
        session->submitResponse(stream, status, {}, false);
    }
    void onStreamClosed(qint32 stream, quint32) override { open.remove(stream); }
    void onViolation(http2::Violation) override {}
    qsizetype readResponseBody(qint32 stream, char *out, qsizetype max, bool *eof) override
    {
        auto it = open.find(stream);
        check(it != open.end() && it.value() >= 0, "a body read for a stream that was not answered");
        const qsizetype n = std::min(max, it.value());
        std::fill_n(out, n, 'x');
        it.value() -= n;
        *eof = it.value() == 0;
        return n;
    }
};

/// The client's MAX_FRAME_SIZE as its SETTINGS frames (complete ones in `in`) raised it: the largest valid value.
quint32 peerMaxFrame(const QByteArray &in, quint32 current)
{
    qsizetype p = 0;
    while (in.size() - p >= 9) {
        const auto *d = reinterpret_cast<const uchar *>(in.constData() + p);
        const qsizetype len = (qsizetype(d[0]) << 16) | (qsizetype(d[1]) << 8) | d[2];
        if (in.size() - p - 9 < len)
            break;
        if (d[3] == 4 && !(d[4] & 1) && len % 6 == 0) {
            for (qsizetype i = 0; i < len; i += 6) {
                const uchar *e = d + 9 + i;
                const quint32 v = (quint32(e[2]) << 24) | (quint32(e[3]) << 16) | (quint32(e[4]) << 8) | e[5];
                if (((e[0] << 8) | e[1]) == 5 && v >= kDefaultMaxFrame && v <= 0xffffff)
                    current = std::max(current, v);
            }
        }
        p += 9 + len;
    }
    return current;
}

/// Checks the frames the session wrote: complete, and none larger than the peer allows.
void checkOutput(const QByteArray &out, quint32 maxFrame)
{
    qsizetype p = 0;
    while (p < out.size()) {
        check(out.size() - p >= 9, "a frame header cut short");
        const auto *d = reinterpret_cast<const uchar *>(out.constData() + p);
        const quint32 len = (quint32(d[0]) << 16) | (quint32(d[1]) << 8) | d[2];
        check(len <= maxFrame, "a frame larger than the peer's SETTINGS_MAX_FRAME_SIZE");
        check(out.size() - p - 9 >= qsizetype(len), "a frame payload cut short");
        p += 9 + qsizetype(len);
    }
}

} // namespace

int fuzzHttp2Frames(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    // The first byte picks the size of the pieces the bytes arrive in (0: all at once).
    const qsizetype step = data[0] % 64 == 0 ? 0 : qsizetype(data[0] % 64) * 7;
    const QByteArray input(reinterpret_cast<const char *>(data + 1), qsizetype(size - 1));
    http2::ServerLimits limits;
    limits.maxConcurrentStreams = kMaxConcurrent;
    Handler handler;
    http2::ServerSession session(&handler, limits);
    handler.session = &session;

    quint32 maxFrame = kDefaultMaxFrame;
    QByteArray out;
    session.send(out, 1 << 20);
    checkOutput(out, maxFrame);
    bool alive = session.receive(kPreface);
    qsizetype pos = 0;
    while (alive && pos < input.size()) {
        const qsizetype n = step > 0 ? std::min(step, input.size() - pos) : input.size() - pos;
        alive = session.receive(input.constData() + pos, n);
        pos += n;
        maxFrame = peerMaxFrame(input.left(pos), maxFrame);
        out.clear();
        session.send(out, 1 << 20);
        checkOutput(out, maxFrame);
    }
    // What is still queued (the rest of the bodies, a GOAWAY), as a writer would drain it.
    for (int i = 0; i < 64; ++i) {
        out.clear();
        if (session.send(out, 1 << 20) == 0)
            break;
        checkOutput(out, maxFrame);
    }
    return 0;
}

} // namespace dfproxy::fuzz
