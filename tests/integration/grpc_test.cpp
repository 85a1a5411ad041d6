// SPDX-License-Identifier: Apache-2.0
// gRPC through the real dfproxy (#26 item 3): python3-grpcio's client speaks h2c by prior knowledge to the proxy
// listener with the origin's :authority, the DFP route sends it to a backend with spec.backend.http.version HTTP2,
// and python3-grpcio's server answers. Unary and server-streaming calls arrive whole, a failing call's status and
// message arrive intact (they travel in trailers), and the access log records each call's grpcStatus.
#include "proxyitutil.h"

#include "support/binaries.h"
#include "support/managedprocess.h"

#include <QProcess>
#include <QRegularExpression>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

bool haveGrpc()
{
    return QProcess::execute("/usr/bin/python3", {"-c", "import grpc"}) == 0;
}

class Grpc : public ::testing::Test
{
protected:
    static void SetUpTestSuite()
    {
        if (!Dnsmasq::available() || !haveGrpc())
            return;
        s_dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(s_dns->start()) << s_dns->describe().toStdString();
        ASSERT_TRUE(s_dns->setHost("grpc.test", {QHostAddress("127.0.0.1")}));
        s_server = std::make_unique<ManagedProcess>(
            "/usr/bin/python3", QStringList{sourceDir() + "/tests/fixtures/grpc/grpcfixture.py", "server"});
        ASSERT_TRUE(s_server->start()) << s_server->describe().toStdString();
        const auto m = s_server->waitForOutput(QRegularExpression("listening on (\\d+)"), 20000);
        ASSERT_TRUE(m) << s_server->describe().toStdString();
        s_port = quint16(m->captured(1).toUInt());

        DfproxyProcess::Options p;
        p.dnsServers = {s_dns->address().toString()};
        p.extraResources = {
            dfpBackend("grpc"),
            route("grpc", {"grpc.test"}, "grpc"),
            QJsonObject{
                {"apiVersion", "agentgateway.dev/v1alpha1"},
                {"kind", "AgentgatewayPolicy"},
                {"metadata", QJsonObject{{"name", "grpc-h2"}, {"namespace", "httpbin"}}},
                {"spec", QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"group", "agentgateway.dev"},
                                                                           {"kind", "AgentgatewayBackend"},
                                                                           {"name", "grpc"}}}},
                                     {"backend", QJsonObject{{"http", QJsonObject{{"version", "HTTP2"}}}}}}},
            },
        };
        s_proxy = std::make_unique<DfproxyProcess>(p);
        // Not an ASSERT here: a failure in SetUpTestSuite makes gtest skip the tests, and ctest counts skips as
        // passes. A proxy that refuses the config fails every test instead (SetUp).
        if (!s_proxy->start())
            s_setupFailure = s_proxy->describe();
    }
    static void TearDownTestSuite()
    {
        s_proxy.reset();
        s_server.reset();
        s_dns.reset();
    }
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        if (!haveGrpc())
            GTEST_SKIP() << "python3-grpcio is not installed (scripts/deps.sh installs it)";
        ASSERT_TRUE(s_proxy);
        ASSERT_TRUE(s_setupFailure.isEmpty()) << s_setupFailure.toStdString();
    }

    /// One call through the proxy: {code, details, replies, trailing}.
    static QJsonObject call(const char *kind)
    {
        QProcess p;
        p.start("/usr/bin/python3", {sourceDir() + "/tests/fixtures/grpc/grpcfixture.py", "client",
                                     QStringLiteral("127.0.0.1:%1").arg(s_proxy->proxyPort()),
                                     QStringLiteral("grpc.test:%1").arg(s_port), QString::fromLatin1(kind)});
        if (!p.waitForFinished(60000))
            return {};
        const QByteArray out = p.readAllStandardOutput();
        const QJsonObject o = QJsonDocument::fromJson(out).object();
        if (o.isEmpty())
            ADD_FAILURE() << out.constData() << p.readAllStandardError().constData();
        return o;
    }

    /// The newest access-log record whose path (absolute-form for proxy requests) ends with `path`.
    static QJsonObject logged(const QString &path)
    {
        QJsonObject out;
        waitUntil(
            [&] {
                const auto items = QJsonDocument::fromJson(s_proxy->apiGet("/api/v1/accesslog?after=0&limit=1000").body)
                                       .object()
                                       .value("items")
                                       .toArray();
                for (const QJsonValue &v : items) {
                    if (v.toObject().value("path").toString().endsWith(path)) // absolute-form through the proxy
                        out = v.toObject();
                }
                return !out.isEmpty();
            },
            10000);
        return out;
    }

    static std::unique_ptr<Dnsmasq> s_dns;
    static std::unique_ptr<ManagedProcess> s_server;
    static std::unique_ptr<DfproxyProcess> s_proxy;
    static QString s_setupFailure;
    static quint16 s_port;
};

std::unique_ptr<Dnsmasq> Grpc::s_dns;
std::unique_ptr<ManagedProcess> Grpc::s_server;
std::unique_ptr<DfproxyProcess> Grpc::s_proxy;
QString Grpc::s_setupFailure;
quint16 Grpc::s_port = 0;

TEST_F(Grpc, UnaryCallWithTrailingMetadata)
{
    const QJsonObject r = call("unary");
    EXPECT_EQ(r.value("code").toString(), "OK") << QJsonDocument(r).toJson().constData();
    EXPECT_EQ(r.value("replies").toArray(), QJsonArray{"HELLO"});
    EXPECT_EQ(r.value("trailing").toObject().value("x-served-by").toString(), "grpcfixture");
    const QJsonObject rec = logged("/dfproxy.test.Echo/Unary");
    EXPECT_EQ(rec.value("protocol").toString(), "HTTP/2");
    EXPECT_EQ(rec.value("status").toInt(), 200);
    EXPECT_EQ(rec.value("grpcStatus").toInt(-1), 0) << QJsonDocument(rec).toJson().constData();
}

TEST_F(Grpc, ServerStreamingCallArrivesWhole)
{
    const QJsonObject r = call("stream");
    EXPECT_EQ(r.value("code").toString(), "OK") << QJsonDocument(r).toJson().constData();
    EXPECT_EQ(r.value("replies").toArray(), (QJsonArray{"tick #0", "tick #1", "tick #2"}));
}

TEST_F(Grpc, FailingCallKeepsItsStatusAndMessage)
{
    const QJsonObject r = call("fail");
    EXPECT_EQ(r.value("code").toString(), "NOT_FOUND") << QJsonDocument(r).toJson().constData();
    EXPECT_EQ(r.value("details").toString(), "no such thing: widget");
    EXPECT_EQ(logged("/dfproxy.test.Echo/Fail").value("grpcStatus").toInt(-1), 5);
}

} // namespace
