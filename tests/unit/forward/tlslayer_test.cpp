// SPDX-License-Identifier: Apache-2.0
// TlsLayerSocket, the TLS dfproxy runs inside an https:// upstream proxy's tunnel: here over a plain TCP connection
// to a QSslServer (the layer does not care what carries its bytes), so that verification, ALPN, the bytes both ways
// and the origin's close are seen without a proxy. The end-to-end case is UpstreamProxyTest.HttpsProxyVerified...
#include "forward/tlslayer.h"
#include "support/binaries.h"
#include "support/managedprocess.h"
#include "support/testca.h"
#include "support/wait.h"

#include <QFile>
#include <QRegularExpression>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>

#include <gtest/gtest.h>

#include <memory>

using namespace dfproxy;
using forward::TlsLayerSocket;
using test::waitUntil;

namespace {

class TlsLayerTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ASSERT_TRUE(ca.create()) << ca.errorString().toStdString();
        const auto cert = ca.issueServerCert("origin", {"origin.test"});
        ASSERT_TRUE(cert) << ca.errorString().toStdString();
        QFile certFile(cert->certPath), keyFile(cert->keyPath);
        ASSERT_TRUE(certFile.open(QIODevice::ReadOnly) && keyFile.open(QIODevice::ReadOnly));
        QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
        conf.setLocalCertificate(QSslCertificate(certFile.readAll()));
        conf.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Ec));
        conf.setPeerVerifyMode(QSslSocket::VerifyNone);
        conf.setAllowedNextProtocols({QByteArrayLiteral("h2"), QByteArrayLiteral("http/1.1")});
        server.setSslConfiguration(conf);
        ASSERT_TRUE(server.listen(QHostAddress::LocalHost));
        // The origin answers every read with "echo:" and what it read.
        QObject::connect(&server, &QTcpServer::pendingConnectionAvailable, &server, [this] {
            while (QTcpSocket *s = server.nextPendingConnection()) {
                peer.reset(s);
                QObject::connect(s, &QIODevice::readyRead, s, [s] { s->write("echo:" + s->readAll()); });
            }
        });
    }

    /// A TlsLayerSocket over a fresh plain connection to the origin, its handshake started.
    std::unique_ptr<TlsLayerSocket> layer(TlsLayerSocket::Options options)
    {
        auto *outer = new QTcpSocket;
        outer->connectToHost(QHostAddress::LocalHost, server.serverPort());
        EXPECT_TRUE(waitUntil([&] { return outer->state() == QAbstractSocket::ConnectedState; }, 10000));
        auto inner = std::make_unique<TlsLayerSocket>(outer, std::move(options));
        QObject::connect(inner.get(), &TlsLayerSocket::encrypted, inner.get(), [this] { ++encrypted; });
        QObject::connect(inner.get(), &QAbstractSocket::errorOccurred, inner.get(),
                         [this](QAbstractSocket::SocketError e) { errors.append(e); });
        inner->startClientEncryption();
        return inner;
    }

    TlsLayerSocket::Options trusting(const QString &name)
    {
        TlsLayerSocket::Options o;
        o.peerName = name;
        o.systemCaCertificates = false;
        o.caCertificates = QSslCertificate::fromPath(ca.caCertPath());
        return o;
    }

    test::TestCa ca;
    QSslServer server;
    std::unique_ptr<QTcpSocket> peer;
    int encrypted = 0;
    QList<QAbstractSocket::SocketError> errors;
};

} // namespace

TEST_F(TlsLayerTest, VerifiedAgainstTheGivenCasItCarriesBytesBothWaysAndSeesTheOriginsClose)
{
    TlsLayerSocket::Options o = trusting("origin.test");
    o.alpn = {QByteArrayLiteral("h2")};
    auto inner = layer(o);
    ASSERT_TRUE(waitUntil([&] { return encrypted == 1 || !errors.isEmpty(); }, 10000));
    ASSERT_EQ(encrypted, 1) << inner->errorString().toStdString();
    QByteArray alpn;
    EXPECT_TRUE(forward::tlsNegotiatedProtocol(inner.get(), &alpn));
    EXPECT_EQ(alpn, "h2");
    EXPECT_LT(inner->socketDescriptor(), 0) << "net::Stream::adopt must keep it in Qt";

    const QByteArray big(300 * 1024, 'x'); // many records
    inner->write("hello");
    inner->write(big);
    QByteArray got;
    ASSERT_TRUE(waitUntil([&] {
        got += inner->readAll();
        return got.size() >= 5 + 5 + big.size();
    }, 10000)) << got.size();
    EXPECT_TRUE(got.startsWith("echo:hello")) << got.left(20).constData();

    bool disconnected = false;
    QObject::connect(inner.get(), &QAbstractSocket::disconnected, inner.get(), [&] { disconnected = true; });
    ASSERT_TRUE(peer);
    peer->write("last words");
    peer->disconnectFromHost(); // close_notify after the bytes
    QByteArray tail;
    ASSERT_TRUE(waitUntil([&] {
        tail += inner->readAll();
        return disconnected;
    }, 10000));
    tail += inner->readAll();
    EXPECT_EQ(tail, "last words");
    EXPECT_EQ(inner->state(), QAbstractSocket::UnconnectedState);
    EXPECT_TRUE(errors.isEmpty());
}

TEST_F(TlsLayerTest, AnUntrustedChainOrAnotherNameFailsTheHandshake)
{
    // The system's CAs do not know the test CA.
    TlsLayerSocket::Options system;
    system.peerName = QStringLiteral("origin.test");
    auto untrusted = layer(system);
    ASSERT_TRUE(waitUntil([&] { return encrypted > 0 || !errors.isEmpty(); }, 10000));
    ASSERT_EQ(errors, QList<QAbstractSocket::SocketError>{QAbstractSocket::SslHandshakeFailedError});
    EXPECT_TRUE(untrusted->errorString().contains("does not verify")) << untrusted->errorString().toStdString();
    EXPECT_FALSE(untrusted->isEncrypted());

    // The right CA, but a name the certificate does not carry.
    errors.clear();
    auto mismatch = layer(trusting("other.test"));
    ASSERT_TRUE(waitUntil([&] { return encrypted > 0 || !errors.isEmpty(); }, 10000));
    ASSERT_EQ(errors.size(), 1);
    EXPECT_TRUE(mismatch->errorString().contains("does not verify")) << mismatch->errorString().toStdString();
    EXPECT_EQ(encrypted, 0);

    // insecureSkipVerify: neither the chain nor the name is checked.
    TlsLayerSocket::Options skip = system;
    skip.peerName = QStringLiteral("other.test");
    skip.verifyPeer = false;
    errors.clear();
    auto skipped = layer(skip);
    ASSERT_TRUE(waitUntil([&] { return encrypted > 0 || !errors.isEmpty(); }, 10000));
    EXPECT_EQ(encrypted, 1) << skipped->errorString().toStdString();
    EXPECT_FALSE(forward::tlsNegotiatedProtocol(untrusted.get(), nullptr));
}

// A second connection to the same origin name resumes the first one's session (python's origin keeps one context,
// so its tickets are good for the next connection; Qt's server makes a context per socket and would decline).
// Another name does not offer it.
TEST_F(TlsLayerTest, ASecondConnectionResumesTheSessionOfTheSameNameOnly)
{
    const auto cert = ca.issueServerCert("h2origin", {"origin.test", "other.test"});
    ASSERT_TRUE(cert) << ca.errorString().toStdString();
    test::ManagedProcess origin("/usr/bin/python3", {test::sourceDir() + "/tests/fixtures/h2origin/h2origin.py",
                                                     "--tls", cert->certPath, cert->keyPath});
    const auto listening = origin.start() ? origin.waitForOutput(QRegularExpression("listening on (\\d+)"), 20000)
                                          : std::nullopt;
    if (!listening)
        GTEST_SKIP() << "the python3-h2 origin did not start: " << origin.describe().toStdString();
    const quint16 port = quint16(listening->captured(1).toUInt());
    auto connectTo = [&](const QString &name) {
        auto *outer = new QTcpSocket;
        outer->connectToHost(QHostAddress::LocalHost, port);
        EXPECT_TRUE(waitUntil([&] { return outer->state() == QAbstractSocket::ConnectedState; }, 10000));
        TlsLayerSocket::Options o = trusting(name);
        o.alpn = {QByteArrayLiteral("h2")};
        auto inner = std::make_unique<TlsLayerSocket>(outer, o);
        inner->startClientEncryption();
        EXPECT_TRUE(waitUntil(
            [&] { return inner->isEncrypted() || inner->error() != QAbstractSocket::UnknownSocketError; }, 10000))
            << inner->errorString().toStdString();
        // The origin's SETTINGS come with (after) its session tickets: reading them files the session.
        EXPECT_TRUE(waitUntil([&] { return inner->bytesAvailable() > 0; }, 10000));
        return inner;
    };
    auto first = connectTo("origin.test");
    EXPECT_TRUE(first->isEncrypted());
    EXPECT_FALSE(first->isResumed());
    first->close();
    auto second = connectTo("origin.test");
    EXPECT_TRUE(second->isResumed());
    auto other = connectTo("other.test");
    EXPECT_TRUE(other->isEncrypted());
    EXPECT_FALSE(other->isResumed()) << "a session of origin.test is not offered for other.test";
}
