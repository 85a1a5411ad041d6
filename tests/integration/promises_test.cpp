// SPDX-License-Identifier: Apache-2.0
// What the docs promise, through the real binaries (issue #27): a start on the last good config, resourceVersion
// bumped by every write, credential sources that fail closed, policy conflicts that show in status.
#include "support/seedstack.h"
#include "support/testsupport.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

QJsonObject jsonOf(const CurlResult &r)
{
    return QJsonDocument::fromJson(r.body).object();
}

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject backend(const QString &name, const QString &ns = QStringLiteral("httpbin"))
{
    return QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                       {"kind", "AgentgatewayBackend"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", ns}}},
                       {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}};
}

} // namespace

// docs/admin-api.md: "a config file that does not parse or validate is not used: dfproxy starts on config.json.bak
// and reports it in lastError (and usingBackup: true)". It used to exit with status 1 after saying so.
TEST(Promises, StartsOnTheBackupWhenTheConfigIsBroken)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    // A write keeps the file as it was (a good config) in config.json.bak.
    ASSERT_EQ(proxy.api("POST", "/api/v1/namespaces/httpbin/agentgatewaybackends", compact(backend("b1"))).status, 201);
    ASSERT_TRUE(QFile::exists(proxy.configPath() + ".bak"));
    proxy.process()->stop();
    ASSERT_TRUE(proxy.dir().writeFile("config.json", "{ this is not json"));

    ASSERT_TRUE(proxy.restart()) << proxy.describe().toStdString();
    const auto info = jsonOf(proxy.apiGet("/api/v1/server"));
    EXPECT_TRUE(info.value("usingBackup").toBool()) << QJsonDocument(info).toJson().toStdString();
    EXPECT_FALSE(info.value("usingEmptyConfig").toBool());
    EXPECT_TRUE(info.value("lastError").toString().contains("using the previous version"));
    EXPECT_TRUE(proxy.process()->isRunning());
    // The backup's Gateway serves: its listener is up (restart() waited for it) and the API lists it.
    EXPECT_EQ(proxy.apiGet("/api/v1/gateways").status, 200);

    // Fixing the file (saving a good one) is picked up without a restart.
    ASSERT_TRUE(proxy.dir().writeFile("config.json", proxy.dir().readFile("config.json.bak")));
    EXPECT_TRUE(waitUntil([&] { return !jsonOf(proxy.apiGet("/api/v1/server")).value("usingBackup").toBool(); },
                          15000));
    EXPECT_TRUE(jsonOf(proxy.apiGet("/api/v1/server")).value("lastError").toString().isEmpty());
}

// A bad logging block with no good backup: dfproxy runs on an empty config and says so; it does not exit.
TEST(Promises, StartsOnAnEmptyConfigWhenNeitherFileLoads)
{
    TempDir dir;
    const QJsonObject bad{{"apiVersion", "dfproxy.dev/v1"},
                          {"kind", "Config"},
                          {"logging", QJsonObject{{"level", "loud"}}},
                          {"resources", QJsonArray{}}};
    ASSERT_TRUE(dir.writeFile("config.json", QJsonDocument(bad).toJson()));
    ASSERT_TRUE(dir.writeFile("config.json.bak", "not json either"));
    const quint16 adminPort = freeTcpPort();
    // The empty config has no admin block: --admin-port keeps the test off the default port 15000.
    ManagedProcess p(buildBinary("dfproxy"),
                     {"--config", dir.filePath("config.json"), "--admin-port", QString::number(adminPort)});
    ASSERT_TRUE(p.start());
    ASSERT_TRUE(p.waitForPort(QHostAddress(QHostAddress::LocalHost), adminPort, 15000)) << p.describe().toStdString();
    const QString auth = "Authorization: Bearer " + QString::fromLatin1(dir.readFile("admin-token").trimmed());
    const auto r = curl({"-H", auth, QStringLiteral("http://127.0.0.1:%1/api/v1/server").arg(adminPort)});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    const auto info = jsonOf(r);
    EXPECT_TRUE(info.value("usingEmptyConfig").toBool()) << r.body.toStdString();
    EXPECT_FALSE(info.value("usingBackup").toBool());
    EXPECT_TRUE(info.value("lastError").toString().contains("logging.level")) << r.body.toStdString();
    EXPECT_TRUE(p.isRunning());
    EXPECT_TRUE(p.output().contains("starting with an empty configuration")) << p.describe().toStdString();
    p.stop();
}

// docs/admin-api.md: 410 for "a continue token from before the list changed" — a deletion is a change.
TEST(Promises, ADeletionExpiresAListsContinueToken)
{
    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    for (const char *name : {"b1", "b2", "b3"})
        ASSERT_EQ(proxy.api("POST", "/api/v1/namespaces/httpbin/backends", compact(backend(name))).status, 201);
    const auto first = proxy.apiGet("/api/v1/backends?limit=1");
    ASSERT_EQ(first.status, 200);
    const auto md = jsonOf(first).value("metadata").toObject();
    const QString token = md.value("continue").toString();
    ASSERT_FALSE(token.isEmpty()) << first.body.toStdString();
    const QString before = md.value("resourceVersion").toString();

    ASSERT_EQ(proxy.api("DELETE", "/api/v1/namespaces/httpbin/backends/b3").status, 200);
    const auto info = jsonOf(proxy.apiGet("/api/v1/server"));
    EXPECT_GT(info.value("resourceVersion").toString().toLongLong(), before.toLongLong());
    const auto next = proxy.apiGet("/api/v1/backends?limit=1&continue=" + token);
    EXPECT_EQ(next.status, 410) << next.describe().toStdString();
}

namespace {

// dnsmasq answers httpbin.test with 127.0.0.1, where a test origin listens; dfproxy runs the seed manifests.
class PromisePolicies : public SeedStackTest
{
protected:

    DfproxyProcess::CtlResult apply(const QByteArray &yaml)
    {
        const auto r = proxy->ctl({"apply", "-f", "-"}, yaml);
        EXPECT_EQ(r.exitCode, 0) << r.err.toStdString() << r.out.toStdString();
        return r;
    }

    CurlResult get(const QStringList &extra = {})
    {
        const QString host = QStringLiteral("httpbin.test:%1").arg(origin->port());
        return curl(QStringList{"-H", "host: " + host} + extra + QStringList{proxy->proxyUrl("/headers")});
    }

    // The Accepted condition of the policy's first ancestor.
    QJsonObject accepted(const QString &plural, const QString &ns, const QString &name)
    {
        const auto r = proxy->apiGet(QStringLiteral("/api/v1/namespaces/%1/%2/%3").arg(ns, plural, name));
        EXPECT_EQ(r.status, 200) << r.describe().toStdString();
        const auto ancestors = jsonOf(r).value("status").toObject().value("ancestors").toArray();
        EXPECT_FALSE(ancestors.isEmpty()) << r.body.toStdString();
        return ancestors.isEmpty() ? QJsonObject{}
                                   : ancestors[0].toObject().value("conditions").toArray()[0].toObject();
    }

};

QByteArray sha512Crypt(const QByteArray &password)
{
    QProcess p;
    p.start("openssl", {"passwd", "-6", "-stdin"});
    p.write(password + '\n');
    p.closeWriteChannel();
    p.waitForFinished(30000);
    return p.readAllStandardOutput().trimmed();
}

} // namespace

// docs/policies.md: a policy whose htpasswd or JWKS file cannot be read refuses everyone — also the Basic users
// and API keys it configures beside that file (they used to get 200) — and its status says why.
TEST_F(PromisePolicies, ACredentialSourceThatCannotLoadRefusesEveryMethodOfThePolicy)
{
    const QByteArray hash = sha512Crypt("s3cret");
    ASSERT_TRUE(hash.startsWith("$6$"));
    const QByteArray apiKey = "k-0123456789";
    const QByteArray keySha = QCryptographicHash::hash(apiKey, QCryptographicHash::Sha256).toHex();
    const QByteArray policy = "apiVersion: dfproxy.dev/v1alpha1\n"
                              "kind: AuthenticationPolicy\n"
                              "metadata: {name: users, namespace: agentgateway-system}\n"
                              "spec:\n"
                              "  targetRefs:\n"
                              "  - {kind: Gateway, name: agentgateway-proxy}\n"
                              "  basic:\n"
                              "    users:\n"
                              "    - {name: alice, passwordHash: \"" +
                              hash +
                              "\"}\n"
                              "  apiKey:\n"
                              "    header: x-api-key\n"
                              "    keys:\n"
                              "    - {name: ci, sha256: \"" +
                              keySha +
                              "\"}\n"
                              "  jwt:\n"
                              "    jwksFile: " +
                              proxy->dir().filePath("missing-jwks.json").toUtf8() + "\n";
    apply(policy);
    EXPECT_EQ(get({"-u", "alice:s3cret"}).status, 401);
    EXPECT_EQ(get({"-H", "x-api-key: " + apiKey}).status, 401);
    EXPECT_EQ(get().status, 401);
    auto condition = accepted("authenticationpolicies", "agentgateway-system", "users");
    EXPECT_EQ(condition.value("status").toString(), "False");
    EXPECT_EQ(condition.value("reason").toString(), "Invalid");
    EXPECT_TRUE(condition.value("message").toString().contains("cannot read jwksFile"))
        << QJsonDocument(condition).toJson().toStdString();

    // The same with a missing htpasswd file beside inline users.
    QByteArray htpasswdPolicy = policy;
    htpasswdPolicy.replace("  basic:\n",
                           "  basic:\n    htpasswdFile: " + proxy->dir().filePath("missing").toUtf8() + "\n");
    htpasswdPolicy.truncate(htpasswdPolicy.indexOf("  jwt:\n"));
    apply(htpasswdPolicy);
    EXPECT_EQ(get({"-u", "alice:s3cret"}).status, 401);
    EXPECT_EQ(get({"-H", "x-api-key: " + apiKey}).status, 401);
    condition = accepted("authenticationpolicies", "agentgateway-system", "users");
    EXPECT_TRUE(condition.value("message").toString().contains("cannot read htpasswdFile"))
        << QJsonDocument(condition).toJson().toStdString();

    // Once the file is there, the policy works again: the users and keys are accepted.
    // (Files are read when the config changes: a new label is a change.)
    ASSERT_TRUE(proxy->dir().writeFile("missing", ""));
    apply(QByteArray(htpasswdPolicy).replace("name: users,", "name: users, labels: {v: \"2\"},"));
    EXPECT_EQ(get({"-u", "alice:s3cret"}).status, 200);
    EXPECT_EQ(get({"-H", "x-api-key: " + apiKey}).status, 200);
    EXPECT_EQ(accepted("authenticationpolicies", "agentgateway-system", "users").value("status").toString(), "True");
}

// GEP-713: the older of two policies on one target wins; the newer one says so in its status, `dfproxyctl get`
// shows it and `dfproxyctl apply` warns.
TEST_F(PromisePolicies, APolicyThatLosesAConflictIsNotAcceptedAndTheCliSaysSo)
{
    apply("apiVersion: dfproxy.dev/v1alpha1\n"
          "kind: RateLimitPolicy\n"
          "metadata: {name: a-requests, namespace: httpbin}\n"
          "spec:\n"
          "  targetRefs:\n"
          "  - {kind: HTTPRoute, name: dfp-httproute}\n"
          "  limits:\n"
          "  - {name: per-ip, key: clientIP, tokens: 1000, fillInterval: 1m}\n");
    const auto r = apply("apiVersion: dfproxy.dev/v1alpha1\n"
                         "kind: RateLimitPolicy\n"
                         "metadata: {name: b-bandwidth, namespace: httpbin}\n"
                         "spec:\n"
                         "  targetRefs:\n"
                         "  - {kind: HTTPRoute, name: dfp-httproute}\n"
                         "  limits:\n"
                         "  - {name: per-tunnel, bytesPerSecond: 131072}\n");
    EXPECT_TRUE(r.err.contains("Warning: RateLimitPolicy httpbin/b-bandwidth is not accepted (Conflicted)"))
        << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("httpbin/a-requests")) << r.err.toStdString();

    const auto loser = accepted("ratelimitpolicies", "httpbin", "b-bandwidth");
    EXPECT_EQ(loser.value("status").toString(), "False");
    EXPECT_EQ(loser.value("reason").toString(), "Conflicted");
    EXPECT_TRUE(loser.value("message").toString().contains("RateLimitPolicy httpbin/a-requests"))
        << QJsonDocument(loser).toJson().toStdString();
    EXPECT_EQ(accepted("ratelimitpolicies", "httpbin", "a-requests").value("status").toString(), "True");

    const auto table = proxy->ctl({"get", "rlp", "-n", "httpbin"});
    EXPECT_EQ(table.exitCode, 0) << table.err.toStdString();
    EXPECT_TRUE(table.out.contains("ACCEPTED")) << table.out.toStdString();
    const QStringList lines = table.out.split('\n');
    const auto lineOf = [&](const QString &name) {
        for (const auto &l : lines) {
            if (l.contains(name))
                return l;
        }
        return QString();
    };
    EXPECT_TRUE(lineOf("b-bandwidth").contains("False (Conflicted)")) << table.out.toStdString();
    EXPECT_TRUE(lineOf("a-requests").contains("True")) << table.out.toStdString();
    EXPECT_TRUE(lineOf("a-requests").contains("HTTPRoute/dfp-httproute")) << table.out.toStdString();

    // When the winner goes, the other one is accepted.
    ASSERT_EQ(proxy->ctl({"delete", "rlp", "a-requests", "-n", "httpbin"}).exitCode, 0);
    EXPECT_EQ(accepted("ratelimitpolicies", "httpbin", "b-bandwidth").value("status").toString(), "True");
}

// The forwarder contract (service/forward/forwarder.h) sends the client's end-to-end headers as they are; the qnam
// engine used to add "Cache-Control: no-cache" and "Pragma: no-cache" to every request.
TEST_F(PromisePolicies, TheQnamEngineAddsNoCacheHeaders)
{
    apply("apiVersion: agentgateway.dev/v1alpha1\n"
          "kind: AgentgatewayBackend\n"
          "metadata: {name: dfp-backend, namespace: httpbin}\n"
          "spec:\n"
          "  engine: qnam\n"
          "  dynamicForwardProxy: {}\n");
    const auto r = get();
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    const QJsonObject headers = jsonOf(r).value("headers").toObject();
    QStringList names = headers.keys();
    for (auto &n : names)
        n = n.toLower();
    EXPECT_FALSE(names.contains("cache-control")) << r.body.toStdString();
    EXPECT_FALSE(names.contains("pragma")) << r.body.toStdString();
    // What the client sends still passes.
    const auto withHeader = get({"-H", "Cache-Control: max-age=0"});
    EXPECT_TRUE(withHeader.body.contains("max-age=0")) << withHeader.body.toStdString();
}
