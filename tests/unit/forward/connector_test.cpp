// SPDX-License-Identifier: Apache-2.0
// The one dialler of forwarding and CONNECT: address order, per-address timeout, fallback, what it reports to the DNS
// cache, which error ends it, and that it never calls back from inside start() or after it is gone. A listener with a
// full accept queue stands in for a blackholed address; 127.0.0.3 (nothing listens) refuses.
#include "dns/hostcache.h"
#include "forward/connector.h"
#include "forward/proxyauth.h"
#include "forward/upstreamproxy.h"
#include "net/stream.h"
#include "support/blackhole.h"
#include "support/wait.h"

#include <gtest/gtest.h>

#include <QTcpServer>
#include <QTcpSocket>

#include <memory>
#include <optional>

using namespace dfproxy;
using forward::Connector;
using forward::ForwardError;

namespace {

/// Records the addresses reported as failed; looks nothing up.
class RecordingHostCache final : public dns::HostCache
{
public:
    Outcome lookup(const QString &, quint16, dns::LookupFamily, QObject *, Callback) override { return {}; }
    void reportConnectFailure(const QString &host, quint16 port, const QHostAddress &address) override
    {
        reports.append(QStringLiteral("%1:%2 %3").arg(host).arg(port).arg(address.toString()));
    }
    QStringList reports;
};

class ConnectorTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ASSERT_TRUE(live.listen(QHostAddress::LocalHost, 0));
        port = live.serverPort();
        if (!hole.start(QHostAddress(QStringLiteral("127.0.0.6")), port))
            GTEST_SKIP() << "cannot make a listener whose accept queue drops SYNs (Linux only)";
    }

    /// Dials `addresses` at `port` and waits for the outcome.
    void dial(const QList<QHostAddress> &addresses, bool tls = false)
    {
        forward::Upstream up;
        up.host = QStringLiteral("origin.test");
        up.port = port;
        up.addresses = addresses;
        up.tls = tls;
        Connector::Options options;
        options.timeoutMs = 300;
        options.hostCache = &cache;
        auto failed = [this](ForwardError e, const QString &detail) {
            error = e;
            errorDetail = detail;
            ++callbacks;
        };
        if (streams) {
            connector = std::make_unique<Connector>(
                up, options,
                Connector::ConnectedStream([this](net::Stream *stream, const QHostAddress &address) {
                    connectedTo = address;
                    connectedOpen = stream->isOpen();
                    connectedPeer = stream->peerAddress();
                    stream->deleteLater();
                    ++callbacks;
                }),
                failed);
        } else {
            connector = std::make_unique<Connector>(
                up, options,
                [this](QTcpSocket *socket, const QHostAddress &address) {
                    connectedTo = address;
                    socket->deleteLater();
                    ++callbacks;
                },
                failed);
        }
        inStart = true;
        connector->start();
        inStart = false;
        EXPECT_EQ(callbacks, 0) << "a callback ran inside start()";
        ASSERT_TRUE(dfproxy::test::waitUntil([this] { return callbacks > 0; }, 20000));
        dfproxy::test::spinFor(50);
        EXPECT_EQ(callbacks, 1);
    }

    QString report(const char *address) const { return QStringLiteral("origin.test:%1 %2").arg(port).arg(address); }

    QTcpServer live; ///< accepts on 127.0.0.1
    dfproxy::test::Blackhole hole; ///< 127.0.0.6, same port
    quint16 port = 0;
    RecordingHostCache cache;
    std::unique_ptr<Connector> connector;
    bool streams = false; ///< the ConnectedStream callback (a raw socket when direct and plain)
    bool connectedOpen = false;
    QHostAddress connectedPeer;
    bool inStart = false;
    int callbacks = 0;
    std::optional<QHostAddress> connectedTo;
    std::optional<ForwardError> error;
    QString errorDetail;
    bool viaProxy = false;
    const QHostAddress blackholed{QStringLiteral("127.0.0.6")};
    const QHostAddress refusing{QStringLiteral("127.0.0.3")};
    const QHostAddress alive{QStringLiteral("127.0.0.1")};
};

TEST_F(ConnectorTest, TriesTheAddressesInOrderAndReportsEachOneThatFailed)
{
    dial({refusing, blackholed, alive});
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_EQ(*connectedTo, alive);
    EXPECT_EQ(cache.reports, (QStringList{report("127.0.0.3"), report("127.0.0.6")}));
    EXPECT_EQ(connector->failures(), 2);
}

TEST_F(ConnectorTest, EveryAddressTimingOutIs504ConnectTimeout)
{
    dial({blackholed, blackholed});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectTimeout);
    EXPECT_EQ(errorDetail, QStringLiteral("connecting to origin.test port %1 failed: connect timed out after 300 ms")
                               .arg(port));
    EXPECT_EQ(cache.reports, (QStringList{report("127.0.0.6"), report("127.0.0.6")}));
}

TEST_F(ConnectorTest, EveryAddressRefusingIs502ConnectRefused)
{
    dial({refusing, QHostAddress(QStringLiteral("127.0.0.4"))});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectRefused);
    EXPECT_TRUE(errorDetail.startsWith(QStringLiteral("connecting to origin.test port %1 failed: ").arg(port)))
        << errorDetail.toStdString();
    EXPECT_EQ(cache.reports.size(), 2);
}

TEST_F(ConnectorTest, MixedFailuresEndWithTheLastAddresssReason)
{
    dial({blackholed, refusing});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectRefused);
    callbacks = 0;
    error.reset();
    dial({refusing, blackholed});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectTimeout);
}

TEST_F(ConnectorTest, NoAddressesIsRefusedFromTheEventLoop)
{
    dial({});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectRefused);
    EXPECT_TRUE(cache.reports.isEmpty());
}

TEST_F(ConnectorTest, ATlsFailureEndsAtOnceAndIsNotHeldAgainstTheAddress)
{
    // The first address speaks plain HTTP where TLS is expected; the second would work but must not be tried: it
    // serves the same certificate.
    QObject::connect(&live, &QTcpServer::newConnection, &live, [this] {
        while (QTcpSocket *s = live.nextPendingConnection())
            s->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    dial({alive, alive}, /*tls=*/true);
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::TlsError);
    EXPECT_TRUE(errorDetail.startsWith(QStringLiteral("TLS to origin.test port %1 failed: ").arg(port)))
        << errorDetail.toStdString();
    EXPECT_TRUE(cache.reports.isEmpty());
    EXPECT_EQ(connector->failures(), 1);
}

TEST_F(ConnectorTest, DestroyingItCancelsWithoutACallback)
{
    forward::Upstream up;
    up.host = QStringLiteral("origin.test");
    up.port = port;
    up.addresses = {blackholed, alive};
    Connector::Options options;
    options.timeoutMs = 200;
    options.hostCache = &cache;
    auto c = std::make_unique<Connector>(
        up, options, [this](QTcpSocket *s, const QHostAddress &) { s->deleteLater(); ++callbacks; },
        [this](ForwardError, const QString &) { ++callbacks; });
    c->start();
    dfproxy::test::spinFor(50);
    c.reset();
    dfproxy::test::spinFor(600);
    EXPECT_EQ(callbacks, 0);
    EXPECT_TRUE(cache.reports.isEmpty());
}

/// Stream mode: a direct plain-TCP dial on a raw socket (net::Stream::connectTo) keeps every rule above.
class StreamConnectorTest : public ConnectorTest
{
protected:
    void SetUp() override
    {
        ConnectorTest::SetUp();
        streams = true;
    }
};

TEST_F(StreamConnectorTest, TriesTheAddressesInOrderAndHandsOverAConnectedStream)
{
    dial({refusing, blackholed, alive});
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_EQ(*connectedTo, alive);
    EXPECT_TRUE(connectedOpen);
    EXPECT_EQ(connectedPeer, alive);
    EXPECT_EQ(cache.reports, (QStringList{report("127.0.0.3"), report("127.0.0.6")}));
    EXPECT_EQ(connector->failures(), 2);
}

TEST_F(StreamConnectorTest, DialsThroughSocketNotifiersWhereThereIsNoPoller)
{
    // What Windows and macOS do: the connect's end comes from a write notifier.
    net::Stream::setPollerAllowedOnThisThread(false);
    dial({refusing, blackholed, alive});
    net::Stream::setPollerAllowedOnThisThread(true);
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_EQ(*connectedTo, alive);
    EXPECT_TRUE(connectedOpen);
    EXPECT_EQ(cache.reports, (QStringList{report("127.0.0.3"), report("127.0.0.6")}));
}

TEST_F(StreamConnectorTest, EveryAddressTimingOutIs504ConnectTimeout)
{
    dial({blackholed, blackholed});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectTimeout);
    EXPECT_EQ(errorDetail, QStringLiteral("connecting to origin.test port %1 failed: connect timed out after 300 ms")
                               .arg(port));
    EXPECT_EQ(cache.reports, (QStringList{report("127.0.0.6"), report("127.0.0.6")}));
}

TEST_F(StreamConnectorTest, EveryAddressRefusingIs502ConnectRefusedWithTheKernelsReason)
{
    dial({refusing, QHostAddress(QStringLiteral("127.0.0.4"))});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectRefused);
    EXPECT_EQ(errorDetail, QStringLiteral("connecting to origin.test port %1 failed: Connection refused").arg(port));
    EXPECT_EQ(cache.reports.size(), 2);
}

TEST_F(StreamConnectorTest, MixedFailuresEndWithTheLastAddresssReason)
{
    dial({blackholed, refusing});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectRefused);
    callbacks = 0;
    error.reset();
    dial({refusing, blackholed});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ConnectTimeout);
}

TEST_F(StreamConnectorTest, AnAddressThatCannotBeDialledAtAllIsAFailedAddressToo)
{
    // An IPv6 address that no route leads to fails in connect() itself: reported from the event loop, and the
    // next address is tried.
    dial({QHostAddress(QStringLiteral("2001:db8::1")), alive});
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_EQ(*connectedTo, alive);
}

TEST_F(StreamConnectorTest, TlsStillEndsAtOnceOnAFailedHandshake)
{
    QObject::connect(&live, &QTcpServer::newConnection, &live, [this] {
        while (QTcpSocket *s = live.nextPendingConnection())
            s->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    dial({alive, alive}, /*tls=*/true);
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::TlsError);
    EXPECT_EQ(connector->failures(), 1);
}

TEST_F(StreamConnectorTest, DestroyingItCancelsWithoutACallback)
{
    forward::Upstream up;
    up.host = QStringLiteral("origin.test");
    up.port = port;
    up.addresses = {blackholed, alive};
    Connector::Options options;
    options.timeoutMs = 200;
    options.hostCache = &cache;
    auto c = std::make_unique<Connector>(
        up, options,
        Connector::ConnectedStream([this](net::Stream *s, const QHostAddress &) {
            s->deleteLater();
            ++callbacks;
        }),
        [this](ForwardError, const QString &) { ++callbacks; });
    c->start();
    dfproxy::test::spinFor(50);
    c.reset();
    dfproxy::test::spinFor(600);
    EXPECT_EQ(callbacks, 0);
    EXPECT_TRUE(cache.reports.isEmpty());
}

} // namespace

namespace {

/// Answers every name at once with `addresses`.
class FixedHostCache final : public dns::HostCache
{
public:
    explicit FixedHostCache(QList<QHostAddress> addresses) : m_addresses(std::move(addresses)) {}
    Outcome lookup(const QString &, quint16, dns::LookupFamily, QObject *, Callback) override
    {
        Outcome o;
        o.ready = dns::ResolveResult{dns::DnsError::None, m_addresses, QString(), true, false};
        return o;
    }
    void reportConnectFailure(const QString &, quint16, const QHostAddress &) override {}

private:
    QList<QHostAddress> m_addresses;
};

} // namespace

// A proxy a PAC answer named by a name (here resolving to the metadata address first, then to 127.0.0.1, where a
// listener stands in for the proxy) is dialled only at the addresses the SSRF guard allows, whatever it resolved to
// when it was selected; resolving to nothing allowed, the next PAC entry (DIRECT) goes, or it fails with
// ProxyDenied (from the event loop). The tunnel's own proxy (not guarded) is not checked.
TEST_F(ConnectorTest, APacNamedProxyIsDialledOnlyAtAddressesTheSsrfGuardAllows)
{
    auto named = std::make_shared<forward::UpstreamProxy>();
    named->host = QStringLiteral("wpad-proxy.test");
    named->port = port;
    named->address = QStringLiteral("wpad-proxy.test:%1").arg(port);
    named->guarded = true;
    const auto run = [&](const QList<QHostAddress> &resolved, QList<std::shared_ptr<const forward::UpstreamProxy>>
                                                                  fallbacks) {
        FixedHostCache dns(resolved);
        forward::Upstream up;
        up.host = QStringLiteral("origin.test");
        up.port = port;
        up.addresses = {alive};
        up.proxy = named;
        up.proxyFallbacks = std::move(fallbacks);
        Connector::Options options;
        options.timeoutMs = 2000;
        options.hostCache = &dns;
        callbacks = 0;
        connectedTo.reset();
        error.reset();
        Connector c(up, options,
                    [this, &c](QTcpSocket *socket, const QHostAddress &address) {
                        connectedTo = address;
                        viaProxy = c.proxy() != nullptr;
                        socket->deleteLater();
                        ++callbacks;
                    },
                    [this](ForwardError e, const QString &detail) {
                        error = e;
                        errorDetail = detail;
                        ++callbacks;
                    });
        c.start();
        EXPECT_EQ(callbacks, 0) << "a callback ran inside start()";
        EXPECT_TRUE(dfproxy::test::waitUntil([this] { return callbacks > 0; }, 20000));
    };
    const QHostAddress metadata(QStringLiteral("169.254.169.254"));

    run({metadata, alive}, {});
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_EQ(*connectedTo, alive);
    EXPECT_TRUE(viaProxy);

    run({metadata}, {nullptr});
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_EQ(*connectedTo, alive);
    EXPECT_FALSE(viaProxy) << "the DIRECT entry after the refused proxy";

    run({metadata, QHostAddress(QStringLiteral("fe80::1"))}, {});
    ASSERT_TRUE(error);
    EXPECT_EQ(*error, ForwardError::ProxyDenied);
    EXPECT_TRUE(errorDetail.contains(QLatin1String("169.254.169.254, fe80::1"))) << errorDetail.toStdString();

    named->guarded = false; // the tunnel's own proxy: dialled as resolved (here 169.254.169.254 first: a timeout or
    run({alive}, {});       // an unreachable network, so only its own address is given)
    ASSERT_TRUE(connectedTo) << errorDetail.toStdString();
    EXPECT_TRUE(viaProxy);
}

// Stream mode through an http:// proxy (a listener standing in for it): the CONNECT handshake runs on the raw
// stream — a 407 answered on the same connection (its body skipped), or on a new one when the proxy closes, then
// the 200 — and the bytes the proxy sent right after its answer are the stream's first input. Without viaConnect (a plain request in absolute form) the
// stream is handed over once connected, nothing sent.
TEST_F(StreamConnectorTest, ThroughAnHttpProxyTheConnectRunsOnTheRawStreamAndKeepsWhatFollowsTheAnswer)
{
    QList<QByteArray> heads;
    bool closeAfter407 = false;
    int connections = 0;
    QObject::connect(&live, &QTcpServer::newConnection, &live, [&] {
        while (QTcpSocket *s = live.nextPendingConnection()) {
            ++connections;
            auto *in = new QByteArray;
            QObject::connect(s, &QObject::destroyed, s, [in] { delete in; });
            QObject::connect(s, &QIODevice::readyRead, s, [s, in, &heads, &closeAfter407] {
                *in += s->readAll();
                while (in->contains("\r\n\r\n")) {
                    const qsizetype end = in->indexOf("\r\n\r\n") + 4;
                    const QByteArray head = in->left(end);
                    in->remove(0, end);
                    heads.append(head);
                    if (heads.size() == 1) { // (Basic goes preemptively: the first is refused all the same)
                        s->write("HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 "Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                                 + QByteArray(closeAfter407 ? "Connection: close\r\n" : "")
                                 + "Content-Length: 5\r\n\r\nnope!");
                        if (closeAfter407) {
                            s->disconnectFromHost();
                            return;
                        }
                    } else {
                        s->write("HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-origin-speaks-first\r\n");
                    }
                }
            });
        }
    });
    auto proxy = std::make_shared<forward::UpstreamProxy>();
    proxy->host = QStringLiteral("127.0.0.1");
    proxy->port = port;
    proxy->address = QStringLiteral("127.0.0.1:%1").arg(port);
    proxy->auth = std::make_shared<forward::ProxyAuth>(QStringLiteral("alice"), QStringLiteral("secret"));
    for (const int variant : {0, 1, 2}) {
        const bool viaConnect = variant < 2;
        closeAfter407 = variant == 1;
        SCOPED_TRACE(variant == 0 ? "CONNECT" : variant == 1 ? "CONNECT, the 407 closes" : "absolute form");
        heads.clear();
        connections = 0;
        forward::Upstream up;
        up.host = QStringLiteral("origin.test");
        up.port = 22;
        up.addresses = {refusing}; // the origin's: never dialled through a proxy
        up.proxy = proxy;
        up.viaConnect = viaConnect;
        Connector::Options options;
        options.timeoutMs = 5000;
        net::Stream *stream = nullptr;
        std::optional<ForwardError> failure;
        Connector c(up, options,
                    Connector::ConnectedStream([&](net::Stream *s, const QHostAddress &) { stream = s; }),
                    [&](ForwardError e, const QString &detail) {
                        failure = e;
                        errorDetail = detail;
                    });
        c.start();
        ASSERT_TRUE(dfproxy::test::waitUntil([&] { return stream || failure; }, 20000));
        ASSERT_TRUE(stream) << errorDetail.toStdString();
        std::unique_ptr<net::Stream> owned(stream);
        if (!viaConnect) {
            dfproxy::test::spinFor(100);
            EXPECT_TRUE(heads.isEmpty());
            continue;
        }
        ASSERT_EQ(heads.size(), 2);
        EXPECT_EQ(connections, closeAfter407 ? 2 : 1);
        EXPECT_TRUE(heads.at(0).startsWith("CONNECT origin.test:22 HTTP/1.1\r\n")) << heads.at(0).constData();
        EXPECT_TRUE(heads.at(1).startsWith("CONNECT origin.test:22 HTTP/1.1\r\n")) << heads.at(1).constData();
        EXPECT_TRUE(heads.at(1).contains("Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n")) << heads.at(1).constData();
        QByteArray first;
        EXPECT_TRUE(dfproxy::test::waitUntil([&] {
            char buf[256];
            const qint64 n = stream->read(buf, sizeof buf);
            if (n > 0)
                first.append(buf, n);
            return first.size() >= 29;
        }, 10000));
        EXPECT_EQ(first, QByteArray("SSH-2.0-origin-speaks-first\r\n"));
    }
}
