// SPDX-License-Identifier: Apache-2.0
// The one dialler (service/forward/connector.h) through the real dfproxy binary: every test body runs for a
// forwarded request (curl, Host header) and for a CONNECT tunnel (a raw socket), since both must time out, fall back,
// fail and obey the SSRF guard alike. TestDnsServer scripts the addresses; a listener whose accept queue is full
// stands in for a blackholed address (the kernel drops further SYNs, so connecting to it hangs). Timing is bounded
// generously, never asserted tightly.
#include "proxyitutil.h"
#include "support/blackhole.h"
#include "support/dnsserver.h"
#include "support/testsupport.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

#include <memory>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

constexpr int kConnectTimeoutMs = 1000;
/// Far below the kernel's own give-up time for an unanswered SYN (about 127 s with tcp_syn_retries = 6) and far
/// above kConnectTimeoutMs: a generous bound, not a timing expectation.
constexpr int kWellBeforeTheOsTimeoutMs = 30000;
/// How long a client waits at most (a request that hangs is reported as status 0 after this).
constexpr int kClientWaitMs = 45000;

const QHostAddress kBlackholed(QStringLiteral("127.0.0.6")); ///< a full accept queue on the origin's port
const QHostAddress kRefusing(QStringLiteral("127.0.0.3"));   ///< nothing listens there
const QHostAddress kDenied(QStringLiteral("127.0.0.9"));     ///< in the test's ssrf.deniedCIDRs
const QHostAddress kLive(QStringLiteral("127.0.0.1"));       ///< the origin

/// Starts a TestDnsServer on a free 127.78.X.Y:53 (X from the process id, so parallel test runs do not collide).
bool startTestDns(TestDnsServer &server, QString *error)
{
    static int counter = 0;
    const int x = int(QCoreApplication::applicationPid() % 250) + 1;
    for (int tries = 0; tries < 50; ++tries) {
        const int y = (counter++ % 250) + 1;
        if (server.start(QHostAddress(QStringLiteral("127.78.%1.%2").arg(x).arg(y)), 53, error))
            return true;
    }
    return false;
}

enum class Path { Forward, Connect };

/// What the client saw: the proxy's answer, or (through an established tunnel) the origin's.
struct Outcome
{
    int status = 0; ///< 0: no answer within kClientWaitMs
    QByteArray reason; ///< x-dfproxy-error
    QByteArray body;
    qint64 elapsedMs = 0;
    QString describe() const
    {
        return QStringLiteral("status %1 reason '%2' after %3 ms, body: %4")
            .arg(status)
            .arg(QString::fromLatin1(reason))
            .arg(elapsedMs)
            .arg(QString::fromUtf8(body.left(300)));
    }
};

QByteArray headerValue(const QByteArray &head, const QByteArray &name)
{
    for (const QByteArray &line : head.split('\n')) {
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.left(colon).trimmed().toLower() == name)
            return line.mid(colon + 1).trimmed();
    }
    return {};
}

class Dialling : public ::testing::TestWithParam<Path>
{
protected:
    void SetUp() override
    {
        QString error;
        if (!startTestDns(server, &error))
            GTEST_SKIP() << "cannot bind a DNS test server on 127.78.x.y:53 (needs root): " << error.toStdString();
        origin = std::make_unique<OriginProcess>();
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
        if (!blackhole.start(kBlackholed, origin->port()))
            GTEST_SKIP() << "cannot make a listener whose accept queue drops SYNs (Linux only)";
        explicitPort = freeTcpPort();
        DfproxyProcess::Options p;
        p.dnsServers = {server.address().toString()};
        p.proxyBlock = QJsonObject{{"connectTimeoutMs", kConnectTimeoutMs},
                                   {"ssrf", QJsonObject{{"deniedCIDRs", QJsonArray{kDenied.toString() + "/32"}}}}};
        // A second Gateway for CONNECT, whose listener allows the origin's port.
        p.extraResources = {
            gateway("explicit-proxy", "explicit", "HTTP", explicitPort, {}, {}, QJsonArray{origin->port()}),
            dfpBackend("dfp-backend"),
            route("dfp-httproute", {}, "dfp-backend", {"agentgateway-proxy", "explicit-proxy"}),
        };
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        ASSERT_TRUE(waitForPort(explicitPort)) << proxy->describe().toStdString();
    }

    QString at(const QString &name) const { return QStringLiteral("%1:%2").arg(name).arg(origin->port()); }

    /// GET / on `name` at the origin's port, forwarded or through a CONNECT tunnel (GetParam()).
    Outcome request(const QString &name)
    {
        QElapsedTimer clock;
        clock.start();
        Outcome o = GetParam() == Path::Forward ? forwarded(name) : tunnelled(name);
        o.elapsedMs = clock.elapsed();
        return o;
    }

    Outcome forwarded(const QString &name)
    {
        const CurlResult r = curl({"-H", "host: " + at(name), proxy->proxyUrl("/")}, kClientWaitMs);
        return Outcome{r.status, r.header("x-dfproxy-error").toLatin1(), r.body};
    }

    Outcome tunnelled(const QString &name)
    {
        Outcome o;
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, explicitPort);
        if (!waitUntil([&] { return s.state() == QAbstractSocket::ConnectedState; }, 10000))
            return o;
        const QByteArray authority = at(name).toLatin1();
        s.write("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n");
        QByteArray in;
        const auto headEnd = [&] { return in.indexOf("\r\n\r\n"); };
        waitUntil(
            [&] {
                in += s.readAll();
                return headEnd() >= 0 || s.state() == QAbstractSocket::UnconnectedState;
            },
            kClientWaitMs);
        if (headEnd() < 0 || !in.startsWith("HTTP/1.1 "))
            return o;
        const QByteArray head = in.left(headEnd());
        o.status = in.mid(9, 3).toInt();
        o.reason = headerValue(head, "x-dfproxy-error");
        if (o.status != 200) {
            const qsizetype length = headerValue(head, "content-length").toLongLong();
            waitUntil(
                [&] {
                    in += s.readAll();
                    return in.size() - headEnd() - 4 >= length || s.state() == QAbstractSocket::UnconnectedState;
                },
                10000);
            o.body = in.mid(headEnd() + 4);
            return o;
        }
        // The tunnel is up: what the origin says through it is the outcome.
        s.write("GET / HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n");
        const QByteArray response = readUntilClosed(s, 10000);
        o.status = response.startsWith("HTTP/1.1 ") ? response.mid(9, 3).toInt() : 0;
        o.reason = headerValue(response.left(response.indexOf("\r\n\r\n")), "x-dfproxy-error");
        o.body = response.mid(response.indexOf("\r\n\r\n") + 4);
        return o;
    }

    /// The addresses the DNS cache holds for name at the origin's port, in their order.
    QJsonArray cachedAddresses(const QString &name)
    {
        const QJsonArray items =
            QJsonDocument::fromJson(proxy->apiGet("/api/v1/dns/cache").body).object().value("items").toArray();
        for (const auto &v : items) {
            const QJsonObject e = v.toObject();
            if (e.value("host").toString() == name && e.value("port").toInt() == origin->port())
                return e.value("addresses").toArray();
        }
        return {};
    }

    TestDnsServer server;
    std::unique_ptr<OriginProcess> origin;
    Blackhole blackhole;
    std::unique_ptr<DfproxyProcess> proxy;
    quint16 explicitPort = 0;
};

TEST_P(Dialling, BlackholedAddressIs504ConnectTimeoutAfterConnectTimeoutMs)
{
    server.setAddresses("hole.test", {kBlackholed});
    const Outcome o = request("hole.test");
    EXPECT_EQ(o.status, 504) << o.describe().toStdString();
    EXPECT_EQ(o.reason, "upstream_connect_timeout") << o.describe().toStdString();
    EXPECT_TRUE(o.body.startsWith("upstream_connect_timeout: connecting to hole.test port"))
        << o.describe().toStdString();
    EXPECT_GE(o.elapsedMs, kConnectTimeoutMs - 100) << o.describe().toStdString();
    EXPECT_LT(o.elapsedMs, kWellBeforeTheOsTimeoutMs) << o.describe().toStdString();
}

TEST_P(Dialling, DeadFirstAddressFallsBackToTheLiveOneAndTheDnsCacheDemotesIt)
{
    for (const QHostAddress &dead : {kBlackholed, kRefusing}) {
        const QString name = dead == kBlackholed ? QStringLiteral("silent-first.test")
                                                 : QStringLiteral("refusing-first.test");
        SCOPED_TRACE(name.toStdString());
        server.setAddresses(name, {dead, kLive});
        const Outcome o = request(name);
        EXPECT_EQ(o.status, 200) << o.describe().toStdString();
        EXPECT_LT(o.elapsedMs, kWellBeforeTheOsTimeoutMs) << o.describe().toStdString();
        // Told about the failure, the cache puts the live address first: the next request does not wait.
        EXPECT_EQ(cachedAddresses(name), (QJsonArray{kLive.toString(), dead.toString()}));
        EXPECT_EQ(request(name).status, 200);
    }
}

TEST_P(Dialling, EveryAddressRefusingIs502ConnectRefusedWithTheSameBody)
{
    server.setAddresses("refusing.test", {kRefusing, QHostAddress(QStringLiteral("127.0.0.4"))});
    const Outcome o = request("refusing.test");
    EXPECT_EQ(o.status, 502) << o.describe().toStdString();
    EXPECT_EQ(o.reason, "upstream_connect_refused") << o.describe().toStdString();
    EXPECT_TRUE(o.body.startsWith("upstream_connect_refused: connecting to refusing.test port "
                                  + QByteArray::number(origin->port()) + " failed: "))
        << o.describe().toStdString();
}

TEST_P(Dialling, AddressesTheSsrfGuardDeniesAreNeverDialled)
{
    server.setAddresses("denied.test", {kDenied});
    const Outcome denied = request("denied.test");
    EXPECT_EQ(denied.status, 403) << denied.describe().toStdString();
    EXPECT_EQ(denied.reason, "ssrf_denied") << denied.describe().toStdString();
    // Of a denied and an allowed address only the allowed one is dialled: the denied one, first in DNS order, is
    // not even tried (it would have refused and been moved to the back of the cache's list).
    server.setAddresses("mixed.test", {kDenied, kLive});
    const Outcome mixed = request("mixed.test");
    EXPECT_EQ(mixed.status, 200) << mixed.describe().toStdString();
    EXPECT_EQ(cachedAddresses("mixed.test"), (QJsonArray{kDenied.toString(), kLive.toString()}));
}

TEST_P(Dialling, AClientThatLeavesWhileItsRequestDialsLeavesNothingBehind)
{
    server.setAddresses("hole.test", {kBlackholed});
    server.setAddresses("good.test", {kLive});
    const QByteArray authority = at("hole.test").toLatin1();
    const QByteArray ask = GetParam() == Path::Forward
        ? "GET / HTTP/1.1\r\nHost: " + authority + "\r\n\r\n"
        : "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
    for (int i = 0; i < 3; ++i) {
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, GetParam() == Path::Forward ? proxy->proxyPort() : explicitPort);
        ASSERT_TRUE(waitUntil([&] { return s.state() == QAbstractSocket::ConnectedState; }, 10000));
        s.write(ask);
        waitUntil([&] { return s.bytesToWrite() == 0; }, 5000);
        spinFor(150 * i); // gone at once or some time into the dial, before connectTimeoutMs
        s.abort();
    }
    spinFor(kConnectTimeoutMs + 500); // whatever the dials were going to report has been reported
    EXPECT_TRUE(waitUntil([&] { return proxyStats(*proxy).value("activeConnections").toInteger(-1) == 0; }, 20000))
        << QJsonDocument(proxyStats(*proxy)).toJson().constData();
    EXPECT_EQ(proxyStats(*proxy).value("activeTunnels").toInteger(-1), 0);
    const Outcome o = request("good.test");
    EXPECT_EQ(o.status, 200) << o.describe().toStdString();
}

INSTANTIATE_TEST_SUITE_P(ForwardAndConnect, Dialling, ::testing::Values(Path::Forward, Path::Connect),
                         [](const ::testing::TestParamInfo<Path> &info) {
                             return info.param == Path::Forward ? std::string("Forward") : std::string("Connect");
                         });

} // namespace
