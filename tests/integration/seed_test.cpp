// SPDX-License-Identifier: Apache-2.0
// The seed guide (agentgateway's "Dynamic Forward Proxy"), step by step, with real parts: dnsmasq answering
// httpbin.test on a 127.x address, a real HTTP origin on loopback, the real dfproxy, dfproxyctl with the seed's
// own manifests, and curl.
#include "support/testsupport.h"

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

// The seed's two manifests, verbatim.
const QByteArray kBackendYaml = dfproxy::test::seedBackendYaml();

const QByteArray kRouteYaml = dfproxy::test::seedRouteYaml();

class SeedScenario : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        Dnsmasq::Options dnsOpts;
        dnsOpts.localTtl = 300;
        dns = std::make_unique<Dnsmasq>(dnsOpts);
        ASSERT_TRUE(dns->start()) << dns->describe();
        ASSERT_TRUE(dns->setHost("httpbin.test", {QHostAddress("127.0.0.1")}));

        OriginProcess::Options o;
        o.title = "httpbin.test";
        origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(origin->start()) << origin->describe();

        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe();
    }

    CurlResult curlThroughProxy(const QString &host)
    {
        return curl({"-H", "host: " + host, proxy->proxyUrl("/")});
    }

    QString hostHeader() const { return QStringLiteral("httpbin.test:%1").arg(origin->port()); }

    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

TEST_F(SeedScenario, ApplyCurlDeleteWithDfproxyctl)
{
    // Before the route exists, the gateway has nothing to route to.
    EXPECT_EQ(curlThroughProxy(hostHeader()).status, 404);

    // 1. The DFP backend, as in the seed: `kubectl apply -f- <<EOF ...`
    auto r = proxy->ctl({"apply", "-f", "-"}, kBackendYaml);
    ASSERT_EQ(r.exitCode, 0) << r.out.toStdString() << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("agentgatewaybackend.agentgateway.dev/dfp-backend created")) << r.out.toStdString();

    // 2. The HTTPRoute to it, from a file this time.
    ASSERT_TRUE(proxy->dir().writeFile("route.yaml", kRouteYaml));
    r = proxy->ctl({"apply", "-f", proxy->dir().filePath("route.yaml")});
    ASSERT_EQ(r.exitCode, 0) << r.out.toStdString() << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("httproute.gateway.networking.k8s.io/dfp-httproute created")) << r.out.toStdString();

    // 3. curl -vik http://localhost:8080 -H "host: httpbin.org" -> the origin's welcome page.
    const auto page = curlThroughProxy(hostHeader());
    EXPECT_EQ(page.status, 200) << page.describe().toStdString();
    EXPECT_TRUE(page.body.contains("<title>httpbin.test</title>")) << page.body.constData();

    // The objects are listed.
    r = proxy->ctl({"get", "httproutes", "-n", "httpbin"});
    EXPECT_EQ(r.exitCode, 0);
    EXPECT_TRUE(r.out.contains("dfp-httproute")) << r.out.toStdString();
    r = proxy->ctl({"get", "backends", "-A"});
    EXPECT_EQ(r.exitCode, 0);
    EXPECT_TRUE(r.out.contains("dfp-backend")) << r.out.toStdString();

    // Cleanup, with the seed's own commands.
    r = proxy->ctl({"delete", "AgentgatewayBackend", "dfp-backend", "-n", "httpbin"});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("agentgatewaybackend.agentgateway.dev/dfp-backend deleted")) << r.out.toStdString();
    r = proxy->ctl({"delete", "httproute", "dfp-httproute", "-n", "httpbin"});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("httproute.gateway.networking.k8s.io/dfp-httproute deleted")) << r.out.toStdString();

    const auto after = curlThroughProxy(hostHeader());
    EXPECT_EQ(after.status, 404);
    EXPECT_EQ(after.header("x-dfproxy-error"), "route_not_found");
}

TEST_F(SeedScenario, ResolvesOnceWithinTheTtl)
{
    auto r = proxy->ctl({"apply", "-f", "-"}, kBackendYaml + "---\n" + kRouteYaml);
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    constexpr int kRequests = 20;
    for (int i = 0; i < kRequests; ++i)
        ASSERT_EQ(curlThroughProxy(hostHeader()).status, 200);
    // dnsmasq's query log: one A query for all of them (the answer's TTL is 300 s).
    EXPECT_TRUE(dns->waitForQueryCount("httpbin.test", 1, 2000)) << dns->log().toStdString();
    spinFor(200);
    EXPECT_EQ(dns->queryCount("httpbin.test", "A"), 1) << dns->log().toStdString();
}

TEST_F(SeedScenario, DnsFailureIsA503ThatSaysSo)
{
    auto r = proxy->ctl({"apply", "-f", "-"}, kBackendYaml + "---\n" + kRouteYaml);
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    const auto res = curlThroughProxy(QStringLiteral("no-such-host.test:%1").arg(origin->port()));
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(res.header("x-dfproxy-error"), "dns_nxdomain");
    EXPECT_TRUE(res.body.contains("DNS resolution failed")) << res.body.constData();
}

TEST_F(SeedScenario, TheSameStepsThroughTheRestApi)
{
    auto res = proxy->api("POST", "/api/v1/apply", kBackendYaml + "---\n" + kRouteYaml, "application/yaml");
    ASSERT_EQ(res.status, 200) << res.describe().toStdString();
    EXPECT_EQ(curlThroughProxy(hostHeader()).status, 200);

    res = proxy->apiGet("/api/v1/namespaces/httpbin/httproutes/dfp-httproute");
    EXPECT_EQ(res.status, 200);
    EXPECT_TRUE(res.body.contains("\"Accepted\"")) << res.body.constData();

    res = proxy->api("DELETE", "/api/v1/namespaces/httpbin/backends/dfp-backend");
    EXPECT_EQ(res.status, 200) << res.describe().toStdString();
    res = proxy->api("DELETE", "/api/v1/namespaces/httpbin/httproutes/dfp-httproute");
    EXPECT_EQ(res.status, 200) << res.describe().toStdString();
    EXPECT_EQ(curlThroughProxy(hostHeader()).status, 404);
}

TEST_F(SeedScenario, CtlReportsClearErrors)
{
    auto r = proxy->ctl({"apply", "-f", "-"}, "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec: {}\n");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(r.err.contains("Service")) << r.err.toStdString();

    r = proxy->ctl({"apply", "-f", "-"}, "kind: [unclosed\n");
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(r.err.contains("line")) << r.err.toStdString();

    proxy->process()->stop();
    r = proxy->ctl({"get", "backends"});
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(r.err.contains("is dfproxy running")) << r.err.toStdString();
}

} // namespace
