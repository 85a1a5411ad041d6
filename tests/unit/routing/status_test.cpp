// SPDX-License-Identifier: Apache-2.0
#include "routing/status.h"
#include "routingtestutil.h"

#include <QJsonArray>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::routing;
using namespace dfproxy::routing::testutil;

namespace {

struct Cond
{
    QString status, reason, message;
};

Cond conditionOf(const QJsonObject &status, int parent, const QString &type)
{
    const auto parents = status.value("parents").toArray();
    if (parent >= parents.size())
        return {"<no parent>", {}, {}};
    for (const auto &c : parents[parent].toObject().value("conditions").toArray()) {
        const auto o = c.toObject();
        if (o.value("type").toString() == type)
            return {o.value("status").toString(), o.value("reason").toString(), o.value("message").toString()};
    }
    return {"<no condition>", {}, {}};
}

const QByteArray kSeedRouteSpec = R"({"parentRefs": [{"name": "gw", "namespace": "gw"}],
    "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}]}]})";

} // namespace

TEST(RouteStatus, AcceptedAndResolvedForTheSeedShape)
{
    const auto r = route("app", "r", kSeedRouteSpec);
    const auto c = configOf({defaultGateway(), backend("app", "dfp"), r});
    const auto now = QDateTime(QDate(2024, 5, 1), QTime(12, 0), Qt::UTC);
    const auto s = routeStatus(c, r, now);
    const auto parents = s.value("parents").toArray();
    ASSERT_EQ(parents.size(), 1);
    const auto p = parents[0].toObject();
    EXPECT_EQ(p.value("controllerName").toString(), "dfproxy.dev/gateway-controller");
    const auto ref = p.value("parentRef").toObject();
    EXPECT_EQ(ref.value("name").toString(), "gw");
    EXPECT_EQ(ref.value("namespace").toString(), "gw");
    EXPECT_EQ(ref.value("kind").toString(), "Gateway");
    EXPECT_EQ(ref.value("group").toString(), "gateway.networking.k8s.io");
    EXPECT_EQ(conditionOf(s, 0, "Accepted").status, "True");
    EXPECT_EQ(conditionOf(s, 0, "Accepted").reason, "Accepted");
    EXPECT_EQ(conditionOf(s, 0, "ResolvedRefs").status, "True");
    EXPECT_EQ(conditionOf(s, 0, "ResolvedRefs").reason, "ResolvedRefs");
    EXPECT_EQ(p.value("conditions").toArray()[0].toObject().value("lastTransitionTime").toString(),
              "2024-05-01T12:00:00Z");
}

TEST(RouteStatus, MissingBackendIsBackendNotFound)
{
    const auto r = route("app", "r", kSeedRouteSpec);
    const auto s = routeStatus(configOf({defaultGateway(), r}), r);
    EXPECT_EQ(conditionOf(s, 0, "Accepted").status, "True");
    const auto c = conditionOf(s, 0, "ResolvedRefs");
    EXPECT_EQ(c.status, "False");
    EXPECT_EQ(c.reason, "BackendNotFound");
    EXPECT_TRUE(c.message.contains("spec.rules[0].backendRefs[0]")) << c.message.toStdString();
    EXPECT_TRUE(c.message.contains("app/dfp")) << c.message.toStdString();
}

TEST(RouteStatus, ServiceBackendIsInvalidKind)
{
    const auto r = route("app", "r", routeSpec(R"({"backendRefs": [{"group": "", "kind": "Service", "name": "x"}]})"));
    const auto s = routeStatus(configOf({defaultGateway(), r}), r);
    EXPECT_EQ(conditionOf(s, 0, "ResolvedRefs").reason, "InvalidKind");
}

TEST(RouteStatus, MissingGatewayOrListenerIsNoMatchingParent)
{
    const auto r = route("app", "r", R"({"parentRefs": [{"name": "nope", "namespace": "gw"},
                                                        {"name": "gw", "namespace": "gw", "sectionName": "nope"},
                                                        {"name": "gw", "namespace": "gw", "port": 9999},
                                                        {"name": "gw"},
                                                        {"name": "gw", "namespace": "gw", "kind": "Service"}],
                                         "rules": []})");
    const auto s = routeStatus(configOf({defaultGateway(), r}), r);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(conditionOf(s, i, "Accepted").status, "False") << i;
        EXPECT_EQ(conditionOf(s, i, "Accepted").reason, "NoMatchingParent") << i;
    }
    EXPECT_TRUE(conditionOf(s, 0, "Accepted").message.contains("gw/nope"));
    EXPECT_TRUE(conditionOf(s, 1, "Accepted").message.contains("\"nope\""));
    EXPECT_TRUE(conditionOf(s, 3, "Accepted").message.contains("app/gw"));
    // No rules, nothing to resolve.
    EXPECT_EQ(conditionOf(s, 0, "ResolvedRefs").status, "True");
}

TEST(RouteStatus, ListenerAcceptingSameNamespaceOnlyIsNotAllowedByListeners)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [{"name": "http", "protocol": "HTTP",
        "port": 8080, "allowedRoutes": {"namespaces": {"from": "Same"}}}]})");
    const auto r = route("app", "r", routeSpec(""));
    const auto s = routeStatus(configOf({gw, r}), r);
    EXPECT_EQ(conditionOf(s, 0, "Accepted").reason, "NotAllowedByListeners");
}

TEST(RouteStatus, DisjointHostnamesAreNoMatchingListenerHostname)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [{"name": "http", "protocol": "HTTP",
        "port": 8080, "hostname": "*.example.com"}]})");
    const auto r = route("app", "r", routeSpec("", R"(["a.other.org"])"));
    const auto s = routeStatus(configOf({gw, r}), r);
    EXPECT_EQ(conditionOf(s, 0, "Accepted").reason, "NoMatchingListenerHostname");
}

TEST(RouteStatus, InvalidSpecIsNotAccepted)
{
    const auto r = route("app", "r", R"({"parentRefs": [{"name": "gw", "namespace": "gw"}], "rulez": []})");
    const auto s = routeStatus(configOf({defaultGateway(), r}), r);
    EXPECT_EQ(conditionOf(s, 0, "Accepted").reason, "UnsupportedValue");
    EXPECT_TRUE(conditionOf(s, 0, "Accepted").message.contains("spec.rulez"));
}

TEST(GatewayStatus, CountsAttachedRoutesPerListener)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [
        {"name": "http", "protocol": "HTTP", "port": 8080},
        {"name": "other", "protocol": "HTTP", "port": 8081}]})");
    const auto r1 = route("app", "r1", routeSpec(""));
    const auto r2 = route("app", "r2", R"({"parentRefs": [{"name": "gw", "namespace": "gw", "sectionName": "other"},
                                                          {"name": "gw", "namespace": "gw"}]})");
    const auto s = gatewayStatus(configOf({gw, r1, r2}), gw);
    const auto listeners = s.value("listeners").toArray();
    ASSERT_EQ(listeners.size(), 2);
    EXPECT_EQ(listeners[0].toObject().value("attachedRoutes").toInt(), 2);
    EXPECT_EQ(listeners[1].toObject().value("attachedRoutes").toInt(), 2);
    EXPECT_EQ(s.value("conditions").toArray()[0].toObject().value("reason").toString(), "Accepted");
    EXPECT_EQ(s.value("addresses").toArray()[0].toObject().value("value").toString(), "127.0.0.1");
}

TEST(BackendStatus, AcceptsValidBackends)
{
    const auto b = backend("app", "b");
    const auto s = resourceStatus(configOf({b}), b);
    EXPECT_EQ(s.value("conditions").toArray()[0].toObject().value("status").toString(), "True");
}
