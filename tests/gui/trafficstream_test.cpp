// SPDX-License-Identifier: Apache-2.0
// The live-traffic screen against a small in-process stand-in for the access-log endpoints the telemetry area is
// adding (GET /api/v1/accesslog, server-sent events on /api/v1/accesslog/stream), so the streaming path is tested
// before the real service serves it.
#include "app/mainwindow.h"
#include "support/testsupport.h"
#include "traffic/accesslogmodel.h"
#include "traffic/trafficpage.h"

#include <QJsonDocument>
#include <QLineEdit>
#include <QPointer>
#include <QTableView>
#include <QTcpServer>
#include <QTcpSocket>

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

class FakeAdmin : public QObject
{
public:
    bool withStream = true;
    QList<QPointer<QTcpSocket>> streams;

    FakeAdmin()
    {
        m_server.listen(QHostAddress::LocalHost, 0);
        QObject::connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection())
                QObject::connect(s, &QTcpSocket::readyRead, this, [this, s] { onData(s); });
        });
    }
    QUrl url() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(m_server.serverPort())); }

    void push(const QJsonObject &record)
    {
        for (const auto &s : streams)
            if (s)
                s->write("data: " + QJsonDocument(record).toJson(QJsonDocument::Compact) + "\n\n");
    }

private:
    void onData(QTcpSocket *s)
    {
        QByteArray &buf = m_buffers[s];
        buf += s->readAll();
        if (!buf.contains("\r\n\r\n"))
            return;
        const QByteArray target = buf.split(' ').value(1);
        buf.clear();
        const QByteArray path = target.split('?').first();
        if (path == "/api/v1/accesslog/stream" && withStream) {
            s->write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\r\n: hello\n\n");
            streams.append(s);
            return;
        }
        QJsonObject body;
        int status = 200;
        if (path == "/api/v1/server")
            body = {{"version", "fake"}, {"uptimeSeconds", 5}, {"ready", true},
                    {"listeners", QJsonArray{QJsonObject{{"protocol", "HTTP"}, {"port", 8080}, {"addresses", QJsonArray{}}}}}};
        else if (path == "/api/v1/stats")
            body = {};
        else if (path == "/api/v1/accesslog")
            body = {{"items", QJsonArray{QJsonObject{{"time", "2024-01-01T00:00:00.000Z"}, {"method", "GET"},
                                                     {"host", "old.test"}, {"port", 80}, {"path", "/"}, {"status", 200}}}}};
        else {
            status = 404;
            body = {{"title", "Not Found"}, {"status", 404}, {"detail", "no endpoint"}};
        }
        const QByteArray json = QJsonDocument(body).toJson(QJsonDocument::Compact);
        s->write(QStringLiteral("HTTP/1.1 %1 X\r\nContent-Type: %2\r\nContent-Length: %3\r\nConnection: close\r\n\r\n")
                     .arg(status)
                     .arg(status == 200 ? "application/json" : "application/problem+json")
                     .arg(json.size())
                     .toLatin1()
                 + json);
        s->disconnectFromHost();
    }

    QTcpServer m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
};

std::unique_ptr<MainWindow> consoleFor(const QUrl &url)
{
    ConsoleOptions o;
    o.serverUrl = url;
    o.token = "t";
    o.persistSettings = false;
    o.trayIcon = false;
    auto w = std::make_unique<MainWindow>(o);
    w->show();
    w->showPage(MainWindow::TrafficIndex);
    return w;
}

bool hasHost(TrafficPage *t, const QString &host)
{
    for (int i = 0; i < t->model()->rowCount(); ++i)
        if (AccessLogModel::text(t->model()->recordAt(i), AccessLogModel::Host).startsWith(host))
            return true;
    return false;
}

} // namespace

TEST(LiveTraffic, LoadsRecentRecordsThenStreamsNewOnesAndPauses)
{
    FakeAdmin admin;
    auto window = consoleFor(admin.url());
    TrafficPage *t = window->traffic();
    ASSERT_TRUE(waitUntil([&] { return t->feed() == TrafficPage::Feed::Streaming && !admin.streams.isEmpty(); }, 10000))
        << t->statusText();
    EXPECT_TRUE(hasHost(t, "old.test"));

    admin.push({{"method", "GET"}, {"host", "new.test"}, {"port", 8080}, {"path", "/x"}, {"status", 502},
                {"reason", "dns_nxdomain"}, {"totalMs", 3}});
    ASSERT_TRUE(waitUntil([&] { return hasHost(t, "new.test"); }, 5000));
    EXPECT_EQ(AccessLogModel::text(t->model()->recordAt(0), AccessLogModel::Reason), "dns_nxdomain");

    t->setPaused(true);
    admin.push({{"method", "GET"}, {"host", "paused.test"}, {"path", "/"}, {"status", 200}});
    spinFor(300);
    EXPECT_FALSE(hasHost(t, "paused.test")) << "paused: new records wait";
    t->setPaused(false);
    EXPECT_TRUE(hasHost(t, "paused.test"));

    t->filterEdit()->setText("new.test");
    ASSERT_EQ(t->table()->model()->rowCount(), 1);
    t->table()->selectRow(0);
    EXPECT_EQ(t->curlForSelected(), "curl -v -H 'Host: new.test:8080' 'http://127.0.0.1:8080/x'");
}

TEST(LiveTraffic, PollsTheListWhenThereIsNoStream)
{
    FakeAdmin admin;
    admin.withStream = false;
    auto window = consoleFor(admin.url());
    TrafficPage *t = window->traffic();
    ASSERT_TRUE(waitUntil([&] { return t->feed() == TrafficPage::Feed::Polling; }, 10000)) << t->statusText();
    EXPECT_TRUE(hasHost(t, "old.test"));
    spinFor(2500);
    EXPECT_EQ(t->model()->rowCount(), 1) << "a poll adds only records it has not seen";
}
