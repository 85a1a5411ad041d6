// SPDX-License-Identifier: Apache-2.0
#include "http/httpheaders.h"

#include <gtest/gtest.h>

using namespace dfproxy::http;

namespace {

HeaderList list(std::initializer_list<std::pair<const char *, const char *>> items)
{
    HeaderList l;
    for (const auto &[n, v] : items)
        l.append({QByteArray(n), QByteArray(v)});
    return l;
}

TEST(HttpHeaders, StripHopByHopRemovesConnectionNamedAndFramingHeaders)
{
    HeaderList h = list({{"Host", "x"},
                         {"Connection", "keep-alive, X-Foo"},
                         {"X-Foo", "1"},
                         {"Keep-Alive", "5"},
                         {"Proxy-Connection", "keep-alive"},
                         {"TE", "trailers"},
                         {"Trailer", "X"},
                         {"Upgrade", "h2c"},
                         {"Proxy-Authorization", "x"},
                         {"Transfer-Encoding", "chunked"},
                         {"Content-Length", "3"},
                         {"X-Bar", "2"}});
    stripHopByHop(h);
    EXPECT_EQ(h, list({{"Host", "x"}, {"X-Bar", "2"}}));
}

TEST(HttpHeaders, StripHopByHopKeepsUpgradeForWebsocket)
{
    HeaderList h = list({{"Connection", "Upgrade"}, {"Upgrade", "websocket"}, {"Sec-WebSocket-Key", "k"}});
    stripHopByHop(h, true);
    EXPECT_EQ(h, list({{"Upgrade", "websocket"}, {"Sec-WebSocket-Key", "k"}}));
}

TEST(HttpHeaders, SplitHostPort)
{
    QByteArray host;
    int port;
    ASSERT_TRUE(splitHostPort("HttpBin.Test:8080", &host, &port));
    EXPECT_EQ(host, "httpbin.test");
    EXPECT_EQ(port, 8080);
    ASSERT_TRUE(splitHostPort("[::1]:99", &host, &port));
    EXPECT_EQ(host, "::1");
    EXPECT_EQ(port, 99);
    ASSERT_TRUE(splitHostPort("a.test", &host, &port));
    EXPECT_EQ(port, -1);
    EXPECT_FALSE(splitHostPort("a.test:0", &host, &port));
    EXPECT_FALSE(splitHostPort("a.test:70000", &host, &port));
    EXPECT_FALSE(splitHostPort("a.test:", &host, &port));
    EXPECT_FALSE(splitHostPort("", &host, &port));
    EXPECT_FALSE(splitHostPort("a b", &host, &port));
    EXPECT_FALSE(splitHostPort("::1", &host, &port));
}

TEST(HttpHeaders, TokenLists)
{
    EXPECT_TRUE(tokenListContains("keep-alive, Upgrade", "upgrade"));
    EXPECT_FALSE(tokenListContains("keep-alive, Upgraded", "upgrade"));
}

TEST(HttpHeaders, ChunkFraming)
{
    QByteArray out;
    appendChunk(out, "hello world!!!!!!", 17);
    appendLastChunk(out);
    EXPECT_EQ(out, "11\r\nhello world!!!!!!\r\n0\r\n\r\n");
}

} // namespace

TEST(HttpHeaders, HeaderValueValidityAtEveryOffsetOfALongValue)
{
    // The check reads eight bytes at a time: a bad byte in any lane, before or after a tab, is still found.
    EXPECT_TRUE(isValidHeaderValue(""));
    EXPECT_TRUE(isValidHeaderValue("text/html; charset=utf-8, gzip;q=0.5 \x80\xff obs-text"));
    for (int at = 0; at < 40; ++at) {
        SCOPED_TRACE(at);
        QByteArray v(40, 'v');
        v[at] = '\t';
        EXPECT_TRUE(isValidHeaderValue(v));
        for (const char bad : {'\0', '\x01', '\r', '\n', '\x1f', '\x7f'}) {
            QByteArray b(40, 'v');
            b[at] = bad;
            EXPECT_FALSE(isValidHeaderValue(b)) << int(bad);
            b[qMax(0, at - 3)] = '\t'; // a tab earlier in the value sends the rest to the byte loop
            if (qMax(0, at - 3) != at) {
                EXPECT_FALSE(isValidHeaderValue(b)) << int(bad);
            }
        }
    }
}

TEST(HttpHeaders, IdempotentMethodsAreExactlyTheRfcOnes)
{
    for (const char *m : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
        EXPECT_TRUE(isIdempotent(m)) << m;
    // Methods are case-sensitive (RFC 9110 9.1); same lengths as the idempotent ones, but other bytes.
    for (const char *m : {"POST", "PATCH", "CONNECT", "get", "Head", "GETX", "GE", "", "PUX", "TRACK", "DELETED",
                          "OPTION", "OPTIONZ"})
        EXPECT_FALSE(isIdempotent(m)) << m;
}
