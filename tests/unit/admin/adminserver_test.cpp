// SPDX-License-Identifier: Apache-2.0
#include "server/adminserver.h"

#include "client/apiclient.h"
#include "client/paths.h"
#include "server/admintoken.h"

#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkProxy>
#include <QNetworkReply>
#include <QTemporaryDir>
#include <QTimer>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::admin;

namespace {

const QByteArray kDefault = R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
  "admin": {"address": "127.0.0.1", "port": 15000},
  "resources": [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
                 "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
                 "spec": {"gatewayClassName": "agentgateway", "addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
                          "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}}]})";

const QByteArray kSeedYaml = R"(apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayBackend
metadata:
  name: dfp-backend
  namespace: httpbin
spec:
  dynamicForwardProxy: {}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: dfp-httproute
  namespace: httpbin
spec:
  parentRefs:
  - name: agentgateway-proxy
    namespace: agentgateway-system
  rules:
  - backendRefs:
    - name: dfp-backend
      group: agentgateway.dev
      kind: AgentgatewayBackend
)";

QJsonObject backend(const QString &name, const QString &ns = "httpbin")
{
    return QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                       {"kind", "AgentgatewayBackend"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", ns}}},
                       {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}};
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

struct Reply
{
    int status = 0;
    QByteArray body;
    QMap<QByteArray, QByteArray> headers; // lower-case names
    QJsonObject object() const { return QJsonDocument::fromJson(body).object(); }
    QString detail() const { return object().value("detail").toString(); }
};

class AdminServerTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ASSERT_TRUE(dir.isValid());
        store.setDefaultConfigText(kDefault);
        ASSERT_TRUE(store.load(dir.filePath("config.json")));
        QString error;
        ASSERT_TRUE(server.setupTokenFile(&error)) << error.toStdString();
        ASSERT_TRUE(server.listen(QHostAddress::LocalHost, 0)) << server.errorString().toStdString();
        QFile t(dir.filePath("admin-token"));
        ASSERT_TRUE(t.open(QIODevice::ReadOnly));
        token = t.readAll().trimmed();
        nam.setProxy(QNetworkProxy::NoProxy);
    }

    Reply send(const QByteArray &method, const QString &pathAndQuery, const QByteArray &body = {},
               QList<QPair<QByteArray, QByteArray>> headers = {}, bool auth = true)
    {
        QNetworkRequest req(QUrl(server.baseUrl().toString() + pathAndQuery));
        if (auth)
            req.setRawHeader("Authorization", "Bearer " + token);
        bool hasType = false;
        for (const auto &h : headers) {
            req.setRawHeader(h.first, h.second);
            hasType = hasType || h.first.compare("Content-Type", Qt::CaseInsensitive) == 0;
        }
        if (!body.isEmpty() && !hasType)
            req.setHeader(QNetworkRequest::ContentTypeHeader, "application/json");
        QNetworkReply *reply = nam.sendCustomRequest(req, method, body);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(10000, &loop, &QEventLoop::quit);
        loop.exec();
        Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        for (const auto &h : reply->rawHeaderPairs())
            r.headers.insert(h.first.toLower(), h.second);
        reply->deleteLater();
        return r;
    }

    QTemporaryDir dir;
    config::ConfigStore store;
    AdminServer server{&store};
    QByteArray token;
    QNetworkAccessManager nam;
};

} // namespace

TEST_F(AdminServerTest, CreatesTokenFileOwnerOnly)
{
    EXPECT_GE(token.size(), 40);
    const auto perms = QFile::permissions(dir.filePath("admin-token"));
    EXPECT_TRUE(perms & QFileDevice::ReadOwner);
    EXPECT_FALSE(perms & (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteOther));
    QString error;
    EXPECT_EQ(loadOrCreateAdminToken(dir.filePath("admin-token"), &error), token); // stable across restarts
}

TEST_F(AdminServerTest, HealthNeedsNoTokenButApiDoes)
{
    EXPECT_EQ(send("GET", "/healthz", {}, {}, false).status, 200);
    EXPECT_EQ(send("GET", "/readyz", {}, {}, false).status, 200);
    const auto r = send("GET", "/api/v1/backends", {}, {}, false);
    EXPECT_EQ(r.status, 401);
    EXPECT_TRUE(r.headers.value("content-type").startsWith("application/problem+json"));
    EXPECT_EQ(r.headers.value("www-authenticate"), "Bearer realm=\"dfproxy\"");
    EXPECT_EQ(send("GET", "/api/v1/backends", {}, {{"Authorization", "Bearer wrong"}}, false).status, 401);
    EXPECT_EQ(send("GET", "/api/v1/nothing-here", {}, {}, false).status, 401);
    EXPECT_EQ(send("GET", "/api/v1/backends").status, 200);
}

TEST_F(AdminServerTest, ReadyzReportsNotReady)
{
    server.setReady(false, "loading");
    const auto r = send("GET", "/readyz", {}, {}, false);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.detail(), "loading");
}

TEST_F(AdminServerTest, SendsSecurityHeaders)
{
    for (const auto &r : {send("GET", "/healthz"), send("GET", "/api/v1/nope")}) {
        EXPECT_EQ(r.headers.value("x-content-type-options"), "nosniff");
        EXPECT_EQ(r.headers.value("cache-control"), "no-store");
        EXPECT_EQ(r.headers.value("x-frame-options"), "DENY");
        EXPECT_EQ(r.headers.value("content-security-policy"), "default-src 'none'");
    }
}

TEST_F(AdminServerTest, RejectsForeignHostAndCrossOrigin)
{
    EXPECT_EQ(send("GET", "/api/v1/backends", {}, {{"Host", "evil.example:15000"}}).status, 421);
    EXPECT_EQ(send("GET", "/healthz", {}, {{"Host", "10.1.2.3"}}, false).status, 421);
    EXPECT_EQ(send("GET", "/api/v1/backends", {}, {{"Host", "localhost:15000"}}).status, 200);
    EXPECT_EQ(send("GET", "/api/v1/backends", {}, {{"Origin", "http://evil.example"}}).status, 403);
    EXPECT_EQ(send("GET", "/api/v1/backends", {}, {{"Origin", "null"}}).status, 403);
    const QByteArray own = "http://127.0.0.1:" + QByteArray::number(server.port());
    EXPECT_EQ(send("GET", "/api/v1/backends", {}, {{"Origin", own}}).status, 200);
}

TEST_F(AdminServerTest, CrudStatusCodes)
{
    const QString coll = "/api/v1/namespaces/httpbin/backends";
    const QString item = coll + "/b1";
    EXPECT_EQ(send("GET", item).status, 404);
    const auto created = send("POST", coll, json(backend("b1")));
    EXPECT_EQ(created.status, 201) << created.body.toStdString();
    EXPECT_EQ(send("POST", coll, json(backend("b1"))).status, 409);

    const auto got = send("GET", item);
    EXPECT_EQ(got.status, 200);
    const QString rv = got.object().value("metadata").toObject().value("resourceVersion").toString();
    EXPECT_EQ(got.headers.value("etag"), "\"" + rv.toLatin1() + "\"");

    QJsonObject changed = backend("b1");
    changed.insert("spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}, {"dns", QJsonObject{{"lookupFamily", "V4Only"}}}});
    EXPECT_EQ(send("PUT", item, json(changed), {{"If-Match", "\"12345\""}}).status, 412);
    const auto put = send("PUT", item, json(changed), {{"If-Match", "\"" + rv.toLatin1() + "\""}});
    EXPECT_EQ(put.status, 200) << put.body.toStdString();
    // A stale resourceVersion in the body is a conflict.
    QJsonObject stale = changed;
    stale.insert("metadata", QJsonObject{{"name", "b1"}, {"namespace", "httpbin"}, {"resourceVersion", rv}});
    EXPECT_EQ(send("PUT", item, json(stale)).status, 409);
    EXPECT_EQ(send("PUT", coll + "/missing", json(backend("missing"))).status, 404);

    const auto patched = send("PATCH", item, R"({"metadata":{"labels":{"team":"a"}}})",
                              {{"Content-Type", "application/merge-patch+json"}});
    EXPECT_EQ(patched.status, 200) << patched.body.toStdString();
    EXPECT_EQ(patched.object().value("metadata").toObject().value("labels").toObject().value("team").toString(), "a");
    EXPECT_EQ(send("PATCH", item, "[]", {{"Content-Type", "application/json-patch+json"}}).status, 415);

    const auto list = send("GET", "/api/v1/backends?labelSelector=team%3Da");
    EXPECT_EQ(list.object().value("items").toArray().size(), 1);
    EXPECT_EQ(list.object().value("kind").toString(), "AgentgatewayBackendList");

    EXPECT_EQ(send("DELETE", item).status, 200);
    EXPECT_EQ(send("DELETE", item).status, 404);
}

TEST_F(AdminServerTest, CreateWithoutNamespaceInPathUsesMetadata)
{
    const auto r = send("POST", "/api/v1/backends", json(backend("b9", "other")));
    EXPECT_EQ(r.status, 201) << r.body.toStdString();
    EXPECT_EQ(send("GET", "/api/v1/namespaces/other/backends/b9").status, 200);
    EXPECT_EQ(send("POST", "/api/v1/namespaces/httpbin/backends", json(backend("b8", "other"))).status, 400);
}

TEST_F(AdminServerTest, ErrorStatusesAreProblems)
{
    const auto bad = send("POST", "/api/v1/namespaces/httpbin/backends", "{not json");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.object().value("status").toInt(), 400);
    EXPECT_EQ(bad.object().value("title").toString(), "Bad Request");

    const auto badYaml = send("POST", "/api/v1/apply", "a: [unclosed\n", {{"Content-Type", "application/yaml"}});
    EXPECT_EQ(badYaml.status, 400);
    EXPECT_TRUE(badYaml.detail().contains("line 2, column 1")) << badYaml.detail().toStdString();

    const auto wrongType = send("POST", "/api/v1/apply", "x=1", {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(wrongType.status, 415);

    const auto invalid = send("POST", "/api/v1/namespaces/httpbin/backends", json(backend("Bad_Name")));
    EXPECT_EQ(invalid.status, 422);
    EXPECT_TRUE(invalid.object().value("fields").toObject().contains("metadata.name")) << invalid.body.toStdString();

    const auto big = send("POST", "/api/v1/apply", QByteArray(AdminServer::kMaxBodyBytes + 10, ' '));
    EXPECT_EQ(big.status, 413);

    const auto method = send("DELETE", "/api/v1/backends");
    EXPECT_EQ(method.status, 405);
    EXPECT_EQ(method.headers.value("allow"), "GET, POST");
    const auto applyGet = send("GET", "/api/v1/apply");
    EXPECT_EQ(applyGet.status, 405);
    EXPECT_EQ(applyGet.headers.value("allow"), "POST");

    EXPECT_EQ(send("GET", "/api/v1/widgets").status, 404);
    EXPECT_EQ(send("GET", "/nothing").status, 404);
}

TEST_F(AdminServerTest, AppliesTheSeedYamlAndReportsActions)
{
    const auto r = send("POST", "/api/v1/apply", kSeedYaml, {{"Content-Type", "application/yaml"}});
    ASSERT_EQ(r.status, 200) << r.body.toStdString();
    const auto results = r.object().value("results").toArray();
    ASSERT_EQ(results.size(), 2);
    EXPECT_EQ(results[0].toObject().value("action").toString(), "created");
    EXPECT_EQ(results[1].toObject().value("kind").toString(), "HTTPRoute");
    EXPECT_EQ(results[1].toObject().value("action").toString(), "created");

    const auto again = send("POST", "/api/v1/apply", kSeedYaml, {{"Content-Type", "text/yaml"}});
    EXPECT_EQ(again.object().value("results").toArray()[0].toObject().value("action").toString(), "unchanged");

    EXPECT_EQ(send("GET", "/api/v1/namespaces/httpbin/httproutes/dfp-httproute").status, 200);
    EXPECT_EQ(send("DELETE", "/api/v1/namespaces/httpbin/backends/dfp-backend").status, 200);
    EXPECT_EQ(send("DELETE", "/api/v1/namespaces/httpbin/httproutes/dfp-httproute").status, 200);
    EXPECT_EQ(send("GET", "/api/v1/httproutes").object().value("items").toArray().size(), 0);
}

TEST_F(AdminServerTest, ApplyAcceptsJsonListsAndDryRun)
{
    const QJsonObject list{{"apiVersion", "v1"}, {"kind", "List"}, {"items", QJsonArray{backend("b1"), backend("b2")}}};
    const auto dry = send("POST", "/api/v1/apply?dryRun=All", json(list));
    ASSERT_EQ(dry.status, 200) << dry.body.toStdString();
    EXPECT_TRUE(dry.object().value("dryRun").toBool());
    EXPECT_EQ(send("GET", "/api/v1/backends").object().value("items").toArray().size(), 0);
    const auto real = send("POST", "/api/v1/apply", QJsonDocument(QJsonArray{backend("b1")}).toJson());
    EXPECT_EQ(real.status, 200);
    EXPECT_EQ(send("GET", "/api/v1/backends").object().value("items").toArray().size(), 1);
}

TEST_F(AdminServerTest, PaginatesLists)
{
    ASSERT_EQ(send("POST", "/api/v1/apply", QJsonDocument(QJsonArray{backend("b1"), backend("b2"), backend("b3")}).toJson()).status, 200);
    const auto page1 = send("GET", "/api/v1/backends?limit=2");
    EXPECT_EQ(page1.object().value("items").toArray().size(), 2);
    const QString cont = page1.object().value("metadata").toObject().value("continue").toString();
    ASSERT_FALSE(cont.isEmpty());
    const auto page2 = send("GET", "/api/v1/backends?limit=2&continue=" + cont);
    const auto items = page2.object().value("items").toArray();
    ASSERT_EQ(items.size(), 1);
    EXPECT_EQ(items[0].toObject().value("metadata").toObject().value("name").toString(), "b3");
    EXPECT_EQ(send("GET", "/api/v1/backends?continue=garbage").status, 400);
}

TEST_F(AdminServerTest, ComputesStatusOnReadOnly)
{
    server.setStatusProvider([](const config::Config &, const config::Resource &r) {
        return QJsonObject{{"seen", r.name()}};
    });
    ASSERT_EQ(send("POST", "/api/v1/namespaces/httpbin/backends", json(backend("b1"))).status, 201);
    const auto got = send("GET", "/api/v1/namespaces/httpbin/backends/b1");
    EXPECT_EQ(got.object().value("status").toObject().value("seen").toString(), "b1");
    QFile f(store.path());
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    EXPECT_FALSE(f.readAll().contains("\"seen\""));
}

TEST_F(AdminServerTest, ServesServerInfoStatsExportAndExtensions)
{
    const auto info = send("GET", "/api/v1/server");
    EXPECT_EQ(info.status, 200);
    EXPECT_EQ(info.object().value("configPath").toString(), store.path());
    EXPECT_EQ(info.object().value("listeners").toArray()[0].toObject().value("port").toInt(), 8080);

    EXPECT_EQ(send("GET", "/api/v1/stats").object(), QJsonObject{});
    server.setStatsProvider([] { return QJsonObject{{"requests", 7}}; });
    EXPECT_EQ(send("GET", "/api/v1/stats").object().value("requests").toInt(), 7);

    server.addJsonRoute("DELETE", "/api/v1/dns/cache/{host}", [](const ApiRequest &req) {
        return ApiResponse::json(QJsonObject{{"flushed", req.params.value("host")}});
    });
    EXPECT_EQ(send("DELETE", "/api/v1/dns/cache/example.test").object().value("flushed").toString(), "example.test");
    EXPECT_EQ(send("DELETE", "/api/v1/dns/cache/example.test", {}, {}, false).status, 401);

    const auto openapi = send("GET", "/api/v1/openapi.json");
    EXPECT_EQ(openapi.status, 200);
    EXPECT_EQ(openapi.object().value("openapi").toString(), "3.1.0");

    ASSERT_EQ(send("POST", "/api/v1/apply", kSeedYaml, {{"Content-Type", "application/yaml"}}).status, 200);
    const auto exported = send("GET", "/api/v1/export?format=yaml");
    EXPECT_EQ(exported.status, 200);
    EXPECT_TRUE(exported.headers.value("content-type").startsWith("application/yaml"));
    EXPECT_TRUE(exported.body.contains("name: dfp-httproute"));
    EXPECT_FALSE(exported.body.contains("resourceVersion"));
    EXPECT_FALSE(exported.body.contains("uid"));
}

TEST_F(AdminServerTest, ApiClientParsesProblemsAndDiscoversLocalServer)
{
    auto disc = client::ApiClient::discoverLocal(store.path());
    EXPECT_EQ(disc.token, token);
    EXPECT_EQ(disc.baseUrl.port(), 15000); // from the config file, not the test's port
    client::ApiClient api(server.baseUrl(), disc.token);
    const auto ok = api.sendBlocking("GET", "/api/v1/backends");
    EXPECT_TRUE(ok.ok());
    const auto invalid = api.sendBlocking("POST", "/api/v1/namespaces/httpbin/backends", {}, json(backend("Bad_Name")),
                                          "application/json");
    ASSERT_FALSE(invalid.ok());
    EXPECT_EQ(invalid.error->status, 422);
    ASSERT_FALSE(invalid.error->fields.isEmpty());
    EXPECT_EQ(invalid.error->fields[0].first, "metadata.name");

    server.close();
    const auto refused = api.sendBlocking("GET", "/api/v1/backends");
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(refused.error->isConnectionError());
    EXPECT_TRUE(refused.error->detail.contains("connection refused — is dfproxy running?"))
        << refused.error->detail.toStdString();
}

TEST(AdminToken, ComparesInConstantTimeCorrectly)
{
    EXPECT_TRUE(constantTimeEquals("abc", "abc"));
    EXPECT_FALSE(constantTimeEquals("abc", "abd"));
    EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
    EXPECT_FALSE(constantTimeEquals("", "a"));
}

// Not a test: `DFPROXY_ADMIN_SERVE=<config path> unit_admin --gtest_filter=*ManualServe*` runs an admin server on
// the config's admin address for trying dfproxyctl by hand (until DFPROXY_ADMIN_SERVE_SECONDS, default 120).
TEST(AdminServerManual, ManualServe)
{
    const QString path = qEnvironmentVariable("DFPROXY_ADMIN_SERVE");
    if (path.isEmpty())
        GTEST_SKIP() << "set DFPROXY_ADMIN_SERVE to a config path to run";
    config::ConfigStore store;
    store.load(path);
    AdminServer server(&store);
    QString error;
    ASSERT_TRUE(server.setupTokenFile(&error)) << error.toStdString();
    ASSERT_TRUE(server.listenFromConfig(config::AdminOptions::fromJson(store.config().admin, nullptr)))
        << server.errorString().toStdString();
    QEventLoop loop;
    const int seconds = qEnvironmentVariableIntValue("DFPROXY_ADMIN_SERVE_SECONDS");
    QTimer::singleShot((seconds > 0 ? seconds : 120) * 1000, &loop, &QEventLoop::quit);
    loop.exec();
}
