// SPDX-License-Identifier: Apache-2.0
// The nghttp2 server session wrapper on its own: requests reach the handler, the stream window opens only as the
// handler consumes (the backpressure towards the client), responses leave as frames, and each limit ends the
// session with GOAWAY(ENHANCE_YOUR_CALM) and its counter — with small limits, raw frames, no sockets.
#include "http2/serversession.h"

#include <QByteArray>
#include <QList>

#include <gtest/gtest.h>

using namespace dfproxy::http2;

namespace {

constexpr quint8 kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kPing = 6, kGoaway = 7, kWindowUpdate = 8,
                 kContinuation = 9;
constexpr quint8 kEndStream = 0x1, kEndHeaders = 0x4;

QByteArray frame(quint8 type, quint8 flags, quint32 stream, const QByteArray &payload = {})
{
    QByteArray f;
    const quint32 len = quint32(payload.size());
    f.append(char(len >> 16)).append(char(len >> 8)).append(char(len)).append(char(type)).append(char(flags));
    f.append(char(stream >> 24)).append(char(stream >> 16)).append(char(stream >> 8)).append(char(stream));
    return f + payload;
}

QByteArray u32(quint32 v)
{
    return QByteArray(1, char(v >> 24)) + char(v >> 16) + char(v >> 8) + char(v);
}

/// GET / with :authority a.test, :scheme http (static table entries and one short literal).
QByteArray getBlock()
{
    return QByteArray("\x82\x86\x84\x01\x06"
                      "a.test",
                      11);
}

QByteArray preface()
{
    return QByteArrayLiteral("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(kSettings, 0, 0);
}

struct Frame
{
    quint8 type, flags;
    quint32 stream;
    QByteArray payload;
};

QList<Frame> parse(const QByteArray &in)
{
    QList<Frame> out;
    for (qsizetype p = 0; in.size() - p >= 9;) {
        const auto *d = reinterpret_cast<const uchar *>(in.constData() + p);
        const quint32 len = (quint32(d[0]) << 16) | (quint32(d[1]) << 8) | d[2];
        out.append({d[3], d[4], (quint32(d[5] & 0x7f) << 24) | (quint32(d[6]) << 16) | (quint32(d[7]) << 8) | d[8],
                    in.mid(p + 9, len)});
        p += 9 + len;
    }
    return out;
}

quint32 be32(const QByteArray &b, int at)
{
    const auto *d = reinterpret_cast<const uchar *>(b.constData() + at);
    return (quint32(d[0]) << 24) | (quint32(d[1]) << 16) | (quint32(d[2]) << 8) | d[3];
}

class Recorder : public ServerSessionHandler
{
public:
    void onRequestHead(qint32 stream, const HeaderList &pseudo, const HeaderList &headers, bool endStream) override
    {
        heads.append(stream);
        lastPseudo = pseudo;
        lastHeaders = headers;
        lastEndStream = endStream;
    }
    void onRequestData(qint32, const char *, qsizetype size) override { dataBytes += size; }
    void onRequestEnd(qint32 stream) override { ends.append(stream); }
    void onRequestRefused(qint32 stream, int status, const QByteArray &) override { refused.append({stream, status}); }
    void onStreamClosed(qint32 stream, quint32) override { closed.append(stream); }
    void onViolation(Violation v) override { violations.append(v); }
    qsizetype readResponseBody(qint32, char *out, qsizetype max, bool *eof) override
    {
        const qsizetype n = std::min(max, body.size());
        memcpy(out, body.constData(), size_t(n));
        body.remove(0, n);
        *eof = body.isEmpty();
        return n;
    }

    QList<qint32> heads, ends, closed;
    QList<QPair<qint32, int>> refused;
    QList<Violation> violations;
    HeaderList lastPseudo, lastHeaders;
    bool lastEndStream = false;
    qsizetype dataBytes = 0;
    QByteArray body;
};

QList<Frame> drain(ServerSession &s)
{
    QByteArray out;
    while (s.send(out, 1 << 20) > 0) {
    }
    return parse(out);
}

qint64 goaway(const QList<Frame> &frames)
{
    for (const Frame &f : frames) {
        if (f.type == kGoaway)
            return be32(f.payload, 4);
    }
    return -1;
}

} // namespace

TEST(ServerSession, RequestHeadBodyAndEndReachTheHandler)
{
    Recorder r;
    ServerSession s(&r, ServerLimits{});
    ASSERT_TRUE(s.receive(preface() + frame(kHeaders, kEndHeaders, 1, getBlock()) + frame(kData, 0, 1, "abc") +
                          frame(kData, kEndStream, 1, "de")));
    ASSERT_EQ(r.heads, QList<qint32>{1});
    EXPECT_FALSE(r.lastEndStream);
    EXPECT_TRUE(r.lastPseudo.contains(qMakePair(QByteArray(":method"), QByteArray("GET"))));
    EXPECT_TRUE(r.lastPseudo.contains(qMakePair(QByteArray(":authority"), QByteArray("a.test"))));
    EXPECT_EQ(r.dataBytes, 5);
    EXPECT_EQ(r.ends, QList<qint32>{1});
}

// A client repeats its fields on every request: the second request's short names and values share the bytes the
// first one's were copied to (one allocation per distinct field and connection, not per request), with the same
// content; :path, different per request, is copied each time.
TEST(ServerSession, RepeatedFieldsShareOneCopyAcrossStreams)
{
    Recorder r;
    ServerSession s(&r, ServerLimits{});
    // user-agent as a literal without indexing (name index 58), so the second request's bytes are new ones.
    const QByteArray block = getBlock() + QByteArray("\x0f\x2b\x05", 3) + "agent";
    ASSERT_TRUE(s.receive(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, block)));
    const HeaderList firstPseudo = r.lastPseudo, firstHeaders = r.lastHeaders;
    ASSERT_TRUE(s.receive(frame(kHeaders, kEndHeaders | kEndStream, 3, block)));
    ASSERT_EQ(r.heads, (QList<qint32>{1, 3}));
    ASSERT_EQ(r.lastHeaders, firstHeaders);
    ASSERT_EQ(r.lastPseudo, firstPseudo);
    ASSERT_EQ(firstHeaders.size(), 1);
    EXPECT_EQ(firstHeaders[0].first, "user-agent");
    EXPECT_EQ(firstHeaders[0].second, "agent");
    EXPECT_EQ(r.lastHeaders[0].first.constData(), firstHeaders[0].first.constData());
    EXPECT_EQ(r.lastHeaders[0].second.constData(), firstHeaders[0].second.constData());
    for (qsizetype i = 0; i < firstPseudo.size(); ++i) {
        if (firstPseudo[i].first == ":path")
            EXPECT_NE(r.lastPseudo[i].second.constData(), firstPseudo[i].second.constData());
        else
            EXPECT_EQ(r.lastPseudo[i].second.constData(), firstPseudo[i].second.constData());
    }
}

// The client's window on a stream opens only when the handler says it passed the bytes on.
TEST(ServerSession, StreamWindowOpensOnlyAsTheHandlerConsumes)
{
    Recorder r;
    ServerLimits l;
    l.streamWindowBytes = 1000;
    ServerSession s(&r, l);
    // The client acknowledges the server's SETTINGS: the 1000-byte window applies from then on.
    ASSERT_TRUE(s.receive(preface() + frame(kSettings, 0x1, 0) + frame(kHeaders, kEndHeaders, 1, getBlock()) +
                          frame(kData, 0, 1, QByteArray(900, 'x'))));
    const auto streamUpdates = [](const QList<Frame> &fs) {
        int n = 0;
        for (const Frame &f : fs)
            n += f.type == kWindowUpdate && f.stream == 1;
        return n;
    };
    EXPECT_EQ(streamUpdates(drain(s)), 0);
    s.consume(1, 900);
    EXPECT_EQ(streamUpdates(drain(s)), 1);
}

TEST(ServerSession, ResponseLeavesAsHeadersAndData)
{
    Recorder r;
    ServerSession s(&r, ServerLimits{});
    ASSERT_TRUE(s.receive(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, getBlock())));
    r.body = "hello";
    s.submitResponse(1, 200, {{"content-type", "text/plain"}}, true);
    bool headers = false, data = false;
    for (const Frame &f : drain(s)) {
        headers |= f.type == kHeaders && f.stream == 1;
        data |= f.type == kData && f.stream == 1 && f.payload == "hello" && (f.flags & kEndStream);
    }
    EXPECT_TRUE(headers);
    EXPECT_TRUE(data);
    EXPECT_EQ(r.closed, QList<qint32>{1});
}

// A handler that keeps its response body where it is: each DATA frame's bytes are taken from it as the frame is
// written (no copy into nghttp2's buffer), a body larger than one frame in several frames, the last ending the
// stream, and the trailers after it.
TEST(ServerSession, ABodyTakenWithoutACopyLeavesInFramesThatEndTheStream)
{
    struct Keeper : Recorder
    {
        bool peekResponseBody(qint32, qsizetype max, qsizetype *size, bool *eof) override
        {
            *size = std::min(max, kept.size());
            *eof = *size == kept.size();
            return true;
        }
        void takeResponseBody(qint32, qsizetype size, QByteArray &out) override
        {
            ++takes;
            out.append(kept.first(size));
            kept.remove(0, size);
        }
        HeaderList responseTrailers(qint32) override { return {{"grpc-status", "0"}}; }
        QByteArray kept;
        int takes = 0;
    } r;
    ServerSession s(&r, ServerLimits{});
    ASSERT_TRUE(s.receive(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, getBlock())));
    QByteArray body(40000, 'b');
    for (qsizetype i = 0; i < body.size(); ++i)
        body[i] = char('a' + i % 26);
    r.kept = body;
    s.submitResponse(1, 200, {{"content-type", "application/grpc"}}, true);
    QByteArray got;
    bool dataEnded = false, trailersEnded = false;
    for (const Frame &f : drain(s)) {
        if (f.type == kData && f.stream == 1) {
            got += f.payload;
            dataEnded |= (f.flags & kEndStream) != 0;
        }
        trailersEnded |= f.type == kHeaders && f.stream == 1 && (f.flags & kEndStream);
    }
    EXPECT_EQ(got, body);
    EXPECT_EQ(r.takes, 3); // 16384 + 16384 + 7232
    EXPECT_TRUE(r.kept.isEmpty());
    EXPECT_FALSE(dataEnded); // the trailers end the stream
    EXPECT_TRUE(trailersEnded);
    EXPECT_EQ(r.closed, QList<qint32>{1});
}

TEST(ServerSession, RapidResetEndsTheSession)
{
    Recorder r;
    ServerLimits l;
    l.resetBurst = 5;
    l.resetsPerSecond = 0;
    ServerSession s(&r, l);
    QByteArray in = preface();
    for (quint32 id = 1; id <= 11; id += 2)
        in += frame(kHeaders, kEndHeaders | kEndStream, id, getBlock()) + frame(kRstStream, 0, id, u32(8));
    EXPECT_FALSE(s.receive(in));
    EXPECT_EQ(r.violations, QList<Violation>{Violation::RapidReset});
    EXPECT_EQ(goaway(drain(s)), 0xb);
}

TEST(ServerSession, ContinuationFloodEndsTheSession)
{
    Recorder r;
    ServerLimits l;
    l.maxContinuations = 3;
    ServerSession s(&r, l);
    QByteArray in = preface() + frame(kHeaders, 0, 1, getBlock());
    for (int i = 0; i < 4; ++i)
        in += frame(kContinuation, 0, 1);
    EXPECT_FALSE(s.receive(in));
    EXPECT_EQ(r.violations, QList<Violation>{Violation::ContinuationFlood});
    EXPECT_EQ(goaway(drain(s)), 0xb);
}

TEST(ServerSession, HpackBombEndsTheSessionAndALargeListIsRefused)
{
    // A large list that decodes to about its encoded size: 431 on its stream, the session goes on.
    {
        Recorder r;
        ServerLimits l;
        l.maxHeaderListBytes = 1024;
        ServerSession s(&r, l);
        const QByteArray big = getBlock() + QByteArray("\x00\x05x-big\x7f\xd1\x0e", 10) + QByteArray(2000, 'v');
        EXPECT_TRUE(s.receive(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, big)));
        EXPECT_EQ(r.violations, QList<Violation>{Violation::HeaderListTooLarge});
        ASSERT_EQ(r.refused.size(), 1);
        EXPECT_EQ(r.refused[0].second, 431);
        EXPECT_TRUE(r.heads.isEmpty());
    }
    // One table entry referenced again and again: the decoded size runs far past the encoded one.
    {
        Recorder r;
        ServerLimits l;
        l.maxHeaderListBytes = 1024;
        ServerSession s(&r, l);
        const QByteArray bomb = getBlock() + QByteArray("\x40\x06x-bomb\x7f\xf5\x02", 11) + QByteArray(500, 'b') +
                                QByteArray(50, char(0x80 | 62));
        EXPECT_FALSE(s.receive(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, bomb)));
        EXPECT_EQ(r.violations, QList<Violation>{Violation::HpackBomb});
        EXPECT_EQ(goaway(drain(s)), 0xb);
    }
}

TEST(ServerSession, PingAndSettingsFloodsEndTheSession)
{
    for (const quint8 type : {kPing, kSettings}) {
        SCOPED_TRACE(int(type));
        Recorder r;
        ServerLimits l;
        l.pingBurst = l.settingsBurst = 3;
        l.pingsPerSecond = l.settingsPerSecond = 0;
        ServerSession s(&r, l);
        QByteArray in = preface();
        for (int i = 0; i < 5; ++i)
            in += frame(type, 0, 0, type == kPing ? QByteArray(8, 'p') : QByteArray());
        EXPECT_FALSE(s.receive(in));
        EXPECT_EQ(r.violations, QList<Violation>{type == kPing ? Violation::PingFlood : Violation::SettingsFlood});
        EXPECT_EQ(goaway(drain(s)), 0xb);
    }
}
