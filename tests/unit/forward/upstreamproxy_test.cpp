// SPDX-License-Identifier: Apache-2.0
// Which upstream proxy a request takes: the proxy URL's rules, the bypass list's spellings, the QNAM refusal.
#include "forward/upstreamproxy.h"

#include "../routing/routingtestutil.h"

#include <gtest/gtest.h>

using namespace dfproxy;
using forward::matchesBypass;

TEST(UpstreamProxy, ParsesProxyUrls)
{
    QString error;
    auto p = forward::parseProxyUrl(QStringLiteral("http://Proxy.Corp:3128"), &error);
    ASSERT_TRUE(p) << error.toStdString();
    EXPECT_EQ(p->host, QStringLiteral("proxy.corp"));
    EXPECT_EQ(p->port, 3128);
    EXPECT_FALSE(p->tls);
    EXPECT_EQ(p->address, QStringLiteral("proxy.corp:3128"));
    p = forward::parseProxyUrl(QStringLiteral("https://[::1]/"), &error);
    ASSERT_TRUE(p) << error.toStdString();
    EXPECT_TRUE(p->tls);
    EXPECT_EQ(p->port, 443);
    EXPECT_EQ(p->address, QStringLiteral("[::1]:443"));
    EXPECT_EQ(forward::parseProxyUrl(QStringLiteral("http://proxy"), &error)->port, 3128);

    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("http://u:p@proxy:3128"), &error));
    EXPECT_TRUE(error.contains(QLatin1String("tunnel-credentials-file")));
    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("socks5://proxy:1080"), &error));
    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("http://proxy:3128/path"), &error));
    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("proxy:3128"), &error));
}

TEST(UpstreamProxy, BypassSpellings)
{
    const QStringList list = {QStringLiteral("<local>"), QStringLiteral("*.corp.example"),
                              QStringLiteral(".intra.example"), QStringLiteral("Exact.Example."),
                              QStringLiteral("10.0.0.0/8"), QStringLiteral("fd00::/8"), QStringLiteral("192.0.2.7")};
    QString hit;
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("printer"), &hit));
    EXPECT_EQ(hit, QStringLiteral("<local>"));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("a.b.corp.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("A.CORP.EXAMPLE.")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("corp.example")));      // "*." is the subdomains
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("evilcorp.example")));  // not a suffix match on the label
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("x.intra.example")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("xintra.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("exact.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("exact.example.")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("sub.exact.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("10.1.2.3"), &hit));
    EXPECT_EQ(hit, QStringLiteral("10.0.0.0/8"));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("::ffff:10.1.2.3"))); // the IPv4-mapped spelling
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("fd12::1")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("192.0.2.7")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("11.0.0.1")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("127.0.0.1")));       // an IP literal is not a "<local>" name
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("www.example.org")));
    EXPECT_TRUE(matchesBypass({QStringLiteral("*")}, QStringLiteral("anything.test")));
    EXPECT_FALSE(matchesBypass({}, QStringLiteral("printer")));
}

TEST(UpstreamProxy, SelectionSaysWhy)
{
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("ns/corp");
    t.url = QStringLiteral("http://127.0.0.1:3128");
    t.bypass = {QStringLiteral(".local.test")};
    auto s = forward::selectUpstreamProxy(t, QStringLiteral("www.example.org"));
    ASSERT_TRUE(s.proxy);
    EXPECT_EQ(s.proxy->address, QStringLiteral("127.0.0.1:3128"));
    EXPECT_EQ(s.why, QStringLiteral("tunnel"));
    s = forward::selectUpstreamProxy(t, QStringLiteral("a.local.test"));
    EXPECT_FALSE(s.proxy);
    EXPECT_EQ(s.why, QStringLiteral("bypass .local.test"));
    s = forward::selectUpstreamProxy(t, QStringLiteral("www.example.org"), routing::Backend::Engine::Qnam);
    EXPECT_FALSE(s.proxy);
    EXPECT_TRUE(s.error.contains(QLatin1String("qnam")));
    EXPECT_FALSE(forward::tunnelProblem(t, routing::Backend::Engine::Qnam).isEmpty());
    EXPECT_TRUE(forward::tunnelProblem(t, routing::Backend::Engine::Native).isEmpty());
    t.url = QStringLiteral("ftp://x");
    EXPECT_FALSE(forward::selectUpstreamProxy(t, QStringLiteral("www.example.org")).error.isEmpty());
    EXPECT_FALSE(forward::tunnelProblem(t, routing::Backend::Engine::Native).isEmpty());
}

// The apply-time check: a Gateway's tunnel that reaches a qnam backend through one of its routes is an error at the
// policy's spec.backend.tunnel (the backend's own policy is refused by config validation already); native backends
// are fine, and a policy the qnam backend's own (tunnel-less) route does not reach is not blamed.
TEST(UpstreamProxy, TunnelErrorsNameThePolicyOfAGatewayTunnelReachingAQnamBackend)
{
    using namespace routing::testutil;
    const config::Resource policy(QJsonObject{
        {"apiVersion", "agentgateway.dev/v1alpha1"},
        {"kind", "AgentgatewayPolicy"},
        {"metadata", QJsonObject{{"name", "corp"}, {"namespace", "gw"}}},
        {"spec", parse(R"({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}],
                          "backend": {"tunnel": {"url": "http://proxy.corp:3128"}}})")}});
    auto config = configOf({defaultGateway(), backend("gw", "native"), backend("gw", "q", R"({"engine": "qnam",
                            "dynamicForwardProxy": {}})"),
                            route("gw", "r", routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/a"}}])",
                                                            "native"))),
                            policy});
    EXPECT_TRUE(forward::tunnelErrors(config).isEmpty());
    config.resources.append(
        route("gw", "to-q", routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/q"}}])", "q"))));
    const auto errors = forward::tunnelErrors(config);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, QStringLiteral("resources[4].spec.backend.tunnel"));
    EXPECT_TRUE(errors[0].message.contains(QLatin1String("gw/q uses engine: qnam"))) << errors[0].message.toStdString();
}
