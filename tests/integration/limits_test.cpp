// SPDX-License-Identifier: Apache-2.0
// Connection limits of the real dfproxy (proxy.maxConnections, proxy.maxConnectionsPerClient): a connection over
// a limit is answered 503 with the limit's name and closed, other clients are still served, a freed slot is
// usable again, the counters show in /metrics, and a limit written through the admin API applies live.
// Different clients are different loopback source addresses (127.0.0.2, 127.0.0.3, ...).
#include "proxyitutil.h"

#include <gtest/gtest.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

#include <memory>
#include <vector>

using namespace dfproxy::test;

namespace {

constexpr int kMaxConnections = 6;
constexpr int kMaxPerClient = 3;

class ConnectionLimits : public ::testing::Test
{
protected:
    void SetUp() override
    {
        ASSERT_TRUE(origin.start()) << origin.describe();
        DfproxyProcess::Options p;
        p.dnsServers = {"127.0.0.1"}; // never asked: every request below names the origin by IP address
        p.proxyBlock = QJsonObject{{"maxConnections", kMaxConnections}, {"maxConnectionsPerClient", kMaxPerClient}};
        p.extraResources = {proxyit::dfpBackend("dfp-backend"), proxyit::route("dfp-httproute", {}, "dfp-backend")};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe();
    }

    QJsonObject stats() const
    {
        return QJsonDocument::fromJson(proxy->apiGet("/api/v1/stats").body).object().value("proxy").toObject();
    }
    int activeConnections() const { return stats().value("activeConnections").toInt(-1); }

    /// An idle client connection from `source`, counted by dfproxy once this returns.
    std::unique_ptr<QTcpSocket> openIdle(const QString &source)
    {
        const int before = activeConnections();
        auto s = std::make_unique<QTcpSocket>();
        s->bind(QHostAddress(source), 0);
        s->connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        if (!waitUntil([&] { return s->state() == QAbstractSocket::ConnectedState; }, 5000))
            return nullptr;
        // Workers take connections in turns: wait until this one is admitted, so the order of admissions is known.
        if (!waitUntil([&] { return activeConnections() > before; }, 5000))
            return nullptr;
        return s;
    }

    /// A request from `source` on a fresh connection; returns everything read until dfproxy closed it.
    QByteArray requestFrom(const QString &source)
    {
        QTcpSocket s;
        s.bind(QHostAddress(source), 0);
        s.connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        if (!waitUntil([&] { return s.state() == QAbstractSocket::ConnectedState; }, 5000))
            return {};
        s.write("GET /status/204 HTTP/1.1\r\nHost: " + origin.authority().toLatin1() + "\r\nConnection: close\r\n\r\n");
        return readUntilClosed(s);
    }

    QByteArray metrics() const
    {
        return proxy->apiGet("/metrics").body;
    }

    OriginProcess origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

TEST_F(ConnectionLimits, PerClientLimitRefusesTheExtraConnectionAndServesOthers)
{
    std::vector<std::unique_ptr<QTcpSocket>> held;
    for (int i = 0; i < kMaxPerClient; ++i) {
        held.push_back(openIdle("127.0.0.2"));
        ASSERT_TRUE(held.back()) << "connection " << i;
    }
    const QByteArray refused = requestFrom("127.0.0.2");
    EXPECT_TRUE(refused.startsWith("HTTP/1.1 503")) << refused.constData();
    EXPECT_TRUE(refused.contains("x-dfproxy-error: max_connections_per_client")) << refused.constData();
    EXPECT_TRUE(refused.contains("Connection: close")) << refused.constData();

    // Another client is served; curl from yet another source address too.
    EXPECT_TRUE(requestFrom("127.0.0.3").startsWith("HTTP/1.1 204"));
    const auto viaCurl = curl({"--interface", "127.0.0.4", "-H", "host: " + origin.authority(), proxy->proxyUrl("/status/204")});
    EXPECT_EQ(viaCurl.status, 204) << viaCurl.describe().toStdString();

    // A freed slot can be used again.
    held.pop_back();
    EXPECT_TRUE(waitUntil([&] { return requestFrom("127.0.0.2").startsWith("HTTP/1.1 204"); }, 10000));

    const QJsonObject rejected = stats().value("connectionsRejected").toObject();
    EXPECT_GE(rejected.value("maxConnectionsPerClient").toInt(), 1);
    EXPECT_EQ(rejected.value("maxConnections").toInt(), 0);
    EXPECT_TRUE(metrics().contains("dfproxy_downstream_connections_rejected_total{limit=\"maxConnectionsPerClient\"} "));
}

TEST_F(ConnectionLimits, GlobalLimitRefusesEveryoneUntilASlotIsFree)
{
    std::vector<std::unique_ptr<QTcpSocket>> held;
    for (int i = 0; i < kMaxConnections; ++i) {
        held.push_back(openIdle(i % 2 ? "127.0.0.5" : "127.0.0.6"));
        ASSERT_TRUE(held.back()) << "connection " << i;
    }
    const QByteArray refused = requestFrom("127.0.0.7");
    EXPECT_TRUE(refused.startsWith("HTTP/1.1 503")) << refused.constData();
    EXPECT_TRUE(refused.contains("x-dfproxy-error: max_connections\r\n")) << refused.constData();
    // The held connections still work.
    held.front()->write("GET /status/204 HTTP/1.1\r\nHost: " + origin.authority().toLatin1() + "\r\n\r\n");
    QByteArray got;
    EXPECT_TRUE(waitUntil(
        [&] {
            got += held.front()->readAll();
            return got.contains("\r\n\r\n");
        },
        10000));
    EXPECT_TRUE(got.startsWith("HTTP/1.1 204")) << got.constData();

    held.clear();
    EXPECT_TRUE(waitUntil([&] { return requestFrom("127.0.0.7").startsWith("HTTP/1.1 204"); }, 10000));
    EXPECT_GE(stats().value("connectionsRejected").toObject().value("maxConnections").toInt(), 1);
    EXPECT_TRUE(metrics().contains("dfproxy_downstream_connections_rejected_total{limit=\"maxConnections\"} "));
}

TEST_F(ConnectionLimits, LimitsChangedThroughTheApiApplyLiveAndBadOnesAreRefused)
{
    QJsonObject config = QJsonDocument::fromJson(proxy->apiGet("/api/v1/config").body).object();
    ASSERT_TRUE(config.contains("proxy"));
    auto put = [&](const QJsonObject &proxyBlock) {
        QJsonObject c = config;
        c.insert("proxy", proxyBlock);
        return proxy->api("PUT", "/api/v1/config", QJsonDocument(c).toJson(QJsonDocument::Compact),
                          "application/json", {"If-Match: *"});
    };
    QJsonObject block = config.value("proxy").toObject();
    block.insert("maxConnectionsPerClient", -1);
    block.insert("maxConnections", "many");
    auto r = put(block);
    EXPECT_EQ(r.status, 422) << r.describe().toStdString();
    EXPECT_TRUE(r.body.contains("proxy.maxConnectionsPerClient")) << r.body.constData();
    EXPECT_TRUE(r.body.contains("proxy.maxConnections\"")) << r.body.constData();

    block.insert("maxConnectionsPerClient", 1);
    block.insert("maxConnections", 0);
    r = put(block);
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    auto first = openIdle("127.0.0.8");
    ASSERT_TRUE(first);
    const QByteArray refused = requestFrom("127.0.0.8");
    EXPECT_TRUE(refused.contains("x-dfproxy-error: max_connections_per_client")) << refused.constData();
    EXPECT_TRUE(requestFrom("127.0.0.9").startsWith("HTTP/1.1 204"));
}

TEST_F(ConnectionLimits, ABurstOfRefusedConnectionsIsAnsweredClosedAndLeavesNothingBehind)
{
    std::vector<std::unique_ptr<QTcpSocket>> held;
    for (int i = 0; i < kMaxPerClient; ++i) {
        held.push_back(openIdle("127.0.0.10"));
        ASSERT_TRUE(held.back());
    }
    // 100 more at once: each is refused, and dfproxy closes every one of them itself within its lingering time.
    std::vector<std::unique_ptr<QTcpSocket>> burst;
    for (int i = 0; i < 100; ++i) {
        auto s = std::make_unique<QTcpSocket>();
        s->bind(QHostAddress("127.0.0.10"), 0);
        s->connectToHost(QHostAddress::LocalHost, proxy->proxyPort());
        burst.push_back(std::move(s));
    }
    EXPECT_TRUE(waitUntil(
        [&] {
            for (auto &s : burst) {
                if (s->state() != QAbstractSocket::UnconnectedState)
                    return false;
            }
            return true;
        },
        15000));
    EXPECT_GE(stats().value("connectionsRejected").toObject().value("maxConnectionsPerClient").toInt(), 100);
    held.clear();
    EXPECT_TRUE(waitUntil([&] { return activeConnections() == 0; }, 10000));
    EXPECT_TRUE(requestFrom("127.0.0.10").startsWith("HTTP/1.1 204"));
    EXPECT_TRUE(proxy->process()->isRunning());
}

TEST(ConnectionLimitsTls, HttpsListenerClosesARefusedConnectionWithoutAHandshake)
{
    TestCa ca;
    ASSERT_TRUE(ca.create()) << ca.errorString().toStdString();
    const auto cert = ca.issueServerCert("listener", {"proxy.test"});
    ASSERT_TRUE(cert) << ca.errorString().toStdString();
    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << origin.describe();
    const quint16 httpsPort = freeTcpPort();
    DfproxyProcess::Options p;
    p.dnsServers = {"127.0.0.1"};
    p.proxyBlock = QJsonObject{{"maxConnectionsPerClient", 1}};
    p.extraResources = {proxyit::gateway("tls-proxy", "https", "HTTPS", httpsPort, cert->chainPath, cert->keyPath),
                        proxyit::dfpBackend("plain"), proxyit::route("plain", {}, "plain", {"tls-proxy"})};
    DfproxyProcess proxy(p);
    ASSERT_TRUE(proxy.start()) << proxy.describe();
    ASSERT_TRUE(proxyit::waitForPort(httpsPort));

    auto viaHttps = [&](const QString &source) {
        return curl({"--interface", source, "--cacert", ca.caCertPath(), "--resolve",
                     QStringLiteral("proxy.test:%1:127.0.0.1").arg(httpsPort), "-H", "host: " + origin.authority(),
                     QStringLiteral("https://proxy.test:%1/status/204").arg(httpsPort)});
    };
    auto stats = [&] { return QJsonDocument::fromJson(proxy.apiGet("/api/v1/stats").body); };
    auto rejected = [&] { return stats()["proxy"]["connectionsRejected"]["maxConnectionsPerClient"].toInt(); };
    auto active = [&] { return stats()["proxy"]["activeConnections"].toInt(); };
    EXPECT_EQ(viaHttps("127.0.0.11").status, 204);
    // That connection's slot is given back when the proxy has seen it close: wait for it, or the idle
    // connection below could be the one refused (a loaded machine makes that window wide).
    ASSERT_TRUE(waitUntil([&] { return active() == 0; }, 10000));
    QTcpSocket idle; // holds the one slot of 127.0.0.11 (no handshake needed to count)
    idle.bind(QHostAddress("127.0.0.11"), 0);
    idle.connectToHost(QHostAddress::LocalHost, httpsPort);
    ASSERT_TRUE(waitUntil([&] { return idle.state() == QAbstractSocket::ConnectedState; }, 5000));
    ASSERT_TRUE(waitUntil([&] { return active() == 1; }, 10000));
    // Not 0: the start-up probes of the listeners (all from 127.0.0.1) may already have met the limit.
    const int rejectedBefore = rejected();
    // The refusal is counted asynchronously: retry until it is.
    CurlResult refused;
    EXPECT_TRUE(waitUntil(
        [&] {
            refused = viaHttps("127.0.0.11");
            return rejected() > rejectedBefore;
        },
        10000));
    EXPECT_NE(refused.exitCode, 0) << refused.describe().toStdString(); // the handshake never happens
    EXPECT_EQ(refused.status, 0) << refused.describe().toStdString();
    EXPECT_EQ(viaHttps("127.0.0.12").status, 204); // another client is served
}

} // namespace
