// SPDX-License-Identifier: Apache-2.0
// AgentgatewayPolicy sections the route table applies: traffic.timeouts and traffic.headerModifiers on routes,
// backend.tls on backends.
#include "routing/routetable.h"

#include "routingtestutil.h"

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::routing;
using namespace dfproxy::routing::testutil;

namespace {

config::Resource agwPolicy(const QString &name, const QByteArray &targetKind, const QByteArray &targetName,
                           const QByteArray &sectionsJson, const QString &created = "2026-01-01T00:00:00Z")
{
    const QByteArray group = targetKind == "AgentgatewayBackend" ? "agentgateway.dev" : "gateway.networking.k8s.io";
    return config::Resource(
        QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                    {"kind", "AgentgatewayPolicy"},
                    {"metadata", QJsonObject{{"name", name}, {"namespace", "gw"}, {"creationTimestamp", created}}},
                    {"spec", parse(R"({"targetRefs": [{"group": ")" + group + R"(", "kind": ")" + targetKind +
                                   R"(", "name": ")" + targetName + R"("}], )" + sectionsJson + "}")}});
}

std::optional<RouteMatch> matchOf(const RouteTable &table, const QByteArray &path)
{
    const Request r("GET", path);
    return table.match(r.info, 0.0);
}

} // namespace

TEST(AgentgatewayRoutePolicies, TimeoutsAndHeaderModifiersApplyToTheRoutesOfTheTarget)
{
    const auto config = configOf(
        {defaultGateway(), backend("gw", "a"),
         route("gw", "own", routeSpec(R"({"matches": [{"path": {"type": "PathPrefix", "value": "/own"}}],
                                          "timeouts": {"request": "3s"}, "backendRefs": [{"name": "a"}]})")),
         route("gw", "plain", routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/plain"}}])", "a"))),
         agwPolicy("gw-wide", "Gateway", "gw", R"("traffic": {"timeouts": {"request": "10s"},
             "headerModifiers": {"request": {"set": [{"name": "x-egress", "value": "1"}], "remove": ["cookie"]},
                                 "response": {"add": [{"name": "x-seen", "value": "yes"}]}}})"),
         agwPolicy("on-plain", "HTTPRoute", "plain", R"("traffic": {"timeouts": {"request": "500ms"}})",
                   "2026-02-01T00:00:00Z")});
    const auto table = RouteTable::build(config);
    const auto own = matchOf(*table, "/own");
    ASSERT_TRUE(own);
    EXPECT_EQ(own->requestTimeoutMs, 3000) << "the rule's own timeout wins";
    ASSERT_EQ(own->requestHeaders.set.size(), 1);
    EXPECT_EQ(own->requestHeaders.set[0].first, "x-egress");
    EXPECT_EQ(own->requestHeaders.remove, QList<QByteArray>{"cookie"});
    ASSERT_EQ(own->responseHeaders.add.size(), 1);
    const auto plain = matchOf(*table, "/plain");
    ASSERT_TRUE(plain);
    EXPECT_EQ(plain->requestTimeoutMs, 500) << "the route's own policy wins over the Gateway's";
    EXPECT_EQ(plain->requestHeaders.set.size(), 1) << "sections merge: the Gateway's header modifiers still apply";
}

TEST(AgentgatewayRoutePolicies, BackendTlsTurnsOnTlsWithItsSettings)
{
    const auto config = configOf(
        {defaultGateway(), backend("gw", "a"), backend("gw", "b", R"({"dynamicForwardProxy": {}, "tls": false})"),
         route("gw", "r",
               routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/a"}}])", "a") + "," +
                         rule(R"([{"path": {"type": "PathPrefix", "value": "/b"}}])", "b"))),
         agwPolicy("tls-b", "AgentgatewayBackend", "b", R"("backend": {"tls": {"sni": "upstream.example"}})")});
    const auto table = RouteTable::build(config);
    EXPECT_FALSE(matchOf(*table, "/a")->backend->tls);
    const auto b = matchOf(*table, "/b")->backend;
    EXPECT_TRUE(b->tls);
    EXPECT_FALSE(b->tlsDisabled);
    EXPECT_EQ(b->tlsSni, "upstream.example");
    EXPECT_FALSE(b->tlsInsecureSkipVerify);
}
