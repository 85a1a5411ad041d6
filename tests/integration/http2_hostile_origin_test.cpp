// SPDX-License-Identifier: Apache-2.0
// Hostile HTTP/2 origins (#26): a corpus of malformed or hostile server frames (tests/fixtures/h2origin/h2hostile.py
// builds them by hand) sent to the real dfproxy's upstream HTTP/2 client session (service/http2/clientsession.*) over
// h2c by prior knowledge. Each must end the client's request with a clean 502 (a complete response, never a hang or
// a crash); one that arrives after the response head was relayed must at least not end as a complete 200. After the
// corpus the proxy still serves, and the origin's connections are all gone.
#include "proxyitutil.h"

#include "support/binaries.h"
#include "support/managedprocess.h"

#include <QProcess>
#include <QRegularExpression>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

bool haveHpack()
{
    return QProcess::execute("/usr/bin/python3", {"-c", "import hpack"}) == 0;
}

class Http2HostileOrigin : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        if (!haveHpack())
            GTEST_SKIP() << "python3-hpack is not installed (python3-h2 brings it; scripts/deps.sh installs it)";
        ASSERT_TRUE(m_dns.start()) << m_dns.describe().toStdString();
        ASSERT_TRUE(m_dns.setHost("hostile-h2.test", {QHostAddress("127.0.0.1")}));
        m_origin = std::make_unique<ManagedProcess>(
            "/usr/bin/python3", QStringList{sourceDir() + "/tests/fixtures/h2origin/h2hostile.py"});
        ASSERT_TRUE(m_origin->start()) << m_origin->describe().toStdString();
        const auto m = m_origin->waitForOutput(QRegularExpression("listening on (\\d+)"), 20000);
        ASSERT_TRUE(m) << m_origin->describe().toStdString();
        m_port = quint16(m->captured(1).toUInt());

        DfproxyProcess::Options p;
        p.dnsServers = {m_dns.address().toString()};
        p.workers = 1;
        p.extraResources = {
            dfpBackend("hostile"),
            route("hostile", {"hostile-h2.test"}, "hostile"),
            QJsonObject{
                {"apiVersion", "agentgateway.dev/v1alpha1"},
                {"kind", "AgentgatewayPolicy"},
                {"metadata", QJsonObject{{"name", "hostile-h2"}, {"namespace", "httpbin"}}},
                {"spec", QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"group", "agentgateway.dev"},
                                                                           {"kind", "AgentgatewayBackend"},
                                                                           {"name", "hostile"}}}},
                                     {"backend", QJsonObject{{"http", QJsonObject{{"version", "HTTP2"}}}}}}},
            },
        };
        m_proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(m_proxy->start()) << m_proxy->describe().toStdString();
    }

    CurlResult get(const QString &path)
    {
        return curl({"-x", QStringLiteral("http://127.0.0.1:%1").arg(m_proxy->proxyPort()), "--max-time", "30",
                     QStringLiteral("http://hostile-h2.test:%1%2").arg(m_port).arg(path)});
    }

    Dnsmasq m_dns;
    std::unique_ptr<ManagedProcess> m_origin;
    quint16 m_port = 0;
    std::unique_ptr<DfproxyProcess> m_proxy;
};

TEST_F(Http2HostileOrigin, EveryHostileFrameSequenceEndsInA502AndTheProxyGoesOn)
{
    const CurlResult ok = get("/ok");
    ASSERT_EQ(ok.status, 200) << "the h2 path works before the corpus: " << ok.describe().toStdString();
    // Before the response head: a clean 502 (curl reads the whole response: exit 0).
    for (const char *path : {"/push-promise", "/hpack-table-size", "/continuation-flood", "/data-before-headers",
                             "/interrupted-headers", "/rst-stream-0", "/goaway-higher", "/settings-flood",
                             "/frame-too-large", "/headers-unknown-stream", "/no-status", "/http1-answer",
                             "/window-update-0", "/window-overflow"}) {
        SCOPED_TRACE(path);
        const CurlResult r = get(path);
        EXPECT_EQ(r.exitCode, 0) << r.describe().toStdString();
        EXPECT_EQ(r.status, 502) << r.describe().toStdString();
        const QString reason = r.header("x-dfproxy-error");
        EXPECT_TRUE(reason == "upstream_bad_response" || reason == "upstream_reset") << r.describe().toStdString();
    }
    // A valid response with a 20000-byte field (within the frame size, Huffman-coded): relayed whole, or refused
    // whole; never cut short.
    {
        const CurlResult r = get("/big-field");
        EXPECT_EQ(r.exitCode, 0) << r.describe().left(3000).toStdString();
        EXPECT_TRUE(r.status == 200 || r.status == 502) << r.describe().left(3000).toStdString();
    }
    // After the head was relayed there is no 502 to give: the client's response must not end as if complete.
    {
        const CurlResult r = get("/data-beyond-window");
        EXPECT_TRUE(r.exitCode != 0 || r.status == 502) << r.describe().toStdString();
    }
    // The proxy is alive and the h2 path serves again (a new connection: the hostile ones are gone).
    bool served = false;
    waitUntil([&] { return (served = get("/ok").status == 200); }, 20000);
    EXPECT_TRUE(served);
    ASSERT_TRUE(m_proxy->process()->isRunning()) << m_proxy->describe().toStdString();
}

} // namespace
