// SPDX-License-Identifier: Apache-2.0
// The program behind a connection (docs/applications.md) when the client on this machine is not on loopback: it
// reaches a listener on a wildcard address through one of the machine's addresses, from another of them (what
// `curl --interface` does). Runs in a network namespace of its own (tests/netns-run), where those addresses are
// added to the namespace's loopback interface and lead nowhere else.
#include "integration/proxyitutil.h"
#include "support/testsupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

const QString kHere = QStringLiteral("10.9.0.1");  // the address the client reaches dfproxy on
const QString kOther = QStringLiteral("10.9.1.1"); // another address of the same machine, the client's source

bool addAddress(const QString &address, QString *error)
{
    QProcess p;
    p.start(QStringLiteral("ip"), {"addr", "add", address + "/32", "dev", "lo"});
    if (!p.waitForFinished(10000) || p.exitStatus() != QProcess::NormalExit) {
        *error = p.errorString();
        return false;
    }
    const QString err = QString::fromUtf8(p.readAllStandardError());
    if (p.exitCode() != 0 && !err.contains(QLatin1String("already assigned"))) { // (an earlier run added it)
        *error = err;
        return false;
    }
    return true;
}

class ApplicationsOffLoopback : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (qgetenv("DFPROXY_NETNS") != "isolated")
            GTEST_SKIP() << "not inside a network namespace of its own (ctest runs it through tests/netns-run)";
        QString error;
        for (const QString &a : {kHere, kOther}) {
            if (!addAddress(a, &error))
                GTEST_SKIP() << "cannot add " << a.toStdString() << " to lo: " << error.toStdString();
        }
        origin = std::make_unique<OriginProcess>();
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
        ASSERT_TRUE(hosts.writeFile(QStringLiteral("hosts"), "127.0.0.1 app.test\n"));
        port = freeTcpPort(QHostAddress(kHere));
        DfproxyProcess::Options p;
        p.dnsServers = {QStringLiteral("127.0.0.254")}; // never asked: the hosts file answers
        p.dnsBlock = QJsonObject{{"hostsFilePath", hosts.filePath(QStringLiteral("hosts"))}};
        // A Gateway on every address of the machine, and a policy that keeps curl away from the origin.
        p.extraResources = {
            QJsonObject{{"apiVersion", "gateway.networking.k8s.io/v1"},
                        {"kind", "Gateway"},
                        {"metadata", QJsonObject{{"name", "lan"}, {"namespace", "agentgateway-system"}}},
                        {"spec", QJsonObject{{"gatewayClassName", "agentgateway"},
                                             {"addresses", QJsonArray{QJsonObject{{"type", "IPAddress"},
                                                                                  {"value", "0.0.0.0"}}}},
                                             {"listeners", QJsonArray{QJsonObject{{"name", "http"},
                                                                                  {"protocol", "HTTP"},
                                                                                  {"port", port}}}}}}},
            proxyit::dfpBackend(QStringLiteral("plain")),
            proxyit::route(QStringLiteral("app"), {QStringLiteral("app.test")}, QStringLiteral("plain"),
                           {QStringLiteral("lan")}),
            QJsonObject{
                {"apiVersion", "dfproxy.dev/v1alpha1"},
                {"kind", "AuthorizationPolicy"},
                {"metadata", QJsonObject{{"name", "no-curl"}, {"namespace", "agentgateway-system"}}},
                {"spec", QJsonObject{{"targetRefs", QJsonArray{QJsonObject{{"kind", "Gateway"}, {"name", "lan"}}}},
                                     {"defaultAction", "Allow"},
                                     {"rules", QJsonArray{QJsonObject{{"name", "curl"},
                                                                      {"action", "Deny"},
                                                                      {"applications", QJsonArray{"curl"}}}}}}},
            },
        };
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        ASSERT_TRUE(waitUntil(
            [&] {
                QTcpSocket s;
                s.connectToHost(QHostAddress(kHere), port);
                return s.waitForConnected(200);
            },
            10000))
            << proxy->describe().toStdString();
    }

    /// curl from `source` to the wildcard listener at kHere; the status.
    CurlResult fetch(const QString &source, const QString &query)
    {
        return curl({"--interface", source, "-H", QStringLiteral("Host: app.test:%1").arg(origin->port()),
                     QStringLiteral("http://%1:%2/echo?from=%3").arg(kHere).arg(port).arg(query)});
    }

    /// The access-log record of the request whose path ends in `from=<query>`, waiting for it.
    QJsonObject record(const QString &query)
    {
        QJsonObject found;
        waitUntil(
            [&] {
                const auto r = proxy->apiGet(QStringLiteral("/api/v1/accesslog?after=0&limit=1000"));
                for (const auto &v : QJsonDocument::fromJson(r.body).object().value("items").toArray()) {
                    if (v.toObject().value("path").toString().endsWith("from=" + query))
                        found = v.toObject();
                }
                return !found.isEmpty();
            },
            10000);
        return found;
    }

    TempDir hosts;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
    quint16 port = 0;
};

} // namespace

// A local program that binds another of the machine's addresses is still a local program: its connection is looked
// up, and a Deny rule that names it holds, as for the same program reaching dfproxy from the address it connects to.
TEST_F(ApplicationsOffLoopback, AClientBindingAnotherOwnAddressIsStillItsProgram)
{
    for (const QString &source : {kHere, kOther}) {
        SCOPED_TRACE(source.toStdString());
        const QString query = source == kHere ? QStringLiteral("same") : QStringLiteral("other");
        const CurlResult r = fetch(source, query);
        EXPECT_EQ(r.status, 403) << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), "application_denied") << r.describe().toStdString();
        const QJsonObject rec = record(query);
        EXPECT_EQ(rec.value("clientAddress").toString(), source) << QJsonDocument(rec).toJson().toStdString();
        EXPECT_EQ(rec.value("process").toString(), QStringLiteral("curl")) << QJsonDocument(rec).toJson().toStdString();
    }
}
