// SPDX-License-Identifier: Apache-2.0
// The data path through a real upstream proxy (Debian's Squid on loopback, started here with its own config), driven
// by a routing::BackendTunnel built in the test: plain HTTP in absolute form on pooled connections to the proxy,
// CONNECT tunnels, TLS to the origin inside the tunnel, Basic and Digest answered on the same connection, the
// errors (a final 407, an unreachable proxy), and a PAC file's fallback order with tinyproxy as the second proxy. The origin's name is known only to Squid's hosts file: dfproxy never
// resolves it (the Upstream carries no address), which is the "the upstream resolves" promise.
#include "forward/connector.h"
#include "forward/http1forwarder.h"
#include "forward/upstreamproxy.h"
#include "net/stream.h"
#include "pac/pacengine.h"

#include "support/origin.h"
#include "support/squid.h"
#include "support/tempdir.h"
#include "support/testca.h"
#include "support/wait.h"

#include <gtest/gtest.h>

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

#include <memory>

using namespace dfproxy;
using forward::ForwardError;
using test::Squid;

namespace {

const QString kOriginName = QStringLiteral("origin.test");

struct Result : forward::ResponseSink
{
    int status = 0;
    QByteArray body;
    bool complete = false;
    ForwardError error = ForwardError::None;
    QString detail;
    bool reused = false;
    QString usedProxy; ///< set when the connector fell back to another PAC entry ("DIRECT" for none)
    void onUpstreamProxyUsed(const forward::UpstreamProxy *p) override
    {
        usedProxy = p ? p->address : QStringLiteral("DIRECT");
    }
    void onUpstreamConnected(const QHostAddress &, bool r) override { reused = r; }
    void onResponseHead(const http::MessageHead &head) override { status = head.status; }
    void onResponseBody(const char *data, qsizetype size) override { body.append(data, size); }
    void onResponseComplete() override { complete = true; }
    void onUpgraded(net::Stream *upstream, const QByteArray &leftover) override
    {
        // The test talks through it with QTcpSocket's blocking calls.
        upgraded.reset(upstream->release());
        delete upstream;
        upgradeLeftover = leftover;
    }
    void onRequestBodyDrained() override {}
    void onError(ForwardError e, const QString &d) override
    {
        error = e;
        detail = d;
    }
    bool done() const { return complete || upgraded || error != ForwardError::None; }
    std::unique_ptr<QTcpSocket> upgraded;
    QByteArray upgradeLeftover;
};

/// The tunnel of a backend: `url`, credentials written to a 0600 file when `credentials` is not empty.
routing::BackendTunnel tunnelTo(const QString &url, const QByteArray &credentials, test::TempDir &dir)
{
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("test/corp-proxy");
    t.url = url;
    if (!credentials.isEmpty()) {
        // One file per content: the process keeps one ProxyAuth per URL and file.
        const QString name = QStringLiteral("creds-%1").arg(qHash(credentials + url.toUtf8()));
        dir.writeFile(name, credentials + '\n');
        QFile::setPermissions(dir.filePath(name), QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        t.credentialsFile = dir.filePath(name);
    }
    return t;
}

class SquidDataPath : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        if (!Squid::available())
            return;
        s_ca = new test::TestCa;
        if (!s_ca->create())
            return;
        const auto cert = s_ca->issueServerCert(QStringLiteral("origin"), {kOriginName});
        if (!cert)
            return;
        s_origin = new test::OriginProcess;
        test::OriginProcess::Options tls;
        tls.tlsCert = cert->certPath;
        tls.tlsKey = cert->keyPath;
        s_tlsOrigin = new test::OriginProcess(tls);
        if (!s_origin->start() || !s_tlsOrigin->start())
            return;
        s_ready = true;
    }
    static void TearDownTestSuite()
    {
        for (Squid *&s : s_squid) {
            delete s;
            s = nullptr;
        }
        delete s_origin;
        delete s_tlsOrigin;
        delete s_ca;
        s_origin = s_tlsOrigin = nullptr;
        s_ca = nullptr;
        s_ready = false;
    }
    void SetUp() override
    {
        if (!Squid::available())
            GTEST_SKIP() << "squid is not installed (Debian package squid)";
        ASSERT_TRUE(s_ready) << "the origins or the test CA did not start";
    }

    /// The Squid with `auth`, started on first use (ctest runs each test in a process of its own: only what it needs).
    Squid &squid(Squid::Auth auth)
    {
        Squid *&s = s_squid[int(auth)];
        if (!s) {
            Squid::Options o;
            o.auth = auth;
            o.hosts = {QStringLiteral("127.0.0.1 ") + kOriginName};
            s = new Squid(o);
            EXPECT_TRUE(s->start()) << s->errorString().toStdString();
        }
        return *s;
    }
    QByteArray goodCredentials() const { return "alice:s3cret:with colon"; }

    forward::Upstream upstream(const routing::BackendTunnel &t, bool tls = false)
    {
        forward::Upstream up;
        up.host = kOriginName;
        up.port = tls ? s_tlsOrigin->port() : s_origin->port();
        up.tls = tls;
        if (tls)
            up.tlsCaFile = s_ca->caCertPath();
        const forward::ProxySelection sel = forward::selectUpstreamProxy(t, up.host);
        EXPECT_TRUE(sel.error.isEmpty()) << sel.error.toStdString();
        up.proxy = sel.proxy; // and no addresses: only the proxy knows origin.test
        return up;
    }

    /// GET `path` through `fwd`; waits for the outcome.
    std::unique_ptr<Result> get(forward::Http1Forwarder &fwd, const forward::Upstream &up, const QByteArray &path)
    {
        auto r = std::make_unique<Result>();
        forward::ForwardRequest req;
        req.upstream = up;
        req.method = "GET";
        req.target = path;
        req.headers = {{"Host", kOriginName.toUtf8() + ':' + QByteArray::number(up.port)}};
        req.connectTimeoutMs = 5000;
        req.responseTimeoutMs = 20000;
        auto ex = fwd.start(std::move(req), r.get());
        ex->endBody();
        EXPECT_TRUE(test::waitUntil([&] { return r->done(); }, 30000));
        return r;
    }

    /// A CONNECT tunnel through the proxy (as DownstreamConnection asks for it), then one request inside it.
    QByteArray throughConnect(const forward::Upstream &base, ForwardError *error, QString *detail)
    {
        forward::Upstream up = base;
        up.viaConnect = true;
        QTcpSocket *socket = nullptr;
        bool failed = false;
        forward::Connector::Options options;
        options.timeoutMs = 5000;
        forward::Connector c(
            up, options, [&](QTcpSocket *s, const QHostAddress &) { socket = s; },
            [&](ForwardError e, const QString &d) {
                failed = true;
                *error = e;
                *detail = d;
            });
        c.start();
        EXPECT_TRUE(test::waitUntil([&] { return socket || failed; }, 30000));
        if (!socket)
            return {};
        socket->write("GET /echo HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n");
        const QByteArray response = test::readUntilClosed(*socket, 20000);
        delete socket;
        return response;
    }

    test::TempDir m_dir;
    static inline test::TestCa *s_ca = nullptr;
    static inline test::OriginProcess *s_origin = nullptr;
    static inline test::OriginProcess *s_tlsOrigin = nullptr;
    static inline Squid *s_squid[3] = {nullptr, nullptr, nullptr};
    static inline bool s_ready = false;
};

} // namespace

TEST_F(SquidDataPath, PlainHttpGoesInAbsoluteFormOnPooledConnections)
{
    forward::Http1Forwarder fwd;
    const forward::Upstream up = upstream(tunnelTo(squid(Squid::Auth::None).url(), {}, m_dir));
    auto r = get(fwd, up, "/echo?x=1");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(QJsonDocument::fromJson(r->body).object().value(QStringLiteral("target")).toString(),
              QStringLiteral("/echo?x=1"));
    r = get(fwd, up, "/echo?x=2");
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->reused); // the keep-alive connection to the proxy
    EXPECT_EQ(fwd.connectionsOpened(), 1u);
    // (Squid logs the URI without its query)
    const QByteArray line = "GET http://origin.test:" + QByteArray::number(up.port) + "/echo";
    EXPECT_TRUE(test::waitUntil([&] { return squid(Squid::Auth::None).accessLog().contains(line); }, 10000))
        << squid(Squid::Auth::None).accessLog().constData();
}

TEST_F(SquidDataPath, ConnectTunnelAndTlsOriginationGoThroughConnect)
{
    const routing::BackendTunnel t = tunnelTo(squid(Squid::Auth::None).url(), {}, m_dir);
    ForwardError error = ForwardError::None;
    QString detail;
    const QByteArray response = throughConnect(upstream(t), &error, &detail);
    EXPECT_TRUE(response.startsWith("HTTP/1.1 200")) << response.constData() << detail.toStdString();

    forward::Http1Forwarder fwd;
    const forward::Upstream up = upstream(t, true);
    auto r = get(fwd, up, "/echo");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    r = get(fwd, up, "/echo");
    EXPECT_TRUE(r->reused); // the TLS connection inside the tunnel is pooled like any other
    // (Squid logs a tunnel when it closes: the one above is)
    const QByteArray line = "CONNECT origin.test:" + QByteArray::number(s_origin->port());
    EXPECT_TRUE(test::waitUntil([&] { return squid(Squid::Auth::None).accessLog().contains(line); }, 10000))
        << squid(Squid::Auth::None).accessLog().constData();
}

TEST_F(SquidDataPath, BasicAuthOnEveryPath)
{
    const routing::BackendTunnel t = tunnelTo(squid(Squid::Auth::Basic).url(), goodCredentials(), m_dir);
    forward::Http1Forwarder fwd;
    auto r = get(fwd, upstream(t), "/echo");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    r = get(fwd, upstream(t, true), "/echo");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    ForwardError error = ForwardError::None;
    QString detail;
    EXPECT_TRUE(throughConnect(upstream(t), &error, &detail).startsWith("HTTP/1.1 200")) << detail.toStdString();
    EXPECT_TRUE(test::waitUntil([&] { return squid(Squid::Auth::Basic).accessLog().contains(" alice "); }, 10000))
        << squid(Squid::Auth::Basic).accessLog().constData();
}

TEST_F(SquidDataPath, DigestAuthIsAnsweredOnTheSameConnection)
{
    const routing::BackendTunnel t = tunnelTo(squid(Squid::Auth::Digest).url(), goodCredentials(), m_dir);
    forward::Http1Forwarder fwd;
    auto r = get(fwd, upstream(t), "/echo?d=1");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(fwd.connectionsOpened(), 1u); // the 407 and the answer on one connection
    r = get(fwd, upstream(t), "/echo?d=2"); // the known nonce, the next count: no 407
    EXPECT_EQ(r->status, 200);
    r = get(fwd, upstream(t, true), "/echo");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    ForwardError error = ForwardError::None;
    QString detail;
    EXPECT_TRUE(throughConnect(upstream(t), &error, &detail).startsWith("HTTP/1.1 200")) << detail.toStdString();
}

TEST_F(SquidDataPath, RefusedCredentialsAreAFinal407)
{
    for (Squid::Auth auth : {Squid::Auth::Basic, Squid::Auth::Digest}) {
        const routing::BackendTunnel bad = tunnelTo(squid(auth).url(), "alice:wrong", m_dir);
        forward::Http1Forwarder fwd;
        auto r = get(fwd, upstream(bad), "/echo");
        EXPECT_EQ(r->error, ForwardError::ProxyAuthFailed) << int(auth) << r->detail.toStdString();
        EXPECT_TRUE(r->detail.contains(QLatin1String("refused the credentials of alice"))) << r->detail.toStdString();
        r = get(fwd, upstream(bad, true), "/echo");
        EXPECT_EQ(r->error, ForwardError::ProxyAuthFailed) << r->detail.toStdString();
        const routing::BackendTunnel none = tunnelTo(squid(auth).url(), {}, m_dir);
        r = get(fwd, upstream(none), "/echo");
        EXPECT_EQ(r->error, ForwardError::ProxyAuthFailed);
        EXPECT_TRUE(r->detail.contains(QLatin1String("tunnel-credentials-file"))) << r->detail.toStdString();
    }
}

TEST_F(SquidDataPath, UnreachableProxy)
{
    const quint16 dead = test::freeTcpPort();
    const routing::BackendTunnel t = tunnelTo(QStringLiteral("http://127.0.0.1:%1").arg(dead), {}, m_dir);
    forward::Http1Forwarder fwd;
    auto r = get(fwd, upstream(t), "/echo");
    EXPECT_EQ(r->error, ForwardError::ProxyUnreachable) << r->detail.toStdString();
    EXPECT_TRUE(r->detail.contains(QStringLiteral("127.0.0.1:%1").arg(dead))) << r->detail.toStdString();
    ForwardError error = ForwardError::None;
    QString detail;
    throughConnect(upstream(t), &error, &detail);
    EXPECT_EQ(error, ForwardError::ProxyUnreachable);
}

namespace {

/// The selection of `host` through `t` (waits for the PAC answer).
forward::ProxySelection select(const routing::BackendTunnel &t, const QString &host, quint16 port)
{
    QObject context;
    std::optional<forward::ProxySelection> result;
    std::optional<forward::ProxySelection> now = forward::selectUpstreamProxy(
        t, QStringLiteral("http"), host, port, routing::Backend::Engine::Native, nullptr, &context,
        [&](forward::ProxySelection s) { result = std::move(s); });
    if (now)
        return *now;
    EXPECT_TRUE(test::waitUntil([&] { return result.has_value(); }, 20000));
    return result.value_or(forward::ProxySelection{});
}

} // namespace

TEST_F(SquidDataPath, PacFallbackOrderSkipsADeadProxy)
{
    if (!test::Tinyproxy::available())
        GTEST_SKIP() << "tinyproxy is not installed (Debian package tinyproxy)";
    test::Tinyproxy tiny;
    ASSERT_TRUE(tiny.start()) << tiny.errorString().toStdString();
    const quint16 dead = test::freeTcpPort();
    // The origin by address: tinyproxy resolves with the system's resolver, which tests never ask.
    m_dir.writeFile(QStringLiteral("fallback.pac"),
                    QStringLiteral("function FindProxyForURL(url, host) {\n"
                                   "  if (host == '127.0.0.1') return 'PROXY 127.0.0.1:%1; PROXY 127.0.0.1:%2; DIRECT';\n"
                                   "  if (host == 'only-direct.test') return 'PROXY 127.0.0.1:%1; DIRECT';\n"
                                   "  return 'DIRECT'; }\n")
                        .arg(dead)
                        .arg(tiny.port())
                        .toUtf8());
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("test/pac");
    t.pacUrl = QUrl::fromLocalFile(m_dir.filePath(QStringLiteral("fallback.pac"))).toString();

    forward::ProxySelection sel = select(t, QStringLiteral("127.0.0.1"), s_origin->port());
    ASSERT_TRUE(sel.proxy) << sel.why.toStdString();
    EXPECT_EQ(sel.proxy->address, QStringLiteral("127.0.0.1:%1").arg(dead));
    ASSERT_EQ(sel.fallbacks.size(), 2);
    EXPECT_FALSE(sel.fallbacks[1]); // DIRECT
    EXPECT_TRUE(sel.why.startsWith(QLatin1String("pac PROXY 127.0.0.1:"))) << sel.why.toStdString();

    forward::Http1Forwarder fwd;
    forward::Upstream up;
    up.host = QStringLiteral("127.0.0.1");
    up.port = s_origin->port();
    up.proxy = sel.proxy;
    up.proxyFallbacks = sel.fallbacks;
    auto r = get(fwd, up, "/echo");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->usedProxy, QStringLiteral("127.0.0.1:%1").arg(tiny.port())); // the second entry carried it
    EXPECT_TRUE(tiny.describe().contains(QLatin1String("/echo"))) << tiny.describe().toStdString();

    // DIRECT as the last resort: with the target's addresses (here it resolved), straight to the origin.
    sel = select(t, QStringLiteral("only-direct.test"), s_origin->port());
    up.host = QStringLiteral("only-direct.test");
    up.addresses = {QHostAddress(QHostAddress::LocalHost)};
    up.proxy = sel.proxy;
    up.proxyFallbacks = sel.fallbacks;
    r = get(fwd, up, "/echo");
    ASSERT_EQ(r->error, ForwardError::None) << r->detail.toStdString();
    // The dead proxy failed a moment ago (above), so it now goes after DIRECT for 30 s: DIRECT is taken first (no
    // proxy named) rather than as the fallback ("DIRECT"); either way nothing went through a proxy.
    EXPECT_TRUE(r->usedProxy.isEmpty() || r->usedProxy == QStringLiteral("DIRECT")) << r->usedProxy.toStdString();
    // ... and without them (the name did not resolve here) DIRECT is no option: the proxy's error stands.
    up.addresses.clear();
    r = get(fwd, up, "/echo");
    EXPECT_EQ(r->error, ForwardError::ProxyUnreachable) << r->detail.toStdString();
}

TEST_F(SquidDataPath, PacFileThatCannotBeReadFallsBackToTheTunnelUrl)
{
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("test/pac-missing");
    t.url = squid(Squid::Auth::None).url();
    t.pacUrl = QUrl::fromLocalFile(m_dir.filePath(QStringLiteral("missing.pac"))).toString();
    const forward::ProxySelection sel = select(t, kOriginName, s_origin->port());
    ASSERT_TRUE(sel.proxy);
    EXPECT_EQ(sel.proxy->address, QStringLiteral("127.0.0.1:%1").arg(squid(Squid::Auth::None).port()));
    EXPECT_TRUE(sel.why.contains(QLatin1String("cannot read the PAC file"))) << sel.why.toStdString();
}

// A websocket upgrade through the proxy takes a CONNECT tunnel (Squid does not relay upgrades in absolute form); the
// origin here answers 101 and echoes what follows.
TEST_F(SquidDataPath, WebsocketUpgradeGoesThroughConnect)
{
    QTcpServer ws;
    ASSERT_TRUE(ws.listen(QHostAddress::LocalHost, 0));
    QObject::connect(&ws, &QTcpServer::newConnection, &ws, [&ws] {
        QTcpSocket *c = ws.nextPendingConnection();
        auto head = std::make_shared<QByteArray>();
        QObject::connect(c, &QTcpSocket::readyRead, c, [c, head] {
            if (!head->endsWith("\r\n\r\n")) {
                while (c->bytesAvailable() && !head->endsWith("\r\n\r\n"))
                    head->append(c->read(1));
                if (head->endsWith("\r\n\r\n"))
                    c->write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
            }
            if (head->endsWith("\r\n\r\n") && c->bytesAvailable())
                c->write(c->readAll()); // echo
        });
    });
    forward::Upstream up = upstream(tunnelTo(squid(Squid::Auth::None).url(), {}, m_dir));
    up.port = ws.serverPort();
    forward::Http1Forwarder fwd;
    Result r;
    forward::ForwardRequest req;
    req.upstream = up;
    req.method = "GET";
    req.target = "/ws";
    req.upgrade = true;
    req.headers = {{"Host", "origin.test:" + QByteArray::number(up.port)}, {"Upgrade", "websocket"},
                   {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}};
    auto ex = fwd.start(std::move(req), &r);
    ex->endBody();
    ASSERT_TRUE(test::waitUntil([&] { return r.done(); }, 30000));
    ASSERT_TRUE(r.upgraded) << r.detail.toStdString();
    EXPECT_EQ(r.status, 101);
    r.upgraded->write("ping through the tunnel");
    QByteArray echoed = r.upgradeLeftover;
    EXPECT_TRUE(test::waitUntil(
        [&] {
            echoed += r.upgraded->readAll();
            return echoed.contains("ping through the tunnel");
        },
        10000))
        << echoed.constData();
    r.upgraded->close();
    const QByteArray line = "CONNECT origin.test:" + QByteArray::number(up.port);
    EXPECT_TRUE(test::waitUntil([&] { return squid(Squid::Auth::None).accessLog().contains(line); }, 10000))
        << squid(Squid::Auth::None).accessLog().constData();
}
