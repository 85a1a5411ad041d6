// SPDX-License-Identifier: Apache-2.0
// HTTP/2 to origins through the real dfproxy (#26 items 2 and 3): a backend whose AgentgatewayPolicy sets
// spec.backend.http.version HTTP2 is reached over h2c by prior knowledge in plaintext and over h2 by ALPN with TLS,
// on one multiplexed connection; a stream the origin refused, or left above its GOAWAY, is sent again once; a
// response that breaks HTTP/2's rules is a 502; trailers go on to HTTP/2 clients, and to HTTP/1.1 clients that
// sent "TE: trailers" (dropped, and logged, for the others). The origin is python3-h2 (tests/fixtures/h2origin/).
#include "proxyitutil.h"

#include "support/binaries.h"
#include "support/managedprocess.h"

#include <QCryptographicHash>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTcpSocket>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

bool havePythonModule(const char *module)
{
    return QProcess::execute("/usr/bin/python3", {"-c", QStringLiteral("import %1").arg(module)}) == 0;
}

/// A python fixture that prints "listening on PORT".
struct PythonServer
{
    std::unique_ptr<ManagedProcess> process;
    quint16 port = 0;

    bool start(const QStringList &args)
    {
        process = std::make_unique<ManagedProcess>("/usr/bin/python3", args);
        if (!process->start())
            return false;
        const auto m = process->waitForOutput(QRegularExpression("listening on (\\d+)"), 20000);
        if (!m)
            return false;
        port = quint16(m->captured(1).toUInt());
        return port != 0;
    }
};

/// An AgentgatewayPolicy on the AgentgatewayBackend `backend` (ns httpbin) with spec.backend `backendSpec`.
QJsonObject backendPolicy(const QString &name, const QString &backend, const QJsonObject &backendSpec,
                          const QJsonObject &annotations = {})
{
    QJsonObject meta{{"name", name}, {"namespace", "httpbin"}};
    if (!annotations.isEmpty())
        meta.insert("annotations", annotations);
    return QJsonObject{
        {"apiVersion", "agentgateway.dev/v1alpha1"},
        {"kind", "AgentgatewayPolicy"},
        {"metadata", meta},
        {"spec", QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"group", "agentgateway.dev"},
                                                                   {"kind", "AgentgatewayBackend"},
                                                                   {"name", backend}}}},
                             {"backend", backendSpec}}},
    };
}

class Http2Upstream : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        if (!Dnsmasq::available() || !havePythonModule("h2"))
            return;
        s_ca = std::make_unique<TestCa>();
        ASSERT_TRUE(s_ca->create()) << s_ca->errorString().toStdString();
        const auto cert = s_ca->issueServerCert("h2tls", {"h2tls.test", "h1tls.test", "auto-h2.test", "auto-h1.test",
                                                           "auto-none.test"});
        ASSERT_TRUE(cert) << s_ca->errorString().toStdString();
        s_dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(s_dns->start()) << s_dns->describe().toStdString();
        for (const char *name : {"h2.test", "h2tls.test", "h1.test", "h2one.test", "h1tls.test", "auto-h2.test",
                                 "auto-h1.test", "auto-none.test", "auto-plain.test"})
            ASSERT_TRUE(s_dns->setHost(name, {QHostAddress("127.0.0.1")}));
        const QString script = sourceDir() + "/tests/fixtures/h2origin/h2origin.py";
        s_plain = std::make_unique<PythonServer>();
        ASSERT_TRUE(s_plain->start({script})) << s_plain->process->describe().toStdString();
        s_tls = std::make_unique<PythonServer>();
        ASSERT_TRUE(s_tls->start({script, "--tls", cert->certPath, cert->keyPath}))
            << s_tls->process->describe().toStdString();
        s_one = std::make_unique<PythonServer>(); // one stream at a time: a second request needs a second connection
        ASSERT_TRUE(s_one->start({script, "--max-streams", "1"})) << s_one->process->describe().toStdString();
        s_h1tls = std::make_unique<PythonServer>(); // TLS without HTTP/2: ALPN offers http/1.1 only
        ASSERT_TRUE(s_h1tls->start({script, "--tls", cert->certPath, cert->keyPath, "--alpn", "http/1.1"}))
            << s_h1tls->process->describe().toStdString();
        OriginProcess::Options o;
        o.title = "h1 origin";
        s_h1 = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(s_h1->start()) << s_h1->describe().toStdString();
        s_noAlpn = std::make_unique<PythonServer>(); // TLS that answers no ALPN at all, then HTTP/1.1
        ASSERT_TRUE(s_noAlpn->start({script, "--tls", cert->certPath, cert->keyPath, "--alpn", "none"}))
            << s_noAlpn->process->describe().toStdString();

        DfproxyProcess::Options p;
        p.dnsServers = {s_dns->address().toString()};
        p.workers = 1; // one worker: one upstream connection per origin
        p.extraResources = {
            dfpBackend("h2plain"),
            dfpBackend("h2tls"),
            dfpBackend("h1"),
            route("h2plain", {"h2.test", "h2one.test"}, "h2plain"),
            route("h1tls", {"h1tls.test"}, "h2tls"),
            route("h2tls", {"h2tls.test"}, "h2tls"),
            route("h1", {"h1.test"}, "h1"),
            dfpBackend("auto"),
            dfpBackend("autoplain"),
            route("auto", {"auto-h2.test", "auto-h1.test", "auto-none.test"}, "auto"),
            route("autoplain", {"auto-plain.test"}, "autoplain"),
            backendPolicy("auto", "auto", QJsonObject{{"http", QJsonObject()}, {"tls", QJsonObject()}},
                          QJsonObject{{"dfproxy.dev/backend-tls-ca-file", s_ca->caCertPath()},
                                      {"dfproxy.dev/backend-http-version", "Auto"}}),
            backendPolicy("autoplain", "autoplain", QJsonObject{{"http", QJsonObject{{"version", "HTTP2"}}}},
                          QJsonObject{{"dfproxy.dev/backend-http-version", "Auto"}}),
            backendPolicy("h2plain", "h2plain", QJsonObject{{"http", QJsonObject{{"version", "HTTP2"}}}}),
            backendPolicy("h2tls", "h2tls",
                          QJsonObject{{"http", QJsonObject{{"version", "HTTP2"}}}, {"tls", QJsonObject()}},
                          QJsonObject{{"dfproxy.dev/backend-tls-ca-file", s_ca->caCertPath()}}),
            backendPolicy("h1", "h1", QJsonObject{{"http", QJsonObject{{"version", "HTTP1"}}}}),
        };
        s_proxy = std::make_unique<DfproxyProcess>(p);
        // Not an ASSERT here: a failure in SetUpTestSuite makes gtest skip the tests, and ctest counts skips as
        // passes. A proxy that refuses the config fails every test instead (SetUp).
        if (!s_proxy->start())
            s_setupFailure = s_proxy->describe();
    }
    static void TearDownTestSuite()
    {
        s_proxy.reset();
        s_plain.reset();
        s_tls.reset();
        s_one.reset();
        s_h1tls.reset();
        s_h1.reset();
        s_noAlpn.reset();
        s_dns.reset();
        s_ca.reset();
    }
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        if (!havePythonModule("h2"))
            GTEST_SKIP() << "python3-h2 is not installed (scripts/deps.sh installs it)";
        ASSERT_TRUE(s_proxy);
        ASSERT_TRUE(s_setupFailure.isEmpty()) << s_setupFailure.toStdString();
    }

    static QString plainUrl(const QString &path) { return QStringLiteral("http://h2.test:%1%2").arg(s_plain->port).arg(path); }
    static QString tlsUrl(const QString &path) { return QStringLiteral("http://h2tls.test:%1%2").arg(s_tls->port).arg(path); }
    static CurlResult viaProxy(QStringList args)
    {
        args.prepend(QStringLiteral("http://127.0.0.1:%1").arg(s_proxy->proxyPort()));
        args.prepend("-x");
        return curl(args);
    }
    static QJsonObject json(const CurlResult &r) { return QJsonDocument::fromJson(r.body).object(); }

    /// The newest access-log record whose path (absolute-form for proxy requests) ends with `path`.
    static QJsonObject logged(const QString &path)
    {
        QJsonObject out;
        waitUntil(
            [&] {
                const auto items = QJsonDocument::fromJson(s_proxy->apiGet("/api/v1/accesslog?after=0&limit=1000").body)
                                       .object()
                                       .value("items")
                                       .toArray();
                for (const QJsonValue &v : items) {
                    if (v.toObject().value("path").toString().endsWith(path)) // absolute-form through the proxy
                        out = v.toObject();
                }
                return !out.isEmpty();
            },
            10000);
        return out;
    }

    /// One raw HTTP/1.1 request to the proxy; the whole response once the connection closes.
    static QByteArray raw(const QByteArray &request)
    {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, s_proxy->proxyPort());
        if (!s.waitForConnected(5000))
            return {};
        s.write(request);
        QByteArray in;
        waitUntil(
            [&] {
                s.waitForReadyRead(100);
                in += s.readAll();
                return s.state() != QAbstractSocket::ConnectedState; // Connection: close
            },
            15000);
        return in + s.readAll();
    }

    static std::unique_ptr<TestCa> s_ca;
    static std::unique_ptr<Dnsmasq> s_dns;
    static std::unique_ptr<PythonServer> s_plain, s_tls, s_one, s_h1tls, s_noAlpn;
    static std::unique_ptr<OriginProcess> s_h1;
    static std::unique_ptr<DfproxyProcess> s_proxy;
    static QString s_setupFailure;
};

std::unique_ptr<TestCa> Http2Upstream::s_ca;
std::unique_ptr<Dnsmasq> Http2Upstream::s_dns;
std::unique_ptr<PythonServer> Http2Upstream::s_plain, Http2Upstream::s_tls, Http2Upstream::s_one,
    Http2Upstream::s_h1tls, Http2Upstream::s_noAlpn;
std::unique_ptr<OriginProcess> Http2Upstream::s_h1;
std::unique_ptr<DfproxyProcess> Http2Upstream::s_proxy;
QString Http2Upstream::s_setupFailure;

TEST_F(Http2Upstream, PlaintextBackendIsH2cByPriorKnowledge)
{
    const auto r = viaProxy({"-H", "x-test: 1", plainUrl("/echo/plain?q=1")});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-origin"), "h2origin");
    EXPECT_EQ(r.header("via"), "1.1 dfproxy");
    const QJsonObject echo = json(r);
    EXPECT_EQ(echo.value("protocol").toString(), "HTTP/2");
    EXPECT_EQ(echo.value("scheme").toString(), "http");
    EXPECT_EQ(echo.value("path").toString(), "/echo/plain?q=1");
    EXPECT_EQ(echo.value("authority").toString(), QStringLiteral("h2.test:%1").arg(s_plain->port));
    const QJsonObject headers = echo.value("headers").toObject();
    EXPECT_EQ(headers.value("x-test").toString(), "1");
    EXPECT_EQ(headers.value("via").toString(), "1.1 dfproxy");
    EXPECT_FALSE(headers.contains("host")) << "Host travels as :authority";
    EXPECT_FALSE(headers.contains("proxy-connection"));
    EXPECT_EQ(logged("/echo/plain?q=1").value("status").toInt(), 200);
}

TEST_F(Http2Upstream, TlsBackendNegotiatesH2ByAlpnAndVerifiesTheOrigin)
{
    const auto r = viaProxy({tlsUrl("/echo/tls")});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    const QJsonObject echo = json(r);
    EXPECT_EQ(echo.value("protocol").toString(), "HTTP/2");
    EXPECT_EQ(echo.value("scheme").toString(), "https");
}

TEST_F(Http2Upstream, TlsOriginThatDoesNotSelectH2Is502)
{
    const auto r = viaProxy({QStringLiteral("http://h1tls.test:%1/echo/no-h2").arg(s_h1tls->port)});
    EXPECT_EQ(r.status, 502) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_bad_response");
}

// dfproxy.dev/backend-http-version Auto: ALPN "h2,http/1.1", and the engine the origin picks.
TEST_F(Http2Upstream, AutoTlsOriginThatPicksH2GetsHttp2)
{
    const auto r = viaProxy({QStringLiteral("http://auto-h2.test:%1/echo/auto-h2").arg(s_tls->port)});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(json(r).value("protocol").toString(), "HTTP/2");
    EXPECT_EQ(json(r).value("scheme").toString(), "https");
}

TEST_F(Http2Upstream, AutoTlsOriginThatPicksHttp11GetsHttp11OnTheSameConnectionThenFromThePool)
{
    // s_h1tls offers http/1.1 only and answers HTTP/1.1 on it. Its connection numbers count TLS handshakes: the
    // first request goes on the connection whose ALPN said http/1.1 (no second handshake), the later ones reuse it.
    for (int i = 0; i < 3; ++i) {
        const auto r = viaProxy({"-d", "body", QStringLiteral("http://auto-h1.test:%1/echo/auto-h1-%2")
                                                   .arg(s_h1tls->port)
                                                   .arg(i)});
        ASSERT_EQ(r.status, 200) << r.describe().toStdString();
        const QJsonObject echo = json(r);
        EXPECT_EQ(echo.value("protocol").toString(), "HTTP/1.1");
        EXPECT_EQ(echo.value("alpn").toString(), "http/1.1");
        EXPECT_EQ(echo.value("body").toString(), "body");
        EXPECT_EQ(echo.value("connection").toInt(), 1) << "request " << i << ": " << r.body.constData();
    }
}

TEST_F(Http2Upstream, AutoRequestsWaitingForTheFirstHandshakeAllGoOnOverHttp11)
{
    // Three requests at once to an origin not seen yet: they wait on one connection's handshake; when it says
    // http/1.1 the first takes that connection and the others go to HTTP/1.1 connections of their own.
    QProcess p;
    QStringList args{"-s", "-Z", "--parallel-immediate", "-x",
                     QStringLiteral("http://127.0.0.1:%1").arg(s_proxy->proxyPort())};
    for (int i = 0; i < 3; ++i) {
        args << "-o" << "/dev/null" << "-w" << "%{http_code}\n"
             << QStringLiteral("http://auto-h1.test:%1/echo/parallel-%2").arg(s_h1tls->port).arg(i);
    }
    p.start("curl", args);
    ASSERT_TRUE(p.waitForFinished(60000));
    EXPECT_EQ(p.readAllStandardOutput(), "200\n200\n200\n") << p.readAllStandardError().constData();
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(logged(QStringLiteral("/echo/parallel-%1").arg(i)).value("status").toInt(), 200) << i;
}

TEST_F(Http2Upstream, AutoTlsOriginWithoutAlpnAndAutoInPlaintextGetHttp11)
{
    const auto r = viaProxy({QStringLiteral("http://auto-none.test:%1/echo/none").arg(s_noAlpn->port)});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(json(r).value("protocol").toString(), "HTTP/1.1");
    EXPECT_EQ(json(r).value("alpn").toString("?"), "");
    EXPECT_EQ(json(r).value("connection").toInt(), 1) << "on the connection that answered no ALPN";
    // Auto in plaintext: HTTP/1.1 (no ALPN to ask with; h2c by prior knowledge would fail an HTTP/1.1 origin).
    const auto p = viaProxy({QStringLiteral("http://auto-plain.test:%1/echo/plain").arg(s_h1->port())});
    ASSERT_EQ(p.status, 200) << p.describe().toStdString();
    EXPECT_EQ(json(p).value("httpVersion").toString(), "HTTP/1.1");
}

TEST_F(Http2Upstream, ConnectFailuresAreReportedAsForHttp11)
{
    const auto r = viaProxy({QStringLiteral("http://h2.test:%1/echo/nobody").arg(freeTcpPort())});
    EXPECT_EQ(r.status, 502) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_connect_refused");
}

TEST_F(Http2Upstream, Http1VersionAndUnsetStayHttp11)
{
    const auto r = viaProxy({QStringLiteral("http://h1.test:%1/echo/h1").arg(s_h1->port())});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(json(r).value("httpVersion").toString(), "HTTP/1.1");
}

TEST_F(Http2Upstream, RequestsShareOneMultiplexedConnectionPerOrigin)
{
    QList<int> seen;
    for (int i = 0; i < 3; ++i) {
        const auto r = viaProxy({plainUrl(QStringLiteral("/echo/shared-%1").arg(i))});
        ASSERT_EQ(r.status, 200) << r.describe().toStdString();
        seen.append(json(r).value("connection").toInt());
    }
    EXPECT_EQ(seen.at(0), seen.at(1));
    EXPECT_EQ(seen.at(1), seen.at(2));
    // Concurrent requests (separate client connections, one worker) multiplex onto it too.
    QStringList args{"--parallel", "--parallel-immediate"};
    for (int i = 0; i < 4; ++i)
        args << plainUrl(QStringLiteral("/slow-%1").arg(i));
    const auto par = viaProxy(args);
    EXPECT_EQ(par.exitCode, 0) << par.describe().toStdString();
    const auto after = viaProxy({plainUrl("/echo/shared-after")});
    EXPECT_EQ(json(after).value("connection").toInt(), seen.at(0)) << after.describe().toStdString();
}

// The origin takes one stream at a time (SETTINGS_MAX_CONCURRENT_STREAMS 1): while one request holds the connection,
// the next one gets a second connection instead of waiting behind it.
TEST_F(Http2Upstream, ASecondConnectionOpensWhenTheOriginsStreamLimitIsReached)
{
    const QString base = QStringLiteral("http://h2one.test:%1").arg(s_one->port);
    const auto warm = viaProxy({base + "/echo/warm"}); // the connection and the origin's SETTINGS are there
    ASSERT_EQ(warm.status, 200) << warm.describe().toStdString();
    QProcess held;
    held.start("curl", {"-sS", "--max-time", "60", "-x", QStringLiteral("http://127.0.0.1:%1").arg(s_proxy->proxyPort()),
                        base + "/hold-one"});
    ASSERT_TRUE(s_one->process->waitForOutput(QRegularExpression("holding /hold-one"), 30000))
        << s_one->process->describe().toStdString();
    const auto release = viaProxy({base + "/release-one"});
    ASSERT_EQ(release.status, 200) << release.describe().toStdString();
    // (curl() spins the event loop: the held request may have finished and been reaped already)
    if (held.state() != QProcess::NotRunning) {
        ASSERT_TRUE(held.waitForFinished(60000));
    }
    const QJsonObject first = QJsonDocument::fromJson(held.readAllStandardOutput()).object();
    EXPECT_TRUE(first.value("released").toBool()) << QJsonDocument(first).toJson().constData();
    EXPECT_NE(json(release).value("connection").toInt(), first.value("connection").toInt());
}

// Bodies larger than the buffers and the stream windows go through whole, with and without a length.
TEST_F(Http2Upstream, LargeRequestBodiesPassWithFlowControl)
{
    TempDir dir;
    const QString path = dir.filePath("big");
    QFile f(path);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    QByteArray big;
    for (int i = 0; big.size() < 3 * 1024 * 1024; ++i)
        big += QByteArray::number(i) + ',';
    f.write(big);
    f.close();
    const auto sized = viaProxy({"--data-binary", "@" + path, plainUrl("/echo/big-sized")});
    ASSERT_EQ(sized.status, 200) << sized.describe().toStdString();
    const QString sha = QString::fromLatin1(QCryptographicHash::hash(big, QCryptographicHash::Sha256).toHex());
    EXPECT_EQ(json(sized).value("bodyLength").toInt(), big.size());
    EXPECT_EQ(json(sized).value("bodySha256").toString(), sha);
    EXPECT_EQ(json(sized).value("headers").toObject().value("content-length").toString(),
              QString::number(big.size()));
    const auto chunked = viaProxy({"-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path,
                                   plainUrl("/echo/big-chunked")});
    ASSERT_EQ(chunked.status, 200) << chunked.describe().toStdString();
    EXPECT_EQ(json(chunked).value("bodyLength").toInt(), big.size());
    EXPECT_EQ(json(chunked).value("bodySha256").toString(), sha);
    EXPECT_FALSE(json(chunked).value("headers").toObject().contains("content-length"));
}

// A response larger than the stream window and the buffers: the window opens as the client takes it.
TEST_F(Http2Upstream, LargeResponsesPassWithFlowControl)
{
    const int size = 5 * 1024 * 1024;
    QByteArray expected(size, Qt::Uninitialized);
    for (int i = 0; i < size; ++i)
        expected[i] = char(i % 251);
    const auto h1 = viaProxy({plainUrl(QStringLiteral("/big-%1").arg(size))});
    ASSERT_EQ(h1.status, 200) << h1.describe().toStdString();
    EXPECT_EQ(h1.header("content-length"), QString::number(size));
    EXPECT_TRUE(h1.body == expected) << h1.body.size();
    const auto h2 = curl({"--http2-prior-knowledge", "-H", QStringLiteral("host: h2.test:%1").arg(s_plain->port),
                          s_proxy->proxyUrl(QStringLiteral("/big-%1").arg(size))});
    ASSERT_EQ(h2.status, 200) << h2.describe().toStdString();
    EXPECT_TRUE(h2.body == expected) << h2.body.size();
}

TEST_F(Http2Upstream, RefusedStreamIsRetriedOnceWhenSafe)
{
    const auto get = viaProxy({plainUrl("/refuse-once/get")});
    EXPECT_EQ(get.status, 200) << get.describe().toStdString();
    EXPECT_EQ(json(get).value("path").toString(), "/refuse-once/get");
    // A POST with a body is not sent twice: the client gets the failure.
    const auto post = viaProxy({"--data-binary", "payload", plainUrl("/refuse-once/post")});
    EXPECT_EQ(post.status, 502) << post.describe().toStdString();
    EXPECT_EQ(post.header("x-dfproxy-error"), "upstream_reset");
}

TEST_F(Http2Upstream, StreamAboveGoawayIsRetriedOnANewConnection)
{
    const auto r = viaProxy({plainUrl("/goaway-once/get")});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(json(r).value("path").toString(), "/goaway-once/get");
}

TEST_F(Http2Upstream, ResponsesThatBreakHttp2RulesAre502)
{
    for (const char *path : {"/bad-header", "/bad-status"}) {
        const auto r = viaProxy({plainUrl(path)});
        EXPECT_EQ(r.status, 502) << path << ": " << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_bad_response") << path;
    }
    // A reset after the head: the client's response ends short (no clean end of the chunked body).
    const auto reset = viaProxy({plainUrl("/reset-after-head")});
    EXPECT_NE(reset.exitCode, 0) << reset.describe().toStdString();
}

TEST_F(Http2Upstream, Http11ClientGetsTrailersOnlyWithTeTrailers)
{
    const QByteArray target = plainUrl("/trailers/te").toLatin1();
    const QByteArray withTe = raw("GET " + target + " HTTP/1.1\r\nHost: h2.test\r\nTE: trailers\r\n"
                                  "Connection: close\r\n\r\n");
    EXPECT_TRUE(withTe.startsWith("HTTP/1.1 200")) << withTe.constData();
    EXPECT_EQ(headerOf(withTe, "transfer-encoding"), "chunked") << withTe.constData();
    EXPECT_TRUE(bodyOf(withTe).endsWith("0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n")) << withTe.constData();
    EXPECT_EQ(logged("/trailers/te").value("grpcStatus").toInt(-1), 0);
    EXPECT_FALSE(logged("/trailers/te").contains("trailersDropped"));

    const QByteArray target2 = plainUrl("/trailers/no-te").toLatin1();
    const QByteArray without = raw("GET " + target2 + " HTTP/1.1\r\nHost: h2.test\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(without.startsWith("HTTP/1.1 200")) << without.constData();
    EXPECT_TRUE(bodyOf(without).endsWith("payload\r\n0\r\n\r\n")) << without.constData();
    const QJsonObject rec = logged("/trailers/no-te");
    EXPECT_EQ(rec.value("trailersDropped").toInt(), 2) << QJsonDocument(rec).toJson().constData();
    EXPECT_EQ(rec.value("grpcStatus").toInt(-1), 0);
}

TEST_F(Http2Upstream, TrailerFieldsNoTrailerMayCarryAreDroppedAndCounted)
{
    // RFC 9110 6.5.1: framing, routing, authentication and response-control fields are not trailers; a client
    // that merged them into the head could be made to read another length or type than the one checked.
    const QByteArray target = plainUrl("/forbidden-trailers/h1").toLatin1();
    const QByteArray h1 = raw("GET " + target + " HTTP/1.1\r\nHost: h2.test\r\nTE: trailers\r\n"
                              "Connection: close\r\n\r\n");
    EXPECT_TRUE(h1.startsWith("HTTP/1.1 200")) << h1.constData();
    EXPECT_TRUE(bodyOf(h1).endsWith("0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n")) << h1.constData();
    EXPECT_EQ(logged("/forbidden-trailers/h1").value("trailersDropped").toInt(), 5);

    if (QStandardPaths::findExecutable("nghttp").isEmpty())
        GTEST_SKIP() << "nghttp is not installed (nghttp2-client, scripts/deps.sh)";
    QProcess p;
    p.start("nghttp", {"-v", "-H", QStringLiteral(":authority: h2.test:%1").arg(s_plain->port),
                       QStringLiteral("http://127.0.0.1:%1/forbidden-trailers/h2").arg(s_proxy->proxyPort())});
    ASSERT_TRUE(p.waitForFinished(30000));
    const QByteArray out = p.readAllStandardOutput();
    EXPECT_TRUE(out.contains("x-trailer: yes")) << out.constData();
    EXPECT_FALSE(out.contains("text/evil")) << out.constData();
    EXPECT_FALSE(out.contains("eDp5")) << out.constData();
    EXPECT_FALSE(out.contains("bytes 0-1/99")) << out.constData();
    EXPECT_EQ(logged("/forbidden-trailers/h2").value("trailersDropped").toInt(), 5);
}

// An HTTP/1.1 origin's chunked trailers (here s_h1tls, reached over HTTP/1.1 by Auto) go on as an HTTP/2 origin's:
// to an HTTP/1.1 client that sent TE: trailers, and to an HTTP/2 client (gRPC-web style).
TEST_F(Http2Upstream, Http11OriginsChunkedTrailersReachTheClient)
{
    const QByteArray target = QStringLiteral("http://auto-h1.test:%1/trailers/h1").arg(s_h1tls->port).toLatin1();
    const QByteArray h1 = raw("GET " + target + " HTTP/1.1\r\nHost: auto-h1.test\r\nTE: trailers\r\n"
                              "Connection: close\r\n\r\n");
    EXPECT_TRUE(h1.startsWith("HTTP/1.1 200")) << h1.constData();
    EXPECT_TRUE(bodyOf(h1).endsWith("0\r\ngrpc-status: 0\r\nx-trailer: yes\r\n\r\n")) << h1.constData();
    EXPECT_EQ(logged("/trailers/h1").value("grpcStatus").toInt(-1), 0);

    if (QStandardPaths::findExecutable("nghttp").isEmpty())
        GTEST_SKIP() << "nghttp is not installed (nghttp2-client, scripts/deps.sh)";
    QProcess p;
    p.start("nghttp", {"-v", "-H", QStringLiteral(":authority: auto-h1.test:%1").arg(s_h1tls->port),
                       QStringLiteral("http://127.0.0.1:%1/trailers/h2").arg(s_proxy->proxyPort())});
    ASSERT_TRUE(p.waitForFinished(30000));
    const QByteArray out = p.readAllStandardOutput();
    EXPECT_TRUE(out.contains("grpc-status: 0")) << out.constData();
    EXPECT_TRUE(out.contains("x-trailer: yes")) << out.constData();
}

TEST_F(Http2Upstream, Http2ClientTrailersGoBothWays)
{
    if (QStandardPaths::findExecutable("nghttp").isEmpty())
        GTEST_SKIP() << "nghttp is not installed (nghttp2-client, scripts/deps.sh)";
    const QString authority = QStringLiteral(":authority: h2.test:%1").arg(s_plain->port);
    QProcess p;
    p.start("nghttp", {"-v", "-H", authority, QStringLiteral("http://127.0.0.1:%1/trailers/h2").arg(s_proxy->proxyPort())});
    ASSERT_TRUE(p.waitForFinished(30000));
    const QByteArray out = p.readAllStandardOutput();
    EXPECT_TRUE(out.contains("grpc-status: 0")) << out.constData();
    EXPECT_TRUE(out.contains("x-trailer: yes")) << out.constData();
    EXPECT_EQ(logged("/trailers/h2").value("grpcStatus").toInt(-1), 0);

    // Request trailers: nghttp sends them after its body; the origin echoes what it received.
    TempDir dir;
    const QString data = dir.filePath("body");
    QFile f(data);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("request-body");
    f.close();
    QProcess q;
    q.start("nghttp", {"-d", data, "--trailer", "x-request-trailer: present", "-H", authority,
                       QStringLiteral("http://127.0.0.1:%1/echo/req-trailers").arg(s_proxy->proxyPort())});
    ASSERT_TRUE(q.waitForFinished(30000));
    const QJsonObject echo = QJsonDocument::fromJson(q.readAllStandardOutput()).object();
    EXPECT_EQ(echo.value("body").toString(), "request-body") << q.readAllStandardError().constData();
    EXPECT_EQ(echo.value("trailers").toObject().value("x-request-trailer").toString(), "present");
}

} // namespace
