// SPDX-License-Identifier: Apache-2.0
// proxy::Tunnel between two net::Streams on real loopback connections: a QTcpSocket peer behind each stream
// (the client, the upstream), the tunnel in between. Runs on the thread's poller and on notifier pairs (Windows,
// macOS).
#include "proxy/tunnel.h"

#include "net/stream.h"
#include "platform/socket.h"

#include "support/testca.h"
#include "support/wait.h"

#include <QFile>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>

#include <gtest/gtest.h>

#include <memory>
#include <optional>

using namespace dfproxy;
using dfproxy::test::waitUntil;

namespace {

/// A connected pair: `peer` (a QTcpSocket, the far end) and the accepted side as a net::Stream.
struct Leg
{
    QTcpServer server;
    QTcpSocket peer;
    net::Stream *stream = nullptr; ///< the tunnel's once it is made

    Leg()
    {
        EXPECT_TRUE(server.listen(QHostAddress::LocalHost));
        peer.connectToHost(QHostAddress::LocalHost, server.serverPort());
        EXPECT_TRUE(waitUntil([&] { return server.hasPendingConnections(); }, 5000));
        QTcpSocket *accepted = server.nextPendingConnection();
        accepted->setParent(nullptr);
        stream = net::Stream::adopt(accepted);
        EXPECT_TRUE(waitUntil([&] { return peer.state() == QAbstractSocket::ConnectedState; }, 5000));
    }
};

QByteArray pattern(qsizetype n)
{
    QByteArray b(n, Qt::Uninitialized);
    for (qsizetype i = 0; i < n; ++i)
        b[i] = char('a' + i % 23);
    return b;
}

class TunnelTest : public ::testing::TestWithParam<bool>
{
protected:
    // The streams are made after the choice of poller or notifiers (it applies to streams created afterwards).
    void SetUp() override
    {
        net::Stream::setPollerAllowedOnThisThread(GetParam());
        clientLeg = std::make_unique<Leg>();
        upstreamLeg = std::make_unique<Leg>();
        client = clientLeg.get();
        upstream = upstreamLeg.get();
    }
    void TearDown() override
    {
        tunnel.reset();
        if (!tunnelMade) { // the streams are nobody's yet
            delete clientLeg->stream;
            delete upstreamLeg->stream;
        }
        net::Stream::setPollerAllowedOnThisThread(true);
    }

    void start(const QByteArray &toClient = {}, const QByteArray &toUpstream = {}, qint64 limit = 256 * 1024)
    {
        tunnelMade = true;
        tunnel = std::make_unique<proxy::Tunnel>(client->stream, upstream->stream, toClient, toUpstream, limit,
                                                 [this](qint64 up, qint64 down) {
                                                     ++doneCalls;
                                                     clientToUpstream = up;
                                                     upstreamToClient = down;
                                                 });
    }

    /// Reads from `peer` until `want` bytes came (or the timeout).
    static QByteArray readExactly(QTcpSocket &peer, qsizetype want, int timeoutMs = 20000)
    {
        QByteArray got;
        waitUntil([&] {
            got += peer.readAll();
            return got.size() >= want;
        }, timeoutMs);
        return got;
    }

    std::unique_ptr<Leg> clientLeg;
    std::unique_ptr<Leg> upstreamLeg;
    Leg *client = nullptr;
    Leg *upstream = nullptr;
    std::unique_ptr<proxy::Tunnel> tunnel;
    bool tunnelMade = false;
    int doneCalls = 0;
    qint64 clientToUpstream = -1;
    qint64 upstreamToClient = -1;
};

TEST_P(TunnelTest, CarriesBytesBothWaysAfterTheBytesGivenFirst)
{
    start("101 leftover|", "client early|");
    client->peer.write("ping");
    upstream->peer.write("pong");
    EXPECT_EQ(readExactly(upstream->peer, 17), "client early|ping");
    EXPECT_EQ(readExactly(client->peer, 17), "101 leftover|pong");
    EXPECT_EQ(doneCalls, 0);
}

TEST_P(TunnelTest, ABigTransferArrivesWholeEachWayAndIsCounted)
{
    const QByteArray down = pattern(3 * 1024 * 1024 + 17);
    const QByteArray up = pattern(1024 * 1024 + 5);
    start();
    upstream->peer.write(down);
    client->peer.write(up);
    EXPECT_EQ(readExactly(client->peer, down.size()), down);
    EXPECT_EQ(readExactly(upstream->peer, up.size()), up);
    client->peer.disconnectFromHost();
    upstream->peer.disconnectFromHost();
    ASSERT_TRUE(waitUntil([&] { return doneCalls == 1; }, 10000));
    EXPECT_EQ(upstreamToClient, down.size());
    EXPECT_EQ(clientToUpstream, up.size());
}

// The client shuts its sending side: the upstream reads the end of the stream, and its answer (sent after it)
// still reaches the client. Then the upstream ends too and the tunnel is over.
TEST_P(TunnelTest, HalfCloseIsCarriedAndTheOtherDirectionFlowsOn)
{
    start();
    client->peer.write("question");
    ASSERT_TRUE(client->peer.waitForBytesWritten(5000));
    ASSERT_TRUE(platform::shutdownWrite(client->peer.socketDescriptor()));
    EXPECT_EQ(readExactly(upstream->peer, 8), "question");
    // QTcpSocket closes fully when it reads the end of the stream: that is the FIN the tunnel passed on.
    ASSERT_TRUE(waitUntil([&] { return upstream->peer.state() == QAbstractSocket::UnconnectedState; }, 10000));
    ASSERT_TRUE(waitUntil([&] { return doneCalls == 1; }, 10000)); // its close ended the other direction
    EXPECT_EQ(clientToUpstream, 8);
}

TEST_P(TunnelTest, TheUpstreamsFinReachesTheClientWhichCanStillSend)
{
    start();
    upstream->peer.write("bye");
    ASSERT_TRUE(upstream->peer.waitForBytesWritten(5000));
    ASSERT_TRUE(platform::shutdownWrite(upstream->peer.socketDescriptor()));
    // The client's QTcpSocket reads "bye", then the end of the stream, and closes; before it does, what it
    // wrote goes out, and the tunnel still carries it to the upstream's open reading side.
    client->peer.write("late");
    EXPECT_EQ(readExactly(upstream->peer, 4), "late");
    EXPECT_EQ(readExactly(client->peer, 3), "bye");
    ASSERT_TRUE(waitUntil([&] { return doneCalls == 1; }, 10000));
    EXPECT_EQ(upstreamToClient, 3);
    EXPECT_EQ(clientToUpstream, 4);
}

// A side that cannot write stops the tunnel reading the other: what waits inside the proxy stays near the limit
// however much the upstream sends, and all of it arrives once the client reads.
TEST_P(TunnelTest, ASlowClientStopsTheUpstreamBeingRead)
{
    const qint64 limit = 64 * 1024;
    // Small kernel buffers at both ends, and a client that takes nothing into Qt's buffer beyond 64 KiB.
    client->peer.setReadBufferSize(64 * 1024);
    client->peer.setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 64 * 1024);
    upstream->peer.setSocketOption(QAbstractSocket::SendBufferSizeSocketOption, 64 * 1024);
    start({}, {}, limit);
    const QByteArray down = pattern(16 * 1024 * 1024);
    upstream->peer.write(down);
    qint64 queuedMax = 0;
    // The client does not read: the kernel buffers fill, then the tunnel must stop (the upstream's sender is
    // left holding the rest). No timing is asserted: it waits until the sender stalls, or gives up looking.
    qint64 lastLeft = -1;
    int still = 0;
    waitUntil([&] {
        queuedMax = std::max(queuedMax, client->stream->bytesToWrite());
        const qint64 left = upstream->peer.bytesToWrite();
        still = left == lastLeft ? still + 1 : 0;
        lastLeft = left;
        return left > 0 && still >= 20;
    }, 10000);
    EXPECT_LE(queuedMax, limit + 64 * 1024) << "the tunnel buffered more than its limit for a slow client";
    EXPECT_EQ(readExactly(client->peer, down.size(), 60000), down);
}

TEST_P(TunnelTest, AResetEndsBothSidesAtOnce)
{
    start();
    // The upstream takes no more than a byte into Qt's buffer: closing with the rest unread sends a reset.
    upstream->peer.setReadBufferSize(1);
    client->peer.write(pattern(4096));
    ASSERT_TRUE(waitUntil([&] { return upstream->peer.bytesAvailable() > 0; }, 5000));
    ASSERT_TRUE(waitUntil([&] { return client->peer.bytesToWrite() == 0; }, 5000));
    upstream->peer.abort();
    ASSERT_TRUE(waitUntil([&] { return doneCalls == 1; }, 10000));
    EXPECT_TRUE(waitUntil([&] { return client->peer.state() == QAbstractSocket::UnconnectedState; }, 10000));
}

TEST_P(TunnelTest, IdleTimeoutEndsATunnelWhereNothingMoves)
{
    start();
    tunnel->setIdleTimeout(200);
    client->peer.write("one");
    EXPECT_EQ(readExactly(upstream->peer, 3), "one");
    ASSERT_TRUE(waitUntil([&] { return doneCalls == 1; }, 10000));
    EXPECT_TRUE(tunnel->timedOut());
    EXPECT_TRUE(waitUntil([&] { return client->peer.state() == QAbstractSocket::UnconnectedState; }, 10000));
    EXPECT_TRUE(waitUntil([&] { return upstream->peer.state() == QAbstractSocket::UnconnectedState; }, 10000));
}

TEST_P(TunnelTest, AClientGoneBeforeTheTunnelStartsEndsIt)
{
    client->peer.abort();
    ASSERT_TRUE(waitUntil([&] { return !client->stream->isOpen() || client->stream->hasPendingInput(); }, 5000));
    start();
    ASSERT_TRUE(waitUntil([&] { return doneCalls == 1; }, 10000));
    EXPECT_TRUE(waitUntil([&] { return upstream->peer.state() == QAbstractSocket::UnconnectedState; }, 10000));
}

// A TLS upstream (a websocket through a `tls` backend) relays through QSslSocket on its side: its end closes it
// instead of half-closing, and the plain client gets what it sent, then a FIN.
TEST(TunnelTls, ATlsSideThatEndsIsFlushedToThePlainSideAndEndsTheTunnel)
{
    test::TestCa ca;
    ASSERT_TRUE(ca.create()) << ca.errorString().toStdString();
    const auto cert = ca.issueServerCert("origin", {"origin.test"}, {QHostAddress::LocalHost});
    ASSERT_TRUE(cert) << ca.errorString().toStdString();
    QFile certFile(cert->certPath), keyFile(cert->keyPath);
    ASSERT_TRUE(certFile.open(QIODevice::ReadOnly) && keyFile.open(QIODevice::ReadOnly));
    QSslConfiguration serverConf = QSslConfiguration::defaultConfiguration();
    serverConf.setLocalCertificate(QSslCertificate(certFile.readAll()));
    serverConf.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Ec));
    serverConf.setPeerVerifyMode(QSslSocket::VerifyNone);

    // The proxy's TLS connection to the origin is the client end of a TLS session (as the Connector's is).
    QSslServer origin;
    origin.setSslConfiguration(serverConf);
    ASSERT_TRUE(origin.listen(QHostAddress::LocalHost));
    auto *proxySide = new QSslSocket;
    QSslConfiguration clientConf = QSslConfiguration::defaultConfiguration();
    clientConf.setCaCertificates(QSslCertificate::fromPath(ca.caCertPath()));
    proxySide->setSslConfiguration(clientConf);
    proxySide->connectToHostEncrypted(QStringLiteral("127.0.0.1"), origin.serverPort(), QStringLiteral("origin.test"));
    ASSERT_TRUE(waitUntil([&] { return origin.hasPendingConnections() && proxySide->isEncrypted(); }, 10000));
    std::unique_ptr<QTcpSocket> originPeer(origin.nextPendingConnection());
    net::Stream *upstream = net::Stream::adopt(proxySide);
    ASSERT_TRUE(upstream);

    Leg client;
    int done = 0;
    qint64 up = -1, down = -1;
    proxy::Tunnel tunnel(client.stream, upstream, {}, {}, 256 * 1024, [&](qint64 u, qint64 d) {
        ++done;
        up = u;
        down = d;
    });
    client.peer.write("hello over tls");
    QByteArray atOrigin;
    ASSERT_TRUE(waitUntil([&] {
        atOrigin += originPeer->readAll();
        return atOrigin.size() >= 14;
    }, 10000));
    EXPECT_EQ(atOrigin, "hello over tls");
    originPeer->write("goodbye");
    originPeer->disconnectFromHost(); // TLS close_notify and FIN after the bytes
    QByteArray atClient;
    ASSERT_TRUE(waitUntil([&] {
        atClient += client.peer.readAll();
        return client.peer.state() == QAbstractSocket::UnconnectedState;
    }, 10000));
    atClient += client.peer.readAll();
    EXPECT_EQ(atClient, "goodbye");
    ASSERT_TRUE(waitUntil([&] { return done == 1; }, 10000));
    EXPECT_EQ(up, 14);
    EXPECT_EQ(down, 7);
}

INSTANTIATE_TEST_SUITE_P(Stream, TunnelTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool> &info) {
                             return info.param ? "Poller" : "Notifiers";
                         });

} // namespace
