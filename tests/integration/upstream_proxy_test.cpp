// SPDX-License-Identifier: Apache-2.0
// dfproxy behind a corporate proxy (#22), end to end: the seed's DFP backend with an AgentgatewayPolicy whose
// spec.backend.tunnel.url points at a real Squid on loopback (started here with its own config, resolving only from
// its hosts file and the test's dnsmasq), without authentication, with Basic and with Digest; plain HTTP and CONNECT;
// a name only Squid knows (dfproxy's DNS answers NXDOMAIN for it); the bypass list; the errors a client sees; the
// access log's upstreamProxy field and the stats; a PAC file whose first proxy is down, with tinyproxy second.
#include "support/managedprocess.h"
#include "support/seedstack.h"
#include "support/squid.h"
#include "support/syscalltrace.h"
#include "support/testca.h"
#include "support/testsupport.h"
#include "support/wait.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QUrl>

#include <gtest/gtest.h>

#include <iostream>

using namespace dfproxy::test;

namespace {

const QString kOnlySquid = QStringLiteral("only-squid.test"); // in Squid's hosts file; NXDOMAIN for dfproxy

class UpstreamProxyTest : public SeedStackTest
{
protected:
    void SetUp() override
    {
        if (!Squid::available())
            GTEST_SKIP() << "squid is not installed (Debian package squid)";
        SeedStackTest::SetUp();
    }

    /// Squid with `auth`, resolving only-squid.test (and, through dnsmasq, httpbin.test) to 127.0.0.1.
    std::unique_ptr<Squid> startSquid(Squid::Auth auth)
    {
        Squid::Options o;
        o.auth = auth;
        o.hosts = {QStringLiteral("127.0.0.1 ") + kOnlySquid};
        o.dnsServer = dns->address();
        auto squid = std::make_unique<Squid>(o);
        EXPECT_TRUE(squid->start()) << squid->errorString().toStdString();
        return squid;
    }

    /// A private file in dfproxy's config directory (where files named through the admin API may be).
    QString privateFile(const QString &name, const QByteArray &content)
    {
        const QString path = QFileInfo(proxy->configPath()).absoluteDir().filePath(name);
        QFile f(path);
        EXPECT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(content);
        f.close();
        QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        return path;
    }

    /// Applies the AgentgatewayPolicy on the seed's backend; `annotations` as YAML lines ("    key: value\n"),
    /// `backend` as more lines of spec.backend ("    tls: {}\n").
    void applyTunnel(const QString &url, const QByteArray &annotations = {}, const QByteArray &backend = {})
    {
        QByteArray yaml = "apiVersion: agentgateway.dev/v1alpha1\n"
                          "kind: AgentgatewayPolicy\n"
                          "metadata:\n"
                          "  name: corp-proxy\n"
                          "  namespace: httpbin\n";
        if (!annotations.isEmpty())
            yaml += "  annotations:\n" + annotations;
        yaml += "spec:\n"
                "  targetRefs:\n"
                "  - group: agentgateway.dev\n"
                "    kind: AgentgatewayBackend\n"
                "    name: dfp-backend\n"
                "  backend:\n"
                "    tunnel:\n"
                "      url: " + url.toUtf8() + "\n" + backend;
        const auto r = proxy->ctl({"apply", "-f", "-"}, yaml);
        ASSERT_EQ(r.exitCode, 0) << r.err.toStdString() << r.out.toStdString();
    }

    CurlResult get(const QString &host, const QString &path = QStringLiteral("/echo"), const QStringList &extra = {})
    {
        return curl(extra + QStringList{"-x", proxy->proxyUrl(QString()),
                                        QStringLiteral("http://%1:%2%3").arg(host).arg(origin->port()).arg(path)});
    }

    /// Waits until a request to `host` goes the way `accessLogNeedle` says (the config is applied asynchronously).
    bool waitForAccessLog(const QByteArray &needle)
    {
        return waitUntil([&] { return proxy->apiGet("/api/v1/accesslog").body.contains(needle); }, 20000);
    }
};

} // namespace

TEST_F(UpstreamProxyTest, HttpAndConnectThroughSquidWithoutAuthentication)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    // A TLS origin on port 443 (the listener's default CONNECT port) of an address of its own.
    TestCa ca;
    ASSERT_TRUE(ca.create());
    const auto cert = ca.issueServerCert("tls-origin", {"tls.only-squid.test"});
    ASSERT_TRUE(cert);
    const QString tlsAddress = QStringLiteral("127.0.%1.%2").arg(QCoreApplication::applicationPid() % 200 + 20)
                                   .arg(QCoreApplication::applicationPid() % 250 + 2);
    OriginProcess::Options tls;
    tls.listen = {tlsAddress + ":443"};
    tls.tlsCert = cert->certPath;
    tls.tlsKey = cert->keyPath;
    OriginProcess tlsOrigin(tls);
    const bool haveTls = tlsOrigin.start();
    Squid::Options o;
    o.hosts = {"127.0.0.1 " + kOnlySquid, tlsAddress + " tls.only-squid.test"};
    o.dnsServer = dns->address();
    auto squid = std::make_unique<Squid>(o);
    ASSERT_TRUE(squid->start()) << squid->errorString().toStdString();

    applyTunnel(squid->url());
    ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid).status == 200; }, 20000)) << get(kOnlySquid).describe().toStdString();
    // dfproxy never resolved it (dnsmasq says NXDOMAIN for .test names it does not know): Squid did.
    const auto viaName = get(kOnlySquid, "/echo?n=1");
    EXPECT_EQ(viaName.status, 200) << viaName.describe().toStdString();
    EXPECT_EQ(get("httpbin.test").status, 200);
    EXPECT_TRUE(waitUntil([&] { return squid->accessLog().contains("GET http://only-squid.test:"); }, 10000))
        << squid->accessLog().constData();
    EXPECT_TRUE(waitForAccessLog(QStringLiteral("\"upstreamProxy\":\"127.0.0.1:%1\",\"upstreamProxyReason\":\"tunnel\"")
                                     .arg(squid->port()).toUtf8()))
        << proxy->apiGet("/api/v1/accesslog").body.constData();

    if (haveTls) {
        const auto https = curl({"-x", proxy->proxyUrl(QString()), "--cacert", ca.caCertPath(),
                                 "https://tls.only-squid.test/echo"});
        EXPECT_EQ(https.status, 200) << https.describe().toStdString();
        EXPECT_TRUE(waitUntil([&] { return squid->accessLog().contains("CONNECT tls.only-squid.test:443"); }, 10000))
            << squid->accessLog().constData();
    } else {
        ADD_FAILURE() << "no TLS origin on " << tlsAddress.toStdString() << ":443: " << tlsOrigin.describe().toStdString();
    }

    // The proxy by name: resolved through dfproxy's DNS cache (dnsmasq), the target still only by Squid.
    ASSERT_TRUE(dns->setHost("corp-proxy.test", {QHostAddress("127.0.0.1")}));
    applyTunnel(QStringLiteral("http://corp-proxy.test:%1").arg(squid->port()));
    EXPECT_TRUE(waitUntil(
        [&] {
            return get(kOnlySquid, "/echo?by-name").status == 200
                && proxy->apiGet("/api/v1/accesslog").body.contains(
                    QStringLiteral("\"upstreamProxy\":\"corp-proxy.test:%1\"").arg(squid->port()).toUtf8());
        },
        20000))
        << proxy->apiGet("/api/v1/accesslog").body.constData();

    const auto stats = proxy->apiGet("/api/v1/stats");
    const QJsonObject up = QJsonDocument::fromJson(stats.body).object().value("proxy").toObject()
                               .value("upstreamProxy").toObject();
    EXPECT_GE(up.value("requests").toInteger(), 3) << stats.body.constData();
    const QByteArray metrics = proxy->apiGet("/metrics").body;
    EXPECT_TRUE(metrics.contains(QStringLiteral("dfproxy_upstream_proxy_requests_total{upstream_proxy=\"127.0.0.1:%1\","
                                                "outcome=\"forwarded\"}")
                                     .arg(squid->port())
                                     .toUtf8()))
        << metrics.constData();
}

TEST_F(UpstreamProxyTest, ConnectionsThroughAnHttpProxyDuplicateNoDescriptor)
{
    // The sibling of ProxyEngine.DirectUpstreamConnectionsDuplicateNoDescriptor: to an http:// proxy, a client's
    // CONNECT tunnel (the proxy's CONNECT handshake included) and a plain request in absolute form run on a raw
    // socket from its connect on (net::Stream::connectTo), not on a QTcpSocket whose descriptor is duplicated for a
    // raw stream. strace watches the proxy's threads for a duplicating call.
    if (IsSkipped() || HasFatalFailure())
        return;
    if (!SyscallTrace::available())
        GTEST_SKIP() << "strace is not installed (DFPROXY_TEST_PACKAGES in scripts/deps.sh)";
    TestCa ca;
    ASSERT_TRUE(ca.create());
    const auto cert = ca.issueServerCert("tls-origin", {"tls.only-squid.test"});
    ASSERT_TRUE(cert);
    // A TLS origin on port 443 (the listener's default CONNECT port) of an address of its own.
    const QString tlsAddress = QStringLiteral("127.0.%1.%2").arg(QCoreApplication::applicationPid() % 200 + 20)
                                   .arg(QCoreApplication::applicationPid() % 250 + 3);
    OriginProcess::Options tls;
    tls.listen = {tlsAddress + ":443"};
    tls.tlsCert = cert->certPath;
    tls.tlsKey = cert->keyPath;
    OriginProcess tlsOrigin(tls);
    ASSERT_TRUE(tlsOrigin.start()) << tlsOrigin.describe().toStdString();
    Squid::Options o;
    o.hosts = {"127.0.0.1 " + kOnlySquid, tlsAddress + " tls.only-squid.test"};
    o.dnsServer = dns->address();
    Squid squid(o);
    ASSERT_TRUE(squid.start()) << squid.errorString().toStdString();
    applyTunnel(squid.url());
    const QStringList https = {"-x", proxy->proxyUrl(QString()), "--cacert", ca.caCertPath(),
                               "https://tls.only-squid.test/echo"};
    ASSERT_TRUE(waitUntil([&] { return curl(https).status == 200; }, 20000)) << curl(https).describe().toStdString();

    SyscallTrace trace;
    if (!trace.start(proxy->process()->pid(), QStringLiteral("fcntl,dup,dup2,dup3"),
                     proxy->dir().filePath(QStringLiteral("strace.txt"))))
        GTEST_SKIP() << trace.errorString().toStdString();
    for (int i = 0; i < 3; ++i) {
        const auto tunnelled = curl(https);
        EXPECT_EQ(tunnelled.status, 200) << tunnelled.describe().toStdString();
    }
    const auto plain = get(kOnlySquid, "/echo?absolute-form");
    EXPECT_EQ(plain.status, 200) << plain.describe().toStdString();
    const QByteArrayList calls = trace.stop();
    // Each accepted client is made non-blocking with fcntl: the trace saw the proxy at work.
    EXPECT_TRUE(calls.join('\n').contains("F_SETFL")) << calls.join('\n').constData();
    QByteArrayList duplicates;
    for (const QByteArray &line : calls) {
        if (line.contains("F_DUPFD") || line.contains(" dup(") || line.contains(" dup2(") || line.contains(" dup3("))
            duplicates.append(line);
    }
    EXPECT_TRUE(duplicates.isEmpty()) << duplicates.join('\n').constData();
    EXPECT_TRUE(waitUntil([&] { return squid.accessLog().contains("CONNECT tls.only-squid.test:443"); }, 10000))
        << squid.accessLog().constData();
}

TEST_F(UpstreamProxyTest, BasicAndDigestCredentialsAndWhatAFinal407Is)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    for (Squid::Auth auth : {Squid::Auth::Basic, Squid::Auth::Digest}) {
        SCOPED_TRACE(auth == Squid::Auth::Basic ? "Basic" : "Digest");
        auto squid = startSquid(auth);
        ASSERT_TRUE(squid->port());
        const QString good = privateFile("corp-proxy.cred", "alice:s3cret:with colon\n");
        applyTunnel(squid->url(), "    dfproxy.dev/tunnel-credentials-file: " + good.toUtf8() + "\n");
        ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid).status == 200; }, 20000))
            << get(kOnlySquid).describe().toStdString();
        EXPECT_EQ(get(kOnlySquid, "/echo?again").status, 200);

        const QString bad = privateFile(auth == Squid::Auth::Basic ? "wrong-basic.cred" : "wrong-digest.cred",
                                        "alice:wrong\n");
        applyTunnel(squid->url(), "    dfproxy.dev/tunnel-credentials-file: " + bad.toUtf8() + "\n");
        ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid).status == 502; }, 20000));
        const auto refused = get(kOnlySquid);
        EXPECT_EQ(refused.header("x-dfproxy-error"), "upstream_proxy_auth_failed") << refused.describe().toStdString();
        EXPECT_TRUE(refused.body.contains("refused the credentials of alice")) << refused.body.constData();
    }
}

TEST_F(UpstreamProxyTest, BypassUnreachableProxyAndPacFallback)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    const quint16 dead = freeTcpPort();
    applyTunnel(QStringLiteral("http://127.0.0.1:%1").arg(dead),
                "    dfproxy.dev/tunnel-bypass: \"<local>, *.bypass.test, httpbin.test\"\n");
    ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid).status == 502; }, 20000));
    const auto unreachable = get(kOnlySquid);
    EXPECT_EQ(unreachable.header("x-dfproxy-error"), "upstream_proxy_unreachable") << unreachable.describe().toStdString();
    EXPECT_TRUE(unreachable.body.contains(QStringLiteral("127.0.0.1:%1").arg(dead).toUtf8()));
    // httpbin.test is in the bypass list: straight to the origin, through dfproxy's own DNS.
    const auto direct = get("httpbin.test", "/echo", {"-H", "x-case: bypass"});
    EXPECT_EQ(direct.status, 200) << direct.describe().toStdString();
    EXPECT_TRUE(waitForAccessLog("\"upstreamProxy\":\"DIRECT\",\"upstreamProxyReason\":\"bypass httpbin.test\""))
        << proxy->apiGet("/api/v1/accesslog").body.constData();

    if (!Tinyproxy::available()) {
        GTEST_SKIP() << "tinyproxy is not installed (Debian package tinyproxy): the PAC fallback is not checked";
    }
    Tinyproxy tiny;
    ASSERT_TRUE(tiny.start()) << tiny.errorString().toStdString();
    // PROXY dead; PROXY tinyproxy; DIRECT. The origin by address: tinyproxy resolves with the system's resolver.
    // httpbin.test: DIRECT when dnsResolve (dfproxy's DNS cache, from the PAC thread) says it is on loopback; else only
    // the dead proxy (a 502, never tinyproxy, which would ask the system's resolver).
    const QString pac = privateFile("corp.pac", QStringLiteral("function FindProxyForURL(url, host) {\n"
                                                               "  if (host == 'httpbin.test')\n"
                                                               "    return isInNet(dnsResolve(host), '127.0.0.0', '255.0.0.0')"
                                                               " ? 'DIRECT' : 'PROXY 127.0.0.1:%1';\n"
                                                               "  return 'PROXY 127.0.0.1:%1; PROXY 127.0.0.1:%2; DIRECT';\n"
                                                               "}\n")
                                                    .arg(dead)
                                                    .arg(tiny.port())
                                                    .toUtf8());
    applyTunnel(QStringLiteral("http://127.0.0.1:%1").arg(dead),
                "    dfproxy.dev/tunnel-pac-url: " + QUrl::fromLocalFile(pac).toString().toUtf8() + "\n");
    ASSERT_TRUE(waitUntil([&] { return get("127.0.0.1").status == 200; }, 20000)) << get("127.0.0.1").describe().toStdString();
    EXPECT_TRUE(waitForAccessLog(QStringLiteral("\"upstreamProxy\":\"127.0.0.1:%1\",\"upstreamProxyReason\":\"pac PROXY")
                                     .arg(tiny.port()).toUtf8()))
        << proxy->apiGet("/api/v1/accesslog").body.constData();
    EXPECT_TRUE(tiny.describe().contains(QLatin1String("/echo"))) << tiny.describe().toStdString();
    // The dead proxy refused a moment ago: for 30 s the PAC's next entry goes first, so no request dials it again
    // (dfproxy.forward logs every dial at debug).
    const auto logging = proxy->api("PUT", "/api/v1/logging", R"({"categories": {"dfproxy.forward": "debug"}})");
    ASSERT_EQ(logging.status, 200) << logging.body.constData();
    const qsizetype logStart = proxy->process()->stderrData().size();
    for (const char *path : {"/echo?after-failure=1", "/echo?after-failure=2"}) {
        const auto next = get("127.0.0.1", QString::fromLatin1(path));
        EXPECT_EQ(next.status, 200) << next.describe().toStdString();
    }
    EXPECT_TRUE(tiny.describe().contains(QLatin1String("after-failure=2"))) << tiny.describe().toStdString();
    const QByteArray log = proxy->process()->stderrData().mid(logStart);
    EXPECT_FALSE(log.contains(QStringLiteral("(upstream proxy 127.0.0.1:%1)").arg(dead).toUtf8())) << log.constData();
    const auto resolved = get("httpbin.test", "/echo", {"-H", "x-case: pac-dns"});
    EXPECT_EQ(resolved.status, 200) << resolved.describe().toStdString();
    EXPECT_TRUE(waitForAccessLog("\"upstreamProxy\":\"DIRECT\",\"upstreamProxyReason\":\"pac DIRECT\""))
        << proxy->apiGet("/api/v1/accesslog").body.constData();
}

TEST_F(UpstreamProxyTest, HttpsProxyVerifiedWithAPrivateCa)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    TestCa ca;
    ASSERT_TRUE(ca.create(QStringLiteral("corp proxy CA")));
    const auto proxyCert = ca.issueServerCert("corp-proxy", {"corp-proxy.test"});
    const auto originCert = ca.issueServerCert("tls-origin", {"tls.only-squid.test", "h2.only-squid.test"});
    ASSERT_TRUE(proxyCert && originCert) << ca.errorString().toStdString();
    // A TLS origin on port 443 (the listener's default CONNECT port) of an address of its own.
    const QString tlsAddress = QStringLiteral("127.0.%1.%2").arg(QCoreApplication::applicationPid() % 200 + 21)
                                   .arg(QCoreApplication::applicationPid() % 250 + 3);
    OriginProcess::Options tls;
    tls.listen = {tlsAddress + ":443"};
    tls.tlsCert = originCert->certPath;
    tls.tlsKey = originCert->keyPath;
    OriginProcess tlsOrigin(tls);
    ASSERT_TRUE(tlsOrigin.start()) << tlsOrigin.describe().toStdString();
    Squid::Options o;
    o.hosts = {"127.0.0.1 " + kOnlySquid, tlsAddress + " tls.only-squid.test", tlsAddress + " other.only-squid.test",
               "127.0.0.1 h2.only-squid.test"};
    o.dnsServer = dns->address();
    o.tlsCert = proxyCert->certPath;
    o.tlsKey = proxyCert->keyPath;
    Squid squid(o);
    ASSERT_TRUE(squid.start()) << squid.errorString().toStdString();
    // The proxy by the name its certificate carries (dfproxy verifies it, with SNI corp-proxy.test).
    ASSERT_TRUE(dns->setHost("corp-proxy.test", {QHostAddress("127.0.0.1")}));
    auto pem = [](const QString &path) {
        QFile f(path);
        EXPECT_TRUE(f.open(QIODevice::ReadOnly)) << path.toStdString();
        return f.readAll();
    };
    const QString url = QStringLiteral("https://corp-proxy.test:%1").arg(squid.tlsPort());
    const QString good = privateFile("corp-proxy-ca.pem", pem(ca.caCertPath()));
    applyTunnel(url, "    dfproxy.dev/tunnel-ca-file: " + good.toUtf8() + "\n");
    ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid).status == 200; }, 20000))
        << get(kOnlySquid).describe().toStdString() << squid.describe().toStdString();
    EXPECT_TRUE(waitUntil([&] { return squid.accessLog().contains("GET http://only-squid.test:"); }, 10000))
        << squid.accessLog().constData();
    EXPECT_TRUE(
        waitForAccessLog(QStringLiteral("\"upstreamProxy\":\"corp-proxy.test:%1\"").arg(squid.tlsPort()).toUtf8()))
        << proxy->apiGet("/api/v1/accesslog").body.constData();
    const auto https = curl({"-x", proxy->proxyUrl(QString()), "--cacert", ca.caCertPath(),
                             "https://tls.only-squid.test/echo"});
    EXPECT_EQ(https.status, 200) << https.describe().toStdString();
    EXPECT_TRUE(waitUntil([&] { return squid.accessLog().contains("CONNECT tls.only-squid.test:443"); }, 10000))
        << squid.accessLog().constData();

    // dfproxy's own TLS to the origin (absolute-form https://) runs inside the TLS connection to the proxy and is
    // verified as without a proxy: against the system's CAs, which do not know the test CA. A precise 502.
    const auto absolute = [&](const QString &target) {
        return curl({"--request-target", target, proxy->proxyUrl("/")});
    };
    const auto untrusted = absolute("https://tls.only-squid.test/echo?system-cas");
    EXPECT_EQ(untrusted.status, 502) << untrusted.describe().toStdString();
    EXPECT_EQ(untrusted.header("x-dfproxy-error"), "upstream_tls_error") << untrusted.describe().toStdString();
    EXPECT_TRUE(untrusted.body.contains(
        QStringLiteral("TLS to tls.only-squid.test port 443 through the upstream proxy corp-proxy.test:%1 failed")
            .arg(squid.tlsPort())
            .toUtf8()))
        << untrusted.body.constData();
    // With the backend's CA (AgentgatewayPolicy spec.backend.tls) it verifies: the origin's body, over TLS inside
    // the TLS connection to the proxy.
    const QString originCa = privateFile("origin-ca.pem", pem(ca.caCertPath()));
    applyTunnel(url,
                "    dfproxy.dev/tunnel-ca-file: " + good.toUtf8() + "\n    dfproxy.dev/backend-tls-ca-file: "
                    + originCa.toUtf8() + "\n",
                "    tls: {}\n");
    ASSERT_TRUE(waitUntil([&] { return absolute("https://tls.only-squid.test/echo?backend-ca").status == 200; },
                          20000))
        << absolute("https://tls.only-squid.test/echo?backend-ca").describe().toStdString();
    const auto inside = absolute("https://tls.only-squid.test/echo?inside");
    EXPECT_EQ(inside.status, 200) << inside.describe().toStdString();
    EXPECT_TRUE(inside.body.contains("inside")) << inside.body.constData();
    // Many TLS records each way: a body larger than the buffers on the way.
    const auto big = absolute("https://tls.only-squid.test/bytes/1000000");
    EXPECT_EQ(big.status, 200) << big.describe().toStdString();
    EXPECT_EQ(big.body.size(), 1000000);
    EXPECT_TRUE(big.body.endsWith(QByteArray("abcdefghijklmnopqrstuvwxyz").left(1000000 % 26))) << "in order";
    const QString upload = privateFile("upload.bin", QByteArray(700000, 'u'));
    const auto posted = curl({"--request-target", "https://tls.only-squid.test/echo?upload", "--data-binary",
                              "@" + upload, proxy->proxyUrl("/")});
    EXPECT_EQ(posted.status, 200) << posted.describe().toStdString();
    EXPECT_EQ(QJsonDocument::fromJson(posted.body).object().value("bodyLength").toInt(), 700000)
        << posted.body.left(300).constData();
    // A backend with tls speaks TLS to the origin for a plain http:// request too: the same way in.
    const auto backendTls = curl({"-x", proxy->proxyUrl(QString()), "http://tls.only-squid.test:443/echo?backend-tls"});
    EXPECT_EQ(backendTls.status, 200) << backendTls.describe().toStdString();
    EXPECT_TRUE(backendTls.body.contains("backend-tls")) << backendTls.body.constData();
    EXPECT_TRUE(squid.accessLog().contains("CONNECT tls.only-squid.test:443")) << squid.accessLog().constData();
    // A name the origin's certificate does not carry: 502 with the TLS reason, as without a proxy.
    const auto mismatch = absolute("https://other.only-squid.test/echo?mismatch");
    EXPECT_EQ(mismatch.status, 502) << mismatch.describe().toStdString();
    EXPECT_EQ(mismatch.header("x-dfproxy-error"), "upstream_tls_error") << mismatch.describe().toStdString();
    EXPECT_TRUE(mismatch.body.contains("does not verify")) << mismatch.body.constData();

    // HTTP/2 to the origin (spec.backend.http.version HTTP2): ALPN h2 inside the tunnel, and an origin that does not
    // choose it is refused as without a proxy (python3-h2's origin, tests/fixtures/h2origin/).
    ManagedProcess h2origin("/usr/bin/python3", {sourceDir() + "/tests/fixtures/h2origin/h2origin.py", "--tls",
                                                 originCert->certPath, originCert->keyPath});
    const bool haveH2 = h2origin.start();
    const auto listening = haveH2 ? h2origin.waitForOutput(QRegularExpression("listening on (\\d+)"), 20000)
                                  : std::nullopt;
    if (!listening) {
        std::cout << "[ SKIPPED ] the HTTP/2 part: the h2 origin did not start (Debian package python3-h2)\n"
                  << h2origin.describe().toStdString() << std::endl;
    } else {
        applyTunnel(url,
                    "    dfproxy.dev/tunnel-ca-file: " + good.toUtf8() + "\n    dfproxy.dev/backend-tls-ca-file: "
                        + originCa.toUtf8() + "\n",
                    "    tls: {}\n    http:\n      version: HTTP2\n");
        const QString h2url =
            QStringLiteral("https://h2.only-squid.test:%1/echo?h2-inside").arg(listening->captured(1));
        ASSERT_TRUE(waitUntil([&] { return absolute(h2url).status == 200; }, 20000))
            << absolute(h2url).describe().toStdString();
        const QJsonObject echo = QJsonDocument::fromJson(absolute(h2url).body).object();
        EXPECT_EQ(echo.value("path").toString(), "/echo?h2-inside") << echo.value("path").toString().toStdString();
        // The same origin offering only http/1.1 by ALPN.
        ManagedProcess h1origin("/usr/bin/python3", {sourceDir() + "/tests/fixtures/h2origin/h2origin.py", "--tls",
                                                     originCert->certPath, originCert->keyPath, "--alpn", "http/1.1"});
        ASSERT_TRUE(h1origin.start()) << h1origin.describe().toStdString();
        const auto h1listening = h1origin.waitForOutput(QRegularExpression("listening on (\\d+)"), 20000);
        ASSERT_TRUE(h1listening) << h1origin.describe().toStdString();
        const auto h1only =
            absolute(QStringLiteral("https://h2.only-squid.test:%1/echo").arg(h1listening->captured(1)));
        EXPECT_EQ(h1only.status, 502) << h1only.describe().toStdString();
        EXPECT_TRUE(h1only.body.contains("did not select HTTP/2 by ALPN")) << h1only.body.constData();
    }

    const qsizetype before = squid.accessLog().count("only-squid.test");
    // The same proxy as a PAC file's HTTPS entry, verified with the same CA file (the fixed URL is a dead one).
    const QString pac = privateFile("https.pac", QStringLiteral("function FindProxyForURL(url, host) {\n"
                                                                "  return 'HTTPS corp-proxy.test:%1';\n"
                                                                "}\n")
                                                     .arg(squid.tlsPort())
                                                     .toUtf8());
    applyTunnel(QStringLiteral("http://127.0.0.1:%1").arg(freeTcpPort()),
                "    dfproxy.dev/tunnel-ca-file: " + good.toUtf8() + "\n    dfproxy.dev/tunnel-pac-url: "
                    + QUrl::fromLocalFile(pac).toString().toUtf8() + "\n");
    EXPECT_TRUE(waitUntil([&] { return get(kOnlySquid, "/echo?pac-https").status == 200
                                    && proxy->apiGet("/api/v1/accesslog").body.contains(
                                        "\"upstreamProxyReason\":\"pac HTTPS corp-proxy.test:"); },
                          20000))
        << get(kOnlySquid, "/echo?pac-https").describe().toStdString()
        << proxy->apiGet("/api/v1/accesslog").body.constData();
    // (Squid logs requests without their query: count them.)
    EXPECT_TRUE(waitUntil([&] { return squid.accessLog().count("only-squid.test") > before; }, 10000));
    const qsizetype carried = squid.accessLog().count("only-squid.test");

    // Another CA does not vouch for the proxy: no request goes through it (nor an idle connection verified before).
    TestCa other;
    ASSERT_TRUE(other.create(QStringLiteral("another CA")));
    const QString wrong = privateFile("other-ca.pem", pem(other.caCertPath()));
    applyTunnel(url, "    dfproxy.dev/tunnel-ca-file: " + wrong.toUtf8() + "\n");
    ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid, "/echo?wrong-ca").status == 502; }, 20000));
    const auto refused = get(kOnlySquid, "/echo?wrong-ca");
    EXPECT_EQ(refused.header("x-dfproxy-error"), "upstream_tls_error") << refused.describe().toStdString();
    EXPECT_TRUE(refused.body.contains(QStringLiteral("TLS to the upstream proxy corp-proxy.test port %1 failed")
                                          .arg(squid.tlsPort()).toUtf8()))
        << refused.body.constData();
    const auto tunnel = curl({"-x", proxy->proxyUrl(QString()), "--cacert", ca.caCertPath(),
                              "https://tls.only-squid.test/echo?wrong-ca"});
    EXPECT_NE(tunnel.status, 200) << tunnel.describe().toStdString();
    EXPECT_EQ(squid.accessLog().count("only-squid.test"), carried) << squid.accessLog().constData();

    // A file without a certificate in it: said per request.
    const QString empty = privateFile("not-a-ca.pem", "not a certificate\n");
    applyTunnel(url, "    dfproxy.dev/tunnel-ca-file: " + empty.toUtf8() + "\n");
    ASSERT_TRUE(waitUntil([&] { return get(kOnlySquid, "/echo?no-ca").body.contains("holds no PEM certificate"); },
                          20000))
        << get(kOnlySquid, "/echo?no-ca").describe().toStdString();
    EXPECT_EQ(get(kOnlySquid, "/echo?no-ca").header("x-dfproxy-error"), "upstream_tls_error");
}

// A credentials file that asks for a scheme dfproxy does not speak is refused when a write names it (422 at the
// annotation, through dfproxyctl and the REST API alike), and nothing is applied.
TEST_F(UpstreamProxyTest, ACredentialsFileWithAnUnknownSchemeIsRefusedWhenApplied)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    const QString cred = privateFile(QStringLiteral("kerberos.cred"), "type: kerberos\n");
    const QByteArray yaml = "apiVersion: agentgateway.dev/v1alpha1\n"
                            "kind: AgentgatewayPolicy\n"
                            "metadata:\n"
                            "  name: corp-proxy\n"
                            "  namespace: httpbin\n"
                            "  annotations:\n"
                            "    dfproxy.dev/tunnel-credentials-file: " + cred.toUtf8() + "\n"
                            "spec:\n"
                            "  targetRefs:\n"
                            "  - group: agentgateway.dev\n"
                            "    kind: AgentgatewayBackend\n"
                            "    name: dfp-backend\n"
                            "  backend:\n"
                            "    tunnel:\n"
                            "      url: http://127.0.0.1:3128\n";
    const auto r = proxy->api("POST", "/api/v1/apply", yaml, "application/yaml");
    EXPECT_EQ(r.status, 422) << r.describe().toStdString();
    EXPECT_TRUE(r.body.contains("tunnel-credentials-file")) << r.body.toStdString();
    EXPECT_TRUE(r.body.contains("asks for 'kerberos' authentication, which dfproxy does not speak"))
        << r.body.toStdString();
    EXPECT_EQ(proxy->apiGet("/api/v1/namespaces/httpbin/agentgatewaypolicies/corp-proxy").status, 404);
    const auto ctl = proxy->ctl({"apply", "-f", "-"}, yaml);
    EXPECT_NE(ctl.exitCode, 0);
    EXPECT_TRUE((ctl.err + ctl.out).contains("does not speak")) << ctl.err.toStdString() << ctl.out.toStdString();
}

// A tunnel that cannot carry a backend's requests is refused when it is applied (422 with the policy's field path),
// not found out per request: here a Gateway's tunnel that would reach a qnam backend through a route of that Gateway,
// whichever of the two is applied last.
TEST_F(UpstreamProxyTest, ATunnelReachingAQnamBackendIsRefusedWhenApplied)
{
    if (IsSkipped() || HasFatalFailure())
        return;
    const QByteArray gatewayTunnel = "apiVersion: agentgateway.dev/v1alpha1\n"
                                     "kind: AgentgatewayPolicy\n"
                                     "metadata:\n"
                                     "  name: corp-proxy\n"
                                     "  namespace: agentgateway-system\n"
                                     "spec:\n"
                                     "  targetRefs:\n"
                                     "  - group: gateway.networking.k8s.io\n"
                                     "    kind: Gateway\n"
                                     "    name: agentgateway-proxy\n"
                                     "  backend:\n"
                                     "    tunnel:\n"
                                     "      url: http://127.0.0.1:3128\n";
    const QByteArray qnamRoute = "apiVersion: agentgateway.dev/v1alpha1\n"
                                 "kind: AgentgatewayBackend\n"
                                 "metadata:\n"
                                 "  name: qnam-backend\n"
                                 "  namespace: httpbin\n"
                                 "spec:\n"
                                 "  engine: qnam\n"
                                 "  dynamicForwardProxy: {}\n"
                                 "---\n"
                                 "apiVersion: gateway.networking.k8s.io/v1\n"
                                 "kind: HTTPRoute\n"
                                 "metadata:\n"
                                 "  name: qnam-route\n"
                                 "  namespace: httpbin\n"
                                 "spec:\n"
                                 "  parentRefs:\n"
                                 "  - name: agentgateway-proxy\n"
                                 "    namespace: agentgateway-system\n"
                                 "  hostnames: [qnam.test]\n"
                                 "  rules:\n"
                                 "  - backendRefs:\n"
                                 "    - name: qnam-backend\n"
                                 "      group: agentgateway.dev\n"
                                 "      kind: AgentgatewayBackend\n";
    auto refused = [](const CurlResult &r) {
        return r.status == 422 && r.header("content-type").startsWith("application/problem+json")
            && r.body.contains("spec.backend.tunnel") && r.body.contains("httpbin/qnam-backend uses engine: qnam");
    };
    auto r = proxy->api("POST", "/api/v1/apply", gatewayTunnel, "application/yaml");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString(); // the seed's backend is native: fine
    r = proxy->api("POST", "/api/v1/apply", qnamRoute, "application/yaml");
    EXPECT_TRUE(refused(r)) << r.describe().toStdString();
    EXPECT_EQ(proxy->apiGet("/api/v1/namespaces/httpbin/httproutes/qnam-route").status, 404) << "nothing applied";

    // The other order: the route first, then the Gateway's tunnel.
    r = proxy->api("DELETE", "/api/v1/namespaces/agentgateway-system/agentgatewaypolicies/corp-proxy");
    ASSERT_EQ(r.status / 100, 2) << r.describe().toStdString();
    r = proxy->api("POST", "/api/v1/apply", qnamRoute, "application/yaml");
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    r = proxy->api("POST", "/api/v1/apply", gatewayTunnel, "application/yaml");
    EXPECT_TRUE(refused(r)) << r.describe().toStdString();
}
