// SPDX-License-Identifier: Apache-2.0
// Fault injection against the real dfproxy: upstreams that reset, stall, answer garbage or never stop sending
// headers; DNS servers that time out, fail, lie or change their answers; concurrent admin writers; a read-only
// and a full config directory; SIGTERM under load. After each fault: a normal request works, memory is back near
// its baseline, and no config is lost.
#include "support/dnsserver.h"
#include "support/testsupport.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>

#include <csignal>

using namespace dfproxy::test;

namespace {

/// An origin that misbehaves on purpose, chosen by the request path:
/// /reset-head (half a status line, then RST), /reset-body (head + 10 of 1000 bytes, then RST), /silent (reads,
/// never answers), /garbage (not HTTP), /infinite-headers (header lines until the peer goes away), else 200 "ok".
class BadOrigin : public QObject
{
public:
    BadOrigin()
    {
        m_server.listen(QHostAddress::LocalHost);
        QObject::connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                s->setParent(this);
                QObject::connect(s, &QTcpSocket::readyRead, s, [this, s] { onRead(s); });
                QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
                // The next socket may be allocated at the same address: it must not inherit this one's request.
                QObject::connect(s, &QObject::destroyed, this, [this, s] { m_buffers.remove(s); });
            }
        });
    }
    quint16 port() const { return m_server.serverPort(); }
    qint64 infiniteHeaderBytes = 0; ///< how much /infinite-headers managed to send before the proxy hung up

private:
    void onRead(QTcpSocket *s)
    {
        QByteArray &buf = m_buffers[s];
        buf += s->readAll();
        if (!buf.contains("\r\n\r\n") || s->property("answered").toBool())
            return;
        s->setProperty("answered", true);
        const QByteArray path = buf.split(' ').value(1);
        if (path == "/reset-head") {
            s->write("HTTP/1.1 200 O");
            s->flush();
            s->abort();
        } else if (path == "/reset-body") {
            s->write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
            s->flush();
            s->abort();
        } else if (path == "/silent") {
            // never answer
        } else if (path == "/garbage") {
            s->write("SSH-2.0-OpenSSH_9.2\r\n\x01\x02\x03 not http at all\r\n\r\n");
        } else if (path == "/infinite-headers") {
            s->write("HTTP/1.1 200 OK\r\n");
            const auto more = [this, s] {
                // Bounded: 64 MiB is far past any sane header limit.
                while (s->state() == QAbstractSocket::ConnectedState && s->bytesToWrite() < 256 * 1024 &&
                       infiniteHeaderBytes < 64 * 1024 * 1024) {
                    const QByteArray line =
                        "X-Filler-" + QByteArray::number(infiniteHeaderBytes) + ": " + QByteArray(100, 'f') + "\r\n";
                    infiniteHeaderBytes += s->write(line);
                }
            };
            QObject::connect(s, &QTcpSocket::bytesWritten, s, more);
            more();
        } else {
            s->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            s->disconnectFromHost();
        }
    }

    QTcpServer m_server;
    QHash<QTcpSocket *, QByteArray> m_buffers;
};

qint64 vmRssKb(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    return -1;
}

int openFds(qint64 pid)
{
    return int(QDir(QStringLiteral("/proc/%1/fd").arg(pid)).entryList(QDir::NoDotAndDotDot | QDir::AllEntries).size());
}

QJsonObject backendJson(const QString &name)
{
    return QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                       {"kind", "AgentgatewayBackend"},
                       {"metadata", QJsonObject{{"name", name}, {"namespace", "httpbin"}}},
                       {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}};
}

/// The seed route, with a 2 s backendRequest timeout so a silent upstream gives 504 quickly (but /delay/1000 fits).
QJsonObject routeJson()
{
    return QJsonObject{
        {"apiVersion", "gateway.networking.k8s.io/v1"},
        {"kind", "HTTPRoute"},
        {"metadata", QJsonObject{{"name", "dfp-httproute"}, {"namespace", "httpbin"}}},
        {"spec",
         QJsonObject{{"parentRefs",
                      QJsonArray{QJsonObject{{"name", "agentgateway-proxy"}, {"namespace", "agentgateway-system"}}}},
                     {"rules", QJsonArray{QJsonObject{
                                   {"timeouts", QJsonObject{{"backendRequest", "2s"}}},
                                   {"backendRefs", QJsonArray{QJsonObject{{"name", "dfp-backend"},
                                                                          {"group", "agentgateway.dev"},
                                                                          {"kind", "AgentgatewayBackend"}}}}}}}}}};
}

/// Runs a shell command (mount and friends); true on exit code 0.
bool sh(const QString &command, QString *output = nullptr)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start("/bin/sh", {"-c", command});
    if (!p.waitForFinished(20000)) {
        p.kill();
        return false;
    }
    if (output)
        *output = QString::fromLocal8Bit(p.readAll());
    return p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

class Faults : public ::testing::Test
{
protected:
    void SetUp() override
    {
        QString error;
        if (!dns.start(QHostAddress(QStringLiteral("127.0.%1.%2")
                                        .arg(60 + (QCoreApplication::applicationPid() % 60))
                                        .arg(10 + (QCoreApplication::applicationPid() / 60) % 200)),
                       53, &error))
            GTEST_SKIP() << "cannot bind a DNS port (needs root): " << error.toStdString();
        dns.setAddresses("good.test", {QHostAddress("127.0.0.1")}, 300);
        dns.setAddresses("bad.test", {QHostAddress("127.0.0.1")}, 300);
        ASSERT_TRUE(origin.start()) << origin.describe().toStdString();

        DfproxyProcess::Options p;
        p.dnsServers = {dns.address().toString()};
        p.dnsBlock = QJsonObject{
            {"queryTimeoutMs", 1000}, {"failureRefreshBaseMs", 200}, {"staleWindowMs", 0}, {"minRefreshMs", 0}};
        p.extraResources = QJsonArray{backendJson("dfp-backend"), routeJson()};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        ASSERT_TRUE(healthy());
        // Warm up (thread pools, DNS cache, pools) before taking the memory baseline.
        for (int i = 0; i < 20; ++i)
            curl({"-H", QStringLiteral("host: good.test:%1").arg(origin.port()), proxy->proxyUrl("/bytes/10000")});
        baselineRssKb = vmRssKb(proxy->process()->pid());
        baselineFds = openFds(proxy->process()->pid());
    }

    CurlResult get(const QString &host, quint16 port, const QString &path, const QStringList &extra = {})
    {
        return curl(QStringList{"-H", QStringLiteral("host: %1:%2").arg(host).arg(port)} + extra +
                    QStringList{proxy->proxyUrl(path)});
    }

    bool healthy() { return get("good.test", origin.port(), "/").status == 200; }

    /// The three checks after every fault.
    void expectRecovered()
    {
        ASSERT_TRUE(proxy->process()->isRunning()) << proxy->describe().toStdString();
        EXPECT_TRUE(healthy());
        const qint64 pid = proxy->process()->pid();
        // Generous bounds: sanitizer builds and allocator caches hold on to some memory.
        EXPECT_TRUE(waitUntil([&] { return vmRssKb(pid) < baselineRssKb + 64 * 1024; }, 10000))
            << "VmRSS " << vmRssKb(pid) << " kB, baseline " << baselineRssKb << " kB";
        EXPECT_TRUE(waitUntil([&] { return openFds(pid) <= baselineFds + 8; }, 10000))
            << "open fds " << openFds(pid) << ", baseline " << baselineFds;
    }

    QByteArray adminToken() const { return proxy->token(); }

    CurlResult admin(const QString &method, const QString &path, const QByteArray &body = {})
    {
        return proxy->api(method, path, body);
    }

    /// Resource names in the config file on disk.
    QStringList namesOnDisk() const
    {
        QFile f(proxy->configPath());
        if (!f.open(QIODevice::ReadOnly))
            return {"<unreadable>"};
        QStringList names;
        for (const QJsonValue &r : QJsonDocument::fromJson(f.readAll()).object().value("resources").toArray())
            names << r.toObject().value("metadata").toObject().value("name").toString();
        names.sort();
        return names;
    }

    TestDnsServer dns;
    OriginProcess origin;
    std::unique_ptr<DfproxyProcess> proxy;
    qint64 baselineRssKb = 0;
    int baselineFds = 0;
};

} // namespace

TEST_F(Faults, UpstreamResetsStallsGarbageAndEndlessHeaders)
{
    BadOrigin bad;
    const quint16 port = bad.port();

    const CurlResult resetHead = get("bad.test", port, "/reset-head");
    EXPECT_EQ(resetHead.status, 502) << resetHead.describe().toStdString();

    const CurlResult resetBody = get("bad.test", port, "/reset-body");
    // Either the head was already relayed (200, then the connection is reset: curl may lose what it had not read)
    // or not (502). Never a clean, complete-looking response.
    EXPECT_TRUE(resetBody.status == 200 || resetBody.status == 502 || resetBody.status == 0)
        << resetBody.describe().toStdString();
    if (resetBody.status != 502) {
        EXPECT_NE(resetBody.exitCode, 0) << "a truncated body must not look complete";
    }
    EXPECT_LT(resetBody.body.size(), 1000);

    const CurlResult silent = get("bad.test", port, "/silent");
    EXPECT_EQ(silent.status, 504) << silent.describe().toStdString();

    const CurlResult garbage = get("bad.test", port, "/garbage");
    EXPECT_EQ(garbage.status, 502) << garbage.describe().toStdString();

    const CurlResult endless = get("bad.test", port, "/infinite-headers");
    EXPECT_EQ(endless.status, 502) << endless.describe().toStdString();
    EXPECT_LT(bad.infiniteHeaderBytes, 64 * 1024 * 1024) << "the proxy kept reading headers without a bound";

    // Repeat them a few times: leaks would show in the memory check.
    for (int i = 0; i < 10; ++i) {
        get("bad.test", port, "/reset-head");
        get("bad.test", port, "/reset-body");
        get("bad.test", port, "/garbage");
        get("bad.test", port, "/infinite-headers");
    }
    expectRecovered();
}

TEST_F(Faults, DnsTimeoutsFailuresGarbageAndTruncation)
{
    const struct
    {
        const char *name;
        TestDnsServer::Mode mode;
    } modes[] = {{"silent.test", TestDnsServer::Mode::Silent},   {"servfail.test", TestDnsServer::Mode::ServFail},
                 {"refused.test", TestDnsServer::Mode::Refused}, {"nx.test", TestDnsServer::Mode::NxDomain},
                 {"garbage.test", TestDnsServer::Mode::Garbage}, {"truncated.test", TestDnsServer::Mode::Truncated}};
    for (const auto &m : modes) {
        SCOPED_TRACE(m.name);
        dns.setAddresses(m.name, {QHostAddress("127.0.0.1")}, 60);
        dns.setMode(m.name, m.mode);
        const CurlResult r = get(m.name, origin.port(), "/", {"--max-time", "20"});
        EXPECT_TRUE(r.status == 502 || r.status == 503 || r.status == 504) << r.describe().toStdString();
        EXPECT_TRUE(healthy()) << "a bad name must not hurt good ones";
    }
    expectRecovered();
}

TEST_F(Faults, DnsAnswersThatChangeMoveTraffic)
{
    OriginProcess::Options second;
    second.listen = {QStringLiteral("127.0.0.2:%1").arg(origin.port())};
    second.title = "second origin";
    OriginProcess other(second);
    if (!other.start())
        GTEST_SKIP() << "cannot listen on 127.0.0.2 with the first origin's port: " << other.describe().toStdString();

    dns.setAddresses("moving.test", {QHostAddress("127.0.0.1")}, 1);
    EXPECT_EQ(get("moving.test", origin.port(), "/").header("x-origin-title"), "dfproxy test origin");
    dns.setAddresses("moving.test", {QHostAddress("127.0.0.2")}, 1);
    EXPECT_TRUE(waitUntil(
        [&] { return get("moving.test", origin.port(), "/").header("x-origin-title") == "second origin"; }, 15000))
        << "traffic never followed the new DNS answer";
    // Flapping between answers never breaks requests.
    for (int i = 0; i < 10; ++i) {
        dns.setAddresses("moving.test", {QHostAddress(i % 2 ? "127.0.0.1" : "127.0.0.2")}, 1);
        EXPECT_EQ(get("moving.test", origin.port(), "/").status, 200);
        spinFor(300);
    }
    expectRecovered();
}

TEST_F(Faults, ConcurrentAdminWritersKeepTheConfigConsistent)
{
    // Four shell loops, each applying and deleting its own backend 15 times, all at once.
    const QString token = QString::fromLatin1(adminToken());
    QList<QProcess *> writers;
    for (int w = 0; w < 4; ++w) {
        const QString name = QStringLiteral("writer-%1").arg(w);
        const QString body = QString::fromUtf8(QJsonDocument(backendJson(name)).toJson(QJsonDocument::Compact));
        const QString script =
            QStringLiteral("for i in $(seq 15); do "
                           "curl -sS -o /dev/null -w '%{http_code}\\n' -H 'Authorization: Bearer %1' "
                           "-H 'Content-Type: application/json' -X POST --data-binary '%2' '%3'; "
                           "curl -sS -o /dev/null -w '%{http_code}\\n' -H 'Authorization: Bearer %1' -X DELETE '%4'; "
                           "done")
                .arg(token, body, proxy->adminUrl("/api/v1/apply"),
                     proxy->adminUrl("/api/v1/namespaces/httpbin/backends/" + name));
        auto *p = new QProcess;
        p->setProcessChannelMode(QProcess::MergedChannels);
        p->start("/bin/sh", {"-c", script});
        writers << p;
    }
    // Traffic keeps flowing meanwhile.
    int served = 0;
    waitUntil(
        [&] {
            if (healthy())
                ++served;
            for (QProcess *p : writers)
                if (p->state() != QProcess::NotRunning)
                    return false;
            return true;
        },
        120000);
    EXPECT_GT(served, 0);
    for (QProcess *p : writers) {
        EXPECT_TRUE(p->state() == QProcess::NotRunning);
        const QList<QByteArray> codes = p->readAll().trimmed().split('\n');
        EXPECT_EQ(codes.size(), 30);
        for (const QByteArray &c : codes)
            EXPECT_TRUE(c == "200" || c == "201") << "admin answered " << c.toStdString();
        delete p;
    }
    // Every writer deleted its backend last: only the seed objects remain, on disk and in memory.
    const QStringList expected{"agentgateway-proxy", "dfp-backend", "dfp-httproute"};
    EXPECT_EQ(namesOnDisk(), expected);
    const CurlResult list = admin("GET", "/api/v1/backends");
    EXPECT_FALSE(list.body.contains("writer-")) << list.body.toStdString();
    // The file loads again after a restart.
    ASSERT_TRUE(proxy->restart()) << proxy->describe().toStdString();
    EXPECT_TRUE(healthy());
}

TEST_F(Faults, ReadOnlyConfigDirectoryFailsWritesAndLosesNothing)
{
    const QString dir = QFileInfo(proxy->configPath()).absolutePath();
    QString out;
    if (!sh(QStringLiteral("mount --bind -o ro '%1' '%1'").arg(dir), &out))
        GTEST_SKIP() << "cannot bind-mount read-only here: " << out.toStdString();
    struct Unmount
    {
        QString dir;
        ~Unmount() { sh(QStringLiteral("umount '%1'").arg(dir)); }
    } unmount{dir};
    const QStringList before = namesOnDisk();

    const CurlResult r = admin("POST", "/api/v1/apply", QJsonDocument(backendJson("ro-test")).toJson());
    EXPECT_EQ(r.status, 500) << r.describe().toStdString();
    EXPECT_TRUE(r.body.contains("config")) << r.body.toStdString();
    EXPECT_EQ(namesOnDisk(), before);
    EXPECT_FALSE(admin("GET", "/api/v1/namespaces/httpbin/backends/ro-test").status == 200)
        << "a write that was not persisted must not be in effect either";
    expectRecovered();

    ASSERT_TRUE(sh(QStringLiteral("umount '%1'").arg(dir)));
    unmount.dir.clear();
    const CurlResult again = admin("POST", "/api/v1/apply", QJsonDocument(backendJson("ro-test")).toJson());
    EXPECT_EQ(again.status, 200) << again.describe().toStdString();
    EXPECT_TRUE(namesOnDisk().contains("ro-test"));
}

TEST_F(Faults, FullDiskFailsWritesAndLosesNothing)
{
    // Move the config directory onto a 64 KiB tmpfs, fill it, and try to write.
    const QString dir = QFileInfo(proxy->configPath()).absolutePath();
    const QString saved = dir + ".saved";
    QString out;
    if (!sh(QStringLiteral("cp -a '%1' '%2' && mount -t tmpfs -o size=64k tmpfs '%1' && cp -a '%2'/. '%1'/")
                .arg(dir, saved),
            &out)) {
        sh(QStringLiteral("umount '%1' 2>/dev/null; rm -rf '%2'").arg(dir, saved));
        GTEST_SKIP() << "cannot mount a small tmpfs here: " << out.toStdString();
    }
    struct Unmount
    {
        QString dir, saved;
        ~Unmount()
        {
            if (!dir.isEmpty())
                sh(QStringLiteral("umount -l '%1'; rm -rf '%2'").arg(dir, saved));
        }
    } unmount{dir, saved};
    ASSERT_TRUE(sh(QStringLiteral("dd if=/dev/zero of='%1/filler' bs=1k count=128 2>/dev/null; true").arg(dir)));
    const QStringList before = namesOnDisk();
    ASSERT_FALSE(before.isEmpty());

    // A large object, so the new file cannot fit in what is left.
    QJsonObject big = backendJson("full-test");
    QJsonObject meta = big.value("metadata").toObject();
    meta.insert("annotations", QJsonObject{{"pad", QString(16 * 1024, QLatin1Char('p'))}});
    big.insert("metadata", meta);
    const CurlResult r = admin("POST", "/api/v1/apply", QJsonDocument(big).toJson());
    EXPECT_EQ(r.status, 500) << r.describe().toStdString();
    EXPECT_EQ(namesOnDisk(), before) << "the config file was damaged by a failed write";
    expectRecovered();

    ASSERT_TRUE(sh(QStringLiteral("rm -f '%1/filler'").arg(dir)));
    const CurlResult again = admin("POST", "/api/v1/apply", QJsonDocument(big).toJson());
    EXPECT_EQ(again.status, 200) << again.describe().toStdString();
    EXPECT_TRUE(namesOnDisk().contains("full-test"));
    // Stop the proxy before the tmpfs goes away under it.
    proxy->process()->stop();
}

TEST_F(Faults, SigtermDrainsInFlightRequests)
{
    // A slow request is in flight when SIGTERM arrives: it still gets its 200, and dfproxy exits cleanly.
    const auto upstreamRequests = [&] {
        const QJsonObject stats = QJsonDocument::fromJson(admin("GET", "/api/v1/stats").body).object();
        return stats.value("proxy").toObject().value("upstreamRequests").toInteger(-1);
    };
    const qint64 before = upstreamRequests();
    ASSERT_GE(before, 0) << admin("GET", "/api/v1/stats").body.toStdString();
    QProcess slow;
    slow.start("curl", {"-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                        QStringLiteral("host: good.test:%1").arg(origin.port()), proxy->proxyUrl("/delay/1000")});
    ASSERT_TRUE(slow.waitForStarted(5000));
    // Wait until the proxy has sent it upstream (no fixed sleep).
    ASSERT_TRUE(waitUntil([&] { return upstreamRequests() > before; }, 10000));
    ASSERT_TRUE(proxy->process()->sendSignal(SIGTERM));
    ASSERT_TRUE(waitUntil([&] { return slow.state() == QProcess::NotRunning; }, 15000));
    EXPECT_EQ(slow.readAllStandardOutput(), "200") << slow.readAllStandardError().toStdString();
    EXPECT_TRUE(proxy->process()->waitForExit(15000));
    EXPECT_EQ(proxy->process()->exitCode(), 0) << proxy->describe().toStdString();
    // No config lost: it starts again on the same file, with the same objects.
    ASSERT_TRUE(proxy->restart()) << proxy->describe().toStdString();
    EXPECT_TRUE(healthy());
}
