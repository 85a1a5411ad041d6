// SPDX-License-Identifier: Apache-2.0
#include "http/responserules.h"

#include <gtest/gtest.h>

using namespace dfproxy::http;

namespace {

HeaderList list(std::initializer_list<std::pair<QByteArray, QByteArray>> items)
{
    HeaderList l;
    for (const auto &[n, v] : items)
        l.append({n, v});
    return l;
}

QByteArray reasonOf(std::initializer_list<std::pair<QByteArray, QByteArray>> items)
{
    return checkResponseHeaders(list(items)).reason;
}

} // namespace

TEST(ResponseRules, AcceptsOneLengthIdenticalRepeatsAndOptionalWhitespace)
{
    const ResponseCheck one = checkResponseHeaders(list({{"Content-Length", "5"}, {"X-A", "\x80\xff"}}));
    EXPECT_TRUE(one.ok()) << one.reason.constData();
    EXPECT_EQ(one.contentLength, 5);
    EXPECT_FALSE(one.chunked);
    EXPECT_EQ(checkResponseHeaders(list({{"Content-Length", "5, 5"}})).contentLength, 5);
    EXPECT_EQ(checkResponseHeaders(list({{"content-length", "5"}, {"CONTENT-LENGTH", "5"}})).contentLength, 5);
    EXPECT_EQ(checkResponseHeaders(list({{"Content-Length", "\t 5 \t"}})).contentLength, 5);
    EXPECT_EQ(checkResponseHeaders(list({{"Content-Length", "9223372036854775807"}})).contentLength,
              9223372036854775807LL);
    EXPECT_EQ(checkResponseHeaders(list({{"X-A", "a\tb"}})).contentLength, -1);
    const ResponseCheck te = checkResponseHeaders(list({{"Transfer-Encoding", "chunked"}}));
    EXPECT_TRUE(te.ok());
    EXPECT_TRUE(te.chunked);
    EXPECT_EQ(te.contentLength, -1);
}

TEST(ResponseRules, RejectsConflictingAndInvalidLengths)
{
    EXPECT_EQ(reasonOf({{"Content-Length", "5"}, {"Content-Length", "10"}}), "duplicate_content_length");
    EXPECT_EQ(reasonOf({{"Content-Length", "5, 10"}}), "duplicate_content_length");
    for (const char *bad : {"+5", "-5", "5x", "0x5", "5 5", "", " ", "5,", "5, ", ",5", "9223372036854775808",
                            "99999999999999999999999"})
        EXPECT_EQ(reasonOf({{"Content-Length", bad}}), "invalid_content_length") << bad;
    // An invalid member is reported as invalid even after a conflict.
    EXPECT_EQ(reasonOf({{"Content-Length", "5, 10, x"}}), "invalid_content_length");
    EXPECT_EQ(checkResponseHeaders(list({{"Content-Length", "5, 10"}})).contentLength, -1);
}

TEST(ResponseRules, RejectsLengthWithTransferEncoding)
{
    EXPECT_EQ(reasonOf({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}),
              "content_length_with_transfer_encoding");
    EXPECT_EQ(reasonOf({{"transfer-encoding", "gzip, chunked"}, {"content-length", "5"}}),
              "content_length_with_transfer_encoding");
}

TEST(ResponseRules, RejectsControlBytesInValuesAndNonTokenNames)
{
    for (const QByteArray &v : {QByteArray("a\rb"), QByteArray("a\nb"), QByteArray("a\0b", 3), QByteArray("a\x01" "b"),
                                QByteArray("a\x7f" "b"), QByteArray("\x1b[31m")})
        EXPECT_EQ(reasonOf({{"X-A", v}}), "invalid_header_value") << v.toHex().constData();
    for (const QByteArray &n : {QByteArray("Bad Name"), QByteArray("Bad(Name"), QByteArray(""), QByteArray("X-A "),
                                QByteArray("X\x01" "A"), QByteArray("X\x80")})
        EXPECT_EQ(reasonOf({{n, "v"}}), "invalid_header_name") << n.toHex().constData();
}

TEST(ResponseRules, StatusIsThreeDigitsFrom100AndTheReasonPhraseHasNoControlBytes)
{
    EXPECT_EQ(checkResponseStatus(200, "OK"), "");
    EXPECT_EQ(checkResponseStatus(100, ""), "");
    EXPECT_EQ(checkResponseStatus(999, "caf\xc3\xa9\tx"), "");
    for (int bad : {0, 99, 1000, -1})
        EXPECT_EQ(checkResponseStatus(bad, "OK"), "invalid_status") << bad;
    for (const QByteArray &r : {QByteArray("OK\rX-Injected: 1"), QByteArray("O\x01K"), QByteArray("O\0K", 3),
                                QByteArray("OK\n")})
        EXPECT_EQ(checkResponseStatus(200, r), "invalid_reason_phrase") << r.toHex().constData();
}

// RFC 9110 6.5.1: fields that frame, route, authenticate or control the response are never trailers (Go's
// net/http badTrailer list, the If- prefix, Upgrade and pseudo-fields), whatever their case; others are.
TEST(ResponseRules, ForbiddenTrailerFields)
{
    for (const char *n : {"content-length", "Content-Length", "TRANSFER-ENCODING", "host", "authorization",
                          "www-authenticate", "content-type", "content-encoding", "content-range", "trailer", "te",
                          "cache-control", "If-Match", "if-none-match", "upgrade", "proxy-authorization", ":status",
                          "connection", "keep-alive", "max-forwards", "pragma", "range", "expect"})
        EXPECT_TRUE(isForbiddenTrailer(n)) << n;
    for (const char *n : {"grpc-status", "grpc-message", "x-trailer", "server-timing", "digest", "if", "i", ""})
        EXPECT_FALSE(isForbiddenTrailer(n)) << n;
}
