// SPDX-License-Identifier: Apache-2.0
#include "http/httpparser.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace dfproxy::http;

namespace {

struct Parsed : BodyHandler
{
    int heads = 0;
    int completes = 0;
    QByteArray body;
    ParseError error;
    MessageHead head;
    void onBody(const char *d, qsizetype n) override { body.append(d, n); }
};

/// Feeds `input` in pieces of `step` bytes (0 = all at once), like a socket would.
Parsed parse(const QByteArray &input, HttpParser::Kind kind = HttpParser::Kind::Request, ParserLimits limits = {},
             qsizetype step = 0)
{
    Parsed out;
    HttpParser p(kind, limits);
    p.setBodyHandler(&out);
    qsizetype pos = 0;
    QByteArray pending;
    while (pos < input.size() || !pending.isEmpty()) {
        if (pending.isEmpty() || step > 0) {
            const qsizetype n = step > 0 ? std::min(step, input.size() - pos) : input.size() - pos;
            pending.append(input.mid(pos, n));
            pos += n;
        }
        HttpParser::Stop stop;
        const qsizetype used = p.feed(pending.constData(), pending.size(), &stop);
        pending.remove(0, used);
        if (stop == HttpParser::Stop::Head) {
            ++out.heads;
            out.head = p.head();
        } else if (stop == HttpParser::Stop::Complete) {
            ++out.completes;
        } else if (stop == HttpParser::Stop::Error) {
            out.error = p.error();
            return out;
        } else if (pos >= input.size()) {
            break;
        }
    }
    return out;
}

/// Feeds `in` as a socket would hand it over in one read: up to the Head stop, then the rest (the start of the
/// body). Returns where the second feed stopped; the head must come first.
HttpParser::Stop feedHeadAndRest(HttpParser &p, const QByteArray &in)
{
    HttpParser::Stop stop;
    const qsizetype used = p.feed(in.constData(), in.size(), &stop);
    EXPECT_EQ(stop, HttpParser::Stop::Head);
    p.feed(in.constData() + used, in.size() - used, &stop);
    return stop;
}

int statusOf(const QByteArray &input)
{
    return parse(input).error.status;
}
QByteArray reasonOf(const QByteArray &input)
{
    return parse(input).error.reason;
}

TEST(HttpParser, ParsesASimpleRequest)
{
    const Parsed p = parse("GET /a?b=1 HTTP/1.1\r\nHost: x.test\r\nAccept: */*\r\n\r\n");
    EXPECT_FALSE(p.error.isError());
    EXPECT_EQ(p.heads, 1);
    EXPECT_EQ(p.completes, 1);
    EXPECT_EQ(p.head.method, "GET");
    EXPECT_EQ(p.head.target, "/a?b=1");
    ASSERT_EQ(p.head.headers.size(), 2);
    EXPECT_EQ(p.head.headers[0].first, "Host");
    EXPECT_EQ(p.head.headers[0].second, "x.test");
    EXPECT_TRUE(p.head.keepAlive);
}

TEST(HttpParser, ParsesByteByByte)
{
    const Parsed p = parse("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                           HttpParser::Kind::Request, {}, 1);
    EXPECT_FALSE(p.error.isError()) << p.error.reason.constData();
    EXPECT_EQ(p.completes, 1);
    EXPECT_TRUE(p.head.chunked);
    EXPECT_EQ(p.body, "abcde");
}

TEST(HttpParser, TargetAndReasonSplitAcrossReads)
{
    // One byte per read: the target and the reason phrase arrive in as many pieces.
    Parsed p = parse("GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n", HttpParser::Kind::Request, {}, 1);
    EXPECT_FALSE(p.error.isError());
    EXPECT_EQ(p.head.target, "/a/b?c=d");
    p = parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HttpParser::Kind::Response, {}, 1);
    EXPECT_EQ(p.head.reasonPhrase, "OK");
    p = parse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", HttpParser::Kind::Response, {}, 3);
    EXPECT_EQ(p.head.status, 404);
    EXPECT_EQ(p.head.reasonPhrase, "Not Found");
}

TEST(HttpParser, AKeptCopyOfTheLastHeadSurvivesTheNextMessage)
{
    // The proxy keeps the previous request's target (access log, forwarded request) while the parser reads the
    // next one on the same connection.
    HttpParser p(HttpParser::Kind::Request);
    const QByteArray input = "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /second/longer HTTP/1.1\r\nHost: b\r\n\r\n";
    QList<MessageHead> heads;
    qsizetype pos = 0;
    for (int guard = 0; guard < 16 && pos < input.size(); ++guard) {
        HttpParser::Stop stop;
        pos += p.feed(input.constData() + pos, input.size() - pos, &stop);
        if (stop == HttpParser::Stop::Head)
            heads.append(p.head()); // a copy that shares the parser's arrays
    }
    ASSERT_EQ(heads.size(), 2);
    EXPECT_EQ(heads[0].target, "/first");
    EXPECT_EQ(heads[0].headers.value(0).second, "a");
    EXPECT_EQ(heads[1].target, "/second/longer");
    EXPECT_EQ(heads[1].headers.value(0).second, "b");
}

TEST(HttpParser, StopsBetweenPipelinedRequests)
{
    const Parsed p = parse("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(p.heads, 2);
    EXPECT_EQ(p.completes, 2);
    EXPECT_EQ(p.head.target, "/2");
}

TEST(HttpParser, ContentLengthWithTransferEncodingIs400)
{
    EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
              "content_length_with_transfer_encoding");
}

TEST(HttpParser, DuplicateContentLengthIs400)
{
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
              "duplicate_content_length");
}

TEST(HttpParser, InvalidContentLengthIs400)
{
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc"), "invalid_content_length");
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"), "invalid_content_length");
}

TEST(HttpParser, BadChunkSizeIs400)
{
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
              "invalid_chunk_size");
}

TEST(HttpParser, TransferEncodingNotEndingInChunkedIs400)
{
    EXPECT_EQ(statusOf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
}

TEST(HttpParser, ObsFoldIs400)
{
    EXPECT_EQ(reasonOf("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n"), "obs_fold");
    EXPECT_EQ(reasonOf("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tfolded\r\n\r\n"), "obs_fold");
}

// Guards for the word-at-a-time value check and the previous-message field sharing (#21 item 9): whatever the
// alignment of a byte in the value, and however alike the message before it on the connection, a control byte or
// DEL in a field value is refused, and the second message's framing is its own.
TEST(HttpParser, AControlByteOrDelAtAnyAlignmentOfAValueIs400EvenAfterAnIdenticalMessage)
{
    const QByteArray value(24, 'v');
    for (int nameLength = 1; nameLength <= 8; ++nameLength) {
        const QByteArray name = "X" + QByteArray(nameLength - 1, 'n');
        const QByteArray good = "GET / HTTP/1.1\r\nHost: x\r\n" + name + ": " + value + "\r\n\r\n";
        for (qsizetype at = 1; at + 1 < value.size(); ++at) {
            for (int c = 0; c < 0x80; ++c) {
                if (c >= 0x20 && c != 0x7f)
                    continue;
                if (c == '\t')
                    continue;
                QByteArray bad = value;
                bad[at] = char(c);
                const QByteArray badRequest = "GET / HTTP/1.1\r\nHost: x\r\n" + name + ": " + bad + "\r\n\r\n";
                const Parsed alone = parse(badRequest);
                EXPECT_EQ(alone.error.status, 400) << "byte " << c << " at " << at << " after " << nameLength;
                const Parsed second = parse(good + badRequest);
                EXPECT_EQ(second.heads, 1) << "byte " << c << " at " << at << " after " << nameLength;
                EXPECT_EQ(second.error.status, 400) << "byte " << c << " at " << at << " after " << nameLength;
            }
        }
    }
}

TEST(HttpParser, TheSecondKeepAliveRequestIsFramedByItsOwnFieldsNotTheFirstOnes)
{
    const QByteArray pad = "X-Pad: " + QByteArray(16, 'p') + "\r\n";
    // Differs from the first only in the last digit of Content-Length.
    Parsed p = parse("POST /a HTTP/1.1\r\nHost: x\r\n" + pad + "Content-Length: 10\r\n\r\n0123456789"
                     + "POST /a HTTP/1.1\r\nHost: x\r\n" + pad + "Content-Length: 11\r\n\r\nabcdefghijk");
    EXPECT_EQ(p.heads, 2);
    EXPECT_EQ(p.completes, 2);
    EXPECT_EQ(p.head.contentLength, 11);
    EXPECT_EQ(p.body, "0123456789abcdefghijk");
    // The same first message, then one that adds Transfer-Encoding: refused as in a first message.
    p = parse("POST /a HTTP/1.1\r\nHost: x\r\n" + pad + "Content-Length: 3\r\n\r\nabc" + "POST /a HTTP/1.1\r\nHost: x\r\n"
              + pad + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
    EXPECT_EQ(p.heads, 1);
    EXPECT_EQ(p.error.reason, "content_length_with_transfer_encoding");
    // And one whose Content-Length is spelled in another case and repeated: still a duplicate.
    p = parse("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
              "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-LENGTH: 3\r\n\r\nabc");
    EXPECT_EQ(p.heads, 1);
    EXPECT_EQ(p.error.reason, "duplicate_content_length");
}

TEST(HttpParser, InvalidHeaderNameIs400)
{
    EXPECT_EQ(reasonOf("GET / HTTP/1.1\r\nHost: x\r\nBad Name: a\r\n\r\n"), "invalid_header_name");
    EXPECT_EQ(reasonOf("GET / HTTP/1.1\r\nHost: x\r\nBad\"Name: a\r\n\r\n"), "invalid_header_name");
    EXPECT_EQ(statusOf("GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n"), 400);
}

TEST(HttpParser, MissingHostInHttp11Is400)
{
    EXPECT_EQ(reasonOf("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), "missing_host");
    // HTTP/1.0 may omit it
    EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").error.isError());
}

TEST(HttpParser, DuplicateHostIs400)
{
    EXPECT_EQ(reasonOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), "duplicate_host");
}

TEST(HttpParser, OversizedHeadersAre431)
{
    ParserLimits limits;
    limits.maxHeaderBytes = 1024;
    const QByteArray big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + QByteArray(2000, 'a') + "\r\n\r\n";
    EXPECT_EQ(parse(big, HttpParser::Kind::Request, limits).error.status, 431);
    EXPECT_EQ(parse(big, HttpParser::Kind::Request, limits, 100).error.status, 431);
    // the default is 64 KiB
    const QByteArray huge = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + QByteArray(70 * 1024, 'a') + "\r\n\r\n";
    EXPECT_EQ(parse(huge).error.status, 431);
    EXPECT_EQ(parse(huge).error.reason, "headers_too_large");
}

TEST(HttpParser, OversizedUriIs414)
{
    const QByteArray longUri = "GET /" + QByteArray(9 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(parse(longUri).error.status, 414);
    EXPECT_EQ(parse(longUri, HttpParser::Kind::Request, {}, 512).error.status, 414);
    ParserLimits limits;
    limits.maxUriBytes = 100;
    EXPECT_EQ(parse("GET /" + QByteArray(200, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", HttpParser::Kind::Request, limits)
                  .error.reason,
              "uri_too_long");
}

TEST(HttpParser, UnsupportedVersionIs505)
{
    EXPECT_EQ(statusOf("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
    EXPECT_EQ(statusOf("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 505);
    EXPECT_EQ(reasonOf("GET / HTTP/0.9\r\nHost: x\r\n\r\n"), "unsupported_http_version");
}

TEST(HttpParser, GarbageIs400)
{
    EXPECT_EQ(statusOf("NOT A REQUEST\r\n\r\n"), 400);
    static const char withNul[] = "GET / HTTP/1.1\r\nHost: x\0\r\n\r\n";
    EXPECT_EQ(statusOf(QByteArray(withNul, sizeof withNul - 1)), 400); // was 30: read past the literal (ASan)
}

TEST(HttpParser, ConnectNeedsNoHost)
{
    const Parsed p = parse("CONNECT a.test:443 HTTP/1.1\r\n\r\n");
    EXPECT_FALSE(p.error.isError());
    EXPECT_TRUE(p.head.isConnect());
    EXPECT_TRUE(p.head.upgrade);
    EXPECT_EQ(p.head.target, "a.test:443");
}

TEST(HttpParser, ResponseUntilCloseEndsOnEof)
{
    Parsed out;
    HttpParser p(HttpParser::Kind::Response);
    p.setBodyHandler(&out);
    const QByteArray in = "HTTP/1.1 200 OK\r\n\r\nabc";
    HttpParser::Stop stop;
    qsizetype used = p.feed(in.constData(), in.size(), &stop);
    EXPECT_EQ(stop, HttpParser::Stop::Head);
    EXPECT_EQ(p.head().contentLength, -1);
    used += p.feed(in.constData() + used, in.size() - used, &stop);
    EXPECT_EQ(stop, HttpParser::Stop::NeedMore);
    EXPECT_EQ(p.feedEof(), HttpParser::Stop::Complete);
    EXPECT_EQ(out.body, "abc");
}

// The upstream engine keeps an origin's chunked trailers (setKeepTrailers) to pass them on; the fields are checked
// like header fields either way, and a new message starts with none.
TEST(HttpParser, KeptTrailersComeWithTheirValuesTrimmedAndOnlyWhenAsked)
{
    const QByteArray in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                          "grpc-status:  0 \r\nX-T: a b\r\n\r\n"
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    for (bool keep : {true, false}) {
        Parsed out;
        HttpParser p(HttpParser::Kind::Response);
        p.setBodyHandler(&out);
        p.setKeepTrailers(keep);
        HttpParser::Stop stop;
        qsizetype used = p.feed(in.constData(), in.size(), &stop);
        ASSERT_EQ(stop, HttpParser::Stop::Head);
        used += p.feed(in.constData() + used, in.size() - used, &stop);
        ASSERT_EQ(stop, HttpParser::Stop::Complete);
        EXPECT_EQ(out.body, "abc");
        const HeaderList expected{{"grpc-status", "0"}, {"X-T", "a b"}};
        EXPECT_EQ(p.takeTrailers(), keep ? expected : HeaderList()) << keep;
        EXPECT_TRUE(p.takeTrailers().isEmpty());
        used += p.feed(in.constData() + used, in.size() - used, &stop);
        ASSERT_EQ(stop, HttpParser::Stop::Head);
        p.feed(in.constData() + used, in.size() - used, &stop);
        ASSERT_EQ(stop, HttpParser::Stop::Complete);
        EXPECT_TRUE(p.takeTrailers().isEmpty());
    }
}

TEST(HttpParser, HeadResponseHasNoBody)
{
    HttpParser p(HttpParser::Kind::Response);
    p.setExpectNoBody(true);
    const QByteArray in = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    HttpParser::Stop stop;
    qsizetype used = p.feed(in.constData(), in.size(), &stop);
    EXPECT_EQ(stop, HttpParser::Stop::Head);
    used += p.feed(in.constData() + used, in.size() - used, &stop);
    EXPECT_EQ(stop, HttpParser::Stop::Complete);
    EXPECT_EQ(p.head().contentLength, 10);
}

TEST(HttpParser, NoContentAndNotModifiedHaveNoBody)
{
    for (const QByteArray status : {"204 No Content", "304 Not Modified", "100 Continue"}) {
        const Parsed p = parse("HTTP/1.1 " + status + "\r\n\r\n", HttpParser::Kind::Response);
        EXPECT_EQ(p.completes, 1) << status.constData();
    }
}

TEST(HttpParser, NoContentAndNotModifiedEndAtTheHeadEvenWithAContentLength)
{
    // A 304's Content-Length is the length of the representation it stands for (RFC 9110 section 8.6): no body
    // follows, and the next response on the connection must parse as one.
    for (const QByteArray status : {"304 Not Modified", "204 No Content", "103 Early Hints"}) {
        const Parsed p = parse("HTTP/1.1 " + status + "\r\nContent-Length: 5\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                               HttpParser::Kind::Response);
        EXPECT_EQ(p.error.status, 0) << status.constData();
        EXPECT_EQ(p.heads, 2) << status.constData();
        EXPECT_EQ(p.completes, 2) << status.constData();
        EXPECT_EQ(p.body, "ok") << status.constData();
    }
}

TEST(HttpParser, BodyBytesLeftCountsDownAContentLengthBodyOnly)
{
    HttpParser p(HttpParser::Kind::Response);
    const QByteArray in = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    HttpParser::Stop stop;
    EXPECT_EQ(p.bodyBytesLeft(), -1);
    qsizetype used = p.feed(in.constData(), in.size(), &stop);
    ASSERT_EQ(stop, HttpParser::Stop::Head);
    EXPECT_EQ(p.bodyBytesLeft(), -1) << "not inside the body until the rest of the head is fed";
    used += p.feed(in.constData() + used, in.size() - used, &stop);
    EXPECT_EQ(stop, HttpParser::Stop::NeedMore);
    EXPECT_EQ(used, in.size());
    EXPECT_EQ(p.bodyBytesLeft(), 7);

    for (const QByteArray &other : {QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"),
                                   QByteArray("HTTP/1.1 200 OK\r\n\r\nabc")}) {
        HttpParser q(HttpParser::Kind::Response);
        EXPECT_EQ(feedHeadAndRest(q, other), HttpParser::Stop::NeedMore);
        EXPECT_EQ(q.bodyBytesLeft(), -1) << other.constData();
    }
}

TEST(HttpParser, SkippedBodyBytesEndTheMessageAndTheNextOneParses)
{
    Parsed out;
    HttpParser p(HttpParser::Kind::Response);
    p.setBodyHandler(&out);
    ASSERT_EQ(feedHeadAndRest(p, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nfirst"), HttpParser::Stop::NeedMore);
    ASSERT_EQ(p.bodyBytesLeft(), 100000 - 5);
    // What a splice moved, in two steps: the handler sees none of it.
    EXPECT_EQ(p.skipBody(60000), HttpParser::Stop::NeedMore);
    EXPECT_EQ(p.bodyBytesLeft(), 100000 - 5 - 60000);
    EXPECT_EQ(p.skipBody(p.bodyBytesLeft()), HttpParser::Stop::Complete);
    EXPECT_EQ(out.body, "first");
    EXPECT_EQ(p.bodyBytesLeft(), -1);
    EXPECT_FALSE(p.inMessage());
    EXPECT_TRUE(p.head().keepAlive);

    EXPECT_EQ(feedHeadAndRest(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"), HttpParser::Stop::Complete);
    EXPECT_EQ(p.head().status, 404);
    EXPECT_EQ(out.body, "firstnope");
}

TEST(HttpParser, SkipBodyTakesNoMoreThanIsLeftAndNothingOutsideABody)
{
    HttpParser p(HttpParser::Kind::Response);
    EXPECT_EQ(p.skipBody(10), HttpParser::Stop::NeedMore); // no message yet: nothing happens
    feedHeadAndRest(p, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(p.bodyBytesLeft(), 3);
    EXPECT_EQ(p.skipBody(1000), HttpParser::Stop::Complete);
    EXPECT_FALSE(p.head().keepAlive);
    EXPECT_EQ(p.skipBody(10), HttpParser::Stop::NeedMore);
}

// --- RFC 9112 strictness (#20 item 9): what can desync is refused, everything valid is accepted ---

ParserLimits lenient()
{
    ParserLimits l;
    l.lenientLineEndings = true;
    return l;
}

Parsed parseResponse(const QByteArray &input, qsizetype step = 0)
{
    return parse(input, HttpParser::Kind::Response, {}, step);
}

TEST(HttpParser, BareLfAnywhereInTheHeadOrChunkFramingIs400)
{
    const QByteArray chunkedHead = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const QByteArray &in :
         {QByteArray("GET / HTTP/1.1\nHost: x\r\n\r\n"), QByteArray("GET / HTTP/1.1\r\nHost: x\n\r\n"),
          QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\n"), QByteArray("GET / HTTP/1.1\nHost: x\n\n"),
          QByteArray("\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), chunkedHead + "3\nabc\r\n0\r\n\r\n",
          chunkedHead + "3;a=b\nabc\r\n0\r\n\r\n", chunkedHead + "3;a\nb\r\nabc\r\n0\r\n\r\n",
          chunkedHead + "3\r\nabc\n0\r\n\r\n", chunkedHead + "3\r\nabc\r\n0\n\r\n",
          chunkedHead + "3\r\nabc\r\n0\r\nX-T: 1\n\r\n", chunkedHead + "3\r\nabc\r\n0\r\n\n"}) {
        for (const qsizetype step : {0, 1}) {
            const Parsed p = parse(in, HttpParser::Kind::Request, {}, step);
            EXPECT_EQ(p.error.status, 400) << in.toStdString();
            EXPECT_EQ(p.error.reason, "bare_lf") << in.toStdString();
        }
    }
}

TEST(HttpParser, LenientParsingAcceptsBareLfLineEndingsOnly)
{
    const Parsed p = parse("GET /a HTTP/1.1\nHost: x\nX-A: 1\r\n\n", HttpParser::Kind::Request, lenient());
    EXPECT_FALSE(p.error.isError()) << p.error.reason.constData();
    EXPECT_EQ(p.completes, 1);
    EXPECT_EQ(p.head.headers.value(1).second, "1");
    const Parsed c = parse("POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3;a=b\nabc\n0\nX-T: 1\n\n",
                           HttpParser::Kind::Request, lenient(), 1);
    EXPECT_FALSE(c.error.isError()) << c.error.reason.constData();
    EXPECT_EQ(c.body, "abc");
    EXPECT_EQ(c.completes, 1);
    // nothing else is relaxed: a bare CR, whitespace before a colon, a bad chunk extension
    EXPECT_EQ(parse("GET / HTTP/1.1\nHost: x\rX: y\n\n", HttpParser::Kind::Request, lenient()).error.status, 400);
    EXPECT_EQ(parse("GET / HTTP/1.1\nHost : x\n\n", HttpParser::Kind::Request, lenient()).error.reason,
              "invalid_header_name");
    EXPECT_EQ(parse("POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n3;=\nabc\n0\n\n",
                    HttpParser::Kind::Request, lenient())
                  .error.reason,
              "invalid_chunk_extension");
}

TEST(HttpParser, ControlSpaceOrNonAsciiInTheTargetIs400)
{
    for (const char *bad : {"/a\x01"
                            "b",
                            "/a\tb", "/a\x7f", "/\x80", "/caf\xc3\xa9", "/a\rb"}) {
        const Parsed p = parse(QByteArray("GET ") + bad + " HTTP/1.1\r\nHost: x\r\n\r\n");
        EXPECT_EQ(p.error.status, 400) << bad;
        EXPECT_EQ(p.error.reason, "invalid_uri") << bad;
    }
    EXPECT_EQ(reasonOf("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"), "invalid_uri");
    EXPECT_EQ(reasonOf("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), "invalid_uri");
    EXPECT_EQ(reasonOf("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"), "invalid_uri");
}

TEST(HttpParser, WhitespaceBeforeAHeaderColonIs400)
{
    for (const char *line : {"X-A : a", "X-A\t: a", "Transfer-Encoding : chunked", "Host : x"}) {
        const Parsed p = parse(QByteArray("GET / HTTP/1.1\r\nHost: x\r\n") + line + "\r\n\r\n");
        EXPECT_EQ(p.error.reason, "invalid_header_name") << line;
        const Parsed r = parseResponse(QByteArray("HTTP/1.1 200 OK\r\n") + line + "\r\nContent-Length: 0\r\n\r\n");
        EXPECT_EQ(r.error.reason, "invalid_header_name") << line;
    }
}

TEST(HttpParser, TransferEncodingOnHttp10Is400)
{
    EXPECT_EQ(reasonOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), "transfer_encoding_http10");
    EXPECT_EQ(parseResponse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").error.reason,
              "transfer_encoding_http10");
}

TEST(HttpParser, ChunkedTwiceOrNotLastIs400)
{
    const QByteArray head = "POST / HTTP/1.1\r\nHost: x\r\n";
    for (const QByteArray &te :
         {QByteArray("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
          QByteArray("Transfer-Encoding: chunked, chunked\r\n"), QByteArray("Transfer-Encoding: chunked, gzip\r\n"),
          QByteArray("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
          QByteArray("Transfer-Encoding: gzip\r\n"), QByteArray("Transfer-Encoding: \r\n"),
          QByteArray("Transfer-Encoding: chunked;\r\n"), QByteArray("Transfer-Encoding: \"chunked\"\r\n"),
          QByteArray("Transfer-Encoding: chunked;a=b\r\n"), QByteArray("Transfer-Encoding: gzip;q\r\n")}) {
        EXPECT_EQ(reasonOf(head + te + "\r\n0\r\n\r\n"), "invalid_transfer_encoding") << te.toStdString();
    }
    // chunked last, after other codings and across headers, any case and with OWS: fine
    for (const QByteArray &te :
         {QByteArray("Transfer-Encoding: gzip, chunked\r\n"),
          QByteArray("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
          QByteArray("Transfer-Encoding:\tChunked \r\n"), QByteArray("Transfer-Encoding: gzip;q=1 , ,chunked\r\n")}) {
        const Parsed p = parse(head + te + "\r\n3\r\nabc\r\n0\r\n\r\n");
        EXPECT_FALSE(p.error.isError()) << te.toStdString() << p.error.reason.constData();
        EXPECT_TRUE(p.head.chunked);
        EXPECT_EQ(p.body, "abc");
    }
}

TEST(HttpParser, TwoChunkedHeadersDoNotLetASecondRequestThrough)
{
    // The finding: a confused parser took the body for a second request. The first head is refused outright.
    const Parsed p =
        parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(p.error.reason, "invalid_transfer_encoding");
    EXPECT_EQ(p.heads, 0);
}

TEST(HttpParser, ChunkExtensionsFollowTheGrammar)
{
    const QByteArray head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const QByteArray ext :
         {"3;a", "3;a=b", "3 ; a = b", "3\t;a=\"q\\\"x;y\"", "3;a;b=c;d=\"\"", "03;!#$%&'*+-.^_`|~=v"}) {
        for (const qsizetype step : {0, 1}) {
            const Parsed p = parse(head + ext + "\r\nabc\r\n0;last=1\r\n\r\n", HttpParser::Kind::Request, {}, step);
            EXPECT_FALSE(p.error.isError()) << ext.toStdString() << ": " << p.error.reason.constData();
            EXPECT_EQ(p.body, "abc") << ext.toStdString();
        }
    }
    for (const QByteArray ext : {"3;", "3;=b", "3;a=", "3 x", "3 ", "3;a ", "3;a=\"open", "3;a=b c", "3;a=\x01",
                                 "3;a=\"\x01\"", "3;a b", "3,a", "3;a=b\rc"}) {
        const Parsed p = parse(head + ext + "\r\nabc\r\n0\r\n\r\n");
        EXPECT_EQ(p.error.reason, "invalid_chunk_extension") << ext.toStdString();
    }
}

TEST(HttpParser, OversizedChunkExtensionsAndTrailersAreRefused)
{
    const QByteArray head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const QByteArray hugeExt = head + "3;a=" + QByteArray(1024 * 1024, 'b') + "\r\nabc\r\n0\r\n\r\n";
    EXPECT_EQ(parse(hugeExt).error.reason, "chunk_extension_too_large");
    EXPECT_EQ(parse(hugeExt, HttpParser::Kind::Request, {}, 4096).error.reason, "chunk_extension_too_large");
    const QByteArray hugeTrailers = head + "0\r\n" + QByteArray("X-T: 0123456789\r\n").repeated(2000) + "\r\n";
    EXPECT_EQ(parse(hugeTrailers).error.status, 431);
    EXPECT_EQ(parse(hugeTrailers, HttpParser::Kind::Request, {}, 1000).error.reason, "trailers_too_large");
    EXPECT_EQ(reasonOf(head + "0\r\nX-T: 1\r\n folded\r\n\r\n"), "obs_fold");
    EXPECT_EQ(reasonOf(head + "0\r\nBad Name: 1\r\n\r\n"), "invalid_header_name");
    EXPECT_EQ(reasonOf(head + "3\r\nabcd\r\n0\r\n\r\n"), "invalid_chunk_data");
}

TEST(HttpParser, AnyTokenMethodIsAcceptedAsSent)
{
    for (const QByteArray method :
         {"QUERY", "REPORT", "PROPFIND", "MKCALENDAR", "M-SEARCH", "FOO", "get", "X!#$%&'*+.^_`|~1"}) {
        for (const qsizetype step : {0, 1}) {
            const Parsed p = parse(method + " / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
                                   HttpParser::Kind::Request, {}, step);
            EXPECT_FALSE(p.error.isError()) << method.toStdString() << ": " << p.error.reason.constData();
            EXPECT_EQ(p.head.method, method);
            EXPECT_EQ(p.body, "ab");
        }
    }
    for (const QByteArray bad : {"GE(T", "GE\"T", "G@T", "GET\t", "\x01GET"})
        EXPECT_EQ(reasonOf(bad + " / HTTP/1.1\r\nHost: x\r\n\r\n"), "invalid_method") << bad.toStdString();
}

TEST(HttpParser, ContentLengthMayHaveSurroundingWhitespace)
{
    for (const QByteArray cl :
         {"Content-Length:\t3\t", "Content-Length:  3 ", "content-length:3", "Content-Length: \t3"}) {
        const Parsed p = parse("POST / HTTP/1.1\r\nHost: x\r\n" + cl + "\r\n\r\nabc");
        EXPECT_FALSE(p.error.isError()) << cl.toStdString() << ": " << p.error.reason.constData();
        EXPECT_EQ(p.head.contentLength, 3);
        EXPECT_EQ(p.body, "abc");
        const Parsed r = parseResponse("HTTP/1.1 200 OK\r\n" + cl + "\r\n\r\nabc");
        EXPECT_EQ(r.body, "abc") << cl.toStdString();
        EXPECT_EQ(r.completes, 1);
    }
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\nabc"), "invalid_content_length");
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n"), "invalid_content_length");
    EXPECT_EQ(reasonOf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"),
              "invalid_content_length");
}

TEST(HttpParser, AbsoluteFormWithAnEmptyPathAndAQueryIsAccepted)
{
    // The empty path is spelled "/" (RFC 9110 4.2.3), so the forwarded origin-form is "/?q=1", not "?q=1".
    const QList<QPair<QByteArray, QByteArray>> targets = {{"http://h.test:8080?q=1", "http://h.test:8080/?q=1"},
                                                          {"http://h.test?q", "http://h.test/?q"},
                                                          {"HTTP://h.test/p?a", "HTTP://h.test/p?a"},
                                                          {"http://h.test", "http://h.test"}};
    for (const auto &[target, seen] : targets) {
        const Parsed p = parse("GET " + target + " HTTP/1.1\r\nHost: h.test\r\n\r\n");
        EXPECT_FALSE(p.error.isError()) << target.toStdString() << ": " << p.error.reason.constData();
        EXPECT_EQ(p.head.target, seen);
    }
    EXPECT_EQ(reasonOf("GET h.test/p HTTP/1.1\r\nHost: h.test\r\n\r\n"), "invalid_uri");
    EXPECT_EQ(reasonOf("GET 1http://h.test/ HTTP/1.1\r\nHost: h.test\r\n\r\n"), "invalid_uri");
    EXPECT_FALSE(parse("OPTIONS * HTTP/1.1\r\nHost: h.test\r\n\r\n").error.isError());
}

TEST(HttpParser, ResponsesFollowTheSameGrammar)
{
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n").error.reason, "bare_lf");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\n\n").error.reason, "bare_lf");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n").error.reason,
              "bare_lf");
    EXPECT_EQ(
        parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n").error.reason,
        "invalid_chunk_extension");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")
                  .error.reason,
              "invalid_transfer_encoding");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n").error.reason,
              "content_length_with_transfer_encoding");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").error.reason,
              "duplicate_content_length");
    EXPECT_EQ(parseResponse("HTTP/1.1 20 OK\r\n\r\n").error.reason, "invalid_status");
    EXPECT_EQ(parseResponse("HTTP/1.1 2000 OK\r\n\r\n").error.reason, "invalid_status");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 O\x01K\r\n\r\n").error.reason, "invalid_status");
    EXPECT_EQ(parseResponse("HTTP/1.1  200 OK\r\n\r\n").error.status, 400);
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nX-A: a\x01\r\n\r\n").error.reason, "invalid_header_value");
    EXPECT_EQ(parseResponse("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n").error.reason, "obs_fold");
    // valid: no reason phrase, obs-text in the reason and in a value, a trailer
    const Parsed p = parseResponse("HTTP/1.1 204\r\n\r\nHTTP/1.1 200 D\xe9j\xe0 vu\r\nX-A: caf\xc3\xa9\r\n"
                                   "Transfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\nX-T: 1\r\n\r\n",
                                   1);
    EXPECT_FALSE(p.error.isError()) << p.error.reason.constData();
    EXPECT_EQ(p.completes, 2);
    EXPECT_EQ(p.body, "ok");
}

TEST(HttpParser, AResponseWhoseLastCodingIsNotChunkedIsReadUntilClose)
{
    // RFC 9112 6.3: a request like that is refused (400); a response ends when the origin closes.
    for (const QByteArray te : {"gzip", "chunked, gzip"}) {
        Parsed out;
        HttpParser p(HttpParser::Kind::Response);
        p.setBodyHandler(&out);
        const QByteArray in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: " + te + "\r\n\r\n0\r\n\r\nmore";
        EXPECT_EQ(feedHeadAndRest(p, in), HttpParser::Stop::NeedMore) << te.toStdString();
        EXPECT_FALSE(p.head().chunked);
        EXPECT_FALSE(p.head().keepAlive);
        EXPECT_EQ(p.feedEof(), HttpParser::Stop::Complete);
        EXPECT_EQ(out.body, "0\r\n\r\nmore");
    }
}

TEST(HttpParser, KeepAliveFollowsVersionAndConnection)
{
    EXPECT_TRUE(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n").head.keepAlive);
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, Close\r\n\r\n").head.keepAlive);
    EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head.keepAlive);
    EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keepAlive);
    const Parsed ws = parse("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
    EXPECT_TRUE(ws.head.upgrade);
    EXPECT_EQ(ws.completes, 1);
    EXPECT_FALSE(parse("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n").head.upgrade);
    EXPECT_TRUE(parseResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
                    .head.upgrade);
}

TEST(HttpParser, EveryValidMessageParsesTheSameInAnyPieces)
{
    const QByteArray in = "\r\nPOST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "a;n=\"v\"\r\n0123456789\r\n1\r\nX\r\n0\r\nT: 1\r\n\r\n"
                          "QUERY http://x?q HTTP/1.1\r\nHost: x\r\nContent-Length:\t4\t\r\n\r\nbody";
    const Parsed whole = parse(in);
    ASSERT_FALSE(whole.error.isError()) << whole.error.reason.constData();
    EXPECT_EQ(whole.completes, 2);
    EXPECT_EQ(whole.body, "0123456789Xbody");
    for (qsizetype step = 1; step < 40; ++step) {
        const Parsed p = parse(in, HttpParser::Kind::Request, {}, step);
        EXPECT_FALSE(p.error.isError()) << step;
        EXPECT_EQ(p.completes, 2) << step;
        EXPECT_EQ(p.body, whole.body) << step;
        EXPECT_EQ(p.head.method, "QUERY") << step;
    }
}

} // namespace

// A message shares the previous message's field arrays where the bytes are the same (no copy per keep-alive
// request): each message must still read exactly its own bytes (case included), earlier heads a caller copied
// must keep theirs, and nothing may point into the caller's input buffer, which is reused.
TEST(HttpParser, EachMessageOnAConnectionReadsItsOwnFields)
{
    QList<QByteArray> messages = {
        "GET /a HTTP/1.1\r\nHost: x.test\r\nUser-Agent: one\r\nX-Same: v\r\n\r\n",
        "GET /a HTTP/1.1\r\nhost: x.test\r\nUser-Agent: one\r\nX-Same: w\r\nX-New: n\r\n\r\n",
        "GET /b HTTP/1.1\r\nHost: x.test\r\n\r\n",
        "GET /b HTTP/1.1\r\nHost: X.test\r\nUser-Agent: one\r\nX-Same: v\r\nX-New: n\r\n\r\n",
        "GET /b HTTP/1.1\r\nHost: X.test\r\nUser-Agent: one\r\nX-Same: v\r\nX-New: n\r\n\r\n",
    };
    QList<HeaderList> expected = {
        {{"Host", "x.test"}, {"User-Agent", "one"}, {"X-Same", "v"}},
        {{"host", "x.test"}, {"User-Agent", "one"}, {"X-Same", "w"}, {"X-New", "n"}},
        {{"Host", "x.test"}},
        {{"Host", "X.test"}, {"User-Agent", "one"}, {"X-Same", "v"}, {"X-New", "n"}},
        {{"Host", "X.test"}, {"User-Agent", "one"}, {"X-Same", "v"}, {"X-New", "n"}},
    };
    QList<QByteArray> targets = {"/a", "/a", "/b", "/b", "/b"};
    // A head with many fields (whose list is then freed rather than kept), and the usual one after it.
    QByteArray many = "GET /m HTTP/1.1\r\nHost: X.test\r\n";
    HeaderList manyHeaders = {{"Host", "X.test"}};
    for (int i = 0; i < 100; ++i) {
        many += "X-" + QByteArray::number(i) + ": v\r\n";
        manyHeaders.append({"X-" + QByteArray::number(i), "v"});
    }
    messages.append(many + "\r\n");
    expected.append(manyHeaders);
    targets.append("/m");
    messages.append(messages[3]);
    expected.append(expected[3]);
    targets.append("/b");
    HttpParser p(HttpParser::Kind::Request);
    QList<MessageHead> copies;
    QByteArray buffer; // one input buffer, overwritten by each message as a socket's would be
    for (qsizetype i = 0; i < messages.size(); ++i) {
        buffer.fill('#', messages[i].size() + 16);
        std::memcpy(buffer.data(), messages[i].constData(), size_t(messages[i].size()));
        HttpParser::Stop stop;
        const qsizetype used = p.feed(buffer.constData(), messages[i].size(), &stop);
        ASSERT_EQ(stop, HttpParser::Stop::Head) << i;
        p.feed(buffer.constData() + used, messages[i].size() - used, &stop);
        ASSERT_EQ(stop, HttpParser::Stop::Complete) << i;
        EXPECT_EQ(p.head().headers, expected[i]) << i;
        EXPECT_EQ(p.head().target, targets[i]) << i;
        copies.append(p.head());
        buffer.fill('%');
    }
    for (qsizetype i = 0; i < copies.size(); ++i) {
        EXPECT_EQ(copies[i].headers, expected[i]) << i;
        EXPECT_EQ(copies[i].target, targets[i]) << i;
    }
}
