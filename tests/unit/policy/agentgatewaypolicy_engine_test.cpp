// SPDX-License-Identifier: Apache-2.0
// AgentgatewayPolicy traffic and frontend sections on the policy engine: CEL authorization with its three actions
// and jwt claims, connect mode Deny, and a dfproxy.dev policy on the same target staying in effect.
#include "policy/policyengine.h"

#include "config/validation.h"
#include "jwttestutil.h"
#include "policytestutil.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::policy;
using namespace dfproxy::policy::test;

namespace {

const QJsonArray kGateway{
    QJsonObject{{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"}, {"name", "agentgateway-proxy"}}};

config::Resource agwPolicy(const QString &name, const QJsonObject &sections, const QString &created = {},
                           const QJsonArray &targets = kGateway)
{
    QJsonObject spec = sections;
    spec.insert("targetRefs", targets);
    auto r = makePolicy("AgentgatewayPolicy", "agentgateway-system", name, spec, created);
    r.json().insert("apiVersion", "agentgateway.dev/v1alpha1");
    return r;
}

QJsonObject authorization(const QString &action, const QStringList &expressions)
{
    return QJsonObject{
        {"traffic",
         QJsonObject{
             {"authorization",
              QJsonObject{{"action", action},
                          {"policy", QJsonObject{{"matchExpressions", QJsonArray::fromStringList(expressions)}}}}}}}};
}

std::shared_ptr<const ConfigPolicyEngine> build(const config::Config &c, const Clock *clock = nullptr)
{
    for (const auto &e : config::validateConfig(c))
        ADD_FAILURE() << e.path.toStdString() << ": " << e.message.toStdString();
    Options o;
    o.clock = clock;
    return buildPolicyEngine(c, o);
}

} // namespace

TEST(AgentgatewayAuthorization, AllowNeedsOneExpressionToHold)
{
    const auto e = build(baseConfig(
        {agwPolicy("p", authorization("Allow", {"request.host == 'a.test'", "request.path.startsWith('/open/')"}))}));
    Request r;
    r.attrs.host = "a.test";
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    Request other;
    other.attrs.host = "b.test";
    const auto d = e->checkRequest(*other);
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.reason, "authz_denied");
    other.attrs.path = "/open/x";
    EXPECT_TRUE(e->checkRequest(*other).allowed);
}

TEST(AgentgatewayAuthorization, DenyFailsClosedOnAnExpressionThatCannotBeEvaluated)
{
    const auto e = build(baseConfig({agwPolicy("p", authorization("Deny", {"request.headers['x-block'] == 'yes'"}))}));
    Request r;
    r.header("x-block", "no");
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    Request blocked;
    blocked.header("x-block", "yes");
    EXPECT_EQ(e->checkRequest(*blocked).status, 403);
    Request absent; // no x-block header: the expression is an error, and a Deny errs on the safe side
    EXPECT_EQ(e->checkRequest(*absent).status, 403);
}

TEST(AgentgatewayAuthorization, RequireNeedsEveryExpressionAndDestinationPortIsTheListeners)
{
    const auto e = build(baseConfig(
        {agwPolicy("p", authorization("Require", {"destination.port == 8080", "source.address == '127.0.0.1'"}))}));
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    Request other;
    other.attrs.clientAddress = QHostAddress("127.0.0.2");
    EXPECT_EQ(e->checkRequest(*other).status, 403);
}

TEST(AgentgatewayAuthorization, JwtClaimsComeFromTheVerifiedToken)
{
    ManualClock clock;
    TestSigner signer(TestSigner::Alg::ES256);
    QJsonObject sections = authorization("Allow", {"jwt.sub == 'svc-a' && 'ops' in jwt.groups"});
    QJsonObject traffic = sections.value("traffic").toObject();
    traffic.insert(
        "jwtAuthentication",
        QJsonObject{
            {"providers",
             QJsonArray{QJsonObject{
                 {"issuer", "https://idp.test"},
                 {"jwks", QJsonObject{{"inline", QString::fromUtf8(QJsonDocument(signer.jwks()).toJson())}}}}}}});
    sections.insert("traffic", traffic);
    const auto e = build(baseConfig({agwPolicy("p", sections)}), &clock);
    const qint64 now = clock.wallNow().toSecsSinceEpoch();
    auto token = [&](const QString &sub) {
        return "Bearer " +
               signer.sign(QJsonObject{
                   {"iss", "https://idp.test"}, {"sub", sub}, {"groups", QJsonArray{"dev", "ops"}}, {"exp", now + 60}});
    };
    Request r;
    r.header("Authorization", token("svc-a"));
    const auto d = e->checkRequest(*r);
    EXPECT_TRUE(d.allowed) << d.reason.constData();
    EXPECT_EQ(d.identity, "svc-a");
    Request other;
    other.header("Authorization", token("svc-b"));
    EXPECT_EQ(e->checkRequest(*other).status, 403);
    Request none;
    EXPECT_EQ(e->checkRequest(*none).status, 401);
}

TEST(AgentgatewayFrontend, ConnectModeDenyRefusesTunnels)
{
    const auto e = build(baseConfig(
        {agwPolicy("p", QJsonObject{{"frontend", QJsonObject{{"connect", QJsonObject{{"mode", "Deny"}}}}}})}));
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    Request connect;
    connect.attrs.method = "CONNECT";
    connect.attrs.path = "";
    const auto d = e->checkRequest(*connect);
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.reason, "connect_denied");
}

TEST(AgentgatewayRateLimit, LocalLimitsCountEveryRequestWithAgentgatewaysBurst)
{
    ManualClock clock;
    const auto e = build(
        baseConfig({agwPolicy(
            "p",
            QJsonObject{{"traffic",
                         QJsonObject{{"rateLimit", QJsonObject{{"local", QJsonArray{QJsonObject{{"requests", 2},
                                                                                                {"unit", "Minutes"},
                                                                                                {"burst", 1}}}}}}}}})}),
        &clock);
    int allowed = 0;
    for (int i = 0; i < 10; ++i) {
        Request r;
        r.attrs.clientAddress = QHostAddress(QStringLiteral("127.0.0.%1").arg(i + 1)); // one bucket for all
        allowed += e->checkRequest(*r).allowed ? 1 : 0;
    }
    EXPECT_EQ(allowed, 3) << "requests + burst";
}

// A dfproxy.dev AuthorizationPolicy already on the target stays in effect; the AgentgatewayPolicy's section says
// it is not.
TEST(AgentgatewayAuthorization, ADfproxyPolicyOnTheSameTargetStaysInEffectAndTheOtherSaysSo)
{
    const auto e = build(baseConfig({makePolicy("AuthorizationPolicy", "agentgateway-system", "own",
                                                QJsonObject{{"targetRefs", kGateway}, {"defaultAction", "Allow"}}),
                                     agwPolicy("p", authorization("Allow", {"request.host == 'never.test'"}))}));
    Request r;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    ASSERT_EQ(e->problems().size(), 1);
    EXPECT_TRUE(e->problems()[0].startsWith("AgentgatewayPolicy agentgateway-system/p: traffic.authorization is not "
                                            "in effect"))
        << e->problems()[0].toStdString();
}

// traffic.apiKeyAuthentication: the keys' hashes from the annotation's file; the key in `Authorization: Bearer`
// unless location.header says otherwise; a file that does not load refuses everything.
TEST(AgentgatewayApiKey, KeysFromTheAnnotationsFileInTheBearerHeaderOrTheirOwn)
{
    QTemporaryDir dir;
    const QString file = dir.filePath("keys");
    QFile f(file);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    // sha256("k-123")
    f.write("# team keys\nci:sha256:" + QCryptographicHash::hash("k-123", QCryptographicHash::Sha256).toHex() + "\n");
    f.close();
    auto policy = [&](const QJsonObject &apiKey) {
        auto r = agwPolicy("p", QJsonObject{{"traffic", QJsonObject{{"apiKeyAuthentication", apiKey}}}});
        QJsonObject md = r.metadata();
        md.insert("annotations", QJsonObject{{"dfproxy.dev/api-keys-file", file}});
        r.json().insert("metadata", md);
        return r;
    };
    auto e = build(baseConfig({policy(QJsonObject{{"secretRef", QJsonObject{{"name", "keys"}}}})}));
    EXPECT_TRUE(e->problems().isEmpty()) << e->problems().join("; ").toStdString();
    Request good;
    good.header("Authorization", "Bearer k-123");
    auto d = e->checkRequest(*good);
    EXPECT_TRUE(d.allowed) << d.reason.constData();
    EXPECT_EQ(d.identity, "ci");
    EXPECT_EQ(d.stripRequestHeaders, QList<QByteArray>{"authorization"}) << "the key is not sent upstream";
    Request wrong;
    wrong.header("Authorization", "Bearer k-124");
    EXPECT_EQ(e->checkRequest(*wrong).status, 401);
    Request noPrefix;
    noPrefix.header("Authorization", "k-123");
    EXPECT_EQ(e->checkRequest(*noPrefix).status, 401);

    e = build(baseConfig({policy(QJsonObject{{"location", QJsonObject{{"header", QJsonObject{{"name", "x-key"}}}}},
                                             {"secretRef", QJsonObject{{"name", "keys"}}}})}));
    Request own;
    own.header("x-key", "k-123");
    EXPECT_TRUE(e->checkRequest(*own).allowed);

    ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write("ci:k-123\n"); // a plain key: refused, and the policy refuses everything
    f.close();
    e = build(baseConfig({policy(QJsonObject{{"secretRef", QJsonObject{{"name", "keys"}}}})}));
    ASSERT_EQ(e->problems().size(), 1);
    EXPECT_TRUE(e->problems()[0].contains("line 1 is not")) << e->problems()[0].toStdString();
    EXPECT_EQ(e->checkRequest(*good).status, 401);
}
