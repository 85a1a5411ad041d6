// SPDX-License-Identifier: Apache-2.0
// HTTP/2 from clients through the real dfproxy (#26): h2c by prior knowledge on the HTTP listener and h2 by ALPN
// on an HTTPS listener (curl, nghttp, h2load), each stream through the same stages as an HTTP/1 request (routing,
// the access log's protocol), request and response bodies with flow control, and a hostile client for each
// attack pattern the HTTP/2 side counts (raw frames, so nothing a client library would refuse to send is missed).
#include "base/leakcheck.h" // DFPROXY_LSAN: built with AddressSanitizer
#include "proxyitutil.h"
#include "support/h2frames.h"
#include "support/syscalltrace.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSet>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QThread>

#include <csignal>
#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;
namespace h2 = dfproxy::test::h2;

namespace {

// --- raw HTTP/2 frames (RFC 9113 4.1) and HPACK (RFC 7541) for the hostile clients, shared with the
// conformance corpus (tests/support/h2frames.h) ---
using h2::Frame;
using h2::frame;
using h2::goawayCode;
using h2::hpackInt;
using h2::hpackString;
using h2::kPreface;
using h2::parseFrames;
using h2::u32;
constexpr quint8 kData = h2::Data, kHeaders = h2::Headers, kRstStream = h2::RstStream, kSettings = h2::Settings,
                 kPing = h2::Ping, kContinuation = h2::Continuation;
constexpr quint8 kEndStream = h2::EndStream, kEndHeaders = h2::EndHeaders;
constexpr quint32 kEnhanceYourCalm = h2::EnhanceYourCalm;

/// GET / with :authority `authority`: static-table entries and one literal.
QByteArray requestBlock(const QByteArray &authority = "h2.test")
{
    return QByteArray("\x82\x86\x84", 3) + hpackInt(0x00, 4, 1) + hpackString(authority);
}

/// Reads until the server closes, `done` is true of the frames so far, or `timeoutMs` pass.
QList<Frame> readFrames(QTcpSocket &s, int timeoutMs = 15000,
                        const std::function<bool(const QList<Frame> &)> &done = {})
{
    QByteArray in;
    QElapsedTimer t;
    t.start();
    while (s.state() == QAbstractSocket::ConnectedState && t.elapsed() < timeoutMs) {
        s.waitForReadyRead(200);
        in += s.readAll();
        if (done && done(parseFrames(in)))
            break;
    }
    in += s.readAll();
    return parseFrames(in);
}

bool hasTool(const char *name)
{
    return !QStandardPaths::findExecutable(QString::fromLatin1(name)).isEmpty();
}

class Http2 : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        if (!Dnsmasq::available())
            return;
        s_ca = std::make_unique<TestCa>();
        ASSERT_TRUE(s_ca->create()) << s_ca->errorString().toStdString();
        s_listener = s_ca->issueServerCert("listener", {"proxy.test"});
        ASSERT_TRUE(s_listener) << s_ca->errorString().toStdString();
        s_dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(s_dns->start()) << s_dns->describe().toStdString();
        ASSERT_TRUE(s_dns->setHost("h2.test", {QHostAddress("127.0.0.1")}));
        OriginProcess::Options o;
        o.title = "h2 origin";
        s_origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(s_origin->start()) << s_origin->describe().toStdString();
        s_httpsPort = freeTcpPort();
        s_connectPort = freeTcpPort();
        DfproxyProcess::Options p;
        p.dnsServers = {s_dns->address().toString()};
        p.extraResources = {
            gateway("tls-proxy", "https", "HTTPS", s_httpsPort, s_listener->chainPath, s_listener->keyPath),
            dfpBackend("plain"),
            gateway("h2-connect", "http", "HTTP", s_connectPort, {}, {}, QJsonArray{s_origin->port()}),
            route("h2", {"h2.test"}, "plain", {"agentgateway-proxy", "tls-proxy", "h2-connect"}),
            QJsonObject{
                {"apiVersion", "dfproxy.dev/v1alpha1"},
                {"kind", "AuthorizationPolicy"},
                {"metadata", QJsonObject{{"name", "egress"}, {"namespace", "agentgateway-system"}}},
                {"spec",
                 QJsonObject{
                     {"targetRefs", QJsonArray{QJsonObject{{"kind", "Gateway"}, {"name", "agentgateway-proxy"}}}},
                     {"defaultAction", "Allow"},
                     {"rules",
                      QJsonArray{QJsonObject{
                          {"name", "admin"}, {"action", "Deny"}, {"pathPrefixes", QJsonArray{"/echo/admin"}}}}},
                 }},
            },
        };
        s_proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(s_proxy->start()) << s_proxy->describe().toStdString();
        ASSERT_TRUE(waitForPort(s_httpsPort)) << s_proxy->describe().toStdString();
        ASSERT_TRUE(waitForPort(s_connectPort)) << s_proxy->describe().toStdString();
    }
    static void TearDownTestSuite()
    {
        s_proxy.reset();
        s_origin.reset();
        s_dns.reset();
        s_ca.reset();
    }
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        ASSERT_TRUE(s_proxy);
    }

    QString host() const { return QStringLiteral("host: h2.test:%1").arg(s_origin->port()); }
    QString authority() const { return QStringLiteral("h2.test:%1").arg(s_origin->port()); }
    QString httpsUrl(const QString &path) const
    {
        return QStringLiteral("https://proxy.test:%1%2").arg(s_httpsPort).arg(path);
    }
    QStringList tlsArgs() const
    {
        return {"--cacert", s_ca->caCertPath(), "--resolve",
                QStringLiteral("proxy.test:%1:127.0.0.1").arg(s_httpsPort)};
    }
    static qint64 stat(const char *name) { return qint64(proxyStats(*s_proxy).value(name).toDouble()); }

    /// The access-log records of `path`, newest last.
    static QList<QJsonObject> logged(const QString &path)
    {
        QList<QJsonObject> out;
        waitUntil(
            [&] {
                out.clear();
                const auto items = QJsonDocument::fromJson(s_proxy->apiGet("/api/v1/accesslog?after=0&limit=1000").body)
                                       .object()
                                       .value("items")
                                       .toArray();
                for (const QJsonValue &v : items) {
                    if (v.toObject().value("path").toString() == path)
                        out.append(v.toObject());
                }
                return !out.isEmpty();
            },
            10000);
        return out;
    }

    /// Opens an h2c connection to the HTTP listener and sends the preface and an empty SETTINGS.
    static bool openRaw(QTcpSocket &s, quint16 port = 0)
    {
        s.connectToHost(QHostAddress::LocalHost, port ? port : s_proxy->proxyPort());
        if (!s.waitForConnected(5000))
            return false;
        s.write(kPreface + frame(kSettings, 0, 0));
        return s.waitForBytesWritten(5000);
    }

    static std::unique_ptr<TestCa> s_ca;
    static std::optional<TestCa::ServerCert> s_listener;
    static std::unique_ptr<Dnsmasq> s_dns;
    static std::unique_ptr<OriginProcess> s_origin;
    static std::unique_ptr<DfproxyProcess> s_proxy;
    static quint16 s_httpsPort, s_connectPort;
};

std::unique_ptr<TestCa> Http2::s_ca;
std::optional<TestCa::ServerCert> Http2::s_listener;
std::unique_ptr<Dnsmasq> Http2::s_dns;
std::unique_ptr<OriginProcess> Http2::s_origin;
std::unique_ptr<DfproxyProcess> Http2::s_proxy;
quint16 Http2::s_httpsPort = 0, Http2::s_connectPort = 0;

TEST_F(Http2, H2cPriorKnowledgeOnTheHttpListener)
{
    const auto r = curl({"--http2-prior-knowledge", "-H", host(), s_proxy->proxyUrl("/echo/h2c")});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_TRUE(r.rawHeaders.startsWith("HTTP/2 200")) << r.rawHeaders.constData();
    EXPECT_EQ(r.header("x-origin-title"), "h2 origin");
    EXPECT_EQ(r.header("via"), "1.1 dfproxy");
    const QJsonObject echo = QJsonDocument::fromJson(r.body).object();
    EXPECT_EQ(echo.value("httpVersion").toString(), "HTTP/1.1"); // to the origin: HTTP/1.1
    EXPECT_EQ(echo.value("headers").toObject().value("host").toString(), authority());
    const auto recs = logged("/echo/h2c");
    ASSERT_FALSE(recs.isEmpty());
    EXPECT_EQ(recs.last().value("protocol").toString(), "HTTP/2");
    EXPECT_EQ(recs.last().value("status").toInt(), 200);
    EXPECT_EQ(recs.last().value("route").toString(), "httpbin/h2#0");
}

// The stages an HTTP/2 stream goes through are the HTTP/1 ones, those of the merged features included: the
// listener's own PAC file (self), and the program behind the connection (application, looked up per connection).
TEST_F(Http2, AStreamAsksForTheListenersPacFileAndIsAttributedToItsProgram)
{
    const QString self = QStringLiteral("host: 127.0.0.1:%1").arg(s_proxy->proxyPort());
    const auto pac = curl({"--http2-prior-knowledge", "-H", self, s_proxy->proxyUrl("/proxy.pac")});
    EXPECT_EQ(pac.status, 200) << pac.describe().toStdString();
    EXPECT_TRUE(pac.rawHeaders.startsWith("HTTP/2 200")) << pac.rawHeaders.constData();
    EXPECT_EQ(pac.header("content-type"), "application/x-ns-proxy-autoconfig");
    EXPECT_TRUE(pac.body.contains("FindProxyForURL")) << pac.body.constData();
    const auto again = curl({"--http2-prior-knowledge", "-H", self, "-H", "if-none-match: " + pac.header("etag"),
                             s_proxy->proxyUrl("/proxy.pac")});
    EXPECT_EQ(again.status, 304) << again.describe().toStdString();
    EXPECT_FALSE(again.hasHeader("content-length")) << again.rawHeaders.constData();

    const auto r = curl({"--http2-prior-knowledge", "-H", host(), s_proxy->proxyUrl("/echo/h2-app")});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    const auto recs = logged("/echo/h2-app");
    ASSERT_FALSE(recs.isEmpty());
    const QString curlPath = QFileInfo(QStandardPaths::findExecutable("curl")).canonicalFilePath();
    EXPECT_EQ(recs.last().value("process").toString(), QFileInfo(curlPath).fileName())
        << QJsonDocument(recs.last()).toJson().toStdString();
    EXPECT_EQ(recs.last().value("processPath").toString(), curlPath);
}

TEST_F(Http2, H2ByAlpnOnTheHttpsListener)
{
    const auto r = curl(tlsArgs() + QStringList{"--http2", "-H", host(), httpsUrl("/echo/alpn")});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_TRUE(r.rawHeaders.startsWith("HTTP/2 200")) << r.rawHeaders.constData();
    EXPECT_EQ(r.header("x-origin-title"), "h2 origin");
    // A client that offers only HTTP/1.1 still gets it.
    const auto h1 = curl(tlsArgs() + QStringList{"--http1.1", "-H", host(), httpsUrl("/echo/alpn-h1")});
    EXPECT_EQ(h1.status, 200) << h1.describe().toStdString();
    EXPECT_TRUE(h1.rawHeaders.startsWith("HTTP/1.1 200")) << h1.rawHeaders.constData();
    const auto recs = logged("/echo/alpn-h1");
    ASSERT_FALSE(recs.isEmpty());
    EXPECT_EQ(recs.last().value("protocol").toString(), "HTTP/1.1");
}

// The routing and the local replies are the stages', whatever the protocol: the same request over HTTP/1.1 and
// HTTP/2 gets the same answer.
TEST_F(Http2, RoutingAndLocalRepliesMatchHttp1)
{
    for (const char *proto : {"--http1.1", "--http2-prior-knowledge"}) {
        SCOPED_TRACE(proto);
        const auto miss = curl({proto, "-H", "host: nowhere.test", s_proxy->proxyUrl("/")});
        EXPECT_EQ(miss.status, 404) << miss.describe().toStdString();
        EXPECT_EQ(miss.header("x-dfproxy-error"), "route_not_found");
        const auto bad = curl({proto, "-H", host(), s_proxy->proxyUrl("/a/%2e%2e/b")});
        const auto bad1 = curl({"--http1.1", "-H", host(), s_proxy->proxyUrl("/a/%2e%2e/b")});
        EXPECT_EQ(bad.status, bad1.status) << bad.describe().toStdString();
        EXPECT_EQ(bad.header("x-dfproxy-error"), bad1.header("x-dfproxy-error"));
        const auto status = curl({proto, "-H", host(), s_proxy->proxyUrl("/status/418")});
        EXPECT_EQ(status.status, 418) << status.describe().toStdString();
    }
}

// An egress rule cannot be bypassed by spelling the path differently over HTTP/2: the stream's :path goes
// through the same canonical stage, and gets the same answer as over HTTP/1.1.
TEST_F(Http2, PolicyDenialsMatchHttp1WhateverThePathSpelling)
{
    for (const char *path :
         {"/echo/admin", "/echo/admin/x", "/echo/x/../admin", "/echo/%61dmin", "/echo//admin", "/echo/./admin"}) {
        SCOPED_TRACE(path);
        const auto h1 = curl({"--http1.1", "--path-as-is", "-H", host(), s_proxy->proxyUrl(path)});
        const auto h2 = curl({"--http2-prior-knowledge", "--path-as-is", "-H", host(), s_proxy->proxyUrl(path)});
        EXPECT_TRUE(h2.rawHeaders.startsWith("HTTP/2 ")) << h2.rawHeaders.constData();
        EXPECT_GE(h2.status, 400) << h2.describe().toStdString();
        EXPECT_EQ(h2.status, h1.status) << h2.describe().toStdString();
        EXPECT_EQ(h2.header("x-dfproxy-error"), h1.header("x-dfproxy-error"));
    }
    const auto open = curl({"--http2-prior-knowledge", "-H", host(), s_proxy->proxyUrl("/echo/public")});
    EXPECT_EQ(open.status, 200) << open.describe().toStdString();
}

// :authority and a Host header that names another host would let routing and the origin disagree.
TEST_F(Http2, HostThatDisagreesWithAuthorityIsRefused)
{
    // Raw frames: curl turns a Host header into :authority on HTTP/2 and never sends both.
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    const QByteArray block =
        requestBlock(authority().toLatin1()) + QByteArray("\x40", 1) + hpackString("host") + hpackString("other.test");
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 1, block));
    const auto answered = [](const QList<Frame> &frames) {
        for (const Frame &f : frames) {
            if (f.type == kHeaders && f.stream == 1)
                return true;
        }
        return false;
    };
    EXPECT_TRUE(answered(readFrames(s, 15000, answered)));
    const auto recs = logged("/");
    bool refused = false;
    for (const QJsonObject &rec : recs)
        refused |= rec.value("reason").toString() == "h2_host_mismatch" && rec.value("status").toInt() == 400;
    EXPECT_TRUE(refused);
}

/// Sends one bodiless request as raw frames and returns the access-log record of `path` once it is logged.
QJsonObject rawRequestRecord(quint16 port, const QByteArray &block, const QString &path,
                             const std::function<QList<QJsonObject>(const QString &)> &logged)
{
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, port);
    if (!s.waitForConnected(5000))
        return {};
    s.write(kPreface + frame(kSettings, 0, 0) + frame(kHeaders, kEndStream | kEndHeaders, 1, block));
    s.waitForBytesWritten(5000);
    const auto recs = logged(path);
    return recs.isEmpty() ? QJsonObject() : recs.last();
}

// :scheme https on a cleartext connection asks for what `GET https://name/` asks for in HTTP/1.1: dfproxy fetches
// it over verified TLS and never as plaintext (here the origin speaks plaintext, so the TLS handshake fails with
// 502 where plaintext forwarding would have answered 200). A scheme other than http/https is refused.
TEST_F(Http2, SchemeHttpsOverCleartextIsFetchedOverTlsNeverAsPlaintext)
{
    const auto get = [&](const QByteArray &scheme, const QByteArray &path, const QString &loggedAs) {
        // :method GET (static 2), then :scheme, :path and :authority as literals with indexed names.
        const QByteArray block = QByteArray("\x82", 1) + hpackInt(0x00, 4, 6) + hpackString(scheme)
            + hpackInt(0x00, 4, 4) + hpackString(path) + hpackInt(0x00, 4, 1) + hpackString(authority().toLatin1());
        return rawRequestRecord(s_proxy->proxyPort(), block, loggedAs, [](const QString &p) { return logged(p); });
    };
    const QJsonObject plain = get("http", "/echo/scheme-http", "/echo/scheme-http");
    EXPECT_EQ(plain.value("status").toInt(), 200) << QJsonDocument(plain).toJson().toStdString();
    const QString target = "https://" + authority() + "/echo/scheme-https";
    const QJsonObject tls = get("https", "/echo/scheme-https", target);
    // The same target in HTTP/1.1 absolute form: the same answer (the handshake with the plaintext origin fails).
    const auto http1 = curl({"--request-target", target, s_proxy->proxyUrl("/")});
    EXPECT_NE(tls.value("status").toInt(), 200) << QJsonDocument(tls).toJson().toStdString();
    EXPECT_TRUE(tls.value("reason").toString().startsWith("upstream_")) << QJsonDocument(tls).toJson().toStdString();
    EXPECT_EQ(tls.value("status").toInt(), http1.status) << http1.describe().toStdString();
    EXPECT_EQ(tls.value("reason").toString(), http1.header("x-dfproxy-error"));
    const QJsonObject ftp = get("ftp", "/echo/scheme-ftp", "/echo/scheme-ftp");
    EXPECT_EQ(ftp.value("status").toInt(), 400) << QJsonDocument(ftp).toJson().toStdString();
    EXPECT_EQ(ftp.value("reason").toString(), "invalid_scheme");
}

// Request bodies go to the origin with the client's window opened only as the origin takes them; a large
// response comes back whole.
TEST_F(Http2, BodiesBothWaysWithFlowControl)
{
    const QString file = s_proxy->dir().filePath("upload.bin");
    QFile f(file);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    QByteArray data(3 * 1024 * 1024 + 17, 'x');
    for (qsizetype i = 0; i < data.size(); i += 4096)
        data[i] = char('a' + (i / 4096) % 26);
    f.write(data);
    f.close();
    const auto up =
        curl({"--http2-prior-knowledge", "-H", host(), "--data-binary", "@" + file, s_proxy->proxyUrl("/echo/upload")},
             60000);
    EXPECT_EQ(up.status, 200) << up.stderrText.toStdString();
    EXPECT_EQ(QJsonDocument::fromJson(up.body).object().value("bodyLength").toDouble(), double(data.size()));
    const auto down = curl({"--http2-prior-knowledge", "-H", host(), s_proxy->proxyUrl("/bytes/5000000")}, 60000);
    EXPECT_EQ(down.status, 200) << down.stderrText.toStdString();
    EXPECT_EQ(down.body.size(), 5000000);
}

TEST_F(Http2, NghttpAndH2loadMultiplexStreams)
{
    if (!hasTool("h2load") || !hasTool("nghttp"))
        GTEST_SKIP() << "nghttp2-client (nghttp, h2load) is not installed (scripts/test installs it)";
    const qint64 before = stat("http2Streams");
    QProcess h2load;
    h2load.start("h2load", {"-n", "200", "-c", "2", "-m", "20", "-H", ":authority: " + authority(),
                            s_proxy->proxyUrl("/bytes/1000")});
    ASSERT_TRUE(h2load.waitForFinished(60000));
    const QByteArray out = h2load.readAllStandardOutput();
    EXPECT_TRUE(out.contains("200 succeeded, 0 failed, 0 errored")) << out.constData();
    EXPECT_GE(stat("http2Streams") - before, 200);

    QProcess nghttp;
    nghttp.start("nghttp", {"-n", "-s", "-H", ":authority: " + authority(), s_proxy->proxyUrl("/bytes/100"),
                            s_proxy->proxyUrl("/status/204"), s_proxy->proxyUrl("/echo/nghttp")});
    ASSERT_TRUE(nghttp.waitForFinished(30000));
    EXPECT_EQ(nghttp.exitCode(), 0) << nghttp.readAllStandardError().constData();
}

// A response that ends with its head (204, 304, an answer to HEAD) closes the stream while the engine is still
// inside its onResponseHead call: the HEADERS frame carries END_STREAM, nghttp2 closes the stream as it sends it,
// and the stream retires its exchange instead of destroying it under the engine (the lifetime rule of
// forward/forwarder.h; the engines no longer check whether they survived a callback). Under ASan, the old
// synchronous destruction is a use-after-free that kills the proxy.
TEST_F(Http2, AResponseThatEndsWithItsHeadClosesTheStreamUnderTheEnginesCall)
{
    if (!hasTool("nghttp"))
        GTEST_SKIP() << "nghttp2-client (nghttp) is not installed (scripts/test installs it)";
    const qint64 before = stat("http2Streams");
    for (int i = 0; i < 3; ++i) {
        QProcess nghttp;
        nghttp.start("nghttp", {"-n", "-H", ":authority: " + authority(), s_proxy->proxyUrl("/status/204"),
                                s_proxy->proxyUrl("/status/304")});
        ASSERT_TRUE(nghttp.waitForFinished(30000));
        EXPECT_EQ(nghttp.exitCode(), 0) << nghttp.readAllStandardError().constData();
        QProcess head;
        head.start("nghttp", {"-n", "-H", ":authority: " + authority(), "-H", ":method: HEAD",
                              s_proxy->proxyUrl("/bytes/100")});
        ASSERT_TRUE(head.waitForFinished(30000));
        EXPECT_EQ(head.exitCode(), 0) << head.readAllStandardError().constData();
    }
    EXPECT_GE(stat("http2Streams") - before, 9); // and the proxy is still there to say so
}

/// GET `path` with :authority `authority`.
QByteArray getBlock(const QByteArray &authority, const QByteArray &path)
{
    return QByteArray("\x82\x86", 2) + hpackInt(0x00, 4, 4) + hpackString(path) + hpackInt(0x00, 4, 1) +
           hpackString(authority);
}

// A response whose head and body the origin sends in one write reaches the client as one HEADERS and one DATA frame
// that ends the stream: the connection frames what its streams gave it once per batch of socket events, not after
// each callback (which sent the body, then an empty DATA frame to end the stream).
TEST_F(Http2, AResponseThatCameInOneReadIsOneHeadersAndOneDataFrame)
{
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 1, getBlock(authority().toLatin1(), "/status/200")));
    ASSERT_TRUE(s.waitForBytesWritten(5000));
    const auto ended = [](const QList<Frame> &fs) {
        for (const Frame &f : fs) {
            if (f.stream == 1 && (f.flags & kEndStream))
                return true;
        }
        return false;
    };
    const auto frames = readFrames(s, 15000, ended);
    ASSERT_TRUE(ended(frames));
    int headers = 0;
    QList<Frame> data;
    for (const Frame &f : frames) {
        headers += f.type == kHeaders && f.stream == 1;
        if (f.type == kData && f.stream == 1)
            data.append(f);
    }
    EXPECT_EQ(headers, 1);
    ASSERT_EQ(data.size(), 1);
    EXPECT_EQ(data[0].payload, "status 200\n");
    EXPECT_TRUE(data[0].flags & kEndStream);
}

/// The proxy's anonymous resident memory (Linux /proc), in KiB; -1 where there is none to read.
qint64 rssAnonKiB(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("RssAnon:"))
            return line.mid(8).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

// An HTTP/2 connection that has answered a 64 KiB response and stays open keeps no output buffer of its own (the
// frames are gathered in one buffer per worker thread): the memory per idle connection is the session's, not a
// copy of the last response. Before, each kept 64 KiB and more: about 95 KiB per connection against 26-33 KiB.
TEST_F(Http2, AnIdleConnectionKeepsNoCopyOfItsLastResponse)
{
    const qint64 pid = s_proxy->process()->pid();
    if (rssAnonKiB(pid) < 0)
        GTEST_SKIP() << "no /proc/PID/status here";
#ifdef DFPROXY_LSAN
    GTEST_SKIP() << "AddressSanitizer's redzones and quarantine make a connection's memory several times larger";
#endif
    const QByteArray settings = frame(kSettings, 0, 0, QByteArray("\x00\x04", 2) + u32(1 << 20));
    const QByteArray head = getBlock(authority().toLatin1(), "/bytes/65536");
    const QByteArray request =
        frame(h2::WindowUpdate, 0, 0, u32(1 << 20)) + frame(kHeaders, kEndStream | kEndHeaders, 1, head);
    const auto ended = [](const QList<Frame> &fs) {
        for (const Frame &f : fs) {
            if (f.stream == 1 && (f.flags & kEndStream))
                return true;
        }
        return false;
    };
    // Opens `n` connections, each asks for the response and reads it; they stay open in `into`.
    const auto open = [&](int n, std::vector<std::unique_ptr<QTcpSocket>> &into) {
        for (int i = 0; i < n; ++i) {
            auto s = std::make_unique<QTcpSocket>();
            s->connectToHost(QHostAddress::LocalHost, s_proxy->proxyPort());
            ASSERT_TRUE(s->waitForConnected(5000));
            s->write(kPreface + settings + request);
            into.push_back(std::move(s));
        }
        for (auto &s : into) {
            if (s->property("done").toBool())
                continue;
            qsizetype bytes = 0;
            for (const Frame &f : readFrames(*s, 15000, ended))
                bytes += f.type == kData && f.stream == 1 ? f.payload.size() : 0;
            ASSERT_EQ(bytes, 65536);
            s->setProperty("done", true);
        }
    };
    std::vector<std::unique_ptr<QTcpSocket>> conns;
    open(8, conns); // the worker's pools and buffers for this size are there before the count starts
    if (HasFatalFailure())
        return;
    const qint64 before = rssAnonKiB(pid);
    constexpr int kMeasured = 64;
    open(kMeasured, conns);
    if (HasFatalFailure())
        return;
    const qint64 after = rssAnonKiB(pid);
    EXPECT_LT((after - before) / kMeasured, 64) << "KiB per idle connection: " << before << " -> " << after;
}

// A client that resets a stream in flight cancels its exchange (logged client_reset); the connection and its
// other streams go on. The limits the server sends come first, in its SETTINGS.
TEST_F(Http2, ClientResetCancelsTheStreamOnly)
{
    QTcpSocket s;
    const qint64 before = stat("upstreamRequests");
    ASSERT_TRUE(openRaw(s));
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 1, getBlock(authority().toLatin1(), "/delay/20000")));
    ASSERT_TRUE(s.waitForBytesWritten(5000));
    // The request reached the origin (it is waiting there) before the reset.
    ASSERT_TRUE(waitUntil([before] { return stat("upstreamRequests") > before; }, 10000));
    QThread::msleep(200); // not a timing assertion: only gives the origin the request first
    s.write(frame(kRstStream, 0, 1, u32(8)));
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 3, getBlock(authority().toLatin1(), "/status/202")));
    const auto three = [](const QList<Frame> &fs) {
        for (const Frame &f : fs) {
            if (f.type == kHeaders && f.stream == 3)
                return true;
        }
        return false;
    };
    const auto frames = readFrames(s, 15000, three);
    EXPECT_TRUE(three(frames));
    ASSERT_FALSE(frames.isEmpty());
    // SETTINGS first: MAX_CONCURRENT_STREAMS (3) = 100, MAX_HEADER_LIST_SIZE (6) = 65536, ENABLE_PUSH (2) = 0.
    ASSERT_EQ(frames.first().type, kSettings);
    QMap<int, quint32> settings;
    const QByteArray &p = frames.first().payload;
    for (qsizetype i = 0; i + 6 <= p.size(); i += 6) {
        const auto *d = reinterpret_cast<const uchar *>(p.constData() + i);
        settings[(d[0] << 8) | d[1]] = (quint32(d[2]) << 24) | (quint32(d[3]) << 16) | (quint32(d[4]) << 8) | d[5];
    }
    EXPECT_EQ(settings.value(3), 100u);
    EXPECT_EQ(settings.value(6), 65536u);
    EXPECT_EQ(settings.value(2), 0u);
    const auto recs = logged("/delay/20000");
    ASSERT_FALSE(recs.isEmpty());
    EXPECT_EQ(recs.last().value("reason").toString(), "client_reset");
    EXPECT_EQ(recs.last().value("status").toInt(), 0);
}

// Cookie split into several HTTP/2 fields reaches the HTTP/1.1 origin as one header (RFC 9113 8.2.3).
TEST_F(Http2, SplitCookiesAreJoinedForTheOrigin)
{
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    const QByteArray block = getBlock(authority().toLatin1(), "/headers") + hpackInt(0x00, 4, 32) + hpackString("a=1") +
                             hpackInt(0x00, 4, 32) + hpackString("b=2");
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 1, block));
    QByteArray body;
    const auto done = [&body](const QList<Frame> &fs) {
        body.clear();
        for (const Frame &f : fs) {
            if (f.type == kData && f.stream == 1) {
                body += f.payload;
                if (f.flags & kEndStream)
                    return true;
            }
        }
        return false;
    };
    ASSERT_TRUE(done(readFrames(s, 15000, done)));
    QStringList cookies;
    for (const QJsonValue &h : QJsonDocument::fromJson(body).object().value("rawHeaders").toArray()) {
        if (h.toArray().at(0).toString().compare("cookie", Qt::CaseInsensitive) == 0)
            cookies << h.toArray().at(1).toString();
    }
    EXPECT_EQ(cookies, QStringList{"a=1; b=2"}) << body.constData();
}

// A connection whose first bytes already break the protocol (DATA on stream 0 right after the preface) ends
// before the worker ever saw it run: it must still be forgotten cleanly (a stop afterwards exits normally).
TEST_F(Http2, AConnectionThatFailsInItsFirstBytesIsForgottenCleanly)
{
    DfproxyProcess::Options p;
    p.dnsServers = {s_dns->address().toString()};
    p.workers = 1;
    p.extraResources = {dfpBackend("plain"), route("h2", {"h2.test"}, "plain")};
    DfproxyProcess own(p);
    ASSERT_TRUE(own.start()) << own.describe().toStdString();
    for (int i = 0; i < 20; ++i) {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, own.proxyPort());
        ASSERT_TRUE(s.waitForConnected(5000));
        s.write(kPreface + frame(kSettings, 0, 0) + frame(kData, 0, 0, "x"));
        EXPECT_EQ(goawayCode(readFrames(s, 15000)), 1); // PROTOCOL_ERROR
    }
    const auto ok = curl({"--http2-prior-knowledge", "-H", host(), own.proxyUrl("/status/200")});
    EXPECT_EQ(ok.status, 200) << ok.describe().toStdString();
    ASSERT_TRUE(own.process()->sendSignal(SIGTERM));
    ASSERT_TRUE(own.process()->waitForExit(20000)) << own.describe().toStdString();
    EXPECT_EQ(own.process()->exitStatus(), QProcess::NormalExit) << own.describe().toStdString();
    EXPECT_EQ(own.process()->exitCode(), 0) << own.describe().toStdString();
}

// Stopping dfproxy sends GOAWAY(NO_ERROR) to HTTP/2 clients; the streams in flight still get their answers.
TEST_F(Http2, StopSendsGoawayAndLetsStreamsInFlightFinish)
{
    DfproxyProcess::Options p;
    p.dnsServers = {s_dns->address().toString()};
    p.proxyBlock = QJsonObject{{"drainTimeoutMs", 20000}};
    p.extraResources = {dfpBackend("plain"), route("h2", {"h2.test"}, "plain")};
    DfproxyProcess own(p);
    ASSERT_TRUE(own.start()) << own.describe().toStdString();
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, own.proxyPort());
    ASSERT_TRUE(s.waitForConnected(5000));
    s.write(kPreface + frame(kSettings, 0, 0) +
            frame(kHeaders, kEndStream | kEndHeaders, 1, getBlock(authority().toLatin1(), "/delay/1500")));
    ASSERT_TRUE(s.waitForBytesWritten(5000));
    ASSERT_TRUE(waitUntil(
        [&] {
            return QJsonDocument::fromJson(own.apiGet("/api/v1/stats").body)
                       .object()
                       .value("proxy")
                       .toObject()
                       .value("upstreamRequests")
                       .toDouble() > 0;
        },
        10000));
    ASSERT_TRUE(own.process()->sendSignal(SIGTERM));
    const auto answered = [](const QList<Frame> &fs) {
        for (const Frame &f : fs) {
            if (f.type == kData && f.stream == 1 && (f.flags & kEndStream))
                return true;
        }
        return false;
    };
    const auto frames = readFrames(s, 20000, answered);
    EXPECT_EQ(goawayCode(frames), 0);
    EXPECT_TRUE(answered(frames));
}

/// CONNECT authority on an HTTP/2 stream: :method CONNECT and :authority, nothing else (RFC 9113 8.5).
QByteArray connectBlock(const QByteArray &authority)
{
    return hpackInt(0x00, 4, 2) + hpackString("CONNECT") + hpackInt(0x00, 4, 1) + hpackString(authority);
}

// CONNECT on a stream is a tunnel of its own, under the listener's allowed CONNECT ports like HTTP/1's.
TEST_F(Http2, ConnectOnAStreamIsATunnelWithTheSamePortRules)
{
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s, s_connectPort));
    s.write(frame(kHeaders, kEndHeaders, 1, connectBlock(authority().toLatin1())));
    s.write(frame(kData, kEndStream, 1, "GET /status/200 HTTP/1.1\r\nHost: h2.test\r\nConnection: close\r\n\r\n"));
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 3, connectBlock("h2.test:25")));
    QByteArray tunnelled;
    const auto done = [&tunnelled](const QList<Frame> &fs) {
        bool ended = false, three = false;
        tunnelled.clear();
        for (const Frame &f : fs) {
            if (f.type == kData && f.stream == 1) {
                tunnelled += f.payload;
                ended |= (f.flags & kEndStream) != 0;
            }
            three |= f.type == kHeaders && f.stream == 3;
        }
        return ended && three;
    };
    EXPECT_TRUE(done(readFrames(s, 15000, done))) << tunnelled.constData();
    EXPECT_TRUE(tunnelled.startsWith("HTTP/1.1 200")) << tunnelled.constData();
    const auto tunnel = logged(authority());
    ASSERT_FALSE(tunnel.isEmpty());
    EXPECT_EQ(tunnel.last().value("status").toInt(), 200);
    EXPECT_TRUE(tunnel.last().value("tunnel").toBool());
    EXPECT_EQ(tunnel.last().value("protocol").toString(), "HTTP/2");
    EXPECT_GT(tunnel.last().value("bytesOut").toInt(), 0);
    const auto refused = logged("h2.test:25");
    ASSERT_FALSE(refused.isEmpty());
    EXPECT_EQ(refused.last().value("status").toInt(), 403);
    EXPECT_EQ(refused.last().value("reason").toString(), "connect_port_not_allowed");
}

/// The descriptors of process `pid` that are TCP connections to `remotePort` (Linux /proc: the socket inodes of
/// /proc/<pid>/net/tcp{,6} matched against its /proc/<pid>/fd links).
QList<int> socketsTo(qint64 pid, quint16 remotePort)
{
    QSet<QString> inodes;
    for (const char *table : {"tcp", "tcp6"}) {
        QFile f(QStringLiteral("/proc/%1/net/%2").arg(pid).arg(QLatin1String(table)));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        for (const QByteArray &line : f.readAll().split('\n')) {
            const QList<QByteArray> fields = line.simplified().split(' ');
            if (fields.size() > 9 && fields.at(2).split(':').value(1).toUInt(nullptr, 16) == remotePort)
                inodes.insert(QStringLiteral("socket:[%1]").arg(QString::fromLatin1(fields.at(9))));
        }
    }
    QList<int> fds;
    const QDir dir(QStringLiteral("/proc/%1/fd").arg(pid));
    for (const QFileInfo &fd : dir.entryInfoList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System)) {
        if (inodes.contains(QFileInfo(fd.symLinkTarget()).fileName()) || inodes.contains(fd.symLinkTarget()))
            fds.append(fd.fileName().toInt());
    }
    return fds;
}

// A direct CONNECT stream relays a raw upstream socket: the Connector's net::Stream, not a QTcpSocket (which asks
// the kernel for FIONREAD before each read) made of a duplicated descriptor. strace watches the proxy for both.
TEST_F(Http2, AConnectStreamRelaysARawUpstreamSocketWithoutQTcpSocketOrDuplicate)
{
    if (!SyscallTrace::available())
        GTEST_SKIP() << "strace is not installed (DFPROXY_TEST_PACKAGES in scripts/deps.sh)";
    const qint64 pid = s_proxy->process()->pid();
    SyscallTrace trace;
    if (!trace.start(pid, QStringLiteral("fcntl,dup,dup2,dup3,ioctl"),
                     s_proxy->dir().filePath(QStringLiteral("strace-h2.txt"))))
        GTEST_SKIP() << trace.errorString().toStdString();
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s, s_connectPort));
    s.write(frame(kHeaders, kEndHeaders, 1, connectBlock(authority().toLatin1())));
    s.write(frame(kData, 0, 1, "GET /echo/raw-relay HTTP/1.1\r\nHost: h2.test\r\n\r\n"));
    QByteArray tunnelled;
    const auto answered = [&tunnelled](const QList<Frame> &fs) {
        tunnelled.clear();
        for (const Frame &f : fs) {
            if (f.type == kData && f.stream == 1)
                tunnelled += f.payload;
        }
        return tunnelled.contains("/echo/raw-relay");
    };
    EXPECT_TRUE(answered(readFrames(s, 15000, answered))) << tunnelled.constData();
    // The tunnel is still open: its upstream is among the proxy's connections to the origin.
    const QList<int> upstream = socketsTo(pid, s_origin->port());
    const QByteArrayList calls = trace.stop();
    ASSERT_FALSE(upstream.isEmpty()) << "no connection from the proxy to the origin";
    EXPECT_TRUE(tunnelled.startsWith("HTTP/1.1 200")) << tunnelled.constData();
    auto fionread = [&upstream](const QByteArray &line) {
        for (int fd : upstream) {
            if (line.contains("ioctl(" + QByteArray::number(fd) + ", FIONREAD"))
                return true;
        }
        return false;
    };
    QByteArrayList qtOrDuplicate;
    for (const QByteArray &line : calls) {
        if (fionread(line) || line.contains("F_DUPFD") || line.contains(" dup(") || line.contains(" dup2(")
            || line.contains(" dup3("))
            qtOrDuplicate.append(line);
    }
    EXPECT_TRUE(qtOrDuplicate.isEmpty()) << qtOrDuplicate.join('\n').constData();
}

// --- tunnels on streams with real clients: RFC 8441 websockets and CONNECT, and the tunnel bandwidth limit ---

/// The python3-h2 peers of tests/integration/rfc8441.py: a websocket echo origin, and the HTTP/2 clients.
class Rfc8441Peers
{
public:
    static bool available() { return QProcess::execute("/usr/bin/python3", {"-c", "import h2"}) == 0; }
    static QString script() { return sourceDir() + QStringLiteral("/tests/integration/rfc8441.py"); }

    ~Rfc8441Peers()
    {
        if (m_origin.state() != QProcess::NotRunning) {
            m_origin.kill();
            m_origin.waitForFinished(5000);
        }
    }
    /// Starts the websocket echo origin; its port, or 0.
    quint16 startOrigin()
    {
        m_origin.start("/usr/bin/python3", {script(), "origin"});
        if (!m_origin.waitForStarted(10000) || !m_origin.waitForReadyRead(10000))
            return 0;
        return quint16(m_origin.readLine().trimmed().toUInt());
    }
    /// Runs a client (`args` after the script) and returns what it printed, as JSON.
    static QJsonObject client(const QStringList &args)
    {
        QProcess py;
        py.start("/usr/bin/python3", QStringList{script()} + args);
        if (!py.waitForFinished(60000) || py.exitCode() != 0) {
            ADD_FAILURE() << "rfc8441.py " << args.join(' ').toStdString() << ": "
                          << py.readAllStandardError().toStdString();
            py.kill();
            return {};
        }
        return QJsonDocument::fromJson(py.readAllStandardOutput()).object();
    }
    /// What the origin wrote to stderr (tracebacks), for failure messages.
    std::string originLog() { return m_origin.readAllStandardError().toStdString(); }

private:
    QProcess m_origin;
};

// RFC 8441: the proxy offers extended CONNECT, and a websocket over a stream reaches an HTTP/1.1 origin as its
// handshake (a key the proxy made, the 101's accept checked), then carries messages both ways, one larger than
// every window; the client gets 200 with the 101's end-to-end headers. It is a request (a GET to the origin's
// port), not a CONNECT: the listener's CONNECT ports (443 only here) do not apply.
TEST_F(Http2, ExtendedConnectCarriesAWebsocketToAnHttp1Origin)
{
    if (!Rfc8441Peers::available())
        GTEST_SKIP() << "python3-h2 is not installed (scripts/deps.sh installs it)";
    Rfc8441Peers peers;
    const quint16 port = peers.startOrigin();
    ASSERT_NE(port, 0);
    const QString authority = QStringLiteral("h2.test:%1").arg(port);
    const QJsonObject r =
        Rfc8441Peers::client({"websocket", QString::number(s_proxy->proxyPort()), authority, "/ws/echo"});
    EXPECT_EQ(r.value("enableConnectProtocol").toInt(), 1);
    ASSERT_EQ(r.value("status").toInt(), 200) << QJsonDocument(r).toJson().constData();
    const QJsonObject headers = r.value("headers").toObject();
    EXPECT_EQ(headers.value("sec-websocket-protocol").toString(), "echo");
    EXPECT_FALSE(headers.contains("sec-websocket-accept"));
    EXPECT_FALSE(headers.contains("upgrade"));
    const QJsonArray messages = r.value("messages").toArray();
    ASSERT_EQ(messages.size(), 4) << QJsonDocument(r).toJson().constData() << peers.originLog();
    const QJsonObject hello = QJsonDocument::fromJson(messages[0].toString().toUtf8()).object();
    EXPECT_EQ(hello.value("path").toString(), "/ws/echo");
    const QJsonObject sent = hello.value("headers").toObject();
    EXPECT_EQ(sent.value("upgrade").toString(), "websocket");
    EXPECT_EQ(sent.value("connection").toString(), "Upgrade");
    EXPECT_EQ(QByteArray::fromBase64(sent.value("sec-websocket-key").toString().toLatin1()).size(), 16);
    EXPECT_EQ(sent.value("sec-websocket-version").toString(), "13");
    EXPECT_EQ(sent.value("host").toString(), authority);
    EXPECT_EQ(messages[1].toString(), "one");
    EXPECT_EQ(messages[2].toString(), "binary 204800 intact");
    EXPECT_EQ(messages[3].toString(), "close");

    const auto recs = logged("/ws/echo");
    ASSERT_FALSE(recs.isEmpty());
    EXPECT_EQ(recs.last().value("protocol").toString(), "HTTP/2");
    EXPECT_EQ(recs.last().value("method").toString(), "GET");
    EXPECT_EQ(recs.last().value("status").toInt(), 200);
    EXPECT_TRUE(recs.last().value("tunnel").toBool());
    EXPECT_GT(recs.last().value("bytesIn").toInt(), 200 * 1024);
    EXPECT_GT(recs.last().value("bytesOut").toInt(), 200 * 1024);
}

// An extended CONNECT goes through the stages as the HTTP/1 websocket request would (routing by host, the
// policies by path), the origin's answer is checked (a wrong accept, a 2xx that is no 101: 502; a 404 passes as
// it is), no local 2xx answers it, and a :protocol other than websocket is 501.
TEST_F(Http2, ExtendedConnectRunsTheStagesAndChecksTheHandshake)
{
    if (!Rfc8441Peers::available())
        GTEST_SKIP() << "python3-h2 is not installed (scripts/deps.sh installs it)";
    Rfc8441Peers peers;
    const quint16 port = peers.startOrigin();
    ASSERT_NE(port, 0);
    const QString proxy = QString::number(s_proxy->proxyPort());
    const QString authority = QStringLiteral("h2.test:%1").arg(port);
    const auto ws = [&](const QString &auth, const QString &path, const QString &protocol = "websocket") {
        return Rfc8441Peers::client({"websocket", proxy, auth, path, protocol});
    };
    struct Case
    {
        QString authority, path, protocol;
        int status;
        QString reason;
    };
    const QList<Case> cases{
        {authority, "/echo/admin/ws", "websocket", 403, "authz_denied"},
        {QStringLiteral("elsewhere.test:%1").arg(port), "/ws/no-route", "websocket", 404, "route_not_found"},
        {authority, "/ws/bad-accept", "websocket", 502, "upstream_bad_response"},
        {authority, "/ws/status/200", "websocket", 502, "upstream_bad_response"},
        {authority, "/ws/status/404", "websocket", 404, ""},
        {authority, "/ws/other", "connect-udp", 501, "h2_connect_protocol_not_supported"},
        // The listener's own PAC file is a local 200, which would tell the client a websocket is open.
        {QStringLiteral("127.0.0.1:%1").arg(s_proxy->proxyPort()), "/proxy.pac", "websocket", 400,
         "h2_websocket_not_served"},
    };
    for (const Case &c : cases) {
        const QJsonObject r = ws(c.authority, c.path, c.protocol);
        EXPECT_EQ(r.value("status").toInt(), c.status) << c.path.toStdString();
        EXPECT_EQ(r.value("headers").toObject().value("x-dfproxy-error").toString(), c.reason)
            << c.path.toStdString();
        const auto recs = logged(c.path);
        ASSERT_FALSE(recs.isEmpty()) << c.path.toStdString();
        EXPECT_EQ(recs.last().value("status").toInt(), c.status) << c.path.toStdString();
        EXPECT_FALSE(recs.last().value("tunnel").toBool()) << c.path.toStdString();
    }
    // :scheme https on the cleartext connection asks for wss: the handshake goes over TLS (which this plaintext
    // origin cannot answer), never as a plaintext websocket.
    const QJsonObject wss = Rfc8441Peers::client({"websocket", proxy, authority, "/ws/echo", "websocket", "https"});
    EXPECT_NE(wss.value("status").toInt(), 200) << QJsonDocument(wss).toJson().toStdString();
    EXPECT_TRUE(wss.value("headers").toObject().value("x-dfproxy-error").toString().startsWith("upstream_"))
        << QJsonDocument(wss).toJson().toStdString();
}

// The RateLimitPolicy's tunnel bandwidth throttles an HTTP/2 stream's tunnel in each direction, as it does an
// HTTP/1 tunnel: CONNECT on a stream (an upload, then a download) and an RFC 8441 websocket, all arriving whole.
TEST_F(Http2, TunnelBandwidthLimitThrottlesStreamTunnelsBothWays)
{
    if (!Rfc8441Peers::available())
        GTEST_SKIP() << "python3-h2 is not installed (scripts/deps.sh installs it)";
    Rfc8441Peers peers;
    const quint16 wsPort = peers.startOrigin();
    ASSERT_NE(wsPort, 0);
    DfproxyProcess::Options p;
    p.dnsServers = {s_dns->address().toString()};
    const quint16 listenerPort = freeTcpPort();
    p.extraResources = {
        gateway("h2-connect", "http", "HTTP", listenerPort, {}, {}, QJsonArray{s_origin->port()}),
        dfpBackend("plain"),
        route("h2", {"h2.test"}, "plain", {"agentgateway-proxy", "h2-connect"}),
        QJsonObject{
            {"apiVersion", "dfproxy.dev/v1alpha1"},
            {"kind", "RateLimitPolicy"},
            {"metadata", QJsonObject{{"name", "bandwidth"}, {"namespace", "httpbin"}}},
            {"spec",
             QJsonObject{
                 {"targetRefs", QJsonArray{QJsonObject{{"kind", "HTTPRoute"}, {"name", "h2"}}}},
                 {"limits", QJsonArray{QJsonObject{
                                {"name", "per-tunnel"}, {"bytesPerSecond", 131072}, {"burstBytes", 16384}}}},
             }},
        },
    };
    DfproxyProcess own(p);
    ASSERT_TRUE(own.start()) << own.describe().toStdString();
    ASSERT_TRUE(waitForPort(listenerPort)) << own.describe().toStdString();
    const auto stat = [&](const char *name) { return qint64(proxyStats(own).value(name).toDouble()); };
    const QString port = QString::number(listenerPort);

    // 192 KiB up through a 16 KiB bucket refilled at 128 KiB/s: the client's bytes wait for the bucket.
    QJsonObject r = Rfc8441Peers::client({"connect", port, authority(), "196608", "0"});
    ASSERT_EQ(r.value("status").toInt(), 200) << own.describe().toStdString();
    EXPECT_TRUE(r.value("reset").isNull()) << QJsonDocument(r).toJson().constData();
    EXPECT_EQ(r.value("uploaded").toInt(), 196608) << QJsonDocument(r).toJson().constData();
    EXPECT_EQ(stat("tunnelsThrottled"), 1);
    const qint64 upPauses = stat("tunnelThrottlePauses");
    EXPECT_GE(upPauses, 1);

    // ... and 256 KiB down: the upstream is read as the bucket allows.
    r = Rfc8441Peers::client({"connect", port, authority(), "0", "262144"});
    ASSERT_EQ(r.value("status").toInt(), 200);
    EXPECT_EQ(r.value("downloaded").toInt(), 262144) << QJsonDocument(r).toJson().constData();
    EXPECT_TRUE(r.value("intact").toBool());
    EXPECT_EQ(stat("tunnelsThrottled"), 2);
    EXPECT_GT(stat("tunnelThrottlePauses"), upPauses);

    // An RFC 8441 websocket is a tunnel too (200 KiB each way).
    const qint64 before = stat("tunnelThrottlePauses");
    r = Rfc8441Peers::client({"websocket", port, QStringLiteral("h2.test:%1").arg(wsPort), "/ws/echo"});
    ASSERT_EQ(r.value("status").toInt(), 200) << QJsonDocument(r).toJson().constData();
    EXPECT_EQ(r.value("messages").toArray().at(2).toString(), "binary 204800 intact");
    EXPECT_EQ(stat("tunnelsThrottled"), 3);
    EXPECT_GT(stat("tunnelThrottlePauses"), before);
}

// --- hostile clients: each pattern ends the connection with GOAWAY(ENHANCE_YOUR_CALM) and is counted ---

TEST_F(Http2, RapidResetIsCountedAndEndsTheConnection)
{
    const qint64 before = stat("http2RapidResets");
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    QByteArray burst;
    for (quint32 id = 1; id < 2000; id += 2)
        burst += frame(kHeaders, kEndStream | kEndHeaders, id, requestBlock()) + frame(kRstStream, 0, id, u32(8));
    s.write(burst);
    EXPECT_EQ(goawayCode(readFrames(s)), kEnhanceYourCalm);
    EXPECT_TRUE(waitUntil([&] { return stat("http2RapidResets") > before; }, 10000));
}

TEST_F(Http2, ContinuationFloodIsCountedAndEndsTheConnection)
{
    const qint64 before = stat("http2ContinuationFloods");
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    QByteArray flood = frame(kHeaders, 0, 1, requestBlock());
    for (int i = 0; i < 1000; ++i)
        flood += frame(kContinuation, 0, 1);
    s.write(flood);
    EXPECT_EQ(goawayCode(readFrames(s)), kEnhanceYourCalm);
    EXPECT_TRUE(waitUntil([&] { return stat("http2ContinuationFloods") > before; }, 10000));
}

TEST_F(Http2, HpackBombIsCountedAndEndsTheConnection)
{
    const qint64 before = stat("http2HpackBombs");
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    // One 4 KB entry into the dynamic table, then referenced a thousand times: 4 KB of input decodes to 4 MB.
    QByteArray block =
        requestBlock() + QByteArray("\x40", 1) + hpackString("x-bomb") + hpackString(QByteArray(4000, 'b'));
    block += QByteArray(1000, char(0x80 | 62));
    s.write(frame(kHeaders, kEndStream | kEndHeaders, 1, block));
    EXPECT_EQ(goawayCode(readFrames(s)), kEnhanceYourCalm);
    EXPECT_TRUE(waitUntil([&] { return stat("http2HpackBombs") > before; }, 10000));
}

TEST_F(Http2, HeaderListOverTheLimitIsAnswered431)
{
    // Raw frames: client libraries (nghttp2 in curl) refuse to send a header block over 64 KiB themselves.
    const qint64 before = stat("http2HeaderListsTooLarge");
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    QByteArray block = requestBlock(authority().toLatin1());
    for (int i = 0; i < 10; ++i) // ten literal fields of 7 KB (not indexed): 70 KB in, 70 KB decoded
        block += QByteArray("\x00", 1) + hpackString("x-big-" + QByteArray::number(i)) +
                 hpackString(QByteArray(7 * 1024, 'q'));
    QByteArray frames;
    for (qsizetype at = 0; at < block.size(); at += 16384) {
        const bool first = at == 0, last = at + 16384 >= block.size();
        frames += frame(first ? kHeaders : kContinuation, quint8((first ? kEndStream : 0) | (last ? kEndHeaders : 0)),
                        1, block.mid(at, 16384));
    }
    // Then a small request on the same connection: it is not taken for an attack.
    frames += frame(kHeaders, kEndStream | kEndHeaders, 3, requestBlock(authority().toLatin1()));
    s.write(frames);
    const auto answered = [](const QList<Frame> &fs) {
        bool one = false, three = false;
        for (const Frame &f : fs) {
            one |= f.type == kHeaders && f.stream == 1;
            three |= f.type == kHeaders && f.stream == 3;
        }
        return one && three;
    };
    const auto got = readFrames(s, 15000, answered);
    EXPECT_TRUE(answered(got));
    EXPECT_EQ(goawayCode(got), -1);
    EXPECT_EQ(stat("http2HeaderListsTooLarge") - before, 1);
}

TEST_F(Http2, PingFloodIsCountedAndEndsTheConnection)
{
    const qint64 before = stat("http2PingFloods");
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    QByteArray flood;
    for (int i = 0; i < 2000; ++i)
        flood += frame(kPing, 0, 0, QByteArray(8, char(i)));
    s.write(flood);
    EXPECT_EQ(goawayCode(readFrames(s)), kEnhanceYourCalm);
    EXPECT_TRUE(waitUntil([&] { return stat("http2PingFloods") > before; }, 10000));
    // The same counter in /metrics, by pattern.
    const QByteArray metrics = s_proxy->apiGet("/metrics").body;
    const qsizetype at = metrics.indexOf("dfproxy_http2_attacks_total{pattern=\"ping_flood\"} ");
    ASSERT_GE(at, 0) << metrics.constData();
    EXPECT_GE(metrics.mid(at).split('\n').first().split(' ').last().toDouble(), 1.0);
}

TEST_F(Http2, SettingsFloodIsCountedAndEndsTheConnection)
{
    const qint64 before = stat("http2SettingsFloods");
    QTcpSocket s;
    ASSERT_TRUE(openRaw(s));
    QByteArray flood;
    for (int i = 0; i < 2000; ++i)
        flood += frame(kSettings, 0, 0);
    s.write(flood);
    EXPECT_EQ(goawayCode(readFrames(s)), kEnhanceYourCalm);
    EXPECT_TRUE(waitUntil([&] { return stat("http2SettingsFloods") > before; }, 10000));
}

} // namespace
