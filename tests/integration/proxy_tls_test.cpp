// SPDX-License-Identifier: Apache-2.0
// TLS through the real dfproxy: an HTTPS listener (curl --cacert), and TLS to HTTPS origins with a configured CA,
// the system CAs, insecureSkipVerify and a name the certificate does not cover; both engines.
#include "proxyitutil.h"

#include <QRegularExpression>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

class ProxyTls : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        s_ca = std::make_unique<TestCa>();
        ASSERT_TRUE(s_ca->create()) << s_ca->errorString().toStdString();
        // The origin's certificate covers every name the tests dial except wrongname.test.
        s_origin = s_ca->issueServerCert("origin", {"secure.test", "nocafile.test", "insecure.test", "qnam-secure.test",
                                                    "qnam-nocafile.test", "sni.test"});
        ASSERT_TRUE(s_origin) << s_ca->errorString().toStdString();
        s_listener = s_ca->issueServerCert("listener", {"proxy.test"});
        ASSERT_TRUE(s_listener) << s_ca->errorString().toStdString();
    }
    static void TearDownTestSuite()
    {
        s_ca.reset();
    }

    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        for (const char *name : {"secure.test", "nocafile.test", "insecure.test", "wrongname.test",
                                 "qnam-secure.test", "qnam-nocafile.test", "qnam-wrongname.test", "plain.test",
                                 "sni-override.test", "notls.test"})
            ASSERT_TRUE(dns->setHost(name, {QHostAddress("127.0.0.1")}));

        OriginProcess::Options o;
        o.title = "tls origin";
        o.tlsCert = s_origin->certPath;
        o.tlsKey = s_origin->keyPath;
        tlsOrigin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(tlsOrigin->start()) << tlsOrigin->describe().toStdString();
        OriginProcess::Options po;
        po.title = "plain origin";
        plainOrigin = std::make_unique<OriginProcess>(po);
        ASSERT_TRUE(plainOrigin->start()) << plainOrigin->describe().toStdString();

        httpsPort = freeTcpPort();
        const QString ca = s_ca->caCertPath();
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        p.extraResources = {
            gateway("tls-proxy", "https", "HTTPS", httpsPort, s_listener->chainPath, s_listener->keyPath),
            dfpBackend("plain"),
            dfpBackend("no-tls", {{"tls", false}}),
            dfpBackend("with-ca", {{"tls", QJsonObject{{"caFile", ca}}}}),
            dfpBackend("system-cas", {{"tls", true}}),
            dfpBackend("insecure", {{"tls", QJsonObject{{"insecureSkipVerify", true}}}}),
            dfpBackend("sni-override", {{"tls", QJsonObject{{"caFile", ca}, {"sni", "sni.test"}}}}),
            dfpBackend("qnam-with-ca", {{"tls", QJsonObject{{"caFile", ca}}}, {"engine", "qnam"}}),
            dfpBackend("qnam-system-cas", {{"tls", true}, {"engine", "qnam"}}),
            route("plain", {"plain.test"}, "plain", {"agentgateway-proxy", "tls-proxy"}),
            route("no-tls", {"notls.test"}, "no-tls"),
            route("with-ca", {"secure.test", "wrongname.test"}, "with-ca", {"agentgateway-proxy", "tls-proxy"}),
            route("system-cas", {"nocafile.test"}, "system-cas"),
            route("insecure", {"insecure.test"}, "insecure"),
            route("sni-override", {"sni-override.test"}, "sni-override"),
            route("qnam-with-ca", {"qnam-secure.test", "qnam-wrongname.test"}, "qnam-with-ca"),
            route("qnam-system-cas", {"qnam-nocafile.test"}, "qnam-system-cas"),
            route("ip-literal", {"127.1", "2130706433"}, "with-ca"),
            QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                        {"kind", "AgentgatewayBackend"},
                        {"metadata", QJsonObject{{"name", "static-short-ip"}, {"namespace", "httpbin"}}},
                        {"spec", QJsonObject{{"static", QJsonObject{{"host", "127.1"}, {"port", tlsOrigin->port()}}},
                                             {"tls", QJsonObject{{"caFile", ca}}}}}},
            route("static-short-ip", {"static-short-ip.test"}, "static-short-ip"),
        };
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        ASSERT_TRUE(waitForPort(httpsPort)) << proxy->describe().toStdString();
    }

    CurlResult viaHttpListener(const QString &name)
    {
        return curl({"-H", QStringLiteral("host: %1:%2").arg(name).arg(tlsOrigin->port()), proxy->proxyUrl("/")});
    }

    static std::unique_ptr<TestCa> s_ca;
    static std::optional<TestCa::ServerCert> s_origin, s_listener;
    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> tlsOrigin, plainOrigin;
    std::unique_ptr<DfproxyProcess> proxy;
    quint16 httpsPort = 0;
};

std::unique_ptr<TestCa> ProxyTls::s_ca;
std::optional<TestCa::ServerCert> ProxyTls::s_origin, ProxyTls::s_listener;

TEST_F(ProxyTls, HttpsListenerServesCurlWithTheCaCert)
{
    const QString url = QStringLiteral("https://proxy.test:%1/").arg(httpsPort);
    const auto r = curl({"--cacert", s_ca->caCertPath(), "--resolve",
                         QStringLiteral("proxy.test:%1:127.0.0.1").arg(httpsPort), "-H",
                         QStringLiteral("host: plain.test:%1").arg(plainOrigin->port()), url});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-origin-title"), "plain origin");

    // keep-alive over TLS: two requests on one connection (curl reuses it; both must succeed)
    const auto two = curl({"--cacert", s_ca->caCertPath(), "--resolve",
                           QStringLiteral("proxy.test:%1:127.0.0.1").arg(httpsPort), "-H",
                           QStringLiteral("host: plain.test:%1").arg(plainOrigin->port()), url, url});
    EXPECT_EQ(two.exitCode, 0) << two.describe().toStdString();
    EXPECT_TRUE(two.stderrText.isEmpty()) << two.describe().toStdString();
}

TEST_F(ProxyTls, HttpsListenerIsRejectedWithoutTheCa)
{
    const auto r = curl({"--resolve", QStringLiteral("proxy.test:%1:127.0.0.1").arg(httpsPort), "-H",
                         QStringLiteral("host: plain.test:%1").arg(plainOrigin->port()),
                         QStringLiteral("https://proxy.test:%1/").arg(httpsPort)});
    EXPECT_EQ(r.exitCode, 60) << r.describe().toStdString(); // peer certificate cannot be authenticated
    // and the proxy still serves the next client
    const auto ok = curl({"--cacert", s_ca->caCertPath(), "--resolve",
                          QStringLiteral("proxy.test:%1:127.0.0.1").arg(httpsPort), "-H",
                          QStringLiteral("host: plain.test:%1").arg(plainOrigin->port()),
                          QStringLiteral("https://proxy.test:%1/").arg(httpsPort)});
    EXPECT_EQ(ok.status, 200) << ok.describe().toStdString();
}

TEST_F(ProxyTls, HttpsListenerToHttpsOrigin)
{
    const auto r = curl({"--cacert", s_ca->caCertPath(), "--resolve",
                         QStringLiteral("proxy.test:%1:127.0.0.1").arg(httpsPort), "-H",
                         QStringLiteral("host: secure.test:%1").arg(tlsOrigin->port()),
                         QStringLiteral("https://proxy.test:%1/headers").arg(httpsPort)});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-origin-title"), "tls origin");
}

TEST_F(ProxyTls, UpstreamTlsVerifiedWithTheConfiguredCa)
{
    for (const char *name : {"secure.test", "qnam-secure.test"}) {
        const auto r = viaHttpListener(name);
        EXPECT_EQ(r.status, 200) << name << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-origin-title"), "tls origin") << name;
    }
}

TEST_F(ProxyTls, UpstreamTlsWithSystemCasFailsFor502)
{
    for (const char *name : {"nocafile.test", "qnam-nocafile.test"}) {
        const auto r = viaHttpListener(name);
        EXPECT_EQ(r.status, 502) << name << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_tls_error") << name;
    }
}

TEST_F(ProxyTls, AbsoluteFormHttpsIsForwardedOverVerifiedTlsNeverPlaintext)
{
    // `GET https://host/...` sent to the proxy as is (no CONNECT): dfproxy opens TLS to the origin itself.
    const auto absolute = [&](const char *name) {
        return curl({"--request-target", QStringLiteral("https://%1:%2/headers").arg(name).arg(tlsOrigin->port()),
                     proxy->proxyUrl("/")});
    };
    for (const char *name : {"secure.test", "qnam-secure.test"}) { // backends with the test CA: verified, 200
        const auto r = absolute(name);
        EXPECT_EQ(r.status, 200) << name << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-origin-title"), "tls origin") << name;
    }
    // A backend without TLS settings still speaks TLS for https://, verified against the system CAs, which do not
    // know the test CA: refused, never downgraded to plaintext.
    const auto plain = absolute("plain.test");
    EXPECT_EQ(plain.status, 502) << plain.describe().toStdString();
    EXPECT_EQ(plain.header("x-dfproxy-error"), "upstream_tls_error");
    // A backend that turns TLS off cannot carry https:// at all.
    const auto off = absolute("notls.test");
    EXPECT_EQ(off.status, 400) << off.describe().toStdString();
    EXPECT_EQ(off.header("x-dfproxy-error"), "tls_disabled_by_backend");
    // The default port of https:// is 443: nothing listens there on loopback, so the connection is refused (it
    // would be port 80 if the scheme were ignored).
    const auto noPort = curl({"--request-target", "https://secure.test/headers", proxy->proxyUrl("/")});
    EXPECT_EQ(noPort.status, 502) << noPort.describe().toStdString();
}

TEST_F(ProxyTls, InsecureSkipVerifyAcceptsAnyCertificate)
{
    const auto r = viaHttpListener("insecure.test");
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
}

TEST_F(ProxyTls, AnIpLiteralTargetInAShortSpellingIsVerifiedAgainstTheCertificatesAddresses)
{
    // The origin's certificate names hosts only, no address: https://127.1/ (Qt reads 127.0.0.1) must fail
    // verification like https://127.0.0.1/ would, not pass with no identity check.
    for (const char *host : {"127.1", "2130706433"}) {
        const auto r = curl({"-H", QStringLiteral("host: %1:%2").arg(host).arg(tlsOrigin->port()), proxy->proxyUrl("/")});
        EXPECT_EQ(r.status, 502) << host << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_tls_error") << host;
    }
    // A static backend's host is taken as written ("127.1" is a valid address there) and is the verification name:
    // it too must be checked against the certificate's addresses (it passed with no identity check before).
    const auto r = viaHttpListener("static-short-ip.test");
    EXPECT_EQ(r.status, 502) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_tls_error");
    EXPECT_TRUE(r.body.contains("IP address mismatch")) << r.describe().toStdString();
}

TEST_F(ProxyTls, NameOutsideTheCertificateFails)
{
    // wrongname.test resolves to the same origin, whose certificate does not cover it: verification is against
    // the name, not the dialled IP.
    for (const char *name : {"wrongname.test", "qnam-wrongname.test"}) {
        const auto r = viaHttpListener(name);
        EXPECT_EQ(r.status, 502) << name << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_tls_error") << name;
    }
}

// A new connection to an origin resumes the TLS session of the one before (the native engine's direct TLS:
// TlsClientStream, forward/tlsclient.h's session cache), and dfproxy.forward says so at debug. The origin is python's
// ssl module (Qt's server declines every resumption); /close answers with "connection: close", so the next
// request needs a new connection.
TEST_F(ProxyTls, TheNextConnectionToAnOriginResumesItsTlsSession)
{
    ManagedProcess origin(QStringLiteral("/usr/bin/python3"),
                          {sourceDir() + "/tests/fixtures/tlsorigin/tlsorigin.py", s_origin->certPath,
                           s_origin->keyPath});
    const auto listening = origin.start() ? origin.waitForOutput(QRegularExpression("listening on (\\d+)"), 20000)
                                          : std::nullopt;
    if (!listening)
        GTEST_SKIP() << "the python3 TLS origin did not start: " << origin.describe().toStdString();
    const quint16 port = quint16(listening->captured(1).toUInt());
    const auto logging = proxy->api("PUT", "/api/v1/logging", R"({"categories": {"dfproxy.forward": "debug"}})");
    ASSERT_EQ(logging.status, 200) << logging.body.constData();
    const qsizetype logStart = proxy->process()->stderrData().size();
    const auto get = [&](const QString &path) {
        return curl({"-H", QStringLiteral("host: secure.test:%1").arg(port), proxy->proxyUrl(path)});
    };

    const auto first = get("/close");
    ASSERT_EQ(first.status, 200) << first.describe().toStdString();
    const QJsonObject firstSeen = QJsonDocument::fromJson(first.body).object();
    EXPECT_FALSE(firstSeen.value("resumed").toBool()) << first.body.constData();
    const auto second = get("/again");
    ASSERT_EQ(second.status, 200) << second.describe().toStdString();
    const QJsonObject secondSeen = QJsonDocument::fromJson(second.body).object();
    EXPECT_EQ(secondSeen.value("connection").toInt(), firstSeen.value("connection").toInt() + 1)
        << second.body.constData();
    EXPECT_TRUE(secondSeen.value("resumed").toBool()) << "the origin saw a full handshake: "
                                                     << second.body.constData();
    ASSERT_TRUE(waitUntil([&] { return proxy->process()->stderrData().mid(logStart).contains("(resumed)"); }, 5000))
        << proxy->process()->stderrData().mid(logStart).constData();
    const QByteArray log = proxy->process()->stderrData().mid(logStart);
    EXPECT_TRUE(log.contains(QStringLiteral("TLS to secure.test at 127.0.0.1 port %1:").arg(port).toUtf8()))
        << log.constData();
}

// A websocket upgrade to a TLS origin: the native engine's TLS stream becomes the tunnel's upstream after the 101,
// and carries the frames both ways (many TLS records) until the client leaves.
TEST_F(ProxyTls, AWebsocketUpgradeToATlsOriginBecomesATunnel)
{
    ManagedProcess origin(QStringLiteral("/usr/bin/python3"),
                          {sourceDir() + "/tests/fixtures/tlsorigin/tlsorigin.py", s_origin->certPath,
                           s_origin->keyPath});
    const auto listening = origin.start() ? origin.waitForOutput(QRegularExpression("listening on (\\d+)"), 20000)
                                          : std::nullopt;
    if (!listening)
        GTEST_SKIP() << "the python3 TLS origin did not start: " << origin.describe().toStdString();
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
    ASSERT_TRUE(client.waitForConnected(10000));
    client.write("GET /ws HTTP/1.1\r\nHost: secure.test:" + listening->captured(1).toUtf8()
                 + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    QByteArray got;
    ASSERT_TRUE(waitUntil([&] {
        got += client.readAll();
        return got.contains("\r\n\r\n");
    }, 10000)) << got.constData() << proxy->describe().toStdString();
    ASSERT_EQ(statusOf(got), 101) << got.constData();
    got = got.mid(got.indexOf("\r\n\r\n") + 4);
    QByteArray frames(300 * 1024, Qt::Uninitialized);
    for (qsizetype i = 0; i < frames.size(); ++i)
        frames[i] = char(i % 251);
    client.write(frames);
    ASSERT_TRUE(waitUntil([&] {
        got += client.readAll();
        return got.size() >= frames.size();
    }, 20000)) << got.size();
    EXPECT_TRUE(got == frames) << "the echo differs";
}

TEST_F(ProxyTls, SniOverrideIsTheVerifiedName)
{
    // sni-override.test is not in the certificate, but the backend's sni (sni.test) is.
    const auto r = viaHttpListener("sni-override.test");
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
}

} // namespace
