// SPDX-License-Identifier: Apache-2.0
#include "routing/routetable.h"

#include <QJsonDocument>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::routing;

namespace {

QJsonObject json(const char *text)
{
    return QJsonDocument::fromJson(QByteArray(text)).object();
}

const char *const kGateway = R"({
  "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
  "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
  "spec": {"gatewayClassName": "agentgateway",
           "addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
           "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}})";

const char *const kBackend = R"({
  "apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
  "metadata": {"name": "dfp-backend", "namespace": "httpbin"},
  "spec": {"dynamicForwardProxy": {}}})";

const char *const kRoute = R"({
  "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
  "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
  "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
           "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend",
                                       "name": "dfp-backend"}]}]}})";

config::Config seedConfig(bool withRoute = true, bool withBackend = true)
{
    config::Config c;
    c.resources.append(config::Resource(json(kGateway)));
    if (withBackend)
        c.resources.append(config::Resource(json(kBackend)));
    if (withRoute)
        c.resources.append(config::Resource(json(kRoute)));
    return c;
}

// A view over literals (RequestInfo points into the request it describes).
RequestInfo seedRequest(QByteArrayView host = "httpbin.test", QByteArrayView path = "/")
{
    RequestInfo r;
    r.gatewayNamespace = QStringLiteral("agentgateway-system");
    r.gatewayName = QStringLiteral("agentgateway-proxy");
    r.listenerName = QStringLiteral("http");
    r.method = "GET";
    r.path = path;
    r.host = host;
    return r;
}

} // namespace

TEST(RouteTableSeed, ListsTheGatewayListener)
{
    const auto table = RouteTable::build(seedConfig());
    ASSERT_EQ(table->listeners().size(), 1);
    const Listener &l = table->listeners()[0];
    EXPECT_EQ(l.gatewayNamespace, "agentgateway-system");
    EXPECT_EQ(l.gatewayName, "agentgateway-proxy");
    EXPECT_EQ(l.name, "http");
    EXPECT_EQ(l.address, QHostAddress(QHostAddress::LocalHost));
    EXPECT_EQ(l.port, 8080);
    EXPECT_EQ(l.protocol, "HTTP");
    EXPECT_EQ(l.connectPorts, QList<quint16>{443});
}

TEST(RouteTableSeed, RoutesAnyHostAndPathToTheDynamicForwardProxyBackend)
{
    const auto table = RouteTable::build(seedConfig());
    for (const auto &[host, path] : {std::pair{"httpbin.test", "/"}, {"example.org", "/a/b"}, {"", "/get"}}) {
        const auto m = table->match(seedRequest(host, path), 0.5);
        ASSERT_TRUE(m.has_value()) << host << path;
        EXPECT_EQ(m->routeNamespace, "httpbin");
        EXPECT_EQ(m->routeName, "dfp-httproute");
        EXPECT_EQ(m->ruleIndex, 0);
        EXPECT_EQ(m->matchedPrefix, "/");
        ASSERT_TRUE(m->backend);
        EXPECT_EQ(m->backend->ns, "httpbin");
        EXPECT_EQ(m->backend->name, "dfp-backend");
        EXPECT_EQ(m->backend->type, Backend::Type::DynamicForwardProxy);
        EXPECT_FALSE(m->redirect.has_value());
    }
}

TEST(RouteTableSeed, AnswersNoRouteWithoutTheHttpRoute)
{
    const auto table = RouteTable::build(seedConfig(false, false));
    EXPECT_EQ(table->listeners().size(), 1);
    EXPECT_FALSE(table->match(seedRequest(), 0.0).has_value());
}

TEST(RouteTableSeed, MissingBackendMatchesWithoutBackend)
{
    const auto table = RouteTable::build(seedConfig(true, false));
    const auto m = table->match(seedRequest(), 0.0);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->backend, nullptr);
    EXPECT_FALSE(m->redirect.has_value());
}

TEST(RouteTableSeed, UnknownListenerMatchesNothing)
{
    const auto table = RouteTable::build(seedConfig());
    auto r = seedRequest();
    r.gatewayName = QStringLiteral("other");
    EXPECT_FALSE(table->match(r, 0.0).has_value());
}
