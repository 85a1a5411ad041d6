// SPDX-License-Identifier: Apache-2.0
// The test fixtures themselves work: origin (plain and TLS), dnsmasq, curl, the test CA and ManagedProcess.
#include "support/testsupport.h"

#include <gtest/gtest.h>

#include <QDnsLookup>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

using namespace dfproxy::test;

namespace {

constexpr int kTimeoutMs = 15000;

// The A records dnsmasq at server gives for name, or the error.
struct LookupResult
{
    QDnsLookup::Error error = QDnsLookup::NoError;
    QList<QHostAddress> addresses;
    quint32 ttl = 0;
};

LookupResult lookupA(const QHostAddress &server, const QString &name)
{
    QDnsLookup lookup(QDnsLookup::A, name, server);
    bool done = false;
    QObject::connect(&lookup, &QDnsLookup::finished, [&] { done = true; });
    lookup.lookup();
    if (!waitUntil([&] { return done; }, kTimeoutMs)) {
        lookup.abort();
        return {QDnsLookup::OperationCancelledError, {}, 0};
    }
    LookupResult result{lookup.error(), {}, 0};
    for (const QDnsHostAddressRecord &r : lookup.hostAddressRecords()) {
        result.addresses << r.value();
        result.ttl = r.timeToLive();
    }
    return result;
}

QJsonObject json(const QByteArray &body)
{
    return QJsonDocument::fromJson(body).object();
}

} // namespace

TEST(Fixtures, OriginServesItsWelcomePageToCurl)
{
    OriginProcess::Options options;
    options.title = QStringLiteral("httpbin.test welcome");
    OriginProcess origin(options);
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());

    const CurlResult r = curl({origin.url()});
    ASSERT_EQ(r.exitCode, 0) << qPrintable(r.describe());
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.contains("<title>httpbin.test welcome</title>")) << qPrintable(r.describe());
    EXPECT_EQ(r.header(QStringLiteral("X-Origin-Title")), QStringLiteral("httpbin.test welcome"));
    EXPECT_TRUE(r.header(QStringLiteral("content-type")).startsWith(QStringLiteral("text/html")));
}

TEST(Fixtures, OriginReportsRequestHeadersAsReceived)
{
    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());

    const CurlResult r = curl({QStringLiteral("-H"), QStringLiteral("X-Custom-Thing: 42"), QStringLiteral("-H"),
                               QStringLiteral("Host: httpbin.test:8000"), origin.url(QStringLiteral("/headers"))});
    ASSERT_EQ(r.status, 200) << qPrintable(r.describe());
    const QJsonObject headers = json(r.body).value(QStringLiteral("headers")).toObject();
    EXPECT_EQ(headers.value(QStringLiteral("x-custom-thing")).toString(), QStringLiteral("42"));
    EXPECT_EQ(headers.value(QStringLiteral("host")).toString(), QStringLiteral("httpbin.test:8000"));
}

TEST(Fixtures, OriginEchoesChunkedRequestBody)
{
    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());

    const CurlResult r = curl({QStringLiteral("-X"), QStringLiteral("PUT"), QStringLiteral("-H"),
                               QStringLiteral("Transfer-Encoding: chunked"), QStringLiteral("--data-binary"),
                               QStringLiteral("hello chunked world"), origin.url(QStringLiteral("/echo/x?y=1"))});
    ASSERT_EQ(r.status, 200) << qPrintable(r.describe());
    const QJsonObject o = json(r.body);
    EXPECT_EQ(o.value(QStringLiteral("method")).toString(), QStringLiteral("PUT"));
    EXPECT_EQ(o.value(QStringLiteral("path")).toString(), QStringLiteral("/echo/x"));
    EXPECT_EQ(o.value(QStringLiteral("query")).toString(), QStringLiteral("y=1"));
    EXPECT_EQ(o.value(QStringLiteral("body")).toString(), QStringLiteral("hello chunked world"));
}

TEST(Fixtures, OriginStreamsChunkedBytes)
{
    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());

    const CurlResult r = curl({origin.url(QStringLiteral("/bytes/200000?chunked=1"))});
    ASSERT_EQ(r.status, 200) << qPrintable(r.describe());
    EXPECT_EQ(r.header(QStringLiteral("transfer-encoding")), QStringLiteral("chunked"));
    ASSERT_EQ(r.body.size(), 200000);
    EXPECT_EQ(r.body.at(0), 'a');
    EXPECT_EQ(r.body.at(199999), char('a' + 199999 % 26));
}

TEST(Fixtures, OriginAnswersPipelinedRequestsOnOneConnectionInOrder)
{
    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());

    QTcpSocket socket;
    socket.connectToHost(origin.address(), origin.port());
    ASSERT_TRUE(socket.waitForConnected(kTimeoutMs));
    socket.write("GET /delay/50 HTTP/1.1\r\nHost: a\r\n\r\n"
                 "GET /status/201 HTTP/1.1\r\nHost: a\r\n\r\n"
                 "GET /stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    QByteArray received;
    QObject::connect(&socket, &QTcpSocket::readyRead, [&] { received += socket.readAll(); });
    ASSERT_TRUE(waitUntil([&] { return socket.state() == QAbstractSocket::UnconnectedState; }, kTimeoutMs))
        << received.constData();
    received += socket.readAll();

    const qsizetype first = received.indexOf("HTTP/1.1 200");
    const qsizetype second = received.indexOf("HTTP/1.1 201");
    const qsizetype third = received.indexOf("HTTP/1.1 200", second);
    ASSERT_GE(first, 0) << received.constData();
    EXPECT_LT(first, second);
    ASSERT_GT(third, second) << received.constData();
    const QJsonObject stats = json(received.mid(received.indexOf("{", third)));
    EXPECT_EQ(stats.value(QStringLiteral("connectionsAccepted")).toInt(), 1);
    EXPECT_EQ(stats.value(QStringLiteral("requestsServed")).toInt(), 3);
}

TEST(Fixtures, OriginListensOnIpv6AndClosesOnRequest)
{
    OriginProcess::Options options;
    options.listen = {QStringLiteral("127.0.0.1:0"), QStringLiteral("[::1]:0")};
    OriginProcess origin(options);
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());
    ASSERT_EQ(origin.address(1), QHostAddress(QHostAddress::LocalHostIPv6));

    const CurlResult r = curl({QStringLiteral("-g"), origin.url(QStringLiteral("/close"), 1)});
    ASSERT_EQ(r.status, 200) << qPrintable(r.describe());
    EXPECT_EQ(r.header(QStringLiteral("connection")), QStringLiteral("close"));
}

TEST(Fixtures, HttpsOriginIsTrustedWithTheTestCa)
{
    TestCa ca;
    ASSERT_TRUE(ca.create()) << qPrintable(ca.errorString());
    const auto cert = ca.issueServerCert(QStringLiteral("origin"), {QStringLiteral("secure.test")},
                                         {QHostAddress(QHostAddress::LocalHost)});
    ASSERT_TRUE(cert) << qPrintable(ca.errorString());

    OriginProcess::Options options;
    options.title = QStringLiteral("secure origin");
    options.tlsCert = cert->certPath;
    options.tlsKey = cert->keyPath;
    OriginProcess origin(options);
    ASSERT_TRUE(origin.start()) << qPrintable(origin.errorString());
    EXPECT_TRUE(origin.url().startsWith(QStringLiteral("https://")));

    const QString port = QString::number(origin.port());
    const CurlResult trusted = curl({QStringLiteral("--cacert"), ca.caCertPath(), QStringLiteral("--resolve"),
                                     QStringLiteral("secure.test:%1:127.0.0.1").arg(port),
                                     QStringLiteral("https://secure.test:%1/").arg(port)});
    ASSERT_EQ(trusted.exitCode, 0) << qPrintable(trusted.describe()) << qPrintable(origin.describe());
    EXPECT_EQ(trusted.status, 200);
    EXPECT_TRUE(trusted.body.contains("<title>secure origin</title>"));

    // Without the CA curl must refuse the certificate (exit 60): the TLS really is verified.
    const CurlResult untrusted =
        curl({QStringLiteral("--resolve"), QStringLiteral("secure.test:%1:127.0.0.1").arg(port),
              QStringLiteral("https://secure.test:%1/").arg(port)});
    EXPECT_EQ(untrusted.exitCode, 60) << qPrintable(untrusted.describe());
}

TEST(Fixtures, DnsmasqAnswersRecordsAndCountsQueries)
{
    if (!Dnsmasq::available())
        GTEST_SKIP() << "needs /usr/sbin/dnsmasq and root";
    Dnsmasq::Options options;
    options.localTtl = 7;
    Dnsmasq dns(options);
    ASSERT_TRUE(dns.setHost(QStringLiteral("origin.test"), {QHostAddress(QStringLiteral("127.0.0.5"))}));
    ASSERT_TRUE(dns.start()) << qPrintable(dns.errorString());

    const LookupResult first = lookupA(dns.address(), QStringLiteral("origin.test"));
    ASSERT_EQ(first.error, QDnsLookup::NoError) << qPrintable(dns.describe());
    ASSERT_EQ(first.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.0.0.5"))});
    EXPECT_EQ(first.ttl, 7u);
    EXPECT_TRUE(dns.waitForQueryCount(QStringLiteral("origin.test"), 1)) << qPrintable(dns.log());

    ASSERT_TRUE(dns.setHost(QStringLiteral("origin.test"), {QHostAddress(QStringLiteral("127.0.0.6"))}))
        << qPrintable(dns.errorString());
    const LookupResult second = lookupA(dns.address(), QStringLiteral("origin.test"));
    ASSERT_EQ(second.addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.0.0.6"))});
    EXPECT_TRUE(dns.waitForQueryCount(QStringLiteral("origin.test"), 2)) << qPrintable(dns.log());
    EXPECT_EQ(dns.queryCount(QStringLiteral("origin.test")), 2);

    EXPECT_EQ(lookupA(dns.address(), QStringLiteral("missing.test")).error, QDnsLookup::NotFoundError);
}

TEST(Fixtures, TwoDnsmasqInstancesGetDistinctAddresses)
{
    if (!Dnsmasq::available())
        GTEST_SKIP() << "needs /usr/sbin/dnsmasq and root";
    Dnsmasq a;
    Dnsmasq b;
    ASSERT_TRUE(a.start()) << qPrintable(a.errorString());
    ASSERT_TRUE(b.start()) << qPrintable(b.errorString());
    EXPECT_NE(a.address(), b.address());
}

TEST(Fixtures, ManagedProcessStopsWaitingWhenTheProcessExits)
{
    ManagedProcess p(QStringLiteral("/bin/sh"), {QStringLiteral("-c"), QStringLiteral("echo ready; exit 3")});
    ASSERT_TRUE(p.start()) << qPrintable(p.errorString());
    EXPECT_TRUE(p.waitForOutput(QRegularExpression(QStringLiteral("ready")), kTimeoutMs));
    EXPECT_FALSE(p.waitForOutput(QRegularExpression(QStringLiteral("never printed")), 60000));
    EXPECT_TRUE(p.waitForExit(kTimeoutMs));
    EXPECT_EQ(p.exitCode(), 3);
}

TEST(Fixtures, BuildBinaryFindsTheOrigin)
{
    EXPECT_FALSE(buildBinary(QStringLiteral("dfproxy-test-origin")).isEmpty()) << qPrintable(buildDir());
    EXPECT_TRUE(buildBinary(QStringLiteral("no-such-binary")).isEmpty());
}
