// SPDX-License-Identifier: Apache-2.0
#include "proxytestsupport.h"

#include "proxy/accesslog.h"
#include "proxy/proxyserver.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::testing;

namespace {

class ProxyTest : public ::testing::TestWithParam<routing::Backend::Engine>
{
protected:
    void SetUp() override
    {
        cache.hosts.insert(QStringLiteral("httpbin.test"), {QHostAddress(QHostAddress::LocalHost)});
        router = std::make_shared<FakeRouter>();
        router->backend->engine = GetParam();
    }
    void startProxy(proxy::ProxyOptions options = {})
    {
        if (options.workerThreads == 0)
            options.workerThreads = 2;
        server = std::make_unique<proxy::ProxyServer>(options);
        server->setHostCache(&cache);
        server->setRouter(router);
        QString error;
        ASSERT_TRUE(server->start(&error)) << error.toStdString();
        port = server->portOf(QStringLiteral("http"));
        ASSERT_NE(port, 0);
    }
    void TearDown() override
    {
        if (server)
            server->stop();
    }
    QByteArray hostHeader() const { return "httpbin.test:" + QByteArray::number(origin.port()); }
    QByteArray get(const QByteArray &path, const QByteArray &extra = {}) const
    {
        return "GET " + path + " HTTP/1.1\r\nHost: " + hostHeader() + "\r\n" + extra + "\r\n";
    }

    TestOrigin origin;
    FakeHostCache cache;
    std::shared_ptr<FakeRouter> router;
    std::unique_ptr<proxy::ProxyServer> server;
    quint16 port = 0;
};

TEST_P(ProxyTest, OriginFormWithHostHeaderReachesOrigin)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request(get("/"));
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(r.header("via"), "1.1 dfproxy");
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_EQ(origin.requests[0].target, "/");
    EXPECT_EQ(origin.requests[0].header("host"), hostHeader());
    EXPECT_EQ(origin.requests[0].header("via"), "1.1 dfproxy");
}

TEST_P(ProxyTest, KeepAliveReusesOneUpstreamConnection)
{
    startProxy();
    TestClient c(port);
    for (int i = 0; i < 20; ++i) {
        const ClientResponse r = c.request(get("/"));
        ASSERT_EQ(r.status, 200) << i;
        ASSERT_EQ(r.body, "hello");
    }
    EXPECT_EQ(origin.requests.size(), 20);
    EXPECT_EQ(origin.connections(), 1);
}

TEST_P(ProxyTest, PipelinedRequestsAreAnsweredInOrder)
{
    startProxy();
    TestClient c(port);
    c.sendRaw(get("/status/201") + get("/status/202") + get("/"));
    EXPECT_EQ(c.read().status, 201);
    EXPECT_EQ(c.read().status, 202);
    const ClientResponse r = c.read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello");
}

TEST_P(ProxyTest, HopByHopHeadersAreStripped)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request(get("/", "Connection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 5\r\n"
                                                "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X\r\n"
                                                "Upgrade: h2c\r\nProxy-Authorization: Basic eA==\r\nX-Keep: yes\r\n"));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(origin.requests.size(), 1);
    const ReceivedRequest &got = origin.requests[0];
    for (const char *h : {"x-secret", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                          "proxy-authorization"})
        EXPECT_FALSE(got.has(h)) << h;
    EXPECT_EQ(got.header("x-keep"), "yes");
    // and on the way back: the origin's Keep-Alive header does not reach the client
    EXPECT_FALSE(r.has("keep-alive"));
}

TEST_P(ProxyTest, AbsoluteFormAuthorityWinsOverHostHeader)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("GET http://" + hostHeader() + "/echo?x=1 HTTP/1.1\r\nHost: other.test\r\n\r\n");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_EQ(origin.requests[0].target, "/echo?x=1");
    EXPECT_EQ(origin.requests[0].header("host"), hostHeader());
}

TEST_P(ProxyTest, UnknownRouteIs404WithReason)
{
    router->hosts = {QStringLiteral("httpbin.test")};
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: nope.test\r\n\r\n");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.header("x-dfproxy-error"), "route_not_found");
    // the connection stays usable
    EXPECT_EQ(c.request(get("/")).status, 200);
}

TEST_P(ProxyTest, DnsFailureIs503WithReasonAndBody)
{
    cache.failures.insert(QStringLiteral("broken.test"), dns::DnsError::NxDomain);
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: broken.test\r\n\r\n");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("x-dfproxy-error"), "dns_nxdomain");
    EXPECT_TRUE(r.body.contains("DNS resolution failed for broken.test: dns_nxdomain")) << r.body.constData();
}

TEST_P(ProxyTest, PendingDnsLookupCompletesTheRequest)
{
    cache.deferred = true;
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request(get("/"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello");
}

TEST_P(ProxyTest, ConnectRefusedIs502)
{
    // a port that was just free
    quint16 deadPort;
    {
        QTcpServer s;
        s.listen(QHostAddress::LocalHost, 0);
        deadPort = s.serverPort();
    }
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: httpbin.test:" + QByteArray::number(deadPort) + "\r\n\r\n");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_connect_refused");
    EXPECT_FALSE(cache.failedAddresses.isEmpty());
}

TEST_P(ProxyTest, NextAddressIsTriedWhenConnectFails)
{
    cache.hosts.insert(QStringLiteral("httpbin.test"),
                       {QHostAddress(QStringLiteral("127.0.0.2")), QHostAddress(QHostAddress::LocalHost)});
    startProxy();
    TestClient c(port);
    // 127.0.0.2 has nothing listening on the origin's port (the origin binds 127.0.0.1 only)
    const ClientResponse r = c.request(get("/"));
    EXPECT_EQ(r.status, 200);
    ASSERT_EQ(cache.failedAddresses.size(), 1);
    EXPECT_EQ(cache.failedAddresses[0], QHostAddress(QStringLiteral("127.0.0.2")));
}

TEST_P(ProxyTest, ResponseTimeoutIs504)
{
    proxy::ProxyOptions o;
    o.responseTimeoutMs = 300;
    startProxy(o);
    TestClient c(port);
    const ClientResponse r = c.request(get("/slow"));
    EXPECT_EQ(r.status, 504);
    EXPECT_EQ(r.header("x-dfproxy-error"), "upstream_response_timeout");
}

TEST_P(ProxyTest, ChunkedUploadIsReframedAndDelivered)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("POST /echo HTTP/1.1\r\nHost: " + hostHeader()
                                       + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello world");
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_EQ(origin.requests[0].body, "hello world");
}

TEST_P(ProxyTest, LargeStreamingDownloadArrivesWhole)
{
    startProxy();
    TestClient c(port);
    const qint64 n = 8 * 1024 * 1024;
    const ClientResponse r = c.request(get("/big?n=" + QByteArray::number(n)), false, 60000);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), n);
    EXPECT_EQ(r.header("transfer-encoding"), "chunked");
}

TEST_P(ProxyTest, LargeUploadWithContentLengthArrivesWhole)
{
    startProxy();
    TestClient c(port);
    const QByteArray body(3 * 1024 * 1024, 'u');
    const ClientResponse r = c.request("POST /echo HTTP/1.1\r\nHost: " + hostHeader() + "\r\nContent-Length: "
                                           + QByteArray::number(body.size()) + "\r\n\r\n" + body,
                                       false, 60000);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), body.size());
}

TEST_P(ProxyTest, CloseDelimitedResponseIsReframedChunked)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request(get("/close"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "until-close");
}

TEST_P(ProxyTest, HeadResponseHasNoBody)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("HEAD / HTTP/1.1\r\nHost: " + hostHeader() + "\r\n\r\n", true);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-length"), "5");
    EXPECT_TRUE(r.body.isEmpty());
    EXPECT_EQ(c.request(get("/")).body, "hello");
}

TEST_P(ProxyTest, ExpectContinueGets100ThenTheResponse)
{
    startProxy();
    TestClient c(port);
    c.sendRaw("POST /echo HTTP/1.1\r\nHost: " + hostHeader() + "\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    ASSERT_TRUE(waitFor([&] { return c.socket().bytesAvailable() >= 25; }));
    EXPECT_TRUE(c.socket().peek(25).startsWith("HTTP/1.1 100 Continue"));
    const ClientResponse r = c.request("ping");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "ping");
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_FALSE(origin.requests[0].has("expect"));
}

TEST_P(ProxyTest, BadRequestGets400WithReason)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.header("x-dfproxy-error"), "duplicate_content_length");
}

TEST_P(ProxyTest, ConnectTunnelCarriesBytesBothWays)
{
    // the tunnel target: an echo server
    QTcpServer echo;
    echo.listen(QHostAddress::LocalHost, 0);
    QObject::connect(&echo, &QTcpServer::newConnection, &echo, [&] {
        QTcpSocket *s = echo.nextPendingConnection();
        QObject::connect(s, &QTcpSocket::readyRead, s, [s] { s->write("echo:" + s->readAll()); });
    });
    router->listenerList[0].connectPorts = {echo.serverPort()};
    startProxy();
    TestClient c(port);
    const QByteArray authority = "httpbin.test:" + QByteArray::number(echo.serverPort());
    c.sendRaw("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    ASSERT_TRUE(waitFor([&] { return c.socket().bytesAvailable() >= 39; }));
    EXPECT_TRUE(c.socket().readAll().startsWith("HTTP/1.1 200"));
    c.sendRaw("ping");
    QByteArray got;
    ASSERT_TRUE(waitFor([&] {
        got += c.socket().readAll();
        return got == "echo:ping";
    }));
    EXPECT_EQ(server->stats().value(QStringLiteral("activeTunnels")).toInt(), 1);
}

TEST_P(ProxyTest, AQuietTunnelEndsAfterTunnelIdleTimeoutMs)
{
    // A target that accepts and never says a word: nothing moves either way once the tunnel is up.
    QTcpServer silent;
    silent.listen(QHostAddress::LocalHost, 0);
    std::vector<std::unique_ptr<QTcpSocket>> accepted;
    QObject::connect(&silent, &QTcpServer::newConnection, &silent,
                     [&] { accepted.emplace_back(silent.nextPendingConnection()); });
    router->listenerList[0].connectPorts = {silent.serverPort()};
    proxy::ProxyOptions options;
    options.tunnelIdleTimeoutMs = 300;
    startProxy(options);
    TestClient c(port);
    const QByteArray authority = "httpbin.test:" + QByteArray::number(silent.serverPort());
    c.sendRaw("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    ASSERT_TRUE(waitFor([&] { return c.socket().bytesAvailable() >= 39; }));
    EXPECT_TRUE(c.socket().readAll().startsWith("HTTP/1.1 200"));
    EXPECT_TRUE(waitFor([&] { return c.socket().state() == QAbstractSocket::UnconnectedState; }));
    EXPECT_TRUE(waitFor([&] { return server->stats().value(QStringLiteral("activeTunnels")).toInt() == 0; }));
}

TEST_P(ProxyTest, ConnectToDisallowedPortIs403)
{
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("CONNECT httpbin.test:25 HTTP/1.1\r\nHost: httpbin.test:25\r\n\r\n");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.header("x-dfproxy-error"), "connect_port_not_allowed");
}

TEST_P(ProxyTest, WebsocketUpgradeBecomesATunnel)
{
    startProxy();
    TestClient c(port);
    c.sendRaw("GET /ws HTTP/1.1\r\nHost: " + hostHeader()
              + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n");
    QByteArray got;
    ASSERT_TRUE(waitFor([&] {
        got += c.socket().readAll();
        return got.contains("\r\n\r\n");
    }));
    EXPECT_TRUE(got.startsWith("HTTP/1.1 101"));
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_EQ(origin.requests[0].header("upgrade"), "websocket");
    got.clear();
    c.sendRaw("frame");
    ASSERT_TRUE(waitFor([&] {
        got += c.socket().readAll();
        return got == "frame";
    }));
}

TEST_P(ProxyTest, NoBackendIs500)
{
    router->tweak = [](routing::RouteMatch &m, const routing::RequestInfo &) { m.backend.reset(); };
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request(get("/"));
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.header("x-dfproxy-error"), "no_backend");
}

TEST_P(ProxyTest, FiltersRewriteAndModifyHeaders)
{
    router->tweak = [](routing::RouteMatch &m, const routing::RequestInfo &) {
        m.requestHeaders.set.append(qMakePair(QByteArray("X-Set"), QByteArray("1")));
        m.requestHeaders.remove.append("X-Drop");
        m.responseHeaders.add.append(qMakePair(QByteArray("X-Resp"), QByteArray("r")));
        routing::UrlRewrite rw;
        rw.replaceFullPath = QStringLiteral("/echo");
        m.rewrite = rw;
    };
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request(get("/anything", "X-Drop: d\r\n"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-resp"), "r");
    ASSERT_EQ(origin.requests.size(), 1);
    EXPECT_EQ(origin.requests[0].target, "/echo");
    EXPECT_EQ(origin.requests[0].header("x-set"), "1");
    EXPECT_FALSE(origin.requests[0].has("x-drop"));
}

TEST_P(ProxyTest, RedirectFilterAnswersWithLocation)
{
    router->tweak = [](routing::RouteMatch &m, const routing::RequestInfo &) {
        routing::Redirect r;
        r.scheme = QStringLiteral("https");
        r.statusCode = 301;
        m.redirect = r;
        m.backend.reset();
    };
    startProxy();
    TestClient c(port);
    const ClientResponse r = c.request("GET /a?b=1 HTTP/1.1\r\nHost: httpbin.test\r\n\r\n");
    EXPECT_EQ(r.status, 301);
    EXPECT_EQ(r.header("location"), "https://httpbin.test/a?b=1");
}

TEST_P(ProxyTest, StatsCountRequestsByClass)
{
    startProxy();
    TestClient c(port);
    c.request(get("/"));
    c.request("GET / HTTP/1.1\r\nHost: nope.invalid\r\n\r\n");
    const QJsonObject s = server->stats();
    EXPECT_GE(s.value(QStringLiteral("requestsTotal")).toInt(), 2);
    EXPECT_GE(s.value(QStringLiteral("upstreamRequests")).toInt(), 1);
    if (GetParam() == routing::Backend::Engine::Native) { // QNAM does not say when it opens connections
        EXPECT_GE(s.value(QStringLiteral("upstreamConnectionsOpened")).toInt(), 1);
    }
}

TEST_P(ProxyTest, DeadPooledConnectionIsRetriedOnAFreshOne)
{
    // The origin closes every connection right after answering, without saying so.
    origin.handler = [](QTcpSocket *s, const ReceivedRequest &) {
        s->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        s->flush();
        s->disconnectFromHost();
    };
    startProxy();
    TestClient c(port);
    for (int i = 0; i < 3; ++i) {
        const ClientResponse r = c.request(get("/"));
        EXPECT_EQ(r.status, 200) << i;
        EXPECT_EQ(r.body, "ok");
    }
    EXPECT_EQ(origin.connections(), 3);
}

TEST_P(ProxyTest, BadChunkReadAfterTheUpstreamDrainedIs400AndTheProxyGoesOn)
{
    // A raw origin that reads nothing for a while, so the upload backs up (the exchange's buffer passes the
    // limit and the connection stops reading the client), then reads everything. What the connection reads once
    // the upstream drained ends in a bad chunk: 400, the exchange cancelled from outside its own callback.
    // The body buffered while connecting (more than the limit) goes at once on connect: the client's side must
    // still be released then, with no bytesWritten() to say so.
    if (GetParam() == routing::Backend::Engine::Qnam)
        GTEST_SKIP() << "the QNAM engine reads a chunked body whole before it connects: nothing backs up";
    QTcpServer raw;
    raw.listen(QHostAddress::LocalHost, 0);
    QList<QTcpSocket *> upstreams;
    QObject::connect(&raw, &QTcpServer::newConnection, &raw, [&] {
        QTcpSocket *s = raw.nextPendingConnection();
        s->setReadBufferSize(1); // QTcpSocket then leaves the bytes in the kernel until we read
        upstreams.append(s);
    });
    proxy::ProxyOptions options;
    options.bufferLimit = 64 * 1024;
    startProxy(options);
    TestClient c(port);
    const QByteArray host = "httpbin.test:" + QByteArray::number(raw.serverPort());
    const qint64 chunk = 32 * 1024 * 1024;
    c.sendRaw("POST /up HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: chunked\r\n\r\n"
              + QByteArray::number(chunk, 16) + "\r\n" + QByteArray(chunk, 'u') + "\r\nzz\r\n");
    ASSERT_TRUE(waitFor([&] { return !upstreams.isEmpty(); }));
    qint64 drained = 0;
    QTimer drain;
    QObject::connect(&drain, &QTimer::timeout, &drain, [&] {
        for (QTcpSocket *s : std::as_const(upstreams)) {
            s->setReadBufferSize(0);
            s->waitForReadyRead(0); // reads what the kernel holds (the full buffer had switched reading off)
            drained += s->readAll().size();
        }
    });
    QTimer::singleShot(300, &drain, [&drain] { drain.start(5); });
    const ClientResponse r = c.read(false, 30000);
    EXPECT_GT(drained, 0); // 32 MiB do not fit in the socket buffers: the bad chunk came after the stall
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.header("x-dfproxy-error"), "invalid_chunk_size");
    EXPECT_EQ(r.header("connection"), "close");
    // The worker is fine: the next client is served.
    TestClient next(port);
    EXPECT_EQ(next.request(get("/")).status, 200);
}

TEST_P(ProxyTest, UploadWithContentLengthStreamsBeforeTheClientFinishes)
{
    // A raw origin that counts body bytes as they arrive and never answers before it has them all.
    QTcpServer raw;
    raw.listen(QHostAddress::LocalHost, 0);
    qint64 received = 0;
    QObject::connect(&raw, &QTcpServer::newConnection, &raw, [&] {
        QTcpSocket *s = raw.nextPendingConnection();
        auto head = std::make_shared<bool>(false);
        QObject::connect(s, &QTcpSocket::readyRead, s, [s, head, &received] {
            QByteArray bytes = s->readAll();
            if (!*head) {
                const qsizetype end = bytes.indexOf("\r\n\r\n");
                if (end < 0)
                    return;
                *head = true;
                bytes = bytes.mid(end + 4);
            }
            received += bytes.size();
            if (received == 4 * 1024 * 1024)
                s->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
    });
    startProxy();
    TestClient c(port);
    const QByteArray host = "httpbin.test:" + QByteArray::number(raw.serverPort());
    c.sendRaw("PUT /up HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + QByteArray::number(4 * 1024 * 1024)
              + "\r\n\r\n");
    const QByteArray half(2 * 1024 * 1024, 'u');
    c.sendRaw(half);
    // Half the body reaches the origin while the other half has not even been sent.
    EXPECT_TRUE(waitFor([&] { return received >= 1024 * 1024; })) << received;
    c.sendRaw(half);
    const ClientResponse r = c.read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(received, 4 * 1024 * 1024);
}

TEST_P(ProxyTest, ClientUserAgentAndAcceptLanguagePassUnchanged)
{
    startProxy();
    TestClient c(port);
    ASSERT_EQ(c.request(get("/", "User-Agent: curl/7.88\r\nAccept-Language: de\r\n")).status, 200);
    ASSERT_EQ(c.request(get("/")).status, 200);
    ASSERT_EQ(origin.requests.size(), 2);
    EXPECT_EQ(origin.requests[0].header("user-agent"), "curl/7.88");
    EXPECT_EQ(origin.requests[0].header("accept-language"), "de");
    if (GetParam() == routing::Backend::Engine::Native) {
        EXPECT_FALSE(origin.requests[1].has("user-agent"));
        EXPECT_FALSE(origin.requests[1].has("accept-language"));
        EXPECT_FALSE(origin.requests[1].has("accept-encoding"));
    } else {
        // QNAM's own additions, which it offers no way to turn off (documented in docs/proxy.md).
        EXPECT_EQ(origin.requests[1].header("user-agent"), "Mozilla/5.0");
        EXPECT_TRUE(origin.requests[1].has("accept-language"));
        EXPECT_EQ(origin.requests[1].header("accept-encoding"), "identity");
    }
}

class CollectingSink final : public proxy::AccessLogSink
{
public:
    void write(telemetry::AccessLogEntry &&r) override
    {
        QMutexLocker lock(&mutex);
        records.append(std::move(r));
    }
    QMutex mutex;
    QList<telemetry::AccessLogEntry> records;
};

TEST_P(ProxyTest, AccessLogRecordPerRequest)
{
    CollectingSink sink;
    startProxy();
    server->setAccessLogSink(&sink);
    TestClient c(port);
    c.request(get("/echo"));
    c.request("GET / HTTP/1.1\r\nHost: nope.invalid\r\n\r\n");
    ASSERT_TRUE(waitFor([&] {
        QMutexLocker lock(&sink.mutex);
        return sink.records.size() == 2;
    }));
    QMutexLocker lock(&sink.mutex);
    const telemetry::AccessLogEntry &ok = sink.records[0];
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.method, "GET");
    EXPECT_EQ(ok.host, "httpbin.test");
    EXPECT_EQ(ok.port, origin.port());
    EXPECT_EQ(ok.path, "/echo");
    EXPECT_EQ(ok.route, "httpbin/dfp-httproute#0");
    EXPECT_EQ(ok.backend, "httpbin/dfp-backend");
    EXPECT_EQ(ok.resolvedAddress, QHostAddress(QHostAddress::LocalHost));
    EXPECT_TRUE(ok.dnsCacheHit);
    const telemetry::AccessLogEntry &bad = sink.records[1];
    EXPECT_EQ(bad.status, 503);
    EXPECT_EQ(bad.reason, "dns_nxdomain");
}

INSTANTIATE_TEST_SUITE_P(Engines, ProxyTest, ::testing::Values(routing::Backend::Engine::Native, routing::Backend::Engine::Qnam),
                         [](const auto &info) {
                             return info.param == routing::Backend::Engine::Native ? std::string("Native")
                                                                                   : std::string("Qnam");
                         });

} // namespace

namespace {

QJsonObject seedJson(const char *text)
{
    return QJsonDocument::fromJson(QByteArray(text)).object();
}

config::Config seedConfig(quint16 port, bool withRoute)
{
    config::Config c;
    QJsonObject gw = seedJson(R"({
      "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
      "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
      "spec": {"gatewayClassName": "agentgateway",
               "addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
               "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]}})");
    QJsonObject spec = gw.value("spec").toObject();
    QJsonArray listeners = spec.value("listeners").toArray();
    QJsonObject l = listeners[0].toObject();
    l.insert("port", port);
    listeners[0] = l;
    spec.insert("listeners", listeners);
    gw.insert("spec", spec);
    c.resources.append(config::Resource(gw));
    c.resources.append(config::Resource(seedJson(R"({
      "apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
      "metadata": {"name": "dfp-backend", "namespace": "httpbin"},
      "spec": {"dynamicForwardProxy": {}}})")));
    if (withRoute)
        c.resources.append(config::Resource(seedJson(R"({
          "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
          "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
          "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
                   "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend",
                                               "name": "dfp-backend"}]}]}})")));
    return c;
}

TEST(ProxySeed, RouteTableSeedScenarioThen404AfterDelete)
{
    TestOrigin origin;
    FakeHostCache cache;
    cache.hosts.insert(QStringLiteral("httpbin.test"), {QHostAddress(QHostAddress::LocalHost)});
    quint16 listenPort;
    {
        QTcpServer probe;
        probe.listen(QHostAddress::LocalHost, 0);
        listenPort = probe.serverPort();
    }
    proxy::ProxyOptions o;
    o.workerThreads = 1;
    proxy::ProxyServer server(o);
    server.setHostCache(&cache);
    server.setRouteTable(routing::RouteTable::build(seedConfig(listenPort, true)));
    QString error;
    ASSERT_TRUE(server.start(&error)) << error.toStdString();
    ASSERT_EQ(server.portOf(QStringLiteral("http")), listenPort);
    const QByteArray req = "GET / HTTP/1.1\r\nhost: httpbin.test:" + QByteArray::number(origin.port()) + "\r\n\r\n";
    {
        TestClient c(listenPort);
        const ClientResponse r = c.request(req);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, "hello");
    }
    server.setRouteTable(routing::RouteTable::build(seedConfig(listenPort, false)));
    {
        TestClient c(listenPort);
        const ClientResponse r = c.request(req);
        EXPECT_EQ(r.status, 404);
        EXPECT_EQ(r.header("x-dfproxy-error"), "route_not_found");
    }
    server.stop();
}

} // namespace
