// SPDX-License-Identifier: Apache-2.0
// TlsClientStream, TLS to an origin with OpenSSL on the raw upstream socket (the native engine's direct HTTPS): the
// handshake and its verification (CA file, system CAs, another name, insecureSkipVerify), bytes both ways through
// many records, the origin's close_notify, close_notify of ours after the queued bytes, records that are not input
// (session tickets) and resumption on the next connection; with the thread's poller and with socket notifiers (what
// Windows and macOS use). Origins: a QSslServer, and python's ssl module (tests/fixtures/tlsorigin/) where sessions
// must resume (Qt's server declines every resumption).
#include "forward/connector.h"
#include "forward/tlsstream.h"
#include "support/binaries.h"
#include "support/managedprocess.h"
#include "support/testca.h"
#include "support/wait.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSslConfiguration>
#include <QSslKey>
#include <QSslServer>
#include <QSslSocket>

#include <gtest/gtest.h>

#include <memory>
#include <optional>

using namespace dfproxy;
using forward::TlsClientOptions;
using forward::TlsClientStream;
using test::waitUntil;

namespace {

/// Records what a stream reports; reads everything it is told about.
struct Recorder final : net::StreamListener
{
    net::Stream *stream = nullptr;
    QByteArray received;
    int readable = 0;
    int written = 0;
    int connected = 0;
    int closed = 0;
    QAbstractSocket::SocketError error = QAbstractSocket::UnknownSocketError;

    void onStreamReadable() override
    {
        ++readable;
        drain();
    }
    void onStreamWritten() override { ++written; }
    void onStreamClosed(QAbstractSocket::SocketError e) override
    {
        ++closed;
        error = e;
    }
    void onStreamConnected() override { ++connected; }
    void drain()
    {
        char buf[16 * 1024];
        for (qint64 n; (n = stream->read(buf, sizeof buf)) > 0;)
            received.append(buf, n);
    }
};

/// A dialled stream and what it reported.
struct Dialled
{
    Recorder rec;
    std::unique_ptr<TlsClientStream> stream; ///< (goes before its listener)

    bool settled() const { return rec.connected > 0 || rec.closed > 0; }
};

QByteArray pattern(qsizetype size)
{
    QByteArray bytes(size, Qt::Uninitialized);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char('a' + i % 23);
    return bytes;
}

class TlsClientStreamTest : public ::testing::TestWithParam<bool>
{
protected:
    void SetUp() override
    {
        net::Stream::setPollerAllowedOnThisThread(GetParam());
        ASSERT_TRUE(ca.create()) << ca.errorString().toStdString();
        cert = ca.issueServerCert("origin", {"origin.test"});
        ASSERT_TRUE(cert) << ca.errorString().toStdString();
        QFile certFile(cert->certPath), keyFile(cert->keyPath);
        ASSERT_TRUE(certFile.open(QIODevice::ReadOnly) && keyFile.open(QIODevice::ReadOnly));
        QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
        conf.setLocalCertificate(QSslCertificate(certFile.readAll()));
        conf.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Ec));
        conf.setPeerVerifyMode(QSslSocket::VerifyNone);
        server.setSslConfiguration(conf);
        ASSERT_TRUE(server.listen(QHostAddress::LocalHost));
        // The origin echoes what it reads (unless `echo` is off) and keeps a copy.
        QObject::connect(&server, &QTcpServer::pendingConnectionAvailable, &server, [this] {
            while (QTcpSocket *s = server.nextPendingConnection()) {
                peer.reset(s);
                QObject::connect(s, &QIODevice::readyRead, s, [this, s] {
                    const QByteArray bytes = s->readAll();
                    originGot += bytes;
                    if (echo)
                        s->write(bytes);
                });
                QObject::connect(s, &QAbstractSocket::disconnected, s, [this] { ++originSawClose; });
            }
        });
    }
    void TearDown() override { net::Stream::setPollerAllowedOnThisThread(true); }

    TlsClientOptions trusting(const QString &name) const
    {
        TlsClientOptions o;
        o.peerName = name;
        o.systemCaCertificates = false;
        o.caCertificates = QSslCertificate::fromPath(ca.caCertPath());
        return o;
    }

    /// Dials `port` (the QSslServer's by default) with `options` and waits until it connected or failed.
    std::unique_ptr<Dialled> dial(const TlsClientOptions &options, quint16 port = 0)
    {
        auto d = std::make_unique<Dialled>();
        QString error;
        d->stream.reset(TlsClientStream::connectTo(QHostAddress::LocalHost, port ? port : server.serverPort(),
                                                   options, &error));
        EXPECT_TRUE(d->stream) << error.toStdString();
        if (!d->stream)
            return d;
        d->rec.stream = d->stream.get();
        d->stream->setListener(&d->rec);
        EXPECT_TRUE(waitUntil([&] { return d->settled(); }, 10000));
        return d;
    }

    /// The python origin that resumes sessions; nullopt (the test skips) when it does not start.
    std::optional<quint16> startPythonOrigin()
    {
        pythonOrigin = std::make_unique<test::ManagedProcess>(
            QStringLiteral("/usr/bin/python3"),
            QStringList{test::sourceDir() + "/tests/fixtures/tlsorigin/tlsorigin.py", cert->certPath, cert->keyPath});
        const auto listening = pythonOrigin->start()
            ? pythonOrigin->waitForOutput(QRegularExpression("listening on (\\d+)"), 20000)
            : std::nullopt;
        if (!listening)
            return std::nullopt;
        return quint16(listening->captured(1).toUInt());
    }

    test::TestCa ca;
    std::optional<test::TestCa::ServerCert> cert;
    QSslServer server;
    std::unique_ptr<QTcpSocket> peer;
    std::unique_ptr<test::ManagedProcess> pythonOrigin;
    QByteArray originGot;
    bool echo = true;
    int originSawClose = 0;
};

} // namespace

TEST_P(TlsClientStreamTest, VerifiedAgainstTheCaFileItCarriesLargeBodiesBothWaysAndEndsAtTheOriginsCloseNotify)
{
    auto d = dial(trusting("origin.test"));
    ASSERT_EQ(d->rec.connected, 1) << d->stream->errorString().toStdString();
    EXPECT_TRUE(d->stream->isEncrypted());
    EXPECT_TRUE(d->stream->isOpen());
    EXPECT_EQ(d->stream->peerAddress(), QHostAddress(QHostAddress::LocalHost));
    QHostAddress local;
    quint16 localPort = 0;
    EXPECT_TRUE(d->stream->localEndpoint(&local, &localPort));
    EXPECT_NE(localPort, 0);

    // Many records each way: what the kernel does not take at once waits in the raw stream's queue.
    const QByteArray big = pattern(3 * 1024 * 1024 + 17);
    d->stream->write("hello ", 6);
    d->stream->write(big);
    ASSERT_TRUE(waitUntil([&] { return d->rec.received.size() >= 6 + big.size() || d->rec.closed; }, 30000))
        << d->rec.received.size();
    EXPECT_EQ(originGot.size(), 6 + big.size());
    EXPECT_TRUE(d->rec.received == "hello " + big) << "the echo differs";
    EXPECT_EQ(d->stream->bytesToWrite(), 0);
    EXPECT_GT(d->rec.written, 0) << "the queue's progress is reported";
    EXPECT_FALSE(d->stream->hasPendingInput());

    // The origin's last bytes, then its close_notify: read, then the stream closes as QSslSocket's would.
    ASSERT_TRUE(peer);
    d->rec.received.clear();
    peer->write("last words");
    peer->disconnectFromHost();
    ASSERT_TRUE(waitUntil([&] { return d->rec.closed > 0; }, 10000));
    EXPECT_EQ(d->rec.received, "last words");
    EXPECT_EQ(d->rec.error, QAbstractSocket::RemoteHostClosedError);
    EXPECT_FALSE(d->stream->isOpen());
    test::spinFor(50);
    EXPECT_EQ(d->rec.closed, 1);
}

TEST_P(TlsClientStreamTest, AnotherNameOrAnUntrustedChainFailsTheHandshakeAndInsecureSkipVerifyAcceptsThem)
{
    auto mismatch = dial(trusting("other.test"));
    EXPECT_EQ(mismatch->rec.connected, 0);
    ASSERT_EQ(mismatch->rec.closed, 1);
    EXPECT_EQ(mismatch->rec.error, QAbstractSocket::SslHandshakeFailedError);
    EXPECT_TRUE(mismatch->stream->errorString().contains("the certificate of other.test does not verify"))
        << mismatch->stream->errorString().toStdString();
    EXPECT_FALSE(mismatch->stream->isOpen());

    // The system's CAs do not know the test CA.
    TlsClientOptions system;
    system.peerName = QStringLiteral("origin.test");
    auto untrusted = dial(system);
    ASSERT_EQ(untrusted->rec.closed, 1);
    EXPECT_EQ(untrusted->rec.error, QAbstractSocket::SslHandshakeFailedError);
    EXPECT_TRUE(untrusted->stream->errorString().contains("does not verify"))
        << untrusted->stream->errorString().toStdString();

    // insecureSkipVerify: neither the chain nor the name is checked.
    TlsClientOptions skip = system;
    skip.peerName = QStringLiteral("other.test");
    skip.verifyPeer = false;
    auto skipped = dial(skip);
    EXPECT_EQ(skipped->rec.connected, 1) << skipped->stream->errorString().toStdString();
    EXPECT_TRUE(skipped->stream->isEncrypted());
}

TEST_P(TlsClientStreamTest, AnIpLiteralInAnySpellingIsCheckedAgainstTheCertificatesIpSans)
{
    // The origin's certificate names origin.test and no address. Qt takes "127.1", "2130706433" and "0x7f000001" for
    // 127.0.0.1; OpenSSL's IP check takes only the dotted quad: an unchecked failure there left no identity check at
    // all, and any certificate of a trusted CA passed for the address.
    for (const char *spelling : {"127.0.0.1", "127.1", "2130706433", "0x7f000001", "::ffff:127.0.0.1"}) {
        auto d = dial(trusting(QString::fromLatin1(spelling)));
        EXPECT_EQ(d->rec.connected, 0) << spelling;
        EXPECT_EQ(d->rec.closed, 1) << spelling;
        EXPECT_FALSE(d->stream && d->stream->isEncrypted()) << spelling;
    }

    // A certificate with the address as an IP SAN verifies under the short spelling too.
    auto withIp = ca.issueServerCert("origin-ip", {"origin.test"}, {QHostAddress(QHostAddress::LocalHost)});
    ASSERT_TRUE(withIp);
    QFile certFile(withIp->certPath), keyFile(withIp->keyPath);
    ASSERT_TRUE(certFile.open(QIODevice::ReadOnly) && keyFile.open(QIODevice::ReadOnly));
    QSslConfiguration conf = server.sslConfiguration();
    conf.setLocalCertificate(QSslCertificate(certFile.readAll()));
    conf.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Ec));
    server.setSslConfiguration(conf);
    for (const char *spelling : {"127.0.0.1", "127.1"}) {
        auto d = dial(trusting(QString::fromLatin1(spelling)));
        EXPECT_EQ(d->rec.connected, 1) << spelling << ": " << d->stream->errorString().toStdString();
    }
}

TEST_P(TlsClientStreamTest, APeerThatDoesNotSpeakTlsFailsTheHandshake)
{
    QTcpServer plain;
    ASSERT_TRUE(plain.listen(QHostAddress::LocalHost));
    QObject::connect(&plain, &QTcpServer::newConnection, &plain, [&] {
        while (QTcpSocket *s = plain.nextPendingConnection())
            s->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    auto d = dial(trusting("origin.test"), plain.serverPort());
    ASSERT_EQ(d->rec.closed, 1);
    EXPECT_EQ(d->rec.error, QAbstractSocket::SslHandshakeFailedError);
    EXPECT_FALSE(d->stream->errorString().isEmpty());
}

TEST_P(TlsClientStreamTest, CloseAfterFlushSendsWhatIsQueuedThenCloseNotifyAndWaitsForTheOriginsClose)
{
    // Written at once after the handshake: the origin's session tickets arrive after the close. Closing the
    // descriptor then would answer them with a reset, and the origin lose the bytes it had not read yet.
    echo = false;
    auto d = dial(trusting("origin.test"));
    ASSERT_EQ(d->rec.connected, 1) << d->stream->errorString().toStdString();
    const QByteArray big = pattern(2 * 1024 * 1024);
    d->stream->write(big);
    d->stream->closeAfterFlush();
    d->stream->write("dropped", 7); // nothing goes after close_notify
    ASSERT_TRUE(waitUntil([&] { return originSawClose > 0; }, 20000)) << originGot.size();
    EXPECT_EQ(originGot.size(), big.size());
    EXPECT_TRUE(originGot == big);
    // The origin's QSslSocket closes on our close_notify: the stream closes then, and says so once.
    ASSERT_TRUE(waitUntil([&] { return d->rec.closed > 0; }, 10000));
    EXPECT_EQ(d->rec.error, QAbstractSocket::RemoteHostClosedError);
    EXPECT_FALSE(d->stream->isOpen());
    test::spinFor(50);
    EXPECT_EQ(d->rec.closed, 1);
}

TEST_P(TlsClientStreamTest, TheConnectorDialsDirectHttp1TlsAsATlsClientStreamAndHttp2OnQt)
{
    for (const bool http2 : {false, true}) {
        forward::Upstream up;
        up.host = QStringLiteral("origin.test");
        up.port = server.serverPort();
        up.addresses = {QHostAddress(QHostAddress::LocalHost)};
        up.tls = true;
        up.tlsCaFile = ca.caCertPath();
        up.http2 = http2;
        up.http1Fallback = http2;
        net::Stream *got = nullptr;
        std::optional<forward::ForwardError> failed;
        forward::Connector connector(
            up, forward::Connector::Options(),
            forward::Connector::ConnectedStream([&](net::Stream *s, const QHostAddress &) { got = s; }),
            [&](forward::ForwardError e, const QString &) { failed = e; });
        connector.start();
        ASSERT_TRUE(waitUntil([&] { return got || failed; }, 10000));
        ASSERT_TRUE(got) << "http2 " << http2;
        std::unique_ptr<net::Stream> owned(got);
        auto *tls = dynamic_cast<TlsClientStream *>(got);
        if (http2) {
            EXPECT_FALSE(tls) << "ALPN h2 stays on QSslSocket, whose answer Http2Forwarder reads";
        } else {
            ASSERT_TRUE(tls);
            EXPECT_TRUE(tls->isEncrypted());
            EXPECT_TRUE(tls->negotiatedProtocol().isEmpty()) << "no ALPN for HTTP/1.1, as on QSslSocket";
        }
    }
}

TEST_P(TlsClientStreamTest, SessionTicketsAreNoInputAndTheNextConnectionResumes)
{
    const auto port = startPythonOrigin();
    if (!port)
        GTEST_SKIP() << "the python3 TLS origin did not start: " << pythonOrigin->describe().toStdString();
    const quint64 resumedBefore = forward::tlsclient::resumedHandshakes();
    auto get = [&](Dialled &d, const QByteArray &path) -> QJsonObject {
        d.rec.received.clear();
        d.stream->write("GET " + path + " HTTP/1.1\r\nhost: origin.test\r\n\r\n");
        EXPECT_TRUE(waitUntil([&] { return d.rec.received.endsWith('}') || d.rec.closed; }, 10000))
            << d.rec.received.constData();
        return QJsonDocument::fromJson(d.rec.received.mid(d.rec.received.indexOf("\r\n\r\n") + 4)).object();
    };

    auto first = dial(trusting("origin.test"), *port);
    ASSERT_EQ(first->rec.connected, 1) << first->stream->errorString().toStdString();
    EXPECT_FALSE(first->stream->isResumed());
    // TLS 1.3 tickets come after the handshake, with no application data: an idle connection must not see input
    // (the native engine drops a pooled connection that talks).
    test::spinFor(300);
    EXPECT_EQ(first->rec.readable, 0);
    EXPECT_FALSE(first->stream->hasPendingInput());
    EXPECT_TRUE(first->stream->isOpen());
    EXPECT_EQ(get(*first, "/first").value("connection").toInt(), 1);
    // Gone without a close_notify of ours, as the pool drops a connection: its session still serves the next one.
    first->stream->abort();
    first.reset();

    auto second = dial(trusting("origin.test"), *port);
    ASSERT_EQ(second->rec.connected, 1) << second->stream->errorString().toStdString();
    EXPECT_TRUE(second->stream->isResumed());
    EXPECT_EQ(forward::tlsclient::resumedHandshakes(), resumedBefore + 1);
    const QJsonObject answer = get(*second, "/second");
    EXPECT_EQ(answer.value("connection").toInt(), 2);
    EXPECT_TRUE(answer.value("resumed").toBool()) << "the origin saw a resumed session";

    // Another verification policy does not get origin.test's session.
    TlsClientOptions skip = trusting("origin.test");
    skip.verifyPeer = false;
    auto other = dial(skip, *port);
    ASSERT_EQ(other->rec.connected, 1) << other->stream->errorString().toStdString();
    EXPECT_FALSE(other->stream->isResumed());
}

TEST_P(TlsClientStreamTest, ASessionIsNeverResumedWhereAFullHandshakeWouldFailVerification)
{
    // A resumed handshake does not verify the chain or the name again: a session kept under one name, CA set or
    // insecureSkipVerify must not be offered where that verification would refuse the origin.
    const auto port = startPythonOrigin();
    if (!port)
        GTEST_SKIP() << "the python3 TLS origin did not start: " << pythonOrigin->describe().toStdString();
    const auto openAndDrop = [&](const TlsClientOptions &o) {
        auto d = dial(o, *port);
        ASSERT_EQ(d->rec.connected, 1) << d->stream->errorString().toStdString();
        test::spinFor(200); // the TLS 1.3 ticket comes after the handshake
        d->stream->abort();
    };
    const auto refused = [&](const TlsClientOptions &o, const char *what) {
        auto d = dial(o, *port);
        EXPECT_EQ(d->rec.connected, 0) << what;
        EXPECT_EQ(d->rec.closed, 1) << what;
        EXPECT_FALSE(d->stream->isResumed()) << what;
    };

    // Under insecureSkipVerify for a name the certificate lacks, then verified for that name.
    TlsClientOptions skip = trusting("other.test");
    skip.verifyPeer = false;
    openAndDrop(skip);
    refused(trusting("other.test"), "verified after an unverified session of the same name");

    // Verified for origin.test, then for another name on the same origin.
    openAndDrop(trusting("origin.test"));
    refused(trusting("other.test"), "another name after a verified session");

    // Verified against one CA file, then against another CA that did not issue the certificate.
    openAndDrop(trusting("origin.test"));
    test::TestCa otherCa;
    ASSERT_TRUE(otherCa.create()) << otherCa.errorString().toStdString();
    TlsClientOptions otherCas = trusting("origin.test");
    otherCas.caCertificates = QSslCertificate::fromPath(otherCa.caCertPath());
    refused(otherCas, "another CA set after a verified session");

    // The system's CAs, which do not know the test CA, after a session verified with the test CA.
    openAndDrop(trusting("origin.test"));
    TlsClientOptions system;
    system.peerName = QStringLiteral("origin.test");
    refused(system, "the system CAs after a session verified with a CA file");
}

INSTANTIATE_TEST_SUITE_P(PollerAndNotifiers, TlsClientStreamTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool> &info) {
                             return info.param ? std::string("Poller") : std::string("Notifiers");
                         });
