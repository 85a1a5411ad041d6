// SPDX-License-Identifier: Apache-2.0
// An AgentgatewayPolicy, as agentgateway users write it, enforced by the real dfproxy on the seed's manifests:
// a local rate limit, Basic authentication and a CEL authorization rule answer 429, 401 and 403 (issue #25).
#include "support/seedstack.h"
#include "support/testsupport.h"
#include "support/wait.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

// alice / s3cret, as an htpasswd line (SHA-crypt: python3 -c "import crypt; print(crypt.crypt('s3cret', ...))").
const QByteArray kPolicy = R"(apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata:
  name: egress
  namespace: httpbin
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: dfp-httproute
  traffic:
    basicAuthentication:
      realm: egress
      users:
      - "alice:$6$dfproxytest$NTAVnZ9ZsBlNZhAYnsqwUH0KRtHvHnwPZKp3lxzDWoagV7PJKhC8HJoWILK6oo6Fl6b5rdLnBG6BKJ8YPPtbX0"
    authorization:
      action: Allow
      policy:
        matchExpressions:
        - "request.headers['x-team'] == 'egress' && request.method in ['GET', 'HEAD']"
    rateLimit:
      local:
      - requests: 3
        unit: Minutes
)";

class AgentgatewayPolicyEnforced : public SeedStackTest
{
protected:
    CurlResult get(const QStringList &extra = {})
    {
        return curl(QStringList{"-H", QStringLiteral("host: httpbin.test:%1").arg(origin->port())} + extra +
                    QStringList{proxy->proxyUrl("/")});
    }
};

} // namespace

TEST_F(AgentgatewayPolicyEnforced, RateLimitBasicAuthenticationAndCelAuthorization)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    ASSERT_EQ(get().status, 200) << "the seed works before the policy";
    const auto applied = proxy->ctl({"apply", "-f", "-"}, kPolicy);
    ASSERT_EQ(applied.exitCode, 0) << applied.err.toStdString() << applied.out.toStdString();
    EXPECT_TRUE(applied.out.contains("agentgatewaypolicy.agentgateway.dev/egress created"))
        << applied.out.toStdString();

    // The engine is rebuilt after the write: wait for the policy to be in force.
    ASSERT_TRUE(waitUntil([&] { return get().status == 401; }, 20000));
    const auto anonymous = get();
    EXPECT_EQ(anonymous.status, 401) << anonymous.describe().toStdString();
    EXPECT_TRUE(anonymous.header("www-authenticate").contains("Basic realm=\"egress\""))
        << anonymous.describe().toStdString();
    EXPECT_EQ(get({"-u", "alice:wrong", "-H", "x-team: egress"}).status, 401);

    // Authenticated, but the CEL rule does not hold: 403, and it costs no rate-limit token.
    const auto forbidden = get({"-u", "alice:s3cret", "-H", "x-team: other"});
    EXPECT_EQ(forbidden.status, 403) << forbidden.describe().toStdString();
    EXPECT_EQ(forbidden.header("x-dfproxy-error"), "authz_denied");
    EXPECT_EQ(get({"-u", "alice:s3cret"}).status, 403) << "an absent header does not match";
    EXPECT_EQ(get({"-u", "alice:s3cret", "-H", "x-team: egress", "-X", "DELETE"}).status, 403);

    // Three requests a minute, then 429.
    for (int i = 0; i < 3; ++i) {
        const auto ok = get({"-u", "alice:s3cret", "-H", "x-team: egress"});
        EXPECT_EQ(ok.status, 200) << i << ": " << ok.describe().toStdString();
    }
    const auto limited = get({"-u", "alice:s3cret", "-H", "x-team: egress"});
    EXPECT_EQ(limited.status, 429) << limited.describe().toStdString();

    // The policy's status says it is accepted on its target.
    const auto status = proxy->apiGet("/api/v1/namespaces/httpbin/agentgatewaypolicies/egress");
    ASSERT_EQ(status.status, 200) << status.describe().toStdString();
    const auto ancestors =
        QJsonDocument::fromJson(status.body).object().value("status").toObject().value("ancestors").toArray();
    ASSERT_EQ(ancestors.size(), 1) << status.body.constData();
    const auto accepted = ancestors[0].toObject().value("conditions").toArray()[0].toObject();
    EXPECT_EQ(accepted.value("status").toString(), "True") << status.body.constData();
}

// Through the same REST path, what dfproxy does not implement is refused with 422 and the field path.
TEST_F(AgentgatewayPolicyEnforced, UnimplementedFieldsAndBadCelAre422WithTheirPath)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    QByteArray bad = kPolicy;
    bad.replace("request.method in ['GET', 'HEAD']", "size(request.path) > 1");
    bad.replace("    rateLimit:\n", "    extProc:\n      failureMode: FailOpen\n    rateLimit:\n");
    const auto r = proxy->ctl({"apply", "-f", "-"}, bad);
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(r.err.contains("spec.traffic.authorization.policy.matchExpressions[0]")) << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("function \"size\"")) << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("spec.traffic.extProc")) << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("dfproxy does not implement")) << r.err.toStdString();
    EXPECT_EQ(get().status, 200) << "nothing was applied";
}

// dfproxyctl export --for agentgateway: the dfproxy.dev policies as AgentgatewayPolicy on stdout, what has no
// agentgateway form on stderr with exit status 1, --allow-partial exits 0; the plain export is unchanged.
TEST_F(AgentgatewayPolicyEnforced, ExportForAgentgatewayListsWhatIsNotExported)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    const QByteArray limits = R"(apiVersion: dfproxy.dev/v1alpha1
kind: RateLimitPolicy
metadata:
  name: limits
  namespace: httpbin
spec:
  targetRefs:
  - kind: HTTPRoute
    name: dfp-httproute
  limits:
  - key: global
    tokens: 100
    fillInterval: 1m
  - key: clientIP
    bytesPerSecond: 100000
)";
    auto r = proxy->ctl({"apply", "-f", "-"}, limits);
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();

    r = proxy->ctl({"export", "--for", "agentgateway"});
    EXPECT_EQ(r.exitCode, 1) << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("kind: AgentgatewayPolicy")) << r.out.toStdString();
    EXPECT_TRUE(r.out.contains("name: limits-ratelimit")) << r.out.toStdString();
    EXPECT_TRUE(r.out.contains("requests: 100")) << r.out.toStdString();
    EXPECT_FALSE(r.out.contains("dfproxy.dev/v1alpha1")) << r.out.toStdString();
    EXPECT_TRUE(r.err.contains("not exported: RateLimitPolicy httpbin/limits: spec.limits[1].bytesPerSecond"))
        << r.err.toStdString();

    r = proxy->ctl({"export", "--for", "agentgateway", "--allow-partial", "-o", "json"});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(QJsonDocument::fromJson(r.out.toUtf8()).object().value("items").isArray()) << r.out.toStdString();

    r = proxy->ctl({"export"});
    EXPECT_EQ(r.exitCode, 0);
    EXPECT_TRUE(r.out.contains("kind: RateLimitPolicy")) << "the plain export keeps dfproxy's kinds";
    EXPECT_TRUE(proxy->ctl({"export", "--for", "istio"}).exitCode != 0);
    EXPECT_EQ(proxy->apiGet("/api/v1/export?for=istio").status, 400);
}
