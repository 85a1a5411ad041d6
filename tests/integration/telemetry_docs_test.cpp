// SPDX-License-Identifier: Apache-2.0
// docs/telemetry.md against the real binary (issue #27): every metric family /metrics exports is in the page's
// table, and the `gateway` log field and metric label carry what the page says.
#include "support/seedstack.h"
#include "support/testsupport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

QString telemetryPage()
{
    QFile f(sourceDir() + "/docs/telemetry.md");
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

class TelemetryDocs : public SeedStackTest
{
protected:
    void SetUp() override
    {
        SeedStackTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        const auto get =
            curl({"-H", QStringLiteral("host: httpbin.test:%1").arg(origin->port()), proxy->proxyUrl("/headers")});
        ASSERT_EQ(get.status, 200) << get.describe().toStdString();
    }

};

} // namespace

TEST_F(TelemetryDocs, EveryExportedMetricFamilyIsInThePagesTable)
{
    const QString page = telemetryPage();
    ASSERT_FALSE(page.isEmpty());
    const QString exposition = QString::fromUtf8(proxy->apiGet("/metrics").body);
    static const QRegularExpression type(QStringLiteral("^# TYPE (\\S+) "), QRegularExpression::MultilineOption);
    QStringList missing;
    int families = 0;
    for (auto it = type.globalMatch(exposition); it.hasNext();) {
        const QString name = it.next().captured(1);
        ++families;
        // The DNS cache's counters share one row: `dfproxy_dns_<name>` with each <name> listed.
        const bool documented =
            name.startsWith("dfproxy_dns_") && !page.contains("`" + name + "`")
                ? page.contains("`dns_" + name.mid(12) + "`") || page.contains("`" + name.mid(12) + "`")
                : page.contains("`" + name + "`");
        if (!documented)
            missing.append(name);
    }
    EXPECT_GT(families, 10) << exposition.toStdString();
    EXPECT_TRUE(missing.isEmpty()) << "exported by /metrics but not in docs/telemetry.md: "
                                   << missing.join(", ").toStdString();
}

// The page used to call the `gateway` field and label "reserved, empty"; both carry the Gateway.
TEST_F(TelemetryDocs, TheGatewayFieldAndLabelCarryTheGateway)
{
    QJsonArray items;
    ASSERT_TRUE(waitUntil(
        [&] {
            items = QJsonDocument::fromJson(proxy->apiGet("/api/v1/accesslog?after=0&limit=100").body)
                        .object()
                        .value("items")
                        .toArray();
            return !items.isEmpty();
        },
        10000));
    const QString gateway = items.last().toObject().value("gateway").toString();
    EXPECT_EQ(gateway, "agentgateway-system/agentgateway-proxy");
    const QString page = telemetryPage();
    EXPECT_FALSE(page.contains("reserved (empty")) << "docs/telemetry.md still calls the gateway field reserved";
    EXPECT_FALSE(page.contains("`gateway` is empty for now"));
    EXPECT_TRUE(page.contains("\"gateway\":\"" + gateway + "\"")) << "the page's JSON example shows another gateway";
    const QByteArray metrics = proxy->apiGet("/metrics").body;
    EXPECT_TRUE(metrics.contains("dfproxy_requests_total{gateway=\"" + gateway.toUtf8() + "\"")) << metrics.constData();
}

// "Logging categories": turning one area up to debug shows that area's decisions for a request through the seed.
TEST_F(TelemetryDocs, DebugCategoriesLogTheirAreasDecisions)
{
    auto r = proxy->api("PUT", "/api/v1/logging",
                        R"({"level": "warning", "categories": {"dfproxy.forward": "debug", "dfproxy.policy": "debug",
                            "dfproxy.dns": "debug"}})");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    // A policy on the route, so the policy engine has a verdict to give.
    const QByteArray policy = R"({"apiVersion": "dfproxy.dev/v1alpha1", "kind": "RateLimitPolicy",
        "metadata": {"name": "log-probe", "namespace": "httpbin"},
        "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "dfp-httproute"}],
                 "limits": [{"key": "global", "tokens": 1000, "fillInterval": "1s"}]}})";
    r = proxy->api("POST", "/api/v1/namespaces/httpbin/ratelimitpolicies", policy);
    ASSERT_EQ(r.status, 201) << r.describe().toStdString();
    proxy->api("DELETE", "/api/v1/dns/cache");
    const auto get =
        curl({"-H", QStringLiteral("host: httpbin.test:%1").arg(origin->port()), proxy->proxyUrl("/headers")});
    ASSERT_EQ(get.status, 200) << get.describe().toStdString();
    const QString hostPort = QStringLiteral("httpbin.test:%1").arg(origin->port());
    EXPECT_TRUE(waitUntil(
        [&] {
            const QByteArray err = proxy->process()->stderrData();
            return err.contains("dfproxy.dns: resolving " + hostPort.toUtf8())
                   && err.contains("dfproxy.policy: allow GET " + hostPort.toUtf8())
                   && err.contains("dfproxy.forward: connected to 127.0.0.1 port");
        },
        10000))
        << proxy->process()->stderrData().right(3000).toStdString();
}

// The other areas at debug: the proxy's stages (route, a stage that waits, a local reply with its reason), the
// listener's accepts, config versions accepted and rejected, the admin gate's refusals with their reason and the
// access-log file's rotation each leave a line under their own category.
TEST_F(TelemetryDocs, EveryAreaLogsItsDecisionsAtDebug)
{
    auto r = proxy->api("PUT", "/api/v1/logging",
                        R"({"level": "warning", "categories": {"dfproxy.proxy": "debug", "dfproxy.net": "debug",
                            "dfproxy.config": "debug", "dfproxy.admin": "debug", "dfproxy.telemetry": "debug"}})");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    // A config version with a tiny access-log file, so the second record rotates it.
    QJsonObject config = QJsonDocument::fromJson(proxy->apiGet("/api/v1/config").body).object();
    ASSERT_FALSE(config.isEmpty());
    QJsonObject logging = config.value("logging").toObject();
    logging.insert("accessLog", QJsonObject{{"enabled", true}, {"path", proxy->dir().filePath("access.log")},
                                            {"maxSizeBytes", 64}, {"maxFiles", 1}});
    config.insert("logging", logging);
    r = proxy->api("PUT", "/api/v1/config", QJsonDocument(config).toJson(QJsonDocument::Compact),
                   QStringLiteral("application/json"), {"If-Match: *"});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    r = proxy->api("POST", "/api/v1/namespaces/httpbin/ratelimitpolicies",
                   R"({"apiVersion": "dfproxy.dev/v1alpha1", "kind": "RateLimitPolicy",
                       "metadata": {"name": "bad", "namespace": "httpbin"}, "spec": {"limits": "none"}})");
    ASSERT_EQ(r.status, 422) << r.describe().toStdString();
    r = proxy->api("GET", "/api/v1/stats", {}, QStringLiteral("application/json"), {}, /*auth*/ false);
    ASSERT_EQ(r.status, 401) << r.describe().toStdString();
    proxy->api("DELETE", "/api/v1/dns/cache");
    const QString hostPort = QStringLiteral("httpbin.test:%1").arg(origin->port());
    for (int i = 0; i < 2; ++i) {
        const auto get = curl({"-H", "host: " + hostPort, proxy->proxyUrl("/headers")});
        ASSERT_EQ(get.status, 200) << get.describe().toStdString();
    }
    // CONNECT reaches only the listener's connectPorts (443): a local reply from the connect_port stage.
    const auto tunnel = curl({"-p", "-x", proxy->proxyUrl(""), QStringLiteral("http://%1/").arg(hostPort)});
    EXPECT_NE(tunnel.exitCode, 0) << tunnel.describe().toStdString();
    const QStringList expected{
        "dfproxy.proxy: route httpbin/dfp-httproute#0 backend",
        "dfproxy.proxy: stage resolve waits for GET httpbin.test",
        "dfproxy.proxy: local reply 403",
        "dfproxy.net: accepted 127.0.0.1 port",
        "dfproxy.config: accepted version",
        "dfproxy.config: rejected a new version:",
        "dfproxy.admin: gate refused a request from 127.0.0.1 - 401",
        "dfproxy.telemetry: rotated " + proxy->dir().filePath("access.log"),
    };
    QStringList missing;
    waitUntil(
        [&] {
            const QString err = QString::fromUtf8(proxy->process()->stderrData());
            missing.clear();
            for (const QString &line : expected) {
                if (!err.contains(line))
                    missing.append(line);
            }
            return missing.isEmpty();
        },
        10000);
    EXPECT_TRUE(missing.isEmpty()) << "missing: " << missing.join(" | ").toStdString() << "\n"
                                   << proxy->process()->stderrData().right(4000).toStdString();
}
