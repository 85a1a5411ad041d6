// SPDX-License-Identifier: Apache-2.0
// export --for agentgateway: the dfproxy.dev policies as AgentgatewayPolicy objects, what is not exported listed,
// and the round trip: a dfproxy given the exported objects decides every request as the original config does.
#include "api/agentgatewayexport.h"

#include "config/validation.h"
#include "policy/policyengine.h"
#include "unit/policy/jwttestutil.h"
#include "unit/policy/policytestutil.h"

#include <QJsonArray>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::policy;
using namespace dfproxy::policy::test;

namespace {

const QJsonArray kGateway{
    QJsonObject{{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "agentgateway-proxy"}}};
const QJsonArray kRoute{
    QJsonObject{{"group", "gateway.networking.k8s.io"}, {"kind", "HTTPRoute"}, {"name", "dfp-httproute"}}};

// alice / s3cret
const char *const kHash =
    "$6$dfproxytest$NTAVnZ9ZsBlNZhAYnsqwUH0KRtHvHnwPZKp3lxzDWoagV7PJKhC8HJoWILK6oo6Fl6b5rdLnBG6BKJ8YPPtbX0";

QJsonObject rule(const QString &action, const QJsonObject &conditions)
{
    QJsonObject r = conditions;
    r.insert("action", action);
    return r;
}

// Every dfproxy.dev policy kind, with only fields that have an agentgateway form.
config::Config everyKind(const QJsonObject &jwks)
{
    return baseConfig({
        makePolicy(
            "RateLimitPolicy", "httpbin", "limits",
            QJsonObject{{"targetRefs", kRoute},
                        {"limits", QJsonArray{QJsonObject{
                                       {"key", "global"}, {"tokens", 3}, {"fillInterval", "1m"}, {"burst", 4}}}}}),
        makePolicy("AuthenticationPolicy", "agentgateway-system", "who",
                   QJsonObject{{"targetRefs", kGateway},
                               {"basic", QJsonObject{{"realm", "corp"},
                                                     {"users", QJsonArray{QJsonObject{{"name", "alice"},
                                                                                      {"passwordHash", kHash}}}}}},
                               {"jwt", QJsonObject{{"issuer", "https://idp.test"}, {"jwks", jwks}}}}),
        makePolicy("AuthorizationPolicy", "agentgateway-system", "egress",
                   QJsonObject{{"targetRefs", kGateway},
                               {"defaultAction", "Deny"},
                               {"rules",
                                QJsonArray{
                                    rule("Deny", {{"hosts", QJsonArray{"*.blocked.test"}}}),
                                    rule("Deny", {{"pathPrefixes", QJsonArray{"/admin"}},
                                                  {"clientCIDRs", QJsonArray{"127.0.0.2"}}}),
                                    rule("Allow", {{"hosts", QJsonArray{"httpbin.test", "*.example.com"}},
                                                   {"methods", QJsonArray{"GET", "HEAD", "CONNECT"}}}),
                                    rule("Allow", {{"pathPrefixes", QJsonArray{"/api", "/pub/"}}}),
                                }}}),
    });
}

config::Config applied(const config::Config &original, const QJsonArray &items)
{
    config::Config c;
    c.admin = original.admin;
    c.proxy = original.proxy;
    for (const auto &v : items)
        c.resources.append(config::Resource(v.toObject()));
    return c;
}

std::shared_ptr<const ConfigPolicyEngine> engine(const config::Config &c, const Clock *clock)
{
    for (const auto &e : config::validateConfig(c))
        ADD_FAILURE() << e.path.toStdString() << ": " << e.message.toStdString();
    Options o;
    o.clock = clock;
    const auto e = buildPolicyEngine(c, o);
    EXPECT_TRUE(e->problems().isEmpty()) << e->problems().join("; ").toStdString();
    return e;
}

QString notExportedText(const admin::AgentgatewayExport &out)
{
    QStringList lines;
    for (const auto &n : out.notExported)
        lines.append(n.toString());
    return lines.join("\n");
}

} // namespace

TEST(AgentgatewayExport, EveryPolicyKindRoundTripsWithTheSameDecisions)
{
    ManualClock clock;
    TestSigner signer(TestSigner::Alg::ES256);
    const config::Config original = everyKind(signer.jwks());
    const auto out = admin::exportForAgentgateway(original);
    EXPECT_TRUE(out.notExported.isEmpty()) << notExportedText(out).toStdString();
    int policies = 0;
    for (const auto &v : out.items)
        policies += v.toObject().value("kind").toString() == "AgentgatewayPolicy";
    EXPECT_EQ(policies, 3);
    for (const auto &v : out.items)
        EXPECT_FALSE(v.toObject().value("apiVersion").toString().startsWith("dfproxy.dev"));

    ManualClock exportedClock;
    const auto before = engine(original, &clock);
    const auto after = engine(applied(original, out.items), &exportedClock);
    const qint64 now = clock.wallNow().toSecsSinceEpoch();
    const QByteArray bearer =
        "Bearer " + signer.sign(QJsonObject{{"iss", "https://idp.test"}, {"sub", "svc"}, {"exp", now + 600}});
    const QList<QByteArray> credentials = {
        {}, "Basic " + QByteArray("alice:s3cret").toBase64(), "Basic " + QByteArray("alice:nope").toBase64(), bearer};
    int compared = 0;
    for (const QByteArray host : {"httpbin.test", "a.example.com", "x.blocked.test", "other.test"}) {
        for (const QByteArray method : {"GET", "POST", "CONNECT"}) {
            for (const QByteArray path : {"/", "/api", "/api/x", "/apix", "/pub/a", "/admin/x"}) {
                for (const QString client : {"127.0.0.1", "127.0.0.2"}) {
                    for (const auto &cred : credentials) {
                        Request r;
                        r.attrs.host = host;
                        r.attrs.method = method;
                        r.attrs.path = method == "CONNECT" ? QByteArrayView() : QByteArrayView(path);
                        r.attrs.clientAddress = QHostAddress(client);
                        r.attrs.backendName = "other"; // the rate limit is on the route: only its own requests
                        r.attrs.routeName = "other";
                        if (!cred.isEmpty())
                            r.header("Authorization", cred);
                        const auto a = before->checkRequest(*r);
                        const auto b = after->checkRequest(*r);
                        ASSERT_EQ(a.allowed, b.allowed)
                            << host.constData() << " " << method.constData() << " " << path.constData() << " "
                            << client.toStdString() << " " << cred.left(12).constData() << ": " << a.reason.constData()
                            << " vs " << b.reason.constData();
                        ASSERT_EQ(a.status, b.status)
                            << host.constData() << " " << method.constData() << " " << path.constData();
                        ++compared;
                    }
                }
            }
        }
    }
    EXPECT_EQ(compared, 4 * 3 * 6 * 2 * 4);

    // The rate limit on the route: the same count of allowed requests before 429.
    auto count = [&](const ConfigPolicyEngine &e) {
        int n = 0;
        for (int i = 0; i < 10; ++i) {
            Request r; // from an address the wrong passwords above did not slow down
            r.attrs.clientAddress = QHostAddress("127.0.0.9");
            r.header("Authorization", "Basic " + QByteArray("alice:s3cret").toBase64());
            n += e.checkRequest(*r).allowed;
        }
        return n;
    };
    EXPECT_EQ(count(*before), 4);
    EXPECT_EQ(count(*after), 4);
}

TEST(AgentgatewayExport, WhatHasNoAgentgatewayFormIsListedWithItsField)
{
    config::Config c = baseConfig({
        makePolicy("RateLimitPolicy", "httpbin", "bw",
                   QJsonObject{{"targetRefs", kRoute},
                               {"limits", QJsonArray{QJsonObject{{"key", "clientIP"}, {"tokens", 3}},
                                                     QJsonObject{{"bytesPerSecond", 1000}}}}}),
        makePolicy("AuthorizationPolicy", "agentgateway-system", "ports",
                   QJsonObject{{"targetRefs", kGateway},
                               {"defaultAction", "Allow"},
                               {"rules", QJsonArray{rule("Deny", {{"ports", QJsonArray{22}}}),
                                                    rule("Allow", {{"clientCIDRs", QJsonArray{"10.0.0.0/8"}}})}}}),
    });
    c.resources[0].json()["metadata"] = QJsonObject{{"name", "agentgateway-proxy"},
                                                    {"namespace", "agentgateway-system"},
                                                    {"annotations", QJsonObject{{"dfproxy.dev/x", "y"}}}};
    const auto out = admin::exportForAgentgateway(c);
    const QString text = notExportedText(out);
    EXPECT_TRUE(text.contains("RateLimitPolicy httpbin/bw: spec.limits[0].key: a limit per clientIP"))
        << text.toStdString();
    EXPECT_TRUE(text.contains("RateLimitPolicy httpbin/bw: spec.limits[1].bytesPerSecond")) << text.toStdString();
    EXPECT_TRUE(text.contains("RateLimitPolicy httpbin/bw: spec: nothing of it")) << text.toStdString();
    EXPECT_TRUE(text.contains("AuthorizationPolicy agentgateway-system/ports: spec.rules[0].ports"))
        << text.toStdString();
    EXPECT_TRUE(text.contains("spec.rules[1].clientCIDRs")) << text.toStdString();
    EXPECT_TRUE(text.contains("Gateway agentgateway-system/agentgateway-proxy: metadata.annotations[dfproxy.dev/x]"))
        << text.toStdString();
    // A Deny rule whose condition cannot be exported denies everything rather than nothing.
    QString expression;
    for (const auto &v : out.items) {
        const auto o = v.toObject();
        if (o.value("kind").toString() == "AgentgatewayPolicy")
            expression = o["spec"]["traffic"]["authorization"]["policy"]["matchExpressions"][0].toString();
    }
    EXPECT_EQ(expression, "!(true)") << expression.toStdString();
}
