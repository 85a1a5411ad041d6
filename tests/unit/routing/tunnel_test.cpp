// SPDX-License-Identifier: Apache-2.0
// Backend::tunnel, compiled from AgentgatewayPolicy spec.backend.tunnel: which backends get which upstream proxy,
// and the status of the policies.
#include "routing/routetable.h"
#include "routing/status.h"

#include "routingtestutil.h"

#include <QJsonArray>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::routing;
using namespace dfproxy::routing::testutil;

namespace {

config::Resource tunnelPolicy(const QString &name, const QByteArray &targetKind, const QByteArray &targetName,
                              const QByteArray &url, const QString &created, const QJsonObject &annotations = {})
{
    const QByteArray group = targetKind == "AgentgatewayBackend" ? "agentgateway.dev" : "gateway.networking.k8s.io";
    QJsonObject meta{{"name", name}, {"namespace", "gw"}, {"creationTimestamp", created}};
    if (!annotations.isEmpty())
        meta.insert("annotations", annotations);
    return config::Resource(QJsonObject{
        {"apiVersion", "agentgateway.dev/v1alpha1"},
        {"kind", "AgentgatewayPolicy"},
        {"metadata", meta},
        {"spec", parse(R"({"targetRefs": [{"group": ")" + group + R"(", "kind": ")" + targetKind + R"(", "name": ")" +
                       targetName + R"("}], "backend": {"tunnel": {"url": ")" + url + R"("}}})")}});
}

std::shared_ptr<const BackendTunnel> tunnelOf(const RouteTable &table, const QByteArray &path)
{
    const Request r("GET", path);
    const auto m = table.match(r.info, 0.0);
    EXPECT_TRUE(m && m->backend) << path.toStdString();
    return m && m->backend ? m->backend->tunnel : nullptr;
}

} // namespace

TEST(BackendTunnel, APolicyOnTheGatewayAppliesToEveryBackendItsRoutesUse)
{
    const auto config =
        configOf({defaultGateway(), backend("gw", "a"), backend("gw", "b"),
                  route("gw", "r",
                        routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/a"}}])", "a") + "," +
                                  rule(R"([{"path": {"type": "PathPrefix", "value": "/b"}}])", "b"))),
                  tunnelPolicy("corp", "Gateway", "gw", "http://proxy.corp:3128", "2026-01-01T00:00:00Z",
                               QJsonObject{{"dfproxy.dev/tunnel-bypass", "*.corp, 10.0.0.0/8"},
                                           {"dfproxy.dev/tunnel-credentials-file", "/etc/dfproxy/proxy-credentials"},
                                           {"dfproxy.dev/tunnel-pac-url", "https://wpad.corp/proxy.pac"}})});
    const auto table = RouteTable::build(config);
    for (const QByteArray path : {"/a", "/b"}) {
        const auto t = tunnelOf(*table, path);
        ASSERT_TRUE(t) << path.toStdString();
        EXPECT_EQ(t->url, "http://proxy.corp:3128");
        EXPECT_EQ(t->policyKey, "gw/corp");
        EXPECT_EQ(t->bypass, (QStringList{"*.corp", "10.0.0.0/8"}));
        EXPECT_EQ(t->credentialsFile, "/etc/dfproxy/proxy-credentials");
        EXPECT_EQ(t->pacUrl, "https://wpad.corp/proxy.pac");
    }
}

TEST(BackendTunnel, APolicyOnTheBackendWinsOverTheGatewaysAndOthersStayDirect)
{
    const auto config =
        configOf({defaultGateway(), backend("gw", "a"), backend("gw", "b"),
                  route("gw", "r",
                        routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/a"}}])", "a") + "," +
                                  rule(R"([{"path": {"type": "PathPrefix", "value": "/b"}}])", "b"))),
                  tunnelPolicy("on-b", "AgentgatewayBackend", "b", "https://other.corp:8443", "2026-02-01T00:00:00Z")});
    auto table = RouteTable::build(config);
    EXPECT_FALSE(tunnelOf(*table, "/a")) << "no policy: direct";
    ASSERT_TRUE(tunnelOf(*table, "/b"));
    EXPECT_EQ(tunnelOf(*table, "/b")->url, "https://other.corp:8443");

    auto withGateway = config;
    withGateway.resources.append(
        tunnelPolicy("corp", "Gateway", "gw", "http://proxy.corp:3128", "2026-01-01T00:00:00Z"));
    table = RouteTable::build(withGateway);
    EXPECT_EQ(tunnelOf(*table, "/a")->url, "http://proxy.corp:3128");
    EXPECT_EQ(tunnelOf(*table, "/b")->url, "https://other.corp:8443") << "the backend's own policy is more specific";
}

TEST(BackendTunnel, TheOlderOfTwoPoliciesOnOneTargetWinsAndTheOtherIsConflicted)
{
    const auto older = tunnelPolicy("older", "Gateway", "gw", "http://old.corp:3128", "2026-01-01T00:00:00Z");
    const auto newer = tunnelPolicy("newer", "Gateway", "gw", "http://new.corp:3128", "2026-03-01T00:00:00Z");
    const auto config =
        configOf({defaultGateway(), backend("gw", "a"), route("gw", "r", routeSpec(rule("[]", "a"))), newer, older});
    EXPECT_EQ(tunnelOf(*RouteTable::build(config), "/")->url, "http://old.corp:3128");

    const auto statusOf = [&](const config::Resource &p) {
        return policyStatus(config, p)
            .value("ancestors")
            .toArray()[0]
            .toObject()
            .value("conditions")
            .toArray()[0]
            .toObject();
    };
    EXPECT_EQ(statusOf(older).value("reason").toString(), "Accepted");
    EXPECT_EQ(statusOf(newer).value("reason").toString(), "Conflicted");
    EXPECT_TRUE(statusOf(newer).value("message").toString().contains("gw/older"));
}

TEST(BackendTunnel, AnInvalidPolicyProgramsNoTunnelAndSaysWhy)
{
    const auto bad = tunnelPolicy("bad", "Gateway", "gw", "http://u:p@proxy.corp:3128", "2026-01-01T00:00:00Z");
    const auto config =
        configOf({defaultGateway(), backend("gw", "a"), route("gw", "r", routeSpec(rule("[]", "a"))), bad});
    EXPECT_FALSE(tunnelOf(*RouteTable::build(config), "/"));
    const auto c = policyStatus(config, bad)
                       .value("ancestors")
                       .toArray()[0]
                       .toObject()
                       .value("conditions")
                       .toArray()[0]
                       .toObject();
    EXPECT_EQ(c.value("reason").toString(), "Invalid");
    EXPECT_TRUE(c.value("message").toString().startsWith("spec.backend.tunnel.url"))
        << c.value("message").toString().toStdString();
}

TEST(BackendTunnel, StatusSaysWhetherTheTargetExists)
{
    const auto onMissing = tunnelPolicy("missing", "Gateway", "nope", "http://p.corp:3128", "2026-01-01T00:00:00Z");
    const auto onGateway = tunnelPolicy("found", "Gateway", "gw", "http://p.corp:3128", "2026-01-01T00:00:00Z");
    const auto config = configOf({defaultGateway(), onMissing, onGateway});
    auto resolved = [&](const config::Resource &p) {
        return policyStatus(config, p)
            .value("ancestors")
            .toArray()[0]
            .toObject()
            .value("conditions")
            .toArray()[1]
            .toObject();
    };
    EXPECT_EQ(resolved(onGateway).value("reason").toString(), "ResolvedRefs");
    EXPECT_EQ(resolved(onMissing).value("reason").toString(), "TargetNotFound");
    EXPECT_EQ(resolved(onMissing).value("message").toString(), "Gateway gw/nope not found");
}
