// SPDX-License-Identifier: Apache-2.0
// appendLocalReply: the one place a response of dfproxy's own becomes HTTP/1 bytes.

#include "proxy/localreply.h"

#include <gtest/gtest.h>

using namespace dfproxy::proxy;

TEST(LocalReply, ErrorWithReasonExtraHeadersAndClose)
{
    const LocalReply reply{429, "ratelimited", "slow down\n", {}, {{"Retry-After", "3"}, {"Bad Name", "x"}}};
    QByteArray out;
    appendLocalReply(out, reply, 1, false, true);
    EXPECT_EQ(out, QByteArray("HTTP/1.1 429 Too Many Requests\r\n"
                              "x-dfproxy-error: ratelimited\r\n"
                              "Retry-After: 3\r\n" // the invalid header name is left out
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 10\r\n"
                              "Connection: close\r\n\r\n"
                              "slow down\n"));
}

TEST(LocalReply, RedirectToAnHttp10KeepAliveClientOfAHeadRequest)
{
    const LocalReply reply{301, {}, "moved\n", "https://site.test/", {}};
    QByteArray out;
    appendLocalReply(out, reply, 0, true, false);
    EXPECT_EQ(out, QByteArray("HTTP/1.0 301 Moved Permanently\r\n"
                              "Location: https://site.test/\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Length: 6\r\n" // HEAD: the length of the body it would have had
                              "Connection: keep-alive\r\n\r\n"));
}

TEST(LocalReply, ExtraHeadersMaySetTheContentTypeAnd304HasNoLength)
{
    QByteArray out;
    appendLocalReply(out, {200, {}, "x", {}, {{"content-type", "application/x-ns-proxy-autoconfig"}}}, 1, true, true);
    EXPECT_EQ(out, QByteArray("HTTP/1.1 200 OK\r\ncontent-type: application/x-ns-proxy-autoconfig\r\n"
                              "Content-Length: 1\r\n\r\nx"));
    out.clear();
    appendLocalReply(out, {304, {}, {}, {}, {{"ETag", "\"1\""}}}, 1, true, false);
    EXPECT_EQ(out, QByteArray("HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n\r\n"));
}
