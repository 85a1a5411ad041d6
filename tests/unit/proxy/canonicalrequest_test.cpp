// SPDX-License-Identifier: Apache-2.0
// The canonical request stage: one spelling of the target for every later stage, the log and the forwarded request.
#include "proxy/canonicalrequest.h"

#include <gtest/gtest.h>

using namespace dfproxy;
using proxy::CanonicalRequest;

namespace {

http::MessageHead head(const QByteArray &method, const QByteArray &target, const QByteArray &host = {})
{
    http::MessageHead h;
    h.method = method;
    h.target = target;
    if (!host.isNull())
        h.headers.append({"Host", host});
    return h;
}

CanonicalRequest canonical(const http::MessageHead &h, QByteArray *reason = nullptr)
{
    CanonicalRequest c;
    const auto refused = proxy::canonicalizeRequest(h, false, {}, &c);
    if (reason)
        *reason = refused ? refused->reason : QByteArray();
    return c;
}

} // namespace

TEST(CanonicalRequest, OriginFormInCanonicalSpellingIsSharedNotCopied)
{
    const auto h = head("GET", "/a/b", "svc0.bench.test:18080");
    const CanonicalRequest c = canonical(h);
    EXPECT_EQ(c.authority, "svc0.bench.test:18080");
    EXPECT_EQ(c.authority.constData(), h.headers[0].second.constData());
    EXPECT_EQ(c.path.constData(), h.target.constData());
    EXPECT_EQ(c.logTarget().constData(), h.target.constData());
}

TEST(CanonicalRequest, AuthorityIsRewrittenWhenItsSpellingDiffers)
{
    EXPECT_EQ(canonical(head("GET", "/", "Svc.Test.:0080")).authority, "svc.test:80");
    EXPECT_EQ(canonical(head("GET", "/", "[::FFFF:7F00:1]:80")).authority, "[::ffff:127.0.0.1]:80");
    EXPECT_EQ(canonical(head("GET", "/", "127.1")).authority, "127.0.0.1");
    EXPECT_EQ(canonical(head("CONNECT", "Blocked.Test.:443")).authority, "blocked.test:443");
}

TEST(CanonicalRequest, AbsoluteFormIsLoggedInItsCanonicalForm)
{
    const auto plain = head("GET", "http://svc.test:8080/x?q=1");
    EXPECT_EQ(canonical(plain).logTarget().constData(), plain.target.constData()); // already canonical: shared
    EXPECT_EQ(canonical(head("GET", "HTTP://Svc.Test./a/../b?%61")).logTarget(), "http://svc.test/b?a");
    const CanonicalRequest empty = canonical(head("GET", "https://svc.test:8443?q"));
    EXPECT_EQ(empty.originTarget(), "/?q");
    EXPECT_TRUE(empty.httpsScheme);
}

TEST(CanonicalRequest, UnusableTargetsAreRefusedWithAReason)
{
    QByteArray reason;
    canonical(head("GET", "/x"), &reason);
    EXPECT_EQ(reason, "missing_host");
    canonical(head("GET", "http://user@svc.test/"), &reason);
    EXPECT_EQ(reason, "invalid_uri");
    canonical(head("GET", "/x", "a..b"), &reason);
    EXPECT_EQ(reason, "invalid_host");
    canonical(head("CONNECT", "svc.test"), &reason);
    EXPECT_EQ(reason, "invalid_host");
    canonical(head("GET", "/x#frag", "svc.test"), &reason);
    EXPECT_EQ(reason, "invalid_path");
}
