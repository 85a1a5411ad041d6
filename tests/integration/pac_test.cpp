// SPDX-License-Identifier: Apache-2.0
// The PAC file every HTTP listener serves about itself (docs/pac.md), through the real binary on both engines:
// GET/HEAD/304, its headers, which Host spellings reach it, that every other request goes on as before, and what a
// real, independent PAC engine (pacparser, Debian's python3-pacparser) decides with it for a table of URLs.
#include "proxyitutil.h"
#include "support/testsupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpSocket>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

constexpr auto kPacType = "application/x-ns-proxy-autoconfig";
constexpr auto kGatewayPath = "/api/v1/namespaces/agentgateway-system/gateways/agentgateway-proxy";

// Evaluates the PAC text on stdin for each "url host" argument pair with pacparser; one answer per line.
constexpr auto kPacparser = R"(
import sys, pacparser
pacparser.init()
pacparser.parse_pac_string(sys.stdin.read())
args = sys.argv[1:]
for i in range(0, len(args), 2):
    print(pacparser.find_proxy(args[i], args[i + 1]))
pacparser.cleanup()
)";

bool havePacparser()
{
    return QProcess::execute("/usr/bin/python3", {"-c", "import pacparser"}) == 0;
}

class PacEndpoint : public ::testing::TestWithParam<const char *>
{
protected:
    void SetUp() override
    {
        DfproxyProcess::Options p;
        // Nothing here needs a name resolved; the one routed request must not reach the machine's resolver.
        p.dnsServers = {"127.0.0.1"};
        p.extraResources = {dfpBackend("dfp", {{"engine", QLatin1String(GetParam())}}),
                            route("web", {"www.example.test", "*.corp.test"}, "dfp")};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        port = QString::number(proxy->proxyPort());
    }

    /// GET (or `method`) of `path` on the listener with Host `host` (the listener's address when empty).
    CurlResult get(const QString &path, const QString &host = {}, const QStringList &extra = {})
    {
        QStringList args = extra;
        if (!host.isEmpty())
            args << "-H"
                 << "Host: " + host;
        return curl(args << proxy->proxyUrl(path));
    }

    /// Sends `requests` on one connection (the last one with Connection: close) and returns everything read.
    QByteArray exchange(const QByteArray &requests)
    {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        if (!s.waitForConnected(5000))
            return {};
        s.write(requests);
        return readUntilClosed(s);
    }

    /// Sets the Gateway's annotations through the admin API and waits until the PAC file shows `marker`.
    void annotate(const QJsonObject &annotations, const QByteArray &marker)
    {
        const QJsonObject patch{{"metadata", QJsonObject{{"annotations", annotations}}}};
        const auto r = proxy->api("PATCH", kGatewayPath, QJsonDocument(patch).toJson(), "application/merge-patch+json");
        ASSERT_EQ(r.status, 200) << r.describe().toStdString();
        ASSERT_TRUE(waitUntil([&] { return get("/proxy.pac").body.contains(marker); }, 10000));
    }

    /// What pacparser answers for each {url, host} with the listener's current PAC file.
    QStringList evaluate(const QList<QPair<QString, QString>> &cases)
    {
        const QByteArray pac = get("/proxy.pac").body;
        QStringList args{"-c", kPacparser};
        for (const auto &[url, host] : cases)
            args << url << host;
        QProcess py;
        py.start("/usr/bin/python3", args);
        py.write(pac);
        py.closeWriteChannel();
        if (!py.waitForFinished(30000) || py.exitCode() != 0) {
            ADD_FAILURE() << "pacparser: " << py.readAllStandardError().toStdString() << "\n" << pac.toStdString();
            return {};
        }
        return QString::fromUtf8(py.readAllStandardOutput()).trimmed().split(u'\n');
    }

    std::unique_ptr<DfproxyProcess> proxy;
    QString port;
};

} // namespace

INSTANTIATE_TEST_SUITE_P(Engines, PacEndpoint, ::testing::Values("native", "qnam"));

TEST_P(PacEndpoint, ServesProxyPacAndWpadDatWithTypeEtagAndMaxAge)
{
    const auto pac = get("/proxy.pac");
    ASSERT_EQ(pac.status, 200) << pac.describe().toStdString();
    EXPECT_EQ(pac.header("content-type"), kPacType);
    EXPECT_EQ(pac.header("cache-control"), "max-age=300");
    EXPECT_FALSE(pac.hasHeader("x-dfproxy-error"));
    const QString etag = pac.header("etag");
    EXPECT_TRUE(etag.startsWith(u'"') && etag.endsWith(u'"')) << etag.toStdString();
    EXPECT_TRUE(pac.body.contains("function FindProxyForURL(url, host)"));
    EXPECT_TRUE(pac.body.contains(("var proxy = \"PROXY 127.0.0.1:" + port + "\";").toLatin1()))
        << pac.body.toStdString();
    EXPECT_TRUE(pac.body.contains("if (h == \"www.example.test\")"));
    EXPECT_TRUE(pac.body.contains("if (dnsDomainIs(h, \".corp.test\"))"));

    const auto wpad = get("/wpad.dat");
    ASSERT_EQ(wpad.status, 200);
    EXPECT_EQ(wpad.header("content-type"), kPacType);
    EXPECT_EQ(wpad.body, pac.body);
    EXPECT_EQ(wpad.header("etag"), etag) << "the same text, the same tag";
}

TEST_P(PacEndpoint, HeadHasTheHeadersWithoutTheBody)
{
    const auto full = get("/proxy.pac");
    const QByteArray head = exchange("HEAD /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(statusOf(head), 200) << head.toStdString();
    EXPECT_EQ(headerOf(head, "content-type"), kPacType);
    EXPECT_EQ(QString::fromLatin1(headerOf(head, "etag")), full.header("etag"));
    EXPECT_EQ(headerOf(head, "content-length"), QByteArray::number(full.body.size()));
    EXPECT_TRUE(bodyOf(head).isEmpty()) << head.toStdString();
}

TEST_P(PacEndpoint, IfNoneMatchWithTheCurrentTagIs304WithoutContent)
{
    const QByteArray etag = get("/proxy.pac").header("etag").toLatin1();
    for (const QByteArray &inm : QList<QByteArray>{etag, "\"other\", " + etag, "W/" + etag, "*"}) {
        // The connection goes on after the 304: the next request on it is answered.
        const QByteArray r = exchange("GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: " + inm +
                                      "\r\n\r\nGET /wpad.dat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        ASSERT_TRUE(r.startsWith("HTTP/1.1 304 ")) << inm.toStdString() << "\n" << r.toStdString();
        const QByteArray first = r.left(r.indexOf("\r\n\r\n") + 4);
        EXPECT_EQ(headerOf(first, "etag"), etag);
        EXPECT_EQ(headerOf(first, "cache-control"), "max-age=300");
        EXPECT_FALSE(first.toLower().contains("content-length")) << "a 304's Content-Length would have to be the 200's";
        const QByteArray second = r.mid(first.size());
        EXPECT_EQ(statusOf(second), 200) << r.toStdString();
        EXPECT_TRUE(second.contains("FindProxyForURL"));
    }
    EXPECT_EQ(get("/proxy.pac", {}, {"-H", "If-None-Match: \"stale\""}).status, 200);
}

TEST_P(PacEndpoint, AnswersForEveryHostSpellingOfTheListenerItself)
{
    for (const QString &host : QStringList{"127.0.0.1", "127.0.0.1:" + port, "localhost", "localhost:" + port,
                                           "LocalHost.", "LOCALHOST:" + port}) {
        const auto r = get("/proxy.pac", host);
        EXPECT_EQ(r.status, 200) << host.toStdString() << "\n" << r.describe().toStdString();
        EXPECT_EQ(r.header("content-type"), kPacType) << host.toStdString();
    }
}

TEST_P(PacEndpoint, RequestsForOtherHostsPortsOrPathsGoOnAsBefore)
{
    // Another host, another port of ours, another path: routed as any request (no route for these: 404).
    for (const auto &[path, host] : QList<QPair<QString, QString>>{{"/proxy.pac", "elsewhere.test"},
                                                                   {"/proxy.pac", "127.0.0.1:1"},
                                                                   {"/proxy.pac", "127.0.0.2"},
                                                                   {"/proxy.pacx", "127.0.0.1"},
                                                                   {"/proxy.pac/", "127.0.0.1"},
                                                                   {"/other", "localhost"},
                                                                   {"/", "127.0.0.1"}}) {
        const auto r = get(path, host);
        EXPECT_EQ(r.status, 404) << path.toStdString() << " " << host.toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "route_not_found") << path.toStdString() << " " << host.toStdString();
    }
    // A routed host asking for /proxy.pac is proxied like any other path of it, not answered here.
    const auto routed = get("/proxy.pac", "www.example.test");
    EXPECT_NE(routed.header("content-type"), kPacType);
    // Absolute form is a proxied request (to dfproxy itself, which the SSRF guard refuses), not the PAC file.
    const auto absolute = curl({"-x", proxy->proxyUrl(), "http://127.0.0.1:" + port + "/proxy.pac"});
    EXPECT_NE(absolute.header("content-type"), kPacType) << absolute.describe().toStdString();
    EXPECT_NE(absolute.status, 200);
    // Other methods on the PAC file: a precise refusal.
    const auto post = get("/proxy.pac", {}, {"-X", "POST", "--data", "x"});
    EXPECT_EQ(post.status, 405);
    EXPECT_EQ(post.header("x-dfproxy-error"), "method_not_allowed");
    EXPECT_EQ(post.header("allow"), "GET, HEAD");
}

TEST_P(PacEndpoint, TheAccessLogRecordsItLikeAnyLocalReply)
{
    ASSERT_EQ(get("/proxy.pac").status, 200);
    QJsonObject rec;
    ASSERT_TRUE(waitUntil(
        [&] {
            const auto items = QJsonDocument::fromJson(adminGet(*proxy, "/api/v1/accesslog?after=0").body)
                                   .object()
                                   .value("items")
                                   .toArray();
            for (const auto &i : items) {
                if (i.toObject().value("path").toString() == "/proxy.pac")
                    rec = i.toObject();
            }
            return !rec.isEmpty();
        },
        10000));
    EXPECT_EQ(rec.value("status").toInt(), 200) << QJsonDocument(rec).toJson().toStdString();
    EXPECT_EQ(rec.value("method").toString(), "GET");
}

TEST_P(PacEndpoint, FollowsTheGatewaysAnnotationsAndRefusesBadOnesWith422)
{
    const QString before = get("/proxy.pac").header("etag");
    annotate(
        {{"dfproxy.dev/pac-fail-mode", "open"}, {"dfproxy.dev/pac-max-age", "60"}, {"dfproxy.dev/pac-bypass", "*.lan"}},
        "; DIRECT\"");
    const auto r = get("/proxy.pac");
    EXPECT_EQ(r.header("cache-control"), "max-age=60");
    EXPECT_NE(r.header("etag"), before);
    EXPECT_TRUE(r.body.contains("if (dnsDomainIs(h, \".lan\"))")) << r.body.toStdString();
    EXPECT_FALSE(r.body.contains("192.168.0.0")) << "the annotation replaces the default list";

    const QJsonObject bad{
        {"metadata", QJsonObject{{"annotations", QJsonObject{{"dfproxy.dev/pac-fail-mode", "maybe"}}}}}};
    const auto refused = proxy->api("PATCH", kGatewayPath, QJsonDocument(bad).toJson(), "application/merge-patch+json");
    EXPECT_EQ(refused.status, 422) << refused.describe().toStdString();
    const QJsonObject fields = QJsonDocument::fromJson(refused.body).object().value("fields").toObject();
    EXPECT_TRUE(fields.contains("metadata.annotations[dfproxy.dev/pac-fail-mode]")) << refused.body.toStdString();
    EXPECT_EQ(get("/proxy.pac").header("cache-control"), "max-age=60") << "the refused change changed nothing";
}

// The file decides as documented in a real PAC engine, one that has nothing in common with dfproxy's code.
TEST_P(PacEndpoint, APacEngineSendsRoutedHostsToTheProxyBypassedOnesDirectAndTheRestPerFailMode)
{
    if (!havePacparser())
        GTEST_SKIP() << "python3-pacparser is not installed (scripts/deps.sh installs it)";
    const QString proxyDirective = "PROXY 127.0.0.1:" + port;
    // {url, host as a browser passes it (lower case or not, IPv6 with or without brackets)}, closed, open
    struct Case
    {
        const char *url;
        const char *host;
        const char *closed; ///< "P" = the proxy, "D" = DIRECT
        const char *open;   ///< "P;D" = the proxy, then DIRECT
    };
    const Case cases[] = {
        {"http://www.example.test/", "www.example.test", "P", "P;D"},
        {"https://WWW.Example.Test./x", "WWW.Example.Test.", "P", "P;D"},
        {"http://a.b.corp.test/", "a.b.corp.test", "P", "P;D"},
        {"http://corp.test/", "corp.test", "P", "D"}, // "*.corp.test" is not corp.test itself
        {"http://xcorp.test/", "xcorp.test", "P", "D"},
        {"http://other.test/", "other.test", "P", "D"},     // unrouted
        {"http://10.evil.test/", "10.evil.test", "P", "D"}, // a name, not an address in 10/8
        {"http://intranet/", "intranet", "D", "D"},         // <local>
        {"http://localhost:8080/", "localhost", "D", "D"},
        {"http://127.0.0.1/", "127.0.0.1", "D", "D"},
        {"http://10.1.2.3/", "10.1.2.3", "D", "D"},
        {"http://172.31.255.255/", "172.31.255.255", "D", "D"},
        {"http://172.32.0.1/", "172.32.0.1", "P", "D"},
        {"http://192.168.7.7/", "192.168.7.7", "D", "D"},
        {"http://169.254.169.254/", "169.254.169.254", "D", "D"},
        {"http://[::1]/", "::1", "D", "D"},
        {"http://[::1]/", "[::1]", "D", "D"},
        {"http://[fe80::1]/", "fe80::1", "D", "D"},
        {"http://[febf:ffff::1]/", "febf:ffff::1", "D", "D"},
        {"http://[fec0::1]/", "fec0::1", "P", "D"},
        // An IPv6 literal has no dot: it is not a plain host name (isPlainHostName would say it is).
        {"http://[2001:db8::1]/", "2001:db8::1", "P", "D"},
        {"http://256.1.1.1/", "256.1.1.1", "P", "D"},
    };
    auto expected = [&](const char *code) {
        return QString::fromLatin1(code) == "D"   ? QStringLiteral("DIRECT")
               : QString::fromLatin1(code) == "P" ? proxyDirective
                                                  : proxyDirective + "; DIRECT";
    };
    QList<QPair<QString, QString>> urls;
    for (const auto &c : cases)
        urls.append({QString::fromLatin1(c.url), QString::fromLatin1(c.host)});

    const QStringList closed = evaluate(urls);
    ASSERT_EQ(closed.size(), qsizetype(std::size(cases)));
    for (size_t i = 0; i < std::size(cases); ++i)
        EXPECT_EQ(closed[qsizetype(i)], expected(cases[i].closed)) << "failMode closed: " << cases[i].host;

    annotate({{"dfproxy.dev/pac-fail-mode", "open"}}, "; DIRECT\"");
    const QStringList open = evaluate(urls);
    ASSERT_EQ(open.size(), qsizetype(std::size(cases)));
    for (size_t i = 0; i < std::size(cases); ++i)
        EXPECT_EQ(open[qsizetype(i)], expected(cases[i].open)) << "failMode open: " << cases[i].host;
}

TEST(PacEndpointRoutes, ARouteWithoutHostnamesSendsEveryHostToTheProxyEvenWhenOpen)
{
    if (!havePacparser())
        GTEST_SKIP() << "python3-pacparser is not installed (scripts/deps.sh installs it)";
    DfproxyProcess::Options p;
    p.dnsServers = {"127.0.0.1"}; // never asked
    p.extraResources = {dfpBackend("dfp"), route("all", {}, "dfp")};
    DfproxyProcess proxy(p);
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    const QJsonObject patch{
        {"metadata", QJsonObject{{"annotations", QJsonObject{{"dfproxy.dev/pac-fail-mode", "open"}}}}}};
    ASSERT_EQ(proxy.api("PATCH", kGatewayPath, QJsonDocument(patch).toJson(), "application/merge-patch+json").status,
              200);
    QByteArray pac;
    ASSERT_TRUE(waitUntil(
        [&] {
            pac = curl({proxy.proxyUrl("/proxy.pac")}).body;
            return pac.contains("; DIRECT\"");
        },
        10000));
    QProcess py;
    py.start("/usr/bin/python3",
             {"-c", kPacparser, "http://anything.test/", "anything.test", "http://10.0.0.1/", "10.0.0.1"});
    py.write(pac);
    py.closeWriteChannel();
    ASSERT_TRUE(py.waitForFinished(30000));
    EXPECT_EQ(QString::fromUtf8(py.readAllStandardOutput()).trimmed(),
              QStringLiteral("PROXY 127.0.0.1:%1; DIRECT\nDIRECT").arg(proxy.proxyPort()));
}
