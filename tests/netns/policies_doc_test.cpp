// SPDX-License-Identifier: Apache-2.0
// Two examples of docs/policies.md run as pasted, in page order, through bash, the real dfproxy and dfproxyctl
// (issue #27 item 5): the tunnel-bandwidth example (it used to tunnel to a port CONNECT refuses, under an older
// rate-limit policy that won the conflict) and the SSRF "Try it" block after the authn/authz examples. Only the
// ports differ from the page: the test's proxy, and its origin standing in for httpbin on 8000.
#include "support/seedstack.h"
#include "support/testsupport.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

// The first ```sh block after `marker` in docs/policies.md.
QString shellBlockAfter(const QString &marker)
{
    QFile f(sourceDir() + "/docs/policies.md");
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QString page = QString::fromUtf8(f.readAll());
    const qsizetype at = page.indexOf(marker);
    if (at < 0)
        return {};
    const qsizetype start = page.indexOf("```sh\n", at);
    const qsizetype end = page.indexOf("\n```", start + 6);
    return start < 0 || end < 0 ? QString() : page.mid(start + 6, end - start - 6) + '\n';
}

struct ShellResult
{
    int exitCode = -1;
    QString out, err;
};

class PoliciesDoc : public SeedStackTest
{
protected:
    void SetUp() override
    {
        // The SSRF example resolves metadata.test to the cloud metadata address: only inside a network namespace
        // of its own (tests/netns-run) can a failing check not reach it.
        if (qgetenv("DFPROXY_NETNS") != "isolated")
            GTEST_SKIP() << "not inside a network namespace of its own (ctest runs this binary through tests/netns-run)";
        extraHosts = {{QStringLiteral("metadata.test"), QHostAddress("169.254.169.254")}};
        SeedStackTest::SetUp();
    }

    // Runs a block of the page in bash with dfproxyctl on PATH and pointed at this test's dfproxy.
    ShellResult run(QString block)
    {
        const QString proxyPort = QString::number(proxy->proxyPort());
        const QString originPort = QString::number(origin->port());
        block.replace("127.0.0.1:8080", "127.0.0.1:" + proxyPort)
            .replace("port: 8080", "port: " + proxyPort)
            .replace("httpbin.test:8000", "httpbin.test:" + originPort)
            .replace("[443, 8000]", "[443, " + originPort + "]");
        QProcess sh;
        auto env = QProcessEnvironment::systemEnvironment();
        for (const char *v : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
            env.remove(QLatin1String(v));
        env.insert("PATH", QFileInfo(buildBinary("dfproxyctl")).absolutePath() + ":" + env.value("PATH"));
        env.insert("DFPROXY_CONFIG", proxy->configPath());
        sh.setProcessEnvironment(env);
        sh.start("bash", {"-c", block});
        ShellResult r;
        if (!sh.waitForFinished(120000))
            return r;
        r.exitCode = sh.exitCode();
        r.out = QString::fromUtf8(sh.readAllStandardOutput());
        r.err = QString::fromUtf8(sh.readAllStandardError());
        return r;
    }

};

} // namespace

TEST_F(PoliciesDoc, TheTunnelBandwidthExampleThrottlesItsTunnelAfterThePagesFirstExample)
{
    const QString first = shellBlockAfter("## RateLimitPolicy");
    ASSERT_TRUE(first.contains("name: per-client")) << first.toStdString();
    const auto applied = run(first);
    ASSERT_EQ(applied.exitCode, 0) << applied.err.toStdString();

    const QString tunnel = shellBlockAfter("### Tunnel bandwidth");
    ASSERT_TRUE(tunnel.contains("bytesPerSecond")) << tunnel.toStdString();
    const auto r = run(tunnel);
    EXPECT_EQ(r.exitCode, 0) << r.out.toStdString() << r.err.toStdString();
    EXPECT_TRUE(r.out.contains(" B/s")) << r.out.toStdString() << r.err.toStdString();
    EXPECT_FALSE(r.err.contains("Warning:")) << r.err.toStdString();
    EXPECT_FALSE(r.err.contains("rror")) << r.err.toStdString();
    const auto stats = QJsonDocument::fromJson(proxy->apiGet("/api/v1/stats").body).object();
    EXPECT_EQ(stats.value("proxy").toObject().value("tunnelsThrottled").toInteger(), 1)
        << QJsonDocument(stats).toJson().toStdString();
    // It cleaned up after itself.
    EXPECT_EQ(proxy->apiGet("/api/v1/namespaces/httpbin/ratelimitpolicies/tunnel-bandwidth").status, 404);
    EXPECT_FALSE(proxy->apiGet("/api/v1/namespaces/agentgateway-system/gateways/agentgateway-proxy")
                     .body.contains("allowedConnectPorts"));
}

TEST_F(PoliciesDoc, TheSsrfTryItBlockWorksAfterThePagesAuthnAndAuthzExamples)
{
    // The page's AuthenticationPolicy example names a JWKS file under /etc; its Basic part is what answers first.
    const auto users =
        proxy->ctl({"apply", "-f", "-"}, "apiVersion: dfproxy.dev/v1alpha1\n"
                                         "kind: AuthenticationPolicy\n"
                                         "metadata: {name: users, namespace: agentgateway-system}\n"
                                         "spec:\n"
                                         "  targetRefs: [{kind: Gateway, name: agentgateway-proxy}]\n"
                                         "  basic: {users: [{name: alice, passwordHash: \"$6$x$y\"}]}\n");
    ASSERT_EQ(users.exitCode, 0) << users.err.toStdString();
    const QString authz = shellBlockAfter("## AuthorizationPolicy");
    ASSERT_TRUE(authz.contains("name: egress")) << authz.toStdString();
    ASSERT_EQ(run(authz).exitCode, 0);

    const QString tryIt = shellBlockAfter("Try it (dnsmasq");
    ASSERT_TRUE(tryIt.contains("metadata.test")) << tryIt.toStdString();
    const auto r = run(tryIt);
    EXPECT_EQ(r.exitCode, 0) << r.out.toStdString() << r.err.toStdString();
    EXPECT_TRUE(r.out.startsWith("403\n") || r.out.contains("\n403\n")) << r.out.toStdString() << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("ssrf_denied")) << r.out.toStdString();
}
