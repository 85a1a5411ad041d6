// SPDX-License-Identifier: Apache-2.0
// The proxy engine through the real dfproxy binary: the three request modes with curl, the framing and hop-by-hop
// rules with a raw socket, large streaming bodies with the proxy's memory watched, and both engines.
#include "proxyitutil.h"
#include "support/syscalltrace.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QJsonDocument>
#include <QTimer>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

/// VmRSS of a process in KiB (Linux /proc), 0 when unknown.
qint64 rssKiB(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return 0;
}

/// Sends raw bytes on a fresh connection and returns everything received until the proxy closes (or timeout).
QByteArray rawExchange(quint16 port, const QByteArray &bytes, int timeoutMs = 10000)
{
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, port);
    if (!s.waitForConnected(5000))
        return "connect failed";
    s.write(bytes);
    s.flush();
    QByteArray got;
    waitUntil(
        [&] {
            s.waitForReadyRead(20);
            got += s.readAll();
            return s.state() == QAbstractSocket::UnconnectedState;
        },
        timeoutMs);
    got += s.readAll();
    return got;
}

class ProxyEngine : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        s_ca = std::make_unique<TestCa>();
        ASSERT_TRUE(s_ca->create()) << s_ca->errorString().toStdString();
        s_cert = s_ca->issueServerCert("origin", {"secure.test"});
        ASSERT_TRUE(s_cert) << s_ca->errorString().toStdString();
    }
    static void TearDownTestSuite() { s_ca.reset(); }

    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        for (const char *name : {"httpbin.test", "qnam.test", "secure.test"})
            ASSERT_TRUE(dns->setHost(name, {QHostAddress("127.0.0.1")}));
        OriginProcess::Options o;
        o.title = "httpbin.test";
        origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
        OriginProcess::Options t;
        t.title = "secure.test";
        t.tlsCert = s_cert->certPath;
        t.tlsKey = s_cert->keyPath;
        tlsOrigin = std::make_unique<OriginProcess>(t);
        ASSERT_TRUE(tlsOrigin->start()) << tlsOrigin->describe().toStdString();

        explicitPort = freeTcpPort();
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        // A second Gateway for explicit proxying, whose listener allows CONNECT to the origins' ports.
        p.extraResources = {
            gateway("explicit-proxy", "explicit", "HTTP", explicitPort, {}, {},
                    QJsonArray{tlsOrigin->port(), origin->port()}),
            dfpBackend("dfp-backend"),
            dfpBackend("qnam-backend", {{"engine", "qnam"}}),
            route("dfp-httproute", {"httpbin.test", "secure.test"}, "dfp-backend",
                  {"agentgateway-proxy", "explicit-proxy"}),
            route("qnam-httproute", {"qnam.test"}, "qnam-backend", {"agentgateway-proxy", "explicit-proxy"}),
        };
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        ASSERT_TRUE(waitForPort(explicitPort)) << proxy->describe().toStdString();
    }

    QString host(const char *name = "httpbin.test") const
    {
        return QStringLiteral("%1:%2").arg(QLatin1String(name)).arg(origin->port());
    }
    QString explicitProxy() const { return QStringLiteral("http://127.0.0.1:%1").arg(explicitPort); }

    static std::unique_ptr<TestCa> s_ca;
    static std::optional<TestCa::ServerCert> s_cert;
    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin, tlsOrigin;
    std::unique_ptr<DfproxyProcess> proxy;
    quint16 explicitPort = 0;
};

std::unique_ptr<TestCa> ProxyEngine::s_ca;
std::optional<TestCa::ServerCert> ProxyEngine::s_cert;

TEST_F(ProxyEngine, OriginFormWithHostHeader)
{
    for (const char *name : {"httpbin.test", "qnam.test"}) {
        const auto r = curl({"-H", "host: " + host(name), proxy->proxyUrl("/headers")});
        EXPECT_EQ(r.status, 200) << name << r.describe().toStdString();
        EXPECT_EQ(r.header("via"), "1.1 dfproxy") << name;
        EXPECT_TRUE(r.body.contains(host(name).toUtf8())) << r.body.constData();
    }
}

// A connection keeps the host's text from one request to the next while the host stays the same: a request for
// another host on the same connection must still be resolved by its own name (here one that does not resolve).
TEST_F(ProxyEngine, EachRequestOnAKeepAliveConnectionIsResolvedByItsOwnHost)
{
    ASSERT_TRUE(dns->removeHost("secure.test"));
    const QByteArray port = QByteArray::number(origin->port());
    const QByteArray first = "GET /headers HTTP/1.1\r\nHost: httpbin.test:" + port + "\r\n\r\n";
    const QByteArray second = "GET /headers HTTP/1.1\r\nHost: secure.test:" + port + "\r\nConnection: close\r\n\r\n";
    const QByteArray got = rawExchange(proxy->proxyPort(), first + second);
    QList<QByteArray> statuses;
    for (qsizetype at = got.indexOf("HTTP/1.1 "); at >= 0; at = got.indexOf("HTTP/1.1 ", at + 1))
        statuses.append(got.mid(at + 9, 3));
    ASSERT_EQ(statuses.size(), 2) << got.constData();
    EXPECT_EQ(statuses[0], "200") << got.constData();
    EXPECT_TRUE(statuses[1].startsWith('5')) << got.constData(); // not the first host's 200
}

TEST_F(ProxyEngine, AbsoluteFormThroughCurlProxyOption)
{
    for (const char *name : {"httpbin.test", "qnam.test"}) {
        const auto r = curl({"-x", explicitProxy(), QStringLiteral("http://%1/echo?x=1").arg(host(name))});
        EXPECT_EQ(r.status, 200) << name << r.describe().toStdString();
        EXPECT_EQ(QJsonDocument::fromJson(r.body).object().value("target").toString(), "/echo?x=1") << r.body.constData();
    }
}

TEST_F(ProxyEngine, ConnectTunnelToTlsOriginWithCurl)
{
    // curl resolves nothing itself: the proxy looks secure.test up in dnsmasq.
    const auto r = curl({"-x", explicitProxy(), "--cacert", s_ca->caCertPath(),
                         QStringLiteral("https://secure.test:%1/").arg(tlsOrigin->port())});
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-origin-title"), "secure.test");
    EXPECT_TRUE(r.rawHeaders.contains("200 Connection Established")) << r.rawHeaders.constData();
}

/// The process's open sockets (Linux /proc): descriptors whose link names a socket; -1 when unknown.
int openSockets(qint64 pid)
{
    const QDir dir(QStringLiteral("/proc/%1/fd").arg(pid));
    if (!dir.exists())
        return -1;
    int sockets = 0;
    for (const QFileInfo &fd : dir.entryInfoList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System))
        sockets += fd.symLinkTarget().contains(QLatin1String("socket:")) ? 1 : 0;
    return sockets;
}

/// A CONNECT tunnel through the proxy at `port` to `authority` that carried one request and its answer (so both
/// of its ends are up); null, with `error` set, when it did not.
std::unique_ptr<QTcpSocket> openEchoTunnel(quint16 port, const QByteArray &authority, QByteArray *error)
{
    auto s = std::make_unique<QTcpSocket>();
    s->connectToHost(QHostAddress::LocalHost, port);
    if (!s->waitForConnected(5000)) {
        *error = "cannot connect to the proxy";
        return nullptr;
    }
    auto readUntil = [&](const QByteArray &marker) {
        QByteArray got;
        waitUntil([&] {
            s->waitForReadyRead(20);
            got += s->readAll();
            return got.contains(marker);
        }, 10000);
        return got;
    };
    s->write("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    QByteArray got = readUntil("\r\n\r\n");
    if (!got.startsWith("HTTP/1.1 200")) {
        *error = "CONNECT answered: " + got;
        return nullptr;
    }
    s->write("GET /echo HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    got = readUntil("/echo");
    if (!got.contains("/echo")) {
        *error = "no answer through the tunnel: " + got;
        return nullptr;
    }
    return s;
}

TEST_F(ProxyEngine, ADirectConnectTunnelHoldsTwoSocketsInTheProxyTheClientsAndTheUpstreams)
{
    const qint64 pid = proxy->process()->pid();
    if (openSockets(pid) < 0)
        GTEST_SKIP() << "no /proc/<pid>/fd to count descriptors in (Linux only)";
    std::vector<std::unique_ptr<QTcpSocket>> tunnels;
    auto open = [&](int count) {
        for (int i = 0; i < count; ++i) {
            QByteArray error;
            tunnels.push_back(openEchoTunnel(explicitPort, host().toUtf8(), &error));
            ASSERT_TRUE(tunnels.back()) << error.constData();
        }
    };
    // The first batch brings up what stays (each worker's poller, the DNS cache's answer); the second one's
    // sockets are the tunnels' own only.
    constexpr int kTunnels = 8;
    open(kTunnels);
    ASSERT_FALSE(HasFatalFailure());
    spinFor(200);
    const int before = openSockets(pid);
    open(kTunnels);
    ASSERT_FALSE(HasFatalFailure());
    int added = 0;
    EXPECT_TRUE(waitUntil([&] {
        added = openSockets(pid) - before;
        return added == 2 * kTunnels;
    }, 5000)) << added << " sockets for " << kTunnels << " tunnels";
}

TEST_F(ProxyEngine, DirectUpstreamConnectionsDuplicateNoDescriptor)
{
    // The upstream of a direct tunnel, and a fresh connection of the native engine's pool (a websocket upgrade's
    // too), is a raw socket from its connect on (net::Stream::connectTo), not a QTcpSocket whose descriptor is
    // duplicated for a raw stream and then closed. strace watches the proxy's threads for a duplicating call.
    if (!SyscallTrace::available())
        GTEST_SKIP() << "strace is not installed (DFPROXY_TEST_PACKAGES in scripts/deps.sh)";
    SyscallTrace trace;
    if (!trace.start(proxy->process()->pid(), QStringLiteral("fcntl,dup,dup2,dup3"),
                     proxy->dir().filePath(QStringLiteral("strace.txt"))))
        GTEST_SKIP() << trace.errorString().toStdString();
    std::vector<std::unique_ptr<QTcpSocket>> tunnels;
    for (int i = 0; i < 4; ++i) {
        QByteArray error;
        tunnels.push_back(openEchoTunnel(explicitPort, host().toUtf8(), &error));
        ASSERT_TRUE(tunnels.back()) << error.constData();
    }
    const auto forwarded = curl({"-x", explicitProxy(), QStringLiteral("http://%1/echo").arg(host())});
    EXPECT_EQ(forwarded.status, 200) << forwarded.describe().toStdString();
    const QByteArrayList calls = trace.stop();
    // Each accepted client is made non-blocking with fcntl: the trace saw the proxy at work.
    EXPECT_TRUE(calls.join('\n').contains("F_SETFL")) << calls.join('\n').constData();
    QByteArrayList duplicates;
    for (const QByteArray &line : calls) {
        if (line.contains("F_DUPFD") || line.contains(" dup(") || line.contains(" dup2(") || line.contains(" dup3("))
            duplicates.append(line);
    }
    EXPECT_TRUE(duplicates.isEmpty()) << duplicates.join('\n').constData();
}

TEST_F(ProxyEngine, ConnectToAPortNotAllowedIs403)
{
    const auto r = curl({"-x", proxy->proxyUrl(""), "--cacert", s_ca->caCertPath(),
                         QStringLiteral("https://secure.test:%1/").arg(tlsOrigin->port())});
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(r.rawHeaders.contains("403")) << r.describe().toStdString();
    EXPECT_TRUE(r.rawHeaders.contains("connect_port_not_allowed")) << r.rawHeaders.constData();
}

struct FramingCase
{
    const char *name;
    QByteArray request; // "HOST" is replaced by the origin authority
    int status;
    const char *reason;
};

TEST_F(ProxyEngine, MalformedFramingIsRejectedWithAReason)
{
    const QList<FramingCase> cases = {
        {"two Content-Length", "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
         "duplicate_content_length"},
        {"Content-Length and chunked",
         "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
         "content_length_with_transfer_encoding"},
        {"bad Content-Length", "POST / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 1x\r\n\r\n", 400,
         "invalid_content_length"},
        {"Transfer-Encoding other than chunked",
         "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "invalid_transfer_encoding"},
        {"bad chunk size", "POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
         "invalid_chunk_size"},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: HOST\r\nX-A: 1\r\n  folded\r\n\r\n", 400, "obs_fold"},
        {"space before colon", "GET / HTTP/1.1\r\nHost: HOST\r\nX-A : 1\r\n\r\n", 400, "invalid_header_name"},
        {"control character in value", QByteArray("GET / HTTP/1.1\r\nHost: HOST\r\nX-A: a\x01z\r\n\r\n"), 400,
         "invalid_header_value"},
        {"no Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, "missing_host"},
        {"two Host", "GET / HTTP/1.1\r\nHost: HOST\r\nHost: other.test\r\n\r\n", 400, "duplicate_host"},
        {"HTTP/2.0 request line", "GET / HTTP/2.0\r\nHost: HOST\r\n\r\n", 505, "unsupported_http_version"},
        {"URI too long", "GET /" + QByteArray(10000, 'a') + " HTTP/1.1\r\nHost: HOST\r\n\r\n", 414, "uri_too_long"},
        {"headers too large", "GET / HTTP/1.1\r\nHost: HOST\r\nX-Big: " + QByteArray(70000, 'b') + "\r\n\r\n", 431,
         "headers_too_large"},
        // well-framed but unusable targets: the connection would stay open, so these ask for close
        {"userinfo in absolute-form", "GET http://user@HOST/ HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n",
         400, "invalid_uri"},
        {"CONNECT without port", "CONNECT httpbin.test HTTP/1.1\r\nHost: httpbin.test\r\nConnection: close\r\n\r\n",
         400, "invalid_host"},
    };
    for (const FramingCase &c : cases) {
        QByteArray req = c.request;
        req.replace("HOST", host().toUtf8());
        const QByteArray resp = rawExchange(proxy->proxyPort(), req);
        EXPECT_EQ(statusOf(resp), c.status) << c.name << ": " << resp.left(300).constData();
        EXPECT_EQ(headerOf(resp, "x-dfproxy-error"), QByteArray(c.reason)) << c.name;
        EXPECT_EQ(headerOf(resp, "connection"), "close") << c.name;
    }
    // The origin never saw any of them.
    const auto stats = curl({origin->url("/stats")});
    EXPECT_EQ(QJsonDocument::fromJson(stats.body).object().value("requestsServed").toInt(), 1)
        << stats.body.constData();
}

TEST_F(ProxyEngine, HopByHopHeadersAreStrippedBothWays)
{
    for (const char *name : {"httpbin.test", "qnam.test"}) {
        const QByteArray req = "GET /headers HTTP/1.1\r\nHost: " + host(name).toUtf8()
            + "\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n"
              "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
              "Proxy-Authorization: Basic eDp5\r\nX-Keep: yes\r\n\r\n";
        const QByteArray resp = rawExchange(proxy->proxyPort(), req);
        ASSERT_EQ(statusOf(resp), 200) << name << resp.left(300).constData();
        const QByteArray body = bodyOf(resp);
        const QJsonObject headers = QJsonDocument::fromJson(body).object().value("headers").toObject();
        ASSERT_FALSE(headers.isEmpty()) << body.constData();
        for (const char *h : {"x-secret", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                              "proxy-authorization"})
            EXPECT_FALSE(headers.contains(QLatin1String(h))) << name << " forwarded " << h << ": " << body.constData();
        EXPECT_EQ(headers.value("x-keep").toString(), "yes") << body.constData();

        // and from the origin: its Connection-listed and Keep-Alive headers stop at the proxy
        const QByteArray req2 = "GET /response-headers?Keep-Alive=timeout%3D9&Connection=X-Hop&X-Hop=1&X-End=2 "
                                "HTTP/1.1\r\nHost: "
            + host(name).toUtf8() + "\r\nConnection: close\r\n\r\n";
        const QByteArray resp2 = rawExchange(proxy->proxyPort(), req2);
        ASSERT_EQ(statusOf(resp2), 200) << name << resp2.left(300).constData();
        EXPECT_TRUE(headerOf(resp2, "keep-alive").isEmpty()) << name << resp2.constData();
        EXPECT_TRUE(headerOf(resp2, "x-hop").isEmpty()) << name << resp2.constData();
        EXPECT_EQ(headerOf(resp2, "x-end"), "2") << name;
    }
}

TEST_F(ProxyEngine, LargeBodiesStreamWithBoundedMemory)
{
    constexpr qint64 kSize = 256LL * 1024 * 1024;
    TempDir dir;
    const QString file = dir.filePath("upload.bin");
    {
        QFile f(file);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly));
        const QByteArray block(1024 * 1024, 'z');
        for (qint64 i = 0; i < kSize / block.size(); ++i)
            f.write(block);
    }
    const qint64 pid = proxy->process()->pid();
    // warm up both engines, then take the baseline
    curl({"-H", "host: " + host(), proxy->proxyUrl("/")});
    curl({"-H", "host: " + host("qnam.test"), proxy->proxyUrl("/")});
    const qint64 baseline = rssKiB(pid);
    for (const char *name : {"httpbin.test", "qnam.test"}) {
        qint64 peak = 0;
        QTimer sampler;
        QObject::connect(&sampler, &QTimer::timeout, [&] { peak = std::max(peak, rssKiB(pid)); });
        sampler.start(20);
        // upload: the origin answers 204 once it has every byte
        const auto up = curl({"-T", file, "-H", "host: " + host(name), "-H", "Expect:",
                              proxy->proxyUrl("/status/204")},
                             180000);
        EXPECT_EQ(up.status, 204) << name << up.describe().toStdString();
        // download
        const auto down = curl({"-H", "host: " + host(name), proxy->proxyUrl(QStringLiteral("/bytes/%1").arg(kSize))},
                               180000);
        EXPECT_EQ(down.status, 200) << name << down.describe().toStdString();
        EXPECT_EQ(down.body.size(), kSize) << name;
        EXPECT_EQ(down.body.mid(kSize - 3), "nop") << name; // byte i is 'a' + i % 26; 2^28 - 1 = 15 (mod 26)
        sampler.stop();
        peak = std::max(peak, rssKiB(pid));
        std::cout << "[ rss      ] " << name << ": dfproxy VmRSS baseline " << baseline / 1024 << " MiB, peak "
                  << peak / 1024 << " MiB while moving 256 MiB up and 256 MiB down" << std::endl;
        if (baseline > 0) {
            EXPECT_LT(peak - baseline, 200 * 1024) << name << " grew from " << baseline << " KiB to " << peak << " KiB";
        }
    }
}

QByteArray originBytes(qint64 n)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qint64 i = 0; i < n; ++i)
        b[i] = char('a' + i % 26);
    return b;
}

// Linux: a Content-Length body of 8 KiB or more goes from the origin's socket to the client's with splice(), never
// through the proxy's memory. The same bytes arrive, both connections stay usable, and the stats count them.
TEST_F(ProxyEngine, LargeResponseBodiesAreSplicedIntactAndKeepBothConnections)
{
    auto stats = [&] { return proxyStats(*proxy); };
    const QJsonObject before = stats();
    // Two responses on one client connection, and one upstream connection: the end of the first is found without
    // the proxy reading its bytes, and the second parses after it.
    TempDir dir;
    const auto r = curl({"-x", explicitProxy(), "http://" + host() + "/bytes/1048583", "-o", dir.filePath("2"),
                         "http://" + host() + "/bytes/300000", "-o", dir.filePath("3"), "http://" + host() + "/bytes/100"});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    EXPECT_EQ(r.rawHeaders.count("HTTP/1.1 200 OK"), 3) << r.rawHeaders.constData();
    EXPECT_TRUE(r.body == originBytes(1048583)) << r.body.size();
    EXPECT_TRUE(dir.readFile("2") == originBytes(300000)) << dir.readFile("2").size();
    EXPECT_EQ(dir.readFile("3"), originBytes(100));
    const QJsonObject after = stats();
    EXPECT_EQ(after.value("upstreamConnectionsOpened").toDouble() - before.value("upstreamConnectionsOpened").toDouble(), 1);
    const double spliced = after.value("responseBytesSpliced").toDouble() - before.value("responseBytesSpliced").toDouble();
#ifdef Q_OS_LINUX
    // All but what the first read of each response took with its head (at most 8 KiB); nothing of the 100 bytes.
    EXPECT_GE(spliced, 1048583 + 300000 - 2 * 8192);
    EXPECT_LE(spliced, 1048583 + 300000);
    const auto m = adminGet(*proxy, "/metrics");
    EXPECT_TRUE(m.body.contains("dfproxy_spliced_bytes_total{direction=\"response\"} "
                                + QByteArray::number(qint64(after.value("responseBytesSpliced").toDouble()))))
        << m.body.constData();
#else
    EXPECT_EQ(spliced, 0);
#endif
}

// A client that reads slowly: spliced bytes wait for it in the proxy's pipe, the response pauses and resumes, and
// the connection serves the next request afterwards.
TEST_F(ProxyEngine, SplicedBodyToASlowClientArrivesWholeAndTheConnectionGoesOn)
{
    constexpr qint64 kSize = 16LL * 1024 * 1024;
    auto spliced = [&] { return proxyStats(*proxy).value("responseBytesSpliced").toDouble(); };
    const double before = spliced();
    QTcpSocket s;
    s.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 64 * 1024);
    s.setReadBufferSize(64 * 1024);
    s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
    ASSERT_TRUE(s.waitForConnected(5000));
    s.write(QStringLiteral("GET /bytes/%1 HTTP/1.1\r\nHost: %2\r\n\r\n").arg(kSize).arg(host()).toLatin1());
    QByteArray got;
    const bool done = waitUntil(
        [&] {
            s.waitForReadyRead(2);
            got += s.read(32 * 1024); // about 16 MiB/s at most: far slower than the proxy could send
            const qsizetype end = got.indexOf("\r\n\r\n");
            return end > 0 && got.size() - end - 4 >= kSize;
        },
        60000);
    ASSERT_TRUE(done) << got.size() << " bytes so far";
    ASSERT_EQ(statusOf(got), 200) << got.left(300).constData();
    EXPECT_EQ(headerOf(got, "content-length"), QByteArray::number(kSize));
    EXPECT_TRUE(bodyOf(got) == originBytes(kSize)) << bodyOf(got).size();
#ifdef Q_OS_LINUX
    EXPECT_GE(spliced() - before, kSize - 8192);
#endif

    s.write(QStringLiteral("GET /bytes/10 HTTP/1.1\r\nHost: %1\r\n\r\n").arg(host()).toLatin1());
    QByteArray second;
    waitUntil(
        [&] {
            s.waitForReadyRead(20);
            second += s.readAll();
            return second.endsWith("abcdefghij");
        },
        10000);
    EXPECT_EQ(statusOf(second), 200) << second.constData();
    EXPECT_EQ(bodyOf(second), "abcdefghij");
}

// Request bodies: once the upstream connection is up, a Content-Length upload goes from the client's socket to the
// origin's with splice() too. The origin echoes what it got, byte for byte.
TEST_F(ProxyEngine, LargeRequestBodiesAreSplicedIntact)
{
    constexpr qint64 kSize = 4 * 1024 * 1024 + 7;
    TempDir dir;
    const QString file = dir.filePath("upload.bin");
    {
        QFile f(file);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly));
        f.write(originBytes(kSize));
    }
    auto stats = [&] { return proxyStats(*proxy); };
    curl({"-H", "host: " + host(), proxy->proxyUrl("/")}); // an upstream connection in the pool: no wait to connect
    const QJsonObject before = stats();
    const auto r = curl({"-H", "host: " + host(), "-H", "Expect:", "--data-binary", "@" + file, proxy->proxyUrl("/echo")},
                        60000);
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    const QJsonObject echo = QJsonDocument::fromJson(r.body).object();
    EXPECT_EQ(echo.value("bodyLength").toDouble(), double(kSize));
    EXPECT_TRUE(QByteArray::fromBase64(echo.value("bodyBase64").toString().toLatin1()) == originBytes(kSize));
    const QJsonObject after = stats();
    const double spliced = after.value("requestBytesSpliced").toDouble() - before.value("requestBytesSpliced").toDouble();
#ifdef Q_OS_LINUX
    // All but what was read with the head and buffered before the pooled connection was handed over (256 KiB at most).
    EXPECT_GE(spliced, kSize - 512 * 1024);
    EXPECT_LE(spliced, kSize);
#else
    EXPECT_EQ(spliced, 0);
#endif
    // The access log counts spliced bytes as received.
    const auto log = adminGet(*proxy, "/api/v1/accesslog?after=0&limit=1000");
    bool found = false;
    for (const QJsonValue &item : QJsonDocument::fromJson(log.body).object().value("items").toArray()) {
        const QJsonObject rec = item.toObject();
        if (rec.value("path").toString() == "/echo") {
            found = true;
            EXPECT_EQ(rec.value("bytesIn").toDouble(), double(kSize)) << QJsonDocument(rec).toJson().constData();
        }
    }
    EXPECT_TRUE(found) << log.body.left(2000).constData();
}

} // namespace

TEST_F(ProxyEngine, ConcurrentClientsGetWholeResponsesWithBatchedSendsOnAndOff)
{
    // The default service sends a poll batch's bytes in one io_uring submission where the kernel allows it; a second
    // one runs with that switched off (each connection sends on its own, as where io_uring is refused). Twelve
    // clients at once, five keep-alive requests each, sizes from 1 KB to 34 KB: every body arrives whole, byte for
    // byte, through both.
    DfproxyProcess::Options p;
    p.dnsServers = {dns->address().toString()};
    p.extraResources = {dfpBackend("dfp-backend"),
                        route("dfp-httproute", {"httpbin.test"}, "dfp-backend", {"agentgateway-proxy"})};
    p.extraEnvironment = {"DFPROXY_BATCH_SEND=0"};
    DfproxyProcess off(p);
    ASSERT_TRUE(off.start()) << off.describe().toStdString();
    const auto dataPath = [](const DfproxyProcess &px) {
        return QJsonDocument::fromJson(px.apiGet("/api/v1/server").body).object().value("dataPath").toObject();
    };
    EXPECT_EQ(dataPath(off).value("batchedSends").toString(), "off");
    EXPECT_EQ(dataPath(*proxy).value("splice").toBool(), dataPath(off).value("splice").toBool());

    auto expected = [](int size) {
        QByteArray b(size, Qt::Uninitialized);
        for (int i = 0; i < size; ++i)
            b[i] = char('a' + i % 26);
        return b;
    };
    for (DfproxyProcess *px : {proxy.get(), &off}) {
        SCOPED_TRACE(px == &off ? "batched sends off" : "default");
        std::vector<std::unique_ptr<QProcess>> clients;
        for (int i = 0; i < 12; ++i) {
            QStringList args{"-q", "-sS", "--noproxy", "*", "-w", "%{http_code} %{size_download}\\n", "-H",
                             "host: " + host()};
            for (int k = 0; k < 5; ++k)
                args << "-o" << px->dir().filePath(QStringLiteral("client-%1-%2").arg(i).arg(k))
                     << px->proxyUrl(QStringLiteral("/bytes/%1").arg(1000 + 3000 * i + k));
            auto c = std::make_unique<QProcess>();
            c->start("curl", args);
            clients.push_back(std::move(c));
        }
        for (int i = 0; i < 12; ++i) {
            QProcess &c = *clients[size_t(i)];
            ASSERT_TRUE(waitUntil([&] { return c.state() == QProcess::NotRunning; }, 30000)) << i;
            const QStringList lines = QString::fromLatin1(c.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
            ASSERT_EQ(lines.size(), 5) << i << " " << c.readAllStandardError().constData();
            for (int k = 0; k < 5; ++k) {
                const int size = 1000 + 3000 * i + k;
                EXPECT_EQ(lines[k], QStringLiteral("200 %1").arg(size)) << i << "/" << k;
                EXPECT_TRUE(px->dir().readFile(QStringLiteral("client-%1-%2").arg(i).arg(k)) == expected(size))
                    << i << "/" << k;
            }
        }
    }
}
