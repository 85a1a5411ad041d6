// SPDX-License-Identifier: Apache-2.0
#include "http/httpparser.h"

#include <gtest/gtest.h>

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

} // namespace
