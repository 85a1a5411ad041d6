// SPDX-License-Identifier: Apache-2.0
// One canonical request through the real binary, on both engines and over HTTP/2: another spelling of a denied path
// or host (`/x/../admin`, `/%61dmin`, `//admin`, `Blocked.Test.`, `127.1`) is denied like the plain one, and what the
// origin receives is exactly the canonical form the rules saw (docs/proxy.md, "Canonical requests").
#include "proxyitutil.h"
#include "support/testsupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

class CanonicalRequests : public ::testing::TestWithParam<const char *>
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        for (const char *name : {"open.test", "blocked.test"})
            ASSERT_TRUE(dns->setHost(name, {QHostAddress("127.0.0.1")}));
        origin = std::make_unique<OriginProcess>();
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();

        // "h2": the native engine, with the requests sent over HTTP/2 (h2c): the same spellings, the same answers.
        const QString engine = http2() ? QStringLiteral("native") : QLatin1String(GetParam());
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        p.proxyBlock = proxyBlock;
        const QJsonObject policy{
            {"apiVersion", "dfproxy.dev/v1alpha1"},
            {"kind", "AuthorizationPolicy"},
            {"metadata", QJsonObject{{"name", "egress"}, {"namespace", "agentgateway-system"}}},
            {"spec", QJsonObject{
                         {"targetRefs", QJsonArray{QJsonObject{{"kind", "Gateway"}, {"name", "agentgateway-proxy"}}}},
                         {"defaultAction", "Allow"},
                         {"rules", QJsonArray{
                                       QJsonObject{{"name", "admin"}, {"action", "Deny"},
                                                   {"pathPrefixes", QJsonArray{"/admin"}}},
                                       QJsonObject{{"name", "blocked"}, {"action", "Deny"},
                                                   {"hosts", QJsonArray{"blocked.test", "127.0.0.2"}}},
                                   }},
                     }},
        };
        p.extraResources = {dfpBackend("dfp", {{"engine", engine}}), route("all", {}, "dfp"), policy};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
    }

    /// An origin-form request with the path exactly as given (curl --path-as-is) and Host `host`:PORT.
    CurlResult get(const QString &path, const QString &host = QStringLiteral("open.test"))
    {
        return curl({http2() ? "--http2-prior-knowledge" : "--http1.1", "--path-as-is", "-H",
                     QStringLiteral("host: %1:%2").arg(host).arg(origin->port()), proxy->proxyUrl(path)});
    }
    static bool http2() { return QLatin1String(GetParam()) == QLatin1String("h2"); }

    /// What the origin's /echo saw as the request target.
    static QString echoedTarget(const CurlResult &r)
    {
        return QJsonDocument::fromJson(r.body).object().value("target").toString();
    }

    QJsonObject proxyBlock;
    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

TEST_P(CanonicalRequests, PathSpellingsOfADeniedPrefixAreDenied)
{
    ASSERT_EQ(get("/admin/s").status, 403);
    for (const char *path : {"/x/../admin/s", "/./admin/s", "/%61dmin/s", "/x/%2e%2e/admin/s", "//admin/s",
                             "/x/%2E%2E/%2E/admin/s", "/admin/./s"}) {
        const auto r = get(QLatin1String(path));
        EXPECT_EQ(r.status, 403) << path << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "authz_denied") << path;
    }
}

TEST_P(CanonicalRequests, TheOriginReceivesTheCanonicalPath)
{
    const auto r = get("/x/../%65cho//a/./b|?q=%2e%2E%2f%c3%a9&x=/../y|");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    // The query keeps its structure (no dot segments, %2F stays apart from /); only its escapes are normalised.
    EXPECT_EQ(echoedTarget(r), "/echo/a/b%7C?q=..%2F%C3%A9&x=/../y%7C");

    // The access log shows the same canonical form.
    QJsonArray items;
    waitUntil([&] {
        items = QJsonDocument::fromJson(proxy->apiGet("/api/v1/accesslog?after=0&limit=100").body)
                    .object()
                    .value("items")
                    .toArray();
        return !items.isEmpty();
    }, 10000);
    ASSERT_FALSE(items.isEmpty());
    EXPECT_EQ(items.last().toObject().value("path").toString(), "/echo/a/b%7C?q=..%2F%C3%A9&x=/../y%7C");
}

TEST_P(CanonicalRequests, EscapedSlashesAreRefusedByDefault)
{
    for (const char *path : {"/x%2F..%2Fadmin/s", "/admin%2fs", "/x%5C..%5Cadmin"}) {
        const auto r = get(QLatin1String(path));
        EXPECT_EQ(r.status, 400) << path << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "escaped_slash_in_path") << path;
    }
    const auto bad = get("/a%zz");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.header("x-dfproxy-error"), "invalid_path_encoding");
}

TEST_P(CanonicalRequests, HostSpellingsOfADeniedHostAreDenied)
{
    ASSERT_EQ(get("/headers", "blocked.test").status, 403);
    for (const char *host : {"blocked.test.", "BLOCKED.Test", "Blocked.Test."}) {
        const auto r = get("/headers", QLatin1String(host));
        EXPECT_EQ(r.status, 403) << host << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "authz_denied") << host;
    }
    // An IP literal in any spelling the resolver would dial.
    for (const char *host : {"127.0.0.2", "127.2", "0x7f.0.0.2", "2130706434"}) {
        const auto r = get("/headers", QLatin1String(host));
        EXPECT_EQ(r.status, 403) << host << ": " << r.describe().toStdString();
    }
    // Absolute-form and CONNECT read the same canonical host.
    const auto absolute = curl({"--path-as-is", "-x", proxy->proxyUrl(""),
                                QStringLiteral("http://Blocked.Test.:%1/headers").arg(origin->port())});
    EXPECT_EQ(absolute.status, 403) << absolute.describe().toStdString();
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
    ASSERT_TRUE(s.waitForConnected(5000));
    s.write("CONNECT BLOCKED.test.:443 HTTP/1.1\r\nHost: BLOCKED.test.:443\r\n\r\n");
    QByteArray reply;
    waitUntil([&] {
        s.waitForReadyRead(100);
        reply += s.readAll();
        return reply.contains("\r\n\r\n");
    }, 10000);
    EXPECT_TRUE(reply.startsWith("HTTP/1.1 403")) << reply.constData();
    EXPECT_TRUE(reply.contains("authz_denied")) << reply.constData();
}

TEST_P(CanonicalRequests, TheOriginReceivesTheCanonicalHost)
{
    const auto r = get("/headers", "OPEN.test.");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    const QJsonObject headers = QJsonDocument::fromJson(r.body).object().value("headers").toObject();
    EXPECT_EQ(headers.value("host").toString(), QStringLiteral("open.test:%1").arg(origin->port()));
}

INSTANTIATE_TEST_SUITE_P(Engines, CanonicalRequests, ::testing::Values("native", "qnam", "h2"),
                         [](const auto &info) { return std::string(info.param); });

/// proxy.paths changes how escaped slashes and duplicate slashes are treated; matching still sees what is sent.
class CanonicalPathOptions : public CanonicalRequests
{
protected:
    void SetUp() override
    {
        proxyBlock = QJsonObject{{"paths", QJsonObject{{"escapedSlashes", "unescape"}, {"mergeSlashes", false}}}};
        CanonicalRequests::SetUp();
    }
};

TEST_P(CanonicalPathOptions, UnescapedSlashesAreMatchedAsSlashes)
{
    const auto denied = get("/x%2F..%2Fadmin/s");
    EXPECT_EQ(denied.status, 403) << denied.describe().toStdString();
    const auto r = get("/x%2F..%2Fecho//a");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(echoedTarget(r), "/echo//a");
}

INSTANTIATE_TEST_SUITE_P(Engines, CanonicalPathOptions, ::testing::Values("native", "qnam"),
                         [](const auto &info) { return std::string(info.param); });

} // namespace
