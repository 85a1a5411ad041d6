// SPDX-License-Identifier: Apache-2.0
// The admin REST API over real HTTP against the real dfproxy binary: every endpoint, every error status, the whole
// config with ETag/If-Match, persistence across kill -9, hot reload of the file, SIGHUP, export round trips.
#include "support/testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSaveFile>
#include <QSet>

#include <gtest/gtest.h>

#include <csignal>

using namespace dfproxy::test;

namespace {

const QByteArray kSeedYaml = dfproxy::test::seedManifests();

QJsonObject backend(const QString &name, const QString &ns = "httpbin")
{
    return QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                       {"kind", "AgentgatewayBackend"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", ns}}},
                       {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}};
}

QJsonObject seedRoute()
{
    return QJsonDocument::fromJson(R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
        "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
                 "rules": [{"backendRefs": [{"name": "dfp-backend", "group": "agentgateway.dev",
                                             "kind": "AgentgatewayBackend"}]}]}})")
        .object();
}

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject jsonOf(const CurlResult &r)
{
    return QJsonDocument::fromJson(r.body).object();
}

std::string text(const CurlResult &r)
{
    return r.describe().toStdString();
}

bool isProblem(const CurlResult &r, int status)
{
    return r.status == status && r.header("content-type").startsWith("application/problem+json") &&
           jsonOf(r).value("status").toInt() == status && !jsonOf(r).value("detail").toString().isEmpty();
}

// Replaces the config file the way editors do (write a new file, rename it over the old one).
bool replaceFile(const QString &path, const QByteArray &data)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    f.write(data);
    return f.commit();
}

QByteArray readFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStringList backendNames(const QJsonObject &config)
{
    QStringList names;
    for (const auto &v : config.value("resources").toArray()) {
        const auto o = v.toObject();
        if (o.value("kind").toString() == "AgentgatewayBackend")
            names.append(o.value("metadata").toObject().value("name").toString());
    }
    return names;
}

class AdminApi : public ::testing::Test
{
protected:
    void SetUp() override { ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString(); }
    DfproxyProcess proxy;
};

} // namespace

TEST_F(AdminApi, HealthReadinessServerStatsOpenApi)
{
    auto r = proxy.api("GET", "/healthz", {}, {}, {}, false);
    EXPECT_EQ(r.status, 200) << text(r);
    r = proxy.api("GET", "/readyz", {}, {}, {}, false);
    EXPECT_EQ(r.status, 200) << text(r);

    r = proxy.api("GET", "/api/v1/server");
    ASSERT_EQ(r.status, 200) << text(r);
    const auto info = jsonOf(r);
    EXPECT_FALSE(info.value("version").toString().isEmpty());
    EXPECT_TRUE(info.value("uptimeSeconds").isDouble());
    EXPECT_EQ(info.value("configPath").toString(), proxy.configPath());
    EXPECT_EQ(info.value("lastError").toString(), "");
    EXPECT_EQ(info.value("listeners").toArray().size(), 1);
    EXPECT_EQ(info.value("listeners").toArray()[0].toObject().value("port").toInt(), proxy.proxyPort());
    const QJsonObject dataPath = info.value("dataPath").toObject();
#ifdef Q_OS_LINUX
    EXPECT_EQ(dataPath.value("poller").toString(), "epoll") << text(r);
    EXPECT_TRUE(dataPath.value("splice").toBool()) << text(r);
    EXPECT_TRUE(QStringList({"io_uring", "off"}).contains(dataPath.value("batchedSends").toString())) << text(r);
#else
    EXPECT_EQ(dataPath.value("batchedSends").toString(), "off") << text(r);
#endif

    r = proxy.api("GET", "/api/v1/stats");
    EXPECT_EQ(r.status, 200) << text(r);
    EXPECT_TRUE(jsonOf(r).contains("dns")) << text(r);

    r = proxy.api("GET", "/api/v1/openapi.json");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(jsonOf(r).value("paths").toObject().contains("/api/v1/config"));
}

TEST_F(AdminApi, LoggingLevelsAreReadAndSet)
{
    auto r = proxy.api("GET", "/api/v1/logging");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_FALSE(jsonOf(r).value("level").toString().isEmpty());

    r = proxy.api("PUT", "/api/v1/logging", R"({"level": "warning", "categories": {"dfproxy.dns": "debug"}})");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_EQ(jsonOf(r).value("level").toString(), "warning");
    EXPECT_TRUE(jsonOf(r).value("filterRules").toString().contains("dfproxy.dns.debug=true")) << text(r);
    r = proxy.api("GET", "/api/v1/logging");
    EXPECT_EQ(jsonOf(r).value("categories").toObject().value("dfproxy.dns").toString(), "debug");

    r = proxy.api("PUT", "/api/v1/logging", R"({"level": "loud", "categories": {"bad\nname": "info"}})");
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_TRUE(jsonOf(r).value("fields").toObject().contains("level")) << text(r);
}

TEST_F(AdminApi, TheConfigsLoggingLevelIsTheLevelAtStart)
{
    QJsonObject config = QJsonDocument::fromJson(readFile(proxy.configPath())).object();
    config.insert("logging", QJsonObject{{"level", "error"}});
    ASSERT_TRUE(replaceFile(proxy.configPath(), QJsonDocument(config).toJson()));
    ASSERT_TRUE(proxy.restart()) << proxy.describe().toStdString();
    const auto r = proxy.api("GET", "/api/v1/logging");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_EQ(jsonOf(r).value("level").toString(), "error") << text(r);
    EXPECT_TRUE(jsonOf(r).value("filterRules").toString().contains("dfproxy.*.warning=false")) << text(r);
}

TEST_F(AdminApi, LoggingCategoriesAreTheOnesThatExistAndTheyLog)
{
    // GET lists every category with what it covers; a dfproxy.* name that does not exist is refused, not kept as
    // a rule that silently matches nothing.
    auto r = proxy.api("GET", "/api/v1/logging");
    ASSERT_EQ(r.status, 200) << text(r);
    QStringList known;
    for (const auto &v : jsonOf(r).value("known").toArray())
        known.append(v.toObject().value("name").toString());
    for (const char *area : {"dfproxy.dns", "dfproxy.proxy", "dfproxy.forward", "dfproxy.net", "dfproxy.policy",
                             "dfproxy.config", "dfproxy.admin", "dfproxy.telemetry"})
        EXPECT_TRUE(known.contains(QString::fromLatin1(area))) << area << " " << text(r);
    r = proxy.api("PUT", "/api/v1/logging", R"({"categories": {"dfproxy.dsn": "debug"}})");
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_TRUE(jsonOf(r).value("fields").toObject().contains("categories.dfproxy.dsn")) << text(r);
    r = proxy.api("PUT", "/api/v1/logging", R"({"categories": {"dfproxy.admin.*": "debug", "qt.network.ssl": "warning"}})");
    EXPECT_EQ(r.status, 200) << text(r);

    // dfproxy.dns at debug: a resolution says what it asked and what came of it.
    r = proxy.api("PUT", "/api/v1/logging", R"({"level": "warning", "categories": {"dfproxy.dns": "debug"}})");
    ASSERT_EQ(r.status, 200) << text(r);
    r = proxy.api("POST", "/api/v1/dns/resolve", R"({"host": "logging-probe.test", "port": 80})");
    EXPECT_EQ(r.status, 202) << text(r);
    EXPECT_TRUE(dfproxy::test::waitUntil(
        [&] {
            const QByteArray err = proxy.process()->stderrData();
            return err.contains("dfproxy.dns: resolving logging-probe.test:80") && err.contains("logging-probe.test:80");
        },
        15000))
        << proxy.process()->stderrData().right(2000).toStdString();
}

TEST_F(AdminApi, ResourceCrudAndEveryErrorStatus)
{
    const QString coll = "/api/v1/namespaces/httpbin/agentgatewaybackends";
    // create 201, then 409
    auto r = proxy.api("POST", coll, compact(backend("b1")));
    ASSERT_EQ(r.status, 201) << text(r);
    EXPECT_FALSE(r.header("etag").isEmpty());
    EXPECT_TRUE(isProblem(proxy.api("POST", coll, compact(backend("b1"))), 409));

    // 422 with fields
    QJsonObject bad = backend("b2");
    bad.insert("spec", QJsonObject{{"nonsense", 1}});
    r = proxy.api("POST", coll, compact(bad));
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_FALSE(jsonOf(r).value("fields").toObject().isEmpty()) << text(r);

    // get 200 + ETag; a dry-run create stores nothing
    r = proxy.api("GET", coll + "/b1");
    ASSERT_EQ(r.status, 200) << text(r);
    const QString etag = r.header("etag");
    const auto md = jsonOf(r).value("metadata").toObject();
    for (const char *k : {"name", "namespace", "resourceVersion", "creationTimestamp", "uid"})
        EXPECT_TRUE(md.contains(k)) << k;
    EXPECT_EQ(proxy.api("POST", coll + "?dryRun=All", compact(backend("dry"))).status, 201);
    EXPECT_TRUE(isProblem(proxy.api("GET", coll + "/dry"), 404));

    // replace 200; stale If-Match 412; stale resourceVersion in the body 409
    QJsonObject labelled = backend("b1");
    labelled.insert("metadata", QJsonObject{{"name", "b1"}, {"namespace", "httpbin"}, {"labels", QJsonObject{{"env", "dev"}}}});
    r = proxy.api("PUT", coll + "/b1", compact(labelled), "application/json", {"If-Match: " + etag});
    ASSERT_EQ(r.status, 200) << text(r);
    r = proxy.api("PUT", coll + "/b1", compact(labelled), "application/json", {"If-Match: " + etag});
    EXPECT_TRUE(isProblem(r, 412)) << text(r);
    QJsonObject stale = labelled;
    stale.insert("metadata", QJsonObject{{"name", "b1"}, {"namespace", "httpbin"}, {"resourceVersion", "1"}});
    EXPECT_TRUE(isProblem(proxy.api("PUT", coll + "/b1", compact(stale)), 409));

    // merge patch 200; JSON patch 415
    r = proxy.api("PATCH", coll + "/b1", R"({"metadata": {"labels": {"tier": "edge"}}})", "application/merge-patch+json");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_EQ(jsonOf(r).value("metadata").toObject().value("labels").toObject().value("tier").toString(), "edge");
    EXPECT_TRUE(isProblem(proxy.api("PATCH", coll + "/b1", "[]", "application/json-patch+json"), 415));

    // list: label selector, pagination
    ASSERT_EQ(proxy.api("POST", coll, compact(backend("b3"))).status, 201);
    r = proxy.api("GET", "/api/v1/agentgatewaybackends?labelSelector=env%3Ddev");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_EQ(jsonOf(r).value("items").toArray().size(), 1);
    EXPECT_TRUE(isProblem(proxy.api("GET", "/api/v1/agentgatewaybackends?labelSelector=env%20in%20(a)"), 400));
    r = proxy.api("GET", coll + "?limit=1");
    ASSERT_EQ(r.status, 200);
    const QString cont = jsonOf(r).value("metadata").toObject().value("continue").toString();
    ASSERT_FALSE(cont.isEmpty()) << text(r);
    r = proxy.api("GET", coll + "?limit=1&continue=" + cont);
    EXPECT_EQ(jsonOf(r).value("items").toArray()[0].toObject().value("metadata").toObject().value("name").toString(), "b3");

    // delete 200, then 404
    EXPECT_EQ(proxy.api("DELETE", coll + "/b3").status, 200);
    EXPECT_TRUE(isProblem(proxy.api("DELETE", coll + "/b3"), 404));

    // 400 bad JSON, 415 media type, 413 size, 404 unknown kind, 405 method, 401 token, 421 host, 403 origin
    EXPECT_TRUE(isProblem(proxy.api("POST", coll, "{not json"), 400));
    EXPECT_TRUE(isProblem(proxy.api("POST", coll, "x", "text/plain"), 415));
    EXPECT_TRUE(isProblem(proxy.api("POST", "/api/v1/apply", QByteArray(1024 * 1024 + 10, ' ')), 413));
    EXPECT_TRUE(isProblem(proxy.api("GET", "/api/v1/widgets"), 404));
    r = proxy.api("DELETE", "/api/v1/apply");
    EXPECT_TRUE(isProblem(r, 405)) << text(r);
    EXPECT_EQ(r.header("allow"), "POST");
    EXPECT_TRUE(isProblem(proxy.api("GET", "/api/v1/server", {}, {}, {}, false), 401));
    EXPECT_TRUE(isProblem(proxy.api("GET", "/api/v1/server", {}, {}, {"Host: evil.example"}), 421));
    EXPECT_TRUE(isProblem(proxy.api("GET", "/api/v1/server", {}, {}, {"Origin: http://evil.example"}), 403));
}

TEST_F(AdminApi, ApplyYamlWithPerObjectResultsAndDryRun)
{
    auto r = proxy.api("POST", "/api/v1/apply?dryRun=All", kSeedYaml, "application/yaml");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_TRUE(isProblem(proxy.api("GET", "/api/v1/namespaces/httpbin/httproutes/dfp-httproute"), 404));

    r = proxy.api("POST", "/api/v1/apply", kSeedYaml, "application/yaml");
    ASSERT_EQ(r.status, 200) << text(r);
    const auto results = jsonOf(r).value("results").toArray();
    ASSERT_EQ(results.size(), 2);
    EXPECT_EQ(results[0].toObject().value("action").toString(), "created");
    r = proxy.api("POST", "/api/v1/apply", kSeedYaml, "application/yaml");
    EXPECT_EQ(jsonOf(r).value("results").toArray()[1].toObject().value("action").toString(), "unchanged");

    // The route's status is computed: accepted by the Gateway, refs resolved.
    r = proxy.api("GET", "/api/v1/namespaces/httpbin/httproutes/dfp-httproute");
    EXPECT_TRUE(jsonOf(r).value("status").toObject().contains("parents")) << text(r);

    r = proxy.api("POST", "/api/v1/apply", "a: [unclosed", "application/yaml");
    EXPECT_TRUE(isProblem(r, 400)) << text(r);
}

TEST_F(AdminApi, WholeConfigNeedsIfMatchAndIsValidated)
{
    auto r = proxy.api("GET", "/api/v1/config");
    ASSERT_EQ(r.status, 200) << text(r);
    const QString etag = r.header("etag");
    ASSERT_FALSE(etag.isEmpty());
    QJsonObject cfg = jsonOf(r);
    QJsonArray resources = cfg.value("resources").toArray();
    resources.append(backend("via-config"));
    cfg.insert("resources", resources);

    EXPECT_TRUE(isProblem(proxy.api("PUT", "/api/v1/config", compact(cfg)), 428));
    EXPECT_TRUE(isProblem(proxy.api("PUT", "/api/v1/config", compact(cfg), "application/json", {"If-Match: \"nope\""}), 412));

    QJsonObject badDns = cfg;
    badDns.insert("dns", QJsonObject{{"servers", QJsonArray{"not-an-ip"}}});
    r = proxy.api("PUT", "/api/v1/config", compact(badDns), "application/json", {"If-Match: " + etag});
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_TRUE(jsonOf(r).value("fields").toObject().keys().join(",").contains("dns.servers")) << text(r);
    QJsonObject badAdmin = cfg;
    badAdmin.insert("admin", QJsonObject{{"address", "127.0.0.1"}, {"port", 70000}});
    r = proxy.api("PUT", "/api/v1/config", compact(badAdmin), "application/json", {"If-Match: " + etag});
    EXPECT_TRUE(jsonOf(r).value("fields").toObject().contains("admin.port")) << text(r);
    // The admin API's connection limits (docs/admin-api.md, "Limits") are positive integers.
    badAdmin.insert("admin", QJsonObject{{"address", "127.0.0.1"}, {"headTimeoutMs", 0}, {"idleTimeoutMs", "60s"},
                                         {"maxConnections", 2.5}});
    r = proxy.api("PUT", "/api/v1/config", compact(badAdmin), "application/json", {"If-Match: " + etag});
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    for (const char *field : {"admin.headTimeoutMs", "admin.idleTimeoutMs", "admin.maxConnections"})
        EXPECT_TRUE(jsonOf(r).value("fields").toObject().contains(field)) << field << " " << text(r);

    r = proxy.api("PUT", "/api/v1/config?dryRun=All", compact(cfg), "application/json", {"If-Match: " + etag});
    EXPECT_EQ(r.status, 200) << text(r);
    EXPECT_EQ(proxy.api("GET", "/api/v1/namespaces/httpbin/agentgatewaybackends/via-config").status, 404);

    r = proxy.api("PUT", "/api/v1/config", compact(cfg), "application/json", {"If-Match: " + etag});
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_NE(r.header("etag"), etag);
    EXPECT_EQ(proxy.api("GET", "/api/v1/namespaces/httpbin/agentgatewaybackends/via-config").status, 200);
    // The old ETag is now stale.
    EXPECT_TRUE(isProblem(proxy.api("PUT", "/api/v1/config", compact(cfg), "application/json", {"If-Match: " + etag}), 412));
    EXPECT_TRUE(backendNames(QJsonDocument::fromJson(readFile(proxy.configPath())).object()).contains("via-config"));

    // YAML too.
    r = proxy.api("GET", "/api/v1/config?format=yaml");
    EXPECT_TRUE(r.body.contains("kind: Config")) << text(r);
}

TEST_F(AdminApi, DnsCacheEndpoints)
{
    auto r = proxy.api("GET", "/api/v1/dns/cache");
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_TRUE(jsonOf(r).value("items").isArray());
    EXPECT_EQ(proxy.api("GET", "/api/v1/dns/stats").status, 200);
    EXPECT_EQ(proxy.api("DELETE", "/api/v1/dns/cache").status, 200);
    EXPECT_TRUE(isProblem(proxy.api("DELETE", "/api/v1/dns/cache/nowhere.test:80"), 404));
    EXPECT_TRUE(isProblem(proxy.api("DELETE", "/api/v1/dns/cache/host:notaport"), 400));
    EXPECT_TRUE(isProblem(proxy.api("POST", "/api/v1/dns/resolve", R"({"port": 80})"), 422));
    EXPECT_EQ(proxy.api("POST", "/api/v1/dns/resolve", R"({"host": "127.0.0.1", "port": 8080})").status, 202);
}

TEST_F(AdminApi, ExportDeleteAllApplyExportRoundTrips)
{
    ASSERT_EQ(proxy.api("POST", "/api/v1/apply", kSeedYaml, "application/yaml").status, 200);
    QJsonObject labelled = backend("extra", "other");
    labelled.insert("metadata", QJsonObject{{"name", "extra"}, {"namespace", "other"}, {"labels", QJsonObject{{"a", "b"}}}});
    ASSERT_EQ(proxy.api("POST", "/api/v1/apply", compact(labelled)).status, 200);

    const auto first = proxy.api("GET", "/api/v1/export?format=yaml");
    ASSERT_EQ(first.status, 200) << text(first);
    EXPECT_TRUE(first.header("content-type").startsWith("application/yaml"));
    for (const char *serverField : {"resourceVersion", "uid", "creationTimestamp", "generation", "status:"})
        EXPECT_FALSE(first.body.contains(serverField)) << serverField << "\n" << first.body.constData();
    const auto json = jsonOf(proxy.api("GET", "/api/v1/export"));
    // The seed's manifests come back exactly as written.
    const auto items = json.value("items").toArray();
    EXPECT_TRUE(items.contains(backend("dfp-backend"))) << QJsonDocument(json).toJson().constData();
    EXPECT_TRUE(items.contains(seedRoute())) << QJsonDocument(json).toJson().constData();

    for (const auto &v : items) {
        const auto o = v.toObject();
        const auto md = o.value("metadata").toObject();
        const QString plural = o.value("kind").toString() == "Gateway"     ? "gateways"
                               : o.value("kind").toString() == "HTTPRoute" ? "httproutes"
                                                                           : "agentgatewaybackends";
        ASSERT_EQ(proxy.api("DELETE", QStringLiteral("/api/v1/namespaces/%1/%2/%3")
                                           .arg(md.value("namespace").toString(), plural, md.value("name").toString()))
                      .status,
                  200);
    }
    EXPECT_EQ(jsonOf(proxy.api("GET", "/api/v1/export")).value("items").toArray().size(), 0);
    ASSERT_EQ(proxy.api("POST", "/api/v1/apply", first.body, "application/yaml").status, 200);
    const auto again = proxy.api("GET", "/api/v1/export?format=yaml");
    EXPECT_EQ(again.body, first.body);
}

TEST(AdminPersistence, KillDuringWritesLeavesOldOrNewConfigAndRestarts)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();

    QNetworkAccessManager nam;
    nam.setProxy(QNetworkProxy::NoProxy);
    QSet<QString> acknowledged;
    int finished = 0;
    constexpr int kWrites = 200;
    for (int i = 0; i < kWrites; ++i) {
        QNetworkRequest req(QUrl(proxy.adminUrl("/api/v1/namespaces/httpbin/agentgatewaybackends")));
        req.setRawHeader("Authorization", "Bearer " + proxy.token());
        req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        const QString name = QStringLiteral("b%1").arg(i);
        QNetworkReply *reply = nam.post(req, compact(backend(name)));
        QObject::connect(reply, &QNetworkReply::finished, reply, [&, reply, name] {
            ++finished;
            if (reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 201)
                acknowledged.insert(name);
            reply->deleteLater();
        });
    }
    ASSERT_TRUE(waitUntil([&] { return acknowledged.size() >= 40; }, 60000)) << proxy.describe().toStdString();
    ASSERT_TRUE(proxy.process()->sendSignal(SIGKILL));
    ASSERT_TRUE(proxy.process()->waitForExit(10000));
    waitUntil([&] { return finished == kWrites; }, 30000);
    EXPECT_LT(acknowledged.size(), kWrites) << "the kill came too late to interrupt the writes";

    // The file is a complete config (old or new, never torn) and holds every acknowledged write.
    QJsonParseError pe;
    const auto doc = QJsonDocument::fromJson(readFile(proxy.configPath()), &pe);
    ASSERT_EQ(pe.error, QJsonParseError::NoError) << pe.errorString().toStdString();
    const QStringList inFile = backendNames(doc.object());
    for (const auto &name : acknowledged)
        EXPECT_TRUE(inFile.contains(name)) << name.toStdString() << " was acknowledged but is not in the file";
    EXPECT_EQ(QJsonDocument::fromJson(readFile(proxy.configPath() + ".bak"), &pe).isObject(), true);

    ASSERT_TRUE(proxy.restart()) << proxy.describe().toStdString();
    const auto r = proxy.api("GET", "/api/v1/agentgatewaybackends");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(jsonOf(r).value("items").toArray().size(), inFile.size());
    EXPECT_EQ(jsonOf(proxy.api("GET", "/api/v1/server")).value("lastError").toString(), "");
}

class HotReload : public ::testing::Test
{
protected:
    void start(const QStringList &extraArgs = {})
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        ASSERT_TRUE(dns->setHost("httpbin.test", {QHostAddress("127.0.0.1")}));
        OriginProcess::Options o;
        o.title = "httpbin.test";
        origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        p.extraArgs = extraArgs;
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
    }

    int status()
    {
        return curl({"-H", QStringLiteral("host: httpbin.test:%1").arg(origin->port()), proxy->proxyUrl("/")}).status;
    }

    QJsonObject fileConfig() const { return QJsonDocument::fromJson(readFile(proxy->configPath())).object(); }

    QByteArray withSeed(QJsonObject cfg) const
    {
        QJsonArray resources = cfg.value("resources").toArray();
        resources.append(backend("dfp-backend"));
        resources.append(seedRoute());
        cfg.insert("resources", resources);
        return QJsonDocument(cfg).toJson();
    }

    QString lastError() { return jsonOf(proxy->api("GET", "/api/v1/server")).value("lastError").toString(); }

    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

TEST_F(HotReload, EditsOnDiskApplyLiveAndBadEditsAreRejected)
{
    start();
    if (IsSkipped())
        return;
    ASSERT_EQ(status(), 404);
    const QJsonObject original = fileConfig();

    // An editor saves a new version: the route appears without a restart.
    ASSERT_TRUE(replaceFile(proxy->configPath(), withSeed(original)));
    EXPECT_TRUE(waitUntil([&] { return status() == 200; }, 10000)) << proxy->describe().toStdString();
    const qint64 pid = proxy->process()->pid();

    // A broken edit is rejected, reported, and traffic goes on with the config in effect.
    ASSERT_TRUE(replaceFile(proxy->configPath(), "{ \"resources\": [ oops"));
    EXPECT_TRUE(waitUntil([&] { return !lastError().isEmpty(); }, 10000));
    EXPECT_TRUE(lastError().contains("config.json")) << lastError().toStdString();
    EXPECT_EQ(status(), 200);
    // An edit that parses but is invalid (bad DNS block) is rejected too.
    QJsonObject badDns = QJsonDocument::fromJson(withSeed(original)).object();
    badDns.insert("dns", QJsonObject{{"servers", QJsonArray{"not-an-ip"}}});
    ASSERT_TRUE(replaceFile(proxy->configPath(), QJsonDocument(badDns).toJson()));
    EXPECT_TRUE(waitUntil([&] { return lastError().contains("dns.servers"); }, 10000)) << lastError().toStdString();
    EXPECT_EQ(status(), 200);

    // Fixing the file (here: back to the original, without the route) applies and clears the error.
    ASSERT_TRUE(replaceFile(proxy->configPath(), QJsonDocument(original).toJson()));
    EXPECT_TRUE(waitUntil([&] { return status() == 404; }, 10000));
    EXPECT_TRUE(waitUntil([&] { return lastError().isEmpty(); }, 10000)) << lastError().toStdString();
    EXPECT_EQ(proxy->process()->pid(), pid);
    EXPECT_TRUE(proxy->process()->isRunning());
}

TEST_F(HotReload, SighupReloadsWhenWatchingIsOff)
{
    start({"--no-watch-config"});
    if (IsSkipped())
        return;
    ASSERT_TRUE(replaceFile(proxy->configPath(), withSeed(fileConfig())));
    spinFor(500); // nothing watches the file: the change must not apply by itself
    EXPECT_EQ(status(), 404);
    ASSERT_TRUE(proxy->process()->sendSignal(SIGHUP));
    EXPECT_TRUE(waitUntil([&] { return status() == 200; }, 10000)) << proxy->describe().toStdString();
}

namespace {

QJsonObject withAccessLog(QJsonObject cfg, const QString &path)
{
    cfg.insert("logging", QJsonObject{{"accessLog", QJsonObject{{"enabled", true}, {"path", path}}}});
    return cfg;
}

QJsonObject htpasswdPolicy(const QString &file)
{
    return QJsonObject{
        {"apiVersion", "dfproxy.dev/v1alpha1"},
        {"kind", "AuthenticationPolicy"},
        {"metadata", QJsonObject{{"name", "users"}, {"namespace", "agentgateway-system"}}},
        {"spec",
         QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"kind", "Gateway"}, {"name", "agentgateway-proxy"}}}},
                     {"basic", QJsonObject{{"htpasswdFile", file}}}}}};
}

QStringList fieldsOf(const CurlResult &r)
{
    return jsonOf(r).value("fields").toObject().keys();
}

} // namespace

// With the admin token, logging.accessLog.path could append to (and rotate away) any file the service can write,
// and htpasswdFile & co. read any file. Through the API they are confined to the service's own directories.
TEST_F(AdminApi, FilePathsThroughTheApiStayInTheServicesDirectories)
{
    auto r = proxy.api("GET", "/api/v1/config");
    ASSERT_EQ(r.status, 200) << text(r);
    const QString etag = "If-Match: " + r.header("etag");
    const QJsonObject cfg = jsonOf(r);
    // Not started from the system service's config: the log and the read directories are the config's directory.
    const QString dir = QFileInfo(proxy.configPath()).absolutePath();
    TempDir elsewhere;
    ASSERT_TRUE(QFile::link(elsewhere.path(), proxy.dir().filePath("out")));

    const QString escapes[] = {"/etc/passwd", dir + "/../../../../../etc/passwd", dir + "/out/access.log",
                               dir + "/config.json", dir + "/admin-token"};
    // dryRun validates all the same and never opens the file, should a regression accept it (tests may run as root).
    for (const QString &path : escapes) {
        r = proxy.api("PUT", "/api/v1/config?dryRun=All", compact(withAccessLog(cfg, path)), "application/json",
                      {etag});
        EXPECT_TRUE(isProblem(r, 422)) << path.toStdString() << "\n" << text(r);
        EXPECT_EQ(fieldsOf(r), QStringList{"logging.accessLog.path"}) << text(r);
        EXPECT_TRUE(jsonOf(r).value("detail").toString().contains(dir)) << text(r);
    }
    QJsonObject hosts = cfg;
    hosts.insert("dns", QJsonObject{{"hostsFilePath", "/etc/shadow"}});
    r = proxy.api("PUT", "/api/v1/config?dryRun=All", compact(hosts), "application/json", {etag});
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_TRUE(fieldsOf(r).contains("dns.hostsFilePath")) << text(r);

    r = proxy.api("POST", "/api/v1/apply?dryRun=All", compact(htpasswdPolicy(elsewhere.filePath("htpasswd"))));
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_EQ(fieldsOf(r), QStringList{"items[0].spec.basic.htpasswdFile"}) << text(r);
    r = proxy.api("POST", "/api/v1/namespaces/agentgateway-system/authenticationpolicies",
                  compact(htpasswdPolicy(dir + "/out/htpasswd")));
    EXPECT_TRUE(isProblem(r, 422)) << text(r);
    EXPECT_EQ(fieldsOf(r), QStringList{"spec.basic.htpasswdFile"}) << text(r);

    // Inside the directory all is well (".." that stays inside too), and nothing outside was touched.
    ASSERT_TRUE(QDir().mkpath(dir + "/logs"));
    r = proxy.api("PUT", "/api/v1/config", compact(withAccessLog(cfg, dir + "/logs/../access.log")), "application/json",
                  {etag});
    EXPECT_EQ(r.status, 200) << text(r);
    EXPECT_FALSE(QFileInfo::exists(elsewhere.filePath("access.log")));
}

// CR LF in a redirect path put headers into dfproxy's own 302; in a rewrite path it split the upstream request.
TEST_F(AdminApi, ControlCharactersInWireStringsAre422)
{
    const QByteArray route = R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "httpbin"},
        "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
                 "rules": [{"filters": [FILTER]}]}})";
    const QList<QPair<QByteArray, QString>> cases = {
        {R"({"type": "RequestRedirect", "requestRedirect": {"path": {"type": "ReplaceFullPath",
             "replaceFullPath": "/x\r\nSet-Cookie: a=b"}}})",
         "spec.rules[0].filters[0].requestRedirect.path.replaceFullPath"},
        {R"({"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath",
             "replaceFullPath": "/x HTTP/1.1\r\nHost: a\r\n\r\nGET /y"}}})",
         "spec.rules[0].filters[0].urlRewrite.path.replaceFullPath"},
        {R"({"type": "RequestHeaderModifier",
             "requestHeaderModifier": {"set": [{"name": "x-a", "value": "1\r\nx-b: 2"}]}})",
         "spec.rules[0].filters[0].requestHeaderModifier.set[0].value"},
    };
    for (const auto &[filter, field] : cases) {
        QByteArray body = route;
        body.replace("FILTER", filter);
        const auto r = proxy.api("POST", "/api/v1/namespaces/httpbin/httproutes", body);
        EXPECT_TRUE(isProblem(r, 422)) << text(r);
        EXPECT_EQ(fieldsOf(r), QStringList{field}) << text(r);
    }
}

// Whoever wrote the config file on disk may name any path: the confinement is for the API only.
TEST(AdminFiles, AConfigFileOnDiskMayNamePathsOutsideAndKeepThemThroughTheApi)
{
    TempDir elsewhere;
    ASSERT_TRUE(elsewhere.writeFile("htpasswd", "alice:$2b$10$abcdefghijklmnopqrstuu2e3bJvSAnpnGRgRZC5mW4n6wBTtTN\n"));
    DfproxyProcess::Options o;
    o.extraResources = {htpasswdPolicy(elsewhere.filePath("htpasswd"))};
    DfproxyProcess proxy(o);
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    QJsonObject onDisk = QJsonDocument::fromJson(readFile(proxy.configPath())).object();
    ASSERT_TRUE(replaceFile(proxy.configPath(), compact(withAccessLog(onDisk, elsewhere.filePath("access.log")))));
    ASSERT_TRUE(proxy.restart()) << proxy.describe().toStdString();

    auto r = proxy.api("GET", "/api/v1/config");
    ASSERT_EQ(r.status, 200) << text(r);
    QJsonObject cfg = jsonOf(r);
    EXPECT_EQ(cfg.value("logging").toObject().value("accessLog").toObject().value("path").toString(),
              elsewhere.filePath("access.log"));
    cfg.insert("proxy", QJsonObject{{"workers", 2}, {"maxConnections", 500}});
    r = proxy.api("PUT", "/api/v1/config", compact(cfg), "application/json", {"If-Match: " + r.header("etag")});
    EXPECT_EQ(r.status, 200) << text(r);
}

// The config file, its backup and the admin token hold secrets: 0600, and a 0644 config is tightened at start.
TEST(AdminFiles, SecretsArePrivateAndLooserModesAreTightenedAtStart)
{
    constexpr auto ownerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
    const auto mode = [](const QString &p) { return QFileInfo(p).permissions() & ~QFileDevice::Permissions(0x0700); };
    DfproxyProcess proxy;
    // The support class writes the config with the test's umask (0644 here) before dfproxy starts.
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    EXPECT_EQ(mode(proxy.configPath()), ownerOnly);
    EXPECT_EQ(mode(proxy.dir().filePath("admin-token")), ownerOnly);
    EXPECT_TRUE(proxy.describe().contains("restricted it to its owner")) << proxy.describe().toStdString();

    const auto r = proxy.api("POST", "/api/v1/apply", compact(backend("private")));
    ASSERT_EQ(r.status, 200) << text(r);
    EXPECT_EQ(mode(proxy.configPath() + ".bak"), ownerOnly);
    EXPECT_EQ(mode(proxy.configPath()), ownerOnly);

    ASSERT_TRUE(QFile::setPermissions(proxy.configPath() + ".bak", ownerOnly | QFileDevice::ReadOther));
    ASSERT_TRUE(proxy.restart()) << proxy.describe().toStdString();
    EXPECT_EQ(mode(proxy.configPath() + ".bak"), ownerOnly);
}
