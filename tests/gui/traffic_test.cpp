// SPDX-License-Identifier: Apache-2.0
// Live traffic (#28 item 2): every kind of access-log record copies as exactly the request that was logged (curl,
// raw request, URL; port included), the copies replay through the real service to the same status, the actions
// need a selected request and say "Copied" without a dialog, the table keeps its records when the service
// restarts, and the visible records export as HAR 1.2 and JSON Lines.
#include "consolefixture.h"
#include "support/testsupport.h"
#include "traffic/accesslogmodel.h"
#include "traffic/loggedrequest.h"
#include "traffic/trafficexport.h"
#include "traffic/trafficpage.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QTableView>

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

const QString kListener = QStringLiteral("http://127.0.0.1:8080");

LoggedRequest req(const QJsonObject &record)
{
    return LoggedRequest::fromRecord(record);
}

} // namespace

TEST(LoggedRequest, OriginFormKeepsTheHostHeadersPortAlsoWhenUnrouted)
{
    // What the proxy logs for "curl -H 'host: httpbin.test:18991' http://127.0.0.1:8080/a?b=1" without a route.
    const QJsonObject unrouted{{"method", "GET"}, {"host", "httpbin.test"}, {"port", 18991}, {"path", "/a?b=1"},
                               {"status", 404}, {"reason", "route_not_found"}};
    EXPECT_EQ(req(unrouted).curlCommand(kListener),
              "curl -v -H 'Host: httpbin.test:18991' 'http://127.0.0.1:8080/a?b=1'");
    EXPECT_EQ(req(unrouted).rawRequest(), "GET /a?b=1 HTTP/1.1\r\nHost: httpbin.test:18991\r\n\r\n");
    EXPECT_EQ(req(unrouted).url(), "http://httpbin.test:18991/a?b=1");
    EXPECT_EQ(AccessLogModel::text(unrouted, AccessLogModel::Host), "httpbin.test:18991");

    // Routed without a port in Host: the record holds the default port, the copy sends no port, as the client did.
    const QJsonObject routed{{"method", "POST"}, {"host", "a.test"}, {"port", 80}, {"path", "/x"}, {"status", 200}};
    EXPECT_EQ(req(routed).curlCommand(kListener), "curl -v -X POST -H 'Host: a.test' 'http://127.0.0.1:8080/x'");
    EXPECT_EQ(req(routed).rawRequest(), "POST /x HTTP/1.1\r\nHost: a.test\r\n\r\n");
    EXPECT_EQ(req(routed).url(), "http://a.test/x");
    EXPECT_EQ(AccessLogModel::text(routed, AccessLogModel::Host), "a.test:80");

    const QJsonObject v6{{"method", "HEAD"}, {"host", "::1"}, {"port", 8081}, {"path", "/"}, {"status", 200}};
    EXPECT_EQ(req(v6).curlCommand(kListener), "curl -v -I -H 'Host: [::1]:8081' 'http://127.0.0.1:8080/'");
    EXPECT_EQ(AccessLogModel::text(v6, AccessLogModel::Host), "[::1]:8081");
}

TEST(LoggedRequest, AbsoluteFormGoesThroughTheProxyWithTheLoggedAuthority)
{
    // Unrouted absolute-form: the record's port is 0, the logged target has it.
    const QJsonObject r{{"method", "GET"}, {"host", "httpbin.test"}, {"port", 0},
                        {"path", "http://httpbin.test:18991/get?x=1"}, {"status", 404}, {"reason", "route_not_found"}};
    EXPECT_EQ(req(r).curlCommand(kListener), "curl -v -x 'http://127.0.0.1:8080' 'http://httpbin.test:18991/get?x=1'");
    EXPECT_EQ(req(r).rawRequest(),
              "GET http://httpbin.test:18991/get?x=1 HTTP/1.1\r\nHost: httpbin.test:18991\r\n\r\n");
    EXPECT_EQ(req(r).url(), "http://httpbin.test:18991/get?x=1");
    EXPECT_EQ(AccessLogModel::text(r, AccessLogModel::Host), "httpbin.test:18991");

    // https:// absolute-form: curl would CONNECT for such a URL, so the copy sends the logged target itself.
    const QJsonObject s{{"method", "GET"}, {"host", "secure.test"}, {"port", 443}, {"path", "https://secure.test/"}};
    EXPECT_EQ(req(s).curlCommand(kListener),
              "curl -v --request-target 'https://secure.test/' -H 'Host: secure.test' 'http://127.0.0.1:8080/'");
    EXPECT_EQ(req(s).rawRequest(), "GET https://secure.test/ HTTP/1.1\r\nHost: secure.test\r\n\r\n");
}

TEST(LoggedRequest, ConnectNamesTheTunnelsHostAndPort)
{
    // Denied before routing: 403 connect_port_not_allowed, port 0 in older services, host:port in the path.
    const QJsonObject denied{{"method", "CONNECT"}, {"host", "httpbin.test"}, {"port", 0},
                             {"path", "httpbin.test:18991"}, {"status", 403}, {"reason", "connect_port_not_allowed"}};
    EXPECT_EQ(req(denied).curlCommand(kListener),
              "curl -v -x 'http://127.0.0.1:8080' -p 'https://httpbin.test:18991/'");
    EXPECT_EQ(req(denied).rawRequest(), "CONNECT httpbin.test:18991 HTTP/1.1\r\nHost: httpbin.test:18991\r\n\r\n");
    EXPECT_EQ(req(denied).url(), "httpbin.test:18991");
    EXPECT_EQ(AccessLogModel::text(denied, AccessLogModel::Host), "httpbin.test:18991");

    const QJsonObject tunnel{{"method", "CONNECT"}, {"host", "c.test"}, {"port", 443}, {"path", "c.test:443"},
                             {"tunnel", true}, {"status", 200}};
    EXPECT_EQ(req(tunnel).curlCommand(kListener), "curl -v -x 'http://127.0.0.1:8080' -p 'https://c.test:443/'");
    EXPECT_EQ(AccessLogModel::curlCommand(AccessLogModel::separator("service restarted"), kListener), QString());
}

TEST(TrafficExport, WritesHar12EntriesAndJsonLines)
{
    const QList<QJsonObject> records = {
        QJsonObject{{"seq", 1}, {"time", "2026-01-02T03:04:05.006Z"}, {"method", "GET"}, {"host", "a.test"},
                    {"port", 8080}, {"path", "/x?y=1&z=2"}, {"status", 200}, {"bytesIn", 0}, {"bytesOut", 12},
                    {"totalMs", 9}, {"dnsMs", 2}, {"connectMs", 3}, {"resolvedAddress", "127.0.0.1"}},
        AccessLogModel::separator("service restarted"),
        QJsonObject{{"seq", 1}, {"time", "2026-01-02T03:04:06.000Z"}, {"method", "CONNECT"}, {"host", "c.test"},
                    {"port", 8443}, {"path", "c.test:8443"}, {"status", 403}, {"reason", "connect_port_not_allowed"}}};
    const QJsonObject har = QJsonDocument::fromJson(toHar(records, "1.2.3")).object().value("log").toObject();
    EXPECT_EQ(har.value("version").toString(), "1.2");
    EXPECT_EQ(har.value("creator").toObject().value("name").toString(), "dfproxy console");
    const QJsonArray entries = har.value("entries").toArray();
    ASSERT_EQ(entries.size(), 2) << "the separator row is not a request";
    const QJsonObject e = entries[0].toObject();
    EXPECT_EQ(e.value("startedDateTime").toString(), "2026-01-02T03:04:05.006Z");
    EXPECT_EQ(e.value("time").toDouble(), 9);
    EXPECT_EQ(e.value("serverIPAddress").toString(), "127.0.0.1");
    const QJsonObject request = e.value("request").toObject();
    EXPECT_EQ(request.value("url").toString(), "http://a.test:8080/x?y=1&z=2");
    EXPECT_EQ(request.value("headers").toArray()[0].toObject().value("value").toString(), "a.test:8080");
    EXPECT_EQ(request.value("queryString").toArray().size(), 2);
    EXPECT_EQ(e.value("response").toObject().value("status").toInt(), 200);
    EXPECT_EQ(e.value("response").toObject().value("content").toObject().value("size").toDouble(), 12);
    const QJsonObject t = e.value("timings").toObject();
    EXPECT_EQ(t.value("dns").toDouble() + t.value("connect").toDouble() + t.value("send").toDouble()
                  + t.value("wait").toDouble() + t.value("receive").toDouble(),
              9);
    EXPECT_EQ(entries[1].toObject().value("response").toObject().value("statusText").toString(),
              "connect_port_not_allowed");

    const QList<QByteArray> lines = toJsonLines(records).split('\n');
    ASSERT_EQ(lines.size(), 3); // two records, then the empty tail after the last '\n'
    EXPECT_TRUE(lines[2].isEmpty());
    EXPECT_EQ(QJsonDocument::fromJson(lines[1]).object().value("path").toString(), "c.test:8443");
}

namespace {

// The argv a POSIX shell makes of a copied command line.
QStringList shellWords(const QString &command)
{
    QProcess sh;
    sh.start("/bin/sh", {"-c", "for a in " + command + "; do printf '%s\\0' \"$a\"; done"});
    sh.waitForFinished(10000);
    QStringList words = QString::fromUtf8(sh.readAllStandardOutput()).split(QChar(0));
    words.removeLast();
    return words;
}

// Runs a copied curl command (through the test's curl(), which adds -sS -D and reads the status) and returns the
// status the service answered: the CONNECT's own status for tunnels.
int replay(const QString &command)
{
    QStringList args = shellWords(command);
    EXPECT_EQ(args.value(0), "curl");
    args.removeFirst();
    args.removeAll("-v");
    const CurlResult r = curl(args);
    if (args.contains("-p")) {
        const QByteArray first = r.rawHeaders.left(r.rawHeaders.indexOf('\n'));
        return first.split(' ').value(1).toInt();
    }
    return r.status;
}

class TrafficConsole : public Console
{
protected:
    TrafficPage *page() const { return window->traffic(); }

    void SetUp() override
    {
        Console::SetUp();
        if (HasFatalFailure() || IsSkipped())
            return;
        window->showPage(MainWindow::TrafficIndex);
        ASSERT_TRUE(waitUntil([&] { return page()->feed() == TrafficPage::Feed::Streaming; }, 10000))
            << page()->statusText().toStdString();
    }

    // Selects the newest record `pred` accepts; false when none arrives in time.
    bool selectRecord(const std::function<bool(const QJsonObject &)> &pred)
    {
        int row = -1;
        waitUntil([&] {
            for (int i = 0; i < page()->model()->rowCount() && row < 0; ++i)
                if (pred(page()->model()->recordAt(i)))
                    row = i;
            return row >= 0;
        }, 10000);
        if (row < 0)
            return false;
        page()->filterEdit()->clear();
        page()->table()->selectRow(row);
        return true;
    }

    // Copies the selected record as curl, checks the notice, and replays the copy.
    void expectCopyReplays(const QString &expectedCurl, int expectedStatus)
    {
        ASSERT_TRUE(page()->copyAction(TrafficPage::Copy::Curl)->isEnabled());
        page()->copyAction(TrafficPage::Copy::Curl)->trigger();
        auto *toast = window->findChild<QLabel *>("toast");
        ASSERT_NE(toast, nullptr) << "copying says so";
        EXPECT_EQ(toast->text(), "Copied the curl command");
        const QString copied = QApplication::clipboard()->text();
        EXPECT_EQ(copied, page()->curlForSelected());
        EXPECT_EQ(copied, expectedCurl);
        EXPECT_EQ(replay(copied), expectedStatus) << copied.toStdString();
    }
};

} // namespace

TEST_F(TrafficConsole, CopiedCurlOfEachRecordKindReplaysToTheSameStatus)
{
    const QString listener = QStringLiteral("http://127.0.0.1:%1").arg(service->proxyPort());
    const QString port = QString::number(origin->port());

    // Nothing selected: nothing to copy.
    page()->table()->clearSelection();
    EXPECT_FALSE(page()->copyAction(TrafficPage::Copy::Curl)->isEnabled());
    EXPECT_FALSE(page()->copyAction(TrafficPage::Copy::Url)->isEnabled());
    EXPECT_FALSE(page()->copySelected(TrafficPage::Copy::Curl));

    // Unrouted (no route yet): 404 route_not_found, the Host header's port kept.
    ASSERT_EQ(curlThroughProxy().status, 404);
    ASSERT_TRUE(selectRecord([](const QJsonObject &r) { return r.value("reason").toString() == "route_not_found"; }));
    EXPECT_EQ(AccessLogModel::text(page()->model()->recordAt(page()->table()->currentIndex().row()),
                                   AccessLogModel::Host),
              "httpbin.test:" + port);
    expectCopyReplays("curl -v -H 'Host: httpbin.test:" + port + "' '" + listener + "/'", 404);
    EXPECT_EQ(page()->textForSelected(TrafficPage::Copy::RawRequest),
              "GET / HTTP/1.1\r\nHost: httpbin.test:" + port + "\r\n\r\n");
    EXPECT_EQ(page()->textForSelected(TrafficPage::Copy::Url), "http://httpbin.test:" + port + "/");

    applySeed();
    // Routed, origin-form.
    ASSERT_EQ(curl({"-H", "host: " + hostHeader(), service->proxyUrl("/status/200?k=v")}).status, 200);
    ASSERT_TRUE(selectRecord([](const QJsonObject &r) { return r.value("path").toString() == "/status/200?k=v"; }));
    expectCopyReplays("curl -v -H 'Host: httpbin.test:" + port + "' '" + listener + "/status/200?k=v'", 200);

    // Routed, absolute-form (the client used the listener as its proxy).
    const QString absolute = "http://httpbin.test:" + port + "/status/201";
    ASSERT_EQ(curl({"-x", listener, absolute}).status, 201);
    ASSERT_TRUE(selectRecord([&](const QJsonObject &r) { return r.value("path").toString() == absolute; }));
    expectCopyReplays("curl -v -x '" + listener + "' '" + absolute + "'", 201);

    // Denied: CONNECT to a port the listener does not tunnel to.
    curl({"-p", "-x", listener, "https://httpbin.test:" + port + "/"});
    ASSERT_TRUE(selectRecord([](const QJsonObject &r) { return r.value("method").toString() == "CONNECT"; }));
    EXPECT_EQ(page()->model()->recordAt(page()->table()->currentIndex().row()).value("status").toInt(), 403);
    expectCopyReplays("curl -v -x '" + listener + "' -p 'https://httpbin.test:" + port + "/'", 403);
    EXPECT_EQ(page()->textForSelected(TrafficPage::Copy::Url), "httpbin.test:" + port);

    // Allowed: a tunnel to an HTTPS origin on a port the Gateway now allows. The copy opens the same tunnel (200);
    // inside it, curl then refuses the test CA's certificate at once (the copy has no --cacert), which ends it.
    TestCa ca;
    ASSERT_TRUE(ca.create()) << ca.errorString().toStdString();
    const auto cert = ca.issueServerCert("secure", {"secure.test"});
    ASSERT_TRUE(cert) << ca.errorString().toStdString();
    OriginProcess::Options o;
    o.tlsCert = cert->certPath;
    o.tlsKey = cert->keyPath;
    OriginProcess secure(o);
    ASSERT_TRUE(secure.start()) << secure.describe();
    ASSERT_TRUE(dns->setHost("secure.test", {QHostAddress("127.0.0.1")}));
    const QString gatewayPath = "/api/v1/namespaces/agentgateway-system/gateways/agentgateway-proxy";
    ApiResult gw = get(gatewayPath);
    ASSERT_TRUE(gw.ok()) << gw.error->toString();
    QJsonObject gateway = gw.object();
    gateway.remove("status");
    QJsonObject spec = gateway["spec"].toObject();
    QJsonArray listeners = spec["listeners"].toArray();
    QJsonObject l = listeners[0].toObject();
    l.insert("allowedConnectPorts", QJsonArray{secure.port(), 443});
    listeners[0] = l;
    spec.insert("listeners", listeners);
    gateway.insert("spec", spec);
    gw = api->sendBlocking("PUT", gatewayPath, {}, QJsonDocument(gateway).toJson(), "application/json");
    ASSERT_TRUE(gw.ok()) << gw.error->toString();
    const QString tunnel = "https://secure.test:" + QString::number(secure.port()) + "/";
    ASSERT_TRUE(waitUntil([&] { return replay("curl -x '" + listener + "' -p '" + tunnel + "'") == 200; }, 10000));
    ASSERT_TRUE(selectRecord([](const QJsonObject &r) {
        return r.value("method").toString() == "CONNECT" && r.value("status").toInt() == 200;
    }));
    expectCopyReplays("curl -v -x '" + listener + "' -p '" + tunnel + "'", 200);

    // The notice goes away by itself.
    EXPECT_TRUE(waitUntil([&] { return window->findChild<QLabel *>("toast") == nullptr; }, 10000));
}

TEST_F(TrafficConsole, KeepsItsRecordsWhenTheServiceRestarts)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_TRUE(selectRecord([](const QJsonObject &r) { return r.value("status").toInt() == 200; }));
    const int before = page()->model()->rowCount();

    service->process()->stop();
    ASSERT_TRUE(waitUntil([&] { return !window->connection()->isConnected(); }, 10000));
    ASSERT_TRUE(service->restart()) << service->describe();
    ASSERT_TRUE(waitUntil([&] { return window->connection()->isConnected(); }, 15000)) << window->statusText();
    ASSERT_TRUE(waitUntil([&] { return page()->feed() == TrafficPage::Feed::Streaming; }, 10000));
    ASSERT_TRUE(waitUntil([&] { return page()->model()->rowCount() > before; }, 10000));
    EXPECT_TRUE(AccessLogModel::isSeparator(page()->model()->recordAt(0)));
    EXPECT_EQ(AccessLogModel::text(page()->model()->recordAt(0), AccessLogModel::Host), "── service restarted ──");
    EXPECT_EQ(page()->model()->rowCount(), before + 1) << "the old records stay, once";

    // A separator is not a request: nothing to copy.
    page()->table()->selectRow(0);
    EXPECT_FALSE(page()->copyAction(TrafficPage::Copy::Curl)->isEnabled());

    // New traffic lands above the separator.
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_TRUE(waitUntil([&] { return page()->model()->rowCount() == before + 2; }, 10000));
    EXPECT_FALSE(AccessLogModel::isSeparator(page()->model()->recordAt(0)));
    EXPECT_TRUE(AccessLogModel::isSeparator(page()->model()->recordAt(1)));

    // A reload of the same process adds nothing twice.
    page()->refresh();
    spinFor(1000);
    EXPECT_EQ(page()->model()->rowCount(), before + 2);
}

TEST_F(TrafficConsole, ExportsTheVisibleRecords)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_EQ(curl({"-H", "host: nowhere.test", service->proxyUrl("/")}).status, 503); // no such name
    ASSERT_TRUE(selectRecord([](const QJsonObject &r) { return r.value("host").toString() == "nowhere.test"; }));
    page()->filterEdit()->setText("httpbin.test");
    TempDir dir;
    ASSERT_EQ(page()->exportVisible(dir.filePath("t.har"), TrafficPage::ExportFormat::Har), QString());
    auto *toast = window->findChild<QLabel *>("toast");
    ASSERT_NE(toast, nullptr);
    EXPECT_TRUE(toast->text().startsWith("Exported 1 request")) << toast->text().toStdString();
    const QJsonArray entries =
        QJsonDocument::fromJson(dir.readFile("t.har")).object()["log"].toObject()["entries"].toArray();
    ASSERT_EQ(entries.size(), 1) << "only what the filter shows";
    EXPECT_EQ(entries[0].toObject()["request"].toObject()["url"].toString(),
              "http://httpbin.test:" + QString::number(origin->port()) + "/");
    ASSERT_EQ(page()->exportVisible(dir.filePath("t.jsonl"), TrafficPage::ExportFormat::JsonLines), QString());
    EXPECT_EQ(dir.readFile("t.jsonl").count('\n'), 1);
}

// The live view shows what each client spoke (the record's protocol: HTTP/1.1, HTTP/2), in its own column and in
// the filter, and a HAR export carries it as the entry's httpVersion.
TEST_F(TrafficConsole, ShowsEachRecordsProtocolAndFiltersByIt)
{
    applySeed();
    ASSERT_EQ(curl({"-H", "host: " + hostHeader(), service->proxyUrl("/status/200?via=h1")}).status, 200);
    ASSERT_EQ(curl({"--http2-prior-knowledge", "-H", "host: " + hostHeader(), service->proxyUrl("/status/200?via=h2")})
                  .status,
              200);
    const auto protocolOf = [&](const QString &path) {
        QString out;
        waitUntil(
            [&] {
                for (int i = 0; i < page()->model()->rowCount(); ++i) {
                    const QJsonObject r = page()->model()->recordAt(i);
                    if (r.value("path").toString() == path)
                        out = page()->model()->data(page()->model()->index(i, AccessLogModel::Protocol),
                                                    Qt::DisplayRole).toString();
                }
                return !out.isEmpty();
            },
            10000);
        return out;
    };
    EXPECT_EQ(protocolOf("/status/200?via=h1"), "HTTP/1.1");
    EXPECT_EQ(protocolOf("/status/200?via=h2"), "HTTP/2");
    EXPECT_EQ(page()->model()->headerData(AccessLogModel::Protocol, Qt::Horizontal, Qt::DisplayRole).toString(),
              "Protocol");

    page()->filterEdit()->setText("HTTP/2");
    const QList<QJsonObject> visible = page()->visibleRecords();
    ASSERT_EQ(visible.size(), 1);
    EXPECT_EQ(visible[0].value("path").toString(), "/status/200?via=h2");
    TempDir dir;
    ASSERT_EQ(page()->exportVisible(dir.filePath("h2.har"), TrafficPage::ExportFormat::Har), QString());
    const QJsonObject entry =
        QJsonDocument::fromJson(dir.readFile("h2.har")).object()["log"].toObject()["entries"].toArray()[0].toObject();
    EXPECT_EQ(entry["request"].toObject()["httpVersion"].toString(), "HTTP/2");
    EXPECT_EQ(entry["response"].toObject()["httpVersion"].toString(), "HTTP/2");
    page()->filterEdit()->clear();
}
