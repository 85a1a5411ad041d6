// SPDX-License-Identifier: Apache-2.0
#include "config/model.h"

#include <QJsonDocument>

#include <gtest/gtest.h>

using namespace dfproxy::config;

namespace {

Resource resourceFromJson(const char *text)
{
    QJsonParseError e;
    const auto doc = QJsonDocument::fromJson(QByteArray(text), &e);
    EXPECT_EQ(e.error, QJsonParseError::NoError) << e.errorString().toStdString();
    return Resource(doc.object());
}

// The seed's manifests, converted by hand from their YAML:
//
//   apiVersion: agentgateway.dev/v1alpha1
//   kind: AgentgatewayBackend
//   metadata: {name: dfp-backend, namespace: httpbin}
//   spec:
//     dynamicForwardProxy: {}
const char *const kSeedBackend = R"({
  "apiVersion": "agentgateway.dev/v1alpha1",
  "kind": "AgentgatewayBackend",
  "metadata": {"name": "dfp-backend", "namespace": "httpbin"},
  "spec": {"dynamicForwardProxy": {}}
})";

//   apiVersion: gateway.networking.k8s.io/v1
//   kind: HTTPRoute
//   metadata: {name: dfp-httproute, namespace: httpbin}
//   spec:
//     parentRefs:
//     - name: agentgateway-proxy
//       namespace: agentgateway-system
//     rules:
//     - backendRefs:
//       - name: dfp-backend
//         group: agentgateway.dev
//         kind: AgentgatewayBackend
const char *const kSeedRoute = R"({
  "apiVersion": "gateway.networking.k8s.io/v1",
  "kind": "HTTPRoute",
  "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
  "spec": {
    "parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
    "rules": [{"backendRefs": [{"name": "dfp-backend", "group": "agentgateway.dev", "kind": "AgentgatewayBackend"}]}]
  }
})";

} // namespace

TEST(Model, ParsesTheSeedBackend)
{
    QList<FieldError> errors;
    const auto b = parseBackendSpec(resourceFromJson(kSeedBackend), &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(b.type, BackendSpec::Type::DynamicForwardProxy);
    EXPECT_FALSE(b.tls);
    EXPECT_FALSE(b.lookupFamily.has_value());
    EXPECT_EQ(b.engine, BackendSpec::Engine::Native);
}

TEST(Model, TheBackendEngineIsReadOnceIntoItsEnum)
{
    QList<FieldError> errors;
    const auto b = parseBackendSpec(resourceFromJson(R"({"apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "AgentgatewayBackend", "metadata": {"name": "q", "namespace": "httpbin"},
        "spec": {"dynamicForwardProxy": {}, "engine": "qnam"}})"), &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(b.engine, BackendSpec::Engine::Qnam);
}

TEST(Model, ParsesTheSeedRoute)
{
    QList<FieldError> errors;
    const auto r = parseHttpRouteSpec(resourceFromJson(kSeedRoute), &errors);
    EXPECT_TRUE(errors.isEmpty());
    ASSERT_EQ(r.parentRefs.size(), 1);
    EXPECT_EQ(r.parentRefs[0].name, "agentgateway-proxy");
    EXPECT_EQ(r.parentRefs[0].ns, "agentgateway-system");
    EXPECT_EQ(r.parentRefs[0].group, "gateway.networking.k8s.io");
    EXPECT_EQ(r.parentRefs[0].kind, "Gateway");
    EXPECT_TRUE(r.parentRefs[0].sectionName.isEmpty());
    EXPECT_TRUE(r.hostnames.isEmpty());
    ASSERT_EQ(r.rules.size(), 1);
    EXPECT_TRUE(r.rules[0].matches.isEmpty());
    ASSERT_EQ(r.rules[0].backendRefs.size(), 1);
    const auto &ref = r.rules[0].backendRefs[0];
    EXPECT_EQ(ref.name, "dfp-backend");
    EXPECT_EQ(ref.group, "agentgateway.dev");
    EXPECT_EQ(ref.kind, "AgentgatewayBackend");
    EXPECT_TRUE(ref.ns.isEmpty());
    EXPECT_EQ(ref.weight, 1);
}

TEST(Model, ParsesTheDefaultGateway)
{
    const auto gw = resourceFromJson(R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
        "spec": {"gatewayClassName": "agentgateway", "addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
                 "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}})");
    QList<FieldError> errors;
    const auto g = parseGatewaySpec(gw, &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(g.gatewayClassName, "agentgateway");
    ASSERT_EQ(g.addresses.size(), 1);
    EXPECT_EQ(g.addresses[0].value, "127.0.0.1");
    ASSERT_EQ(g.listeners.size(), 1);
    EXPECT_EQ(g.listeners[0].port, 8080);
    EXPECT_EQ(g.listeners[0].protocol, "HTTP");
    EXPECT_EQ(g.listeners[0].allowedConnectPorts, QList<quint16>{443});
    EXPECT_EQ(g.listeners[0].allowedRoutesFrom, "All");
}

TEST(Model, IgnoresStatusOnInput)
{
    auto r = resourceFromJson(kSeedRoute);
    r.json().insert("status", QJsonObject{{"parents", "whatever"}});
    QList<FieldError> errors;
    parseHttpRouteSpec(r, &errors);
    EXPECT_TRUE(errors.isEmpty());
}

TEST(Model, ParsesGatewayApiDurations)
{
    EXPECT_EQ(parseGatewayDuration("10s"), 10000);
    EXPECT_EQ(parseGatewayDuration("500ms"), 500);
    EXPECT_EQ(parseGatewayDuration("1h30m"), 5400000);
    EXPECT_EQ(parseGatewayDuration("1h2m3s4ms"), 3723004);
    EXPECT_EQ(parseGatewayDuration("0s"), 0);
    EXPECT_FALSE(parseGatewayDuration(""));
    EXPECT_FALSE(parseGatewayDuration("10"));
    EXPECT_FALSE(parseGatewayDuration("1.5s"));
    EXPECT_FALSE(parseGatewayDuration("-1s"));
    EXPECT_FALSE(parseGatewayDuration("123456s"));
    EXPECT_FALSE(parseGatewayDuration("1h1h1h1h1h"));
    EXPECT_FALSE(parseGatewayDuration("1d"));
}

TEST(Model, ReadsCreationTimestamp)
{
    auto r = resourceFromJson(kSeedRoute);
    EXPECT_FALSE(creationTimestamp(r).isValid());
    auto meta = r.metadata();
    meta.insert("creationTimestamp", "2024-03-01T10:00:00Z");
    r.json().insert("metadata", meta);
    EXPECT_EQ(creationTimestamp(r), QDateTime(QDate(2024, 3, 1), QTime(10, 0), Qt::UTC));
}

TEST(Model, ChecksGatewayHostnames)
{
    EXPECT_TRUE(isGatewayHostname("example.com"));
    EXPECT_TRUE(isGatewayHostname("*.example.com"));
    EXPECT_FALSE(isGatewayHostname("*example.com"));
    EXPECT_FALSE(isGatewayHostname("Example.com"));
    EXPECT_FALSE(isGatewayHostname("a.*.com"));
    EXPECT_FALSE(isGatewayHostname(""));
}
