// SPDX-License-Identifier: Apache-2.0
// The canonical spelling of hosts and paths: every spelling of one resource becomes one string.
#include "http/canonical.h"

#include <gtest/gtest.h>

using namespace dfproxy::http;

namespace {

QByteArray path(const QByteArray &in, PathOptions options = {})
{
    QByteArray out;
    CanonicalError error;
    if (!canonicalPath(in, options, &out, &error))
        return "error:" + error.reason;
    return out;
}

QByteArray host(const QByteArray &in)
{
    QByteArray out;
    return canonicalHost(in, &out) ? out : QByteArray("error");
}

} // namespace

TEST(CanonicalPath, DotSegmentsAreRemoved)
{
    EXPECT_EQ(path("/x/../admin/s"), "/admin/s");
    EXPECT_EQ(path("/./admin/s"), "/admin/s");
    EXPECT_EQ(path("/a/b/../../admin"), "/admin");
    EXPECT_EQ(path("/../../admin"), "/admin"); // never above the root
    EXPECT_EQ(path("/a/b/.."), "/a/");
    EXPECT_EQ(path("/a/."), "/a/");
    EXPECT_EQ(path("/.."), "/");
    EXPECT_EQ(path("/a/..b/.c"), "/a/..b/.c"); // not dot segments
    EXPECT_EQ(path("/.well-known/x"), "/.well-known/x");
}

TEST(CanonicalPath, EscapedUnreservedCharactersAreDecoded)
{
    EXPECT_EQ(path("/%61dmin/s"), "/admin/s");
    EXPECT_EQ(path("/x/%2e%2e/admin/s"), "/admin/s");
    EXPECT_EQ(path("/x/%2E%2E/admin/s"), "/admin/s");
    EXPECT_EQ(path("/%7Euser"), "/~user");
    EXPECT_EQ(path("/a%20b"), "/a%20b");   // reserved or unsafe: stays escaped
    EXPECT_EQ(path("/a%3fb%c3%a9"), "/a%3Fb%C3%A9"); // hex digits upper-cased
}

TEST(CanonicalPath, DuplicateSlashesAreMergedByDefault)
{
    EXPECT_EQ(path("//admin/s"), "/admin/s");
    EXPECT_EQ(path("/a///b//"), "/a/b/");
    PathOptions keep;
    keep.mergeSlashes = false;
    EXPECT_EQ(path("//admin/s", keep), "//admin/s");
    EXPECT_EQ(path("/a//../b", keep), "/a/b");
}

TEST(CanonicalPath, EscapedSlashesAreRefusedKeptOrUnescaped)
{
    EXPECT_EQ(path("/a%2Fb"), "error:escaped_slash_in_path");
    EXPECT_EQ(path("/a%5cb"), "error:escaped_slash_in_path");
    EXPECT_EQ(path("/a\\..\\admin"), "error:escaped_slash_in_path");
    PathOptions keep;
    keep.escapedSlashes = PathOptions::EscapedSlashes::Keep;
    EXPECT_EQ(path("/a%2fb/../c", keep), "/c");
    EXPECT_EQ(path("/a%2fb", keep), "/a%2Fb");
    PathOptions unescape;
    unescape.escapedSlashes = PathOptions::EscapedSlashes::Unescape;
    EXPECT_EQ(path("/x%2F..%2Fadmin", unescape), "/admin");
    EXPECT_EQ(path("/x\\..\\admin", unescape), "/admin");
}

TEST(CanonicalPath, MalformedPathsAreRefused)
{
    EXPECT_EQ(path("/a%zz"), "error:invalid_path_encoding");
    EXPECT_EQ(path("/a%4"), "error:invalid_path_encoding");
    EXPECT_EQ(path("/a b"), "error:invalid_path");
    EXPECT_EQ(path("/a\x01"), "error:invalid_path");
    EXPECT_EQ(path("/a\xc3\xa9"), "error:invalid_path");
    EXPECT_EQ(path("relative"), "error:invalid_path");
}

TEST(CanonicalPath, AnUnchangedPathSharesItsStorage)
{
    const QByteArray in = "/plain/path";
    QByteArray out;
    ASSERT_TRUE(canonicalPath(in, {}, &out, nullptr));
    EXPECT_EQ(out.constData(), in.constData());
}

TEST(CanonicalHost, CaseAndTrailingDot)
{
    EXPECT_EQ(host("Blocked.Test."), "blocked.test");
    EXPECT_EQ(host("blocked.test."), "blocked.test");
    EXPECT_EQ(host("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
    EXPECT_EQ(host("blocked.test.."), "error");
    EXPECT_EQ(host(".blocked.test"), "error");
    EXPECT_EQ(host("a..b"), "error");
    EXPECT_EQ(host("a%2eb"), "error");
    EXPECT_EQ(host(QByteArray(64, 'a') + ".test"), "error");
}

TEST(CanonicalHost, IpLiteralsInAnySpellingBecomeOne)
{
    EXPECT_EQ(host("127.1"), "127.0.0.1");
    EXPECT_EQ(host("0x7f.0.0.1"), "127.0.0.1");
    EXPECT_EQ(host("2130706433"), "127.0.0.1");
    EXPECT_EQ(host("0177.0.0.1"), "127.0.0.1");
    EXPECT_EQ(host("169.254.169.254."), "169.254.169.254");
    EXPECT_EQ(host("::FFFF:7F00:1"), "::ffff:127.0.0.1");
    EXPECT_EQ(host("0:0:0:0:0:0:0:1"), "::1");
    EXPECT_EQ(host("fe80::1%eth0"), "error");
    EXPECT_EQ(host("cafe.be"), "cafe.be"); // hex letters, but a name
}

TEST(CanonicalConfigured, HostsAndPathsAreWrittenAsRequestsAre)
{
    EXPECT_EQ(canonicalConfiguredHost("Blocked.Test."), "blocked.test");
    EXPECT_EQ(canonicalConfiguredHost("*.Example.COM"), "*.example.com");
    EXPECT_EQ(canonicalConfiguredHost(QString::fromUtf8("b\xc3\xbc" "cher.example")), "xn--bcher-kva.example");
    EXPECT_EQ(canonicalConfiguredHost("*"), "*");
    EXPECT_EQ(canonicalConfiguredPath("/%61dmin"), "/admin");
    EXPECT_EQ(canonicalConfiguredPath("/a/../b//c"), "/b/c");
    EXPECT_EQ(canonicalConfiguredPath(QString::fromUtf8("/caf\xc3\xa9")), "/caf%C3%A9");
    EXPECT_EQ(canonicalConfiguredPath("/a%2fb"), "/a%2Fb");
}

TEST(CanonicalQuery, EscapesAreNormalisedAndNothingElse)
{
    const auto query = [](const QByteArray &in) {
        QByteArray out;
        CanonicalError error;
        return canonicalQuery(in, &out, &error) ? out : "error:" + error.reason;
    };
    EXPECT_EQ(query("a=1&b=/../c"), "a=1&b=/../c");
    EXPECT_EQ(query("q=%2e%41%2f%c3%a9"), "q=.A%2F%C3%A9");
    EXPECT_EQ(query("q={x|y}"), "q=%7Bx%7Cy%7D");
    EXPECT_EQ(query("q=100%"), "error:invalid_query_encoding");
    EXPECT_EQ(query("q=a b"), "error:invalid_query");
}

TEST(CanonicalPath, CharactersRfc3986DoesNotAllowAreEscaped)
{
    EXPECT_EQ(path("/a{b}|c^d`e\"f<g>[h]"), "/a%7Bb%7D%7Cc%5Ed%60e%22f%3Cg%3E%5Bh%5D");
}
