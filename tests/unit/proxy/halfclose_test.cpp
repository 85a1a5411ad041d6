// SPDX-License-Identifier: Apache-2.0
// Tunnels carry a half-close both ways: the client shuts its sending side, the origin reads end-of-stream, answers,
// and the answer still reaches the client.
#include "proxytestsupport.h"

#include "platform/socket.h"
#include "proxy/proxyserver.h"

#include <QSocketNotifier>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::testing;

namespace {

/// Reads until the peer's FIN, then answers "got:<everything read>" and closes. With `upgrade` it first reads an
/// HTTP request head and answers 101. Works on duplicated descriptors, since QTcpSocket closes fully on EOF.
class ReplyAfterEofServer : public QObject
{
public:
    explicit ReplyAfterEofServer(bool upgrade) : m_upgrade(upgrade)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                m_fd = platform::duplicateSocket(s->socketDescriptor());
                platform::prepareSocket(m_fd);
                s->abort();
                s->deleteLater();
                m_notifier = new QSocketNotifier(m_fd, QSocketNotifier::Read, this);
                connect(m_notifier, &QSocketNotifier::activated, this, [this] { onReadable(); });
            }
        });
        m_server.listen(QHostAddress::LocalHost, 0);
    }
    ~ReplyAfterEofServer() override
    {
        if (m_fd >= 0)
            platform::closeSocket(m_fd);
    }
    quint16 port() const { return m_server.serverPort(); }
    bool sawEof = false;
    QByteArray received;

private:
    void onReadable()
    {
        char buf[4096];
        for (;;) {
            const qint64 n = platform::readSocket(m_fd, buf, sizeof buf);
            if (n == platform::WouldBlock)
                return;
            if (n < 0) {
                m_notifier->setEnabled(false);
                return;
            }
            if (n == 0) {
                sawEof = true;
                m_notifier->setEnabled(false);
                const QByteArray reply = "got:" + received;
                platform::writeSocket(m_fd, reply.constData(), reply.size());
                platform::closeSocket(std::exchange(m_fd, -1));
                return;
            }
            if (m_upgrade && !m_headDone) {
                m_head.append(buf, n);
                const qsizetype end = m_head.indexOf("\r\n\r\n");
                if (end < 0)
                    continue;
                m_headDone = true;
                received = m_head.mid(end + 4);
                const QByteArray ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
                platform::writeSocket(m_fd, ok.constData(), ok.size());
                continue;
            }
            received.append(buf, n);
        }
    }

    QTcpServer m_server;
    bool m_upgrade;
    bool m_headDone = false;
    QByteArray m_head;
    qintptr m_fd = -1;
    QSocketNotifier *m_notifier = nullptr;
};

class TunnelHalfClose : public ::testing::Test
{
protected:
    void start(quint16 connectPort)
    {
        cache.hosts.insert(QStringLiteral("httpbin.test"), {QHostAddress(QHostAddress::LocalHost)});
        router = std::make_shared<FakeRouter>();
        router->listenerList[0].connectPorts = {connectPort};
        proxy::ProxyOptions o;
        o.workerThreads = 1;
        server = std::make_unique<proxy::ProxyServer>(o);
        server->setHostCache(&cache);
        server->setRouter(router);
        ASSERT_TRUE(server->start());
        port = server->portOf(QStringLiteral("http"));
    }
    void TearDown() override
    {
        if (server)
            server->stop();
    }
    /// Reads from the client until the proxy closes; returns everything.
    static QByteArray readToEnd(TestClient &c)
    {
        QByteArray got;
        waitFor([&] {
            got += c.socket().readAll();
            return c.socket().state() == QAbstractSocket::UnconnectedState;
        });
        got += c.socket().readAll();
        return got;
    }

    FakeHostCache cache;
    std::shared_ptr<FakeRouter> router;
    std::unique_ptr<proxy::ProxyServer> server;
    quint16 port = 0;
};

TEST_F(TunnelHalfClose, ConnectClientShutdownStillGetsTheAnswer)
{
    ReplyAfterEofServer origin(false);
    start(origin.port());
    TestClient c(port);
    const QByteArray authority = "httpbin.test:" + QByteArray::number(origin.port());
    c.sendRaw("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    QByteArray head;
    ASSERT_TRUE(waitFor([&] {
        head += c.socket().readAll();
        return head.contains("\r\n\r\n");
    }));
    ASSERT_TRUE(head.startsWith("HTTP/1.1 200"));
    c.sendRaw("question");
    ASSERT_TRUE(platform::shutdownWrite(c.socket().socketDescriptor()));
    const QByteArray answer = readToEnd(c);
    EXPECT_TRUE(origin.sawEof);
    EXPECT_EQ(origin.received, "question");
    EXPECT_EQ(answer, "got:question");
    EXPECT_TRUE(waitFor([&] { return server->stats().value(QStringLiteral("activeTunnels")).toInt() == 0; }));
}

// A scripted client sends its CONNECT, its bytes and its FIN at once, before the tunnel is up (DNS answers later
// here): the end of its input waits for the tunnel, which carries the bytes and then the FIN, and the answer
// comes back after the 200.
TEST_F(TunnelHalfClose, ConnectClientThatEndsBeforeThe200StillGetsTheAnswer)
{
    ReplyAfterEofServer origin(false);
    cache.deferred = true;
    start(origin.port());
    TestClient c(port);
    const QByteArray authority = "httpbin.test:" + QByteArray::number(origin.port());
    c.sendRaw("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\nearly question");
    ASSERT_TRUE(platform::shutdownWrite(c.socket().socketDescriptor()));
    const QByteArray got = readToEnd(c);
    EXPECT_TRUE(got.startsWith("HTTP/1.1 200")) << got.constData();
    EXPECT_TRUE(got.endsWith("\r\n\r\ngot:early question")) << got.constData();
    EXPECT_EQ(origin.received, "early question");
}

// The same client refused (a port the listener does not allow): it gets its 403, and the connection closes.
TEST_F(TunnelHalfClose, ConnectClientThatEndsBeforeARefusalGetsItAndTheConnectionCloses)
{
    start(443);
    TestClient c(port);
    c.sendRaw("CONNECT httpbin.test:25 HTTP/1.1\r\nHost: httpbin.test:25\r\n\r\n");
    ASSERT_TRUE(platform::shutdownWrite(c.socket().socketDescriptor()));
    const QByteArray got = readToEnd(c);
    EXPECT_TRUE(got.startsWith("HTTP/1.1 403")) << got.constData();
    EXPECT_TRUE(waitFor([&] { return server->stats().value(QStringLiteral("activeConnections")).toInt() == 0; }));
}

TEST_F(TunnelHalfClose, ConnectAfterAsyncDnsCarriesExactlyTheClientBytes)
{
    // With DNS answering later, the CONNECT head's last byte is still unparsed when the tunnel starts; it must
    // not leak into the tunnel.
    ReplyAfterEofServer origin(false);
    cache.deferred = true;
    start(origin.port());
    TestClient c(port);
    const QByteArray authority = "httpbin.test:" + QByteArray::number(origin.port());
    c.sendRaw("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
    QByteArray head;
    ASSERT_TRUE(waitFor([&] {
        head += c.socket().readAll();
        return head.contains("\r\n\r\n");
    }));
    c.sendRaw("exact");
    ASSERT_TRUE(platform::shutdownWrite(c.socket().socketDescriptor()));
    EXPECT_EQ(readToEnd(c), "got:exact");
    EXPECT_EQ(origin.received, "exact");
}

TEST_F(TunnelHalfClose, WebsocketClientShutdownStillGetsTheAnswer)
{
    ReplyAfterEofServer origin(true);
    start(443);
    TestClient c(port);
    c.sendRaw("GET /ws HTTP/1.1\r\nHost: httpbin.test:" + QByteArray::number(origin.port())
              + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\n\r\n");
    QByteArray head;
    ASSERT_TRUE(waitFor([&] {
        head += c.socket().readAll();
        return head.contains("\r\n\r\n");
    }));
    ASSERT_TRUE(head.startsWith("HTTP/1.1 101"));
    c.sendRaw("frame-bytes");
    ASSERT_TRUE(platform::shutdownWrite(c.socket().socketDescriptor()));
    const QByteArray answer = readToEnd(c);
    EXPECT_EQ(origin.received, "frame-bytes");
    EXPECT_EQ(answer, "got:frame-bytes");
}

TEST_F(TunnelHalfClose, OriginShutdownReachesTheClientWhichCanStillSend)
{
    // The other direction: the origin speaks first and half-closes; the client reads EOF, then sends, and the
    // origin (still reading) gets it.
    QTcpServer srv;
    srv.listen(QHostAddress::LocalHost, 0);
    qintptr originFd = -1;
    QObject::connect(&srv, &QTcpServer::newConnection, &srv, [&] {
        QTcpSocket *s = srv.nextPendingConnection();
        originFd = platform::duplicateSocket(s->socketDescriptor());
        platform::prepareSocket(originFd);
        s->abort();
        s->deleteLater();
        platform::writeSocket(originFd, "banner", 6);
        platform::shutdownWrite(originFd);
    });
    start(srv.serverPort());
    // The client is raw too: a QTcpSocket would close on the EOF it is meant to observe.
    qintptr clientFd = -1;
    {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, port);
        ASSERT_TRUE(waitFor([&] { return s.state() == QAbstractSocket::ConnectedState; }));
        clientFd = platform::duplicateSocket(s.socketDescriptor());
        platform::prepareSocket(clientFd);
        s.abort();
    }
    const QByteArray authority = "httpbin.test:" + QByteArray::number(srv.serverPort());
    const QByteArray connect = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
    ASSERT_EQ(platform::writeSocket(clientFd, connect.constData(), connect.size()), connect.size());
    QByteArray got;
    char buf[256];
    ASSERT_TRUE(waitFor([&] {
        const qint64 n = platform::readSocket(clientFd, buf, sizeof buf);
        if (n > 0)
            got.append(buf, n);
        return n == 0;
    }));
    EXPECT_TRUE(got.endsWith("banner")) << got.toStdString();
    EXPECT_EQ(platform::writeSocket(clientFd, "late", 4), 4);
    QByteArray atOrigin;
    ASSERT_TRUE(waitFor([&] {
        const qint64 n = platform::readSocket(originFd, buf, sizeof buf);
        if (n > 0)
            atOrigin.append(buf, n);
        return atOrigin == "late";
    }));
    platform::closeSocket(originFd);
    platform::closeSocket(clientFd);
}

} // namespace
