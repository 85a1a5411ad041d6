// SPDX-License-Identifier: Apache-2.0
// The program behind each request, with real programs through the real binary (docs/applications.md, issue #24):
// curl, wget and a Python client each attributed (name, path, pid, user) in the access log and `dfproxyctl apps`;
// an AuthorizationPolicy allowing only curl; a rate limit per application; a client gone before the lookup.
#include "support/seedstack.h"
#include "support/testsupport.h"

#include <QFile>
#include <QDeadlineTimer>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>

#include <gtest/gtest.h>

#ifdef Q_OS_LINUX

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

using namespace dfproxy::test;

namespace {

/// A program run to the end; its pid, exit code and output.
struct ProgramRun
{
    qint64 pid = 0;
    int exitCode = -1;
    QByteArray out, err;
};

ProgramRun run(const QString &program, const QStringList &args, int timeoutMs = 30000)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char *v : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                          "no_proxy", "NO_PROXY"})
        env.remove(QString::fromLatin1(v));
    p.setProcessEnvironment(env);
    p.start(program, args);
    ProgramRun r;
    if (!p.waitForStarted(timeoutMs))
        return r;
    r.pid = p.processId();
    p.waitForFinished(timeoutMs);
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QString canonical(const QString &path)
{
    return QFileInfo(path).canonicalFilePath();
}

QString currentUser()
{
    const passwd *pw = ::getpwuid(::getuid());
    return pw ? QString::fromUtf8(pw->pw_name) : QString::number(::getuid());
}

class Applications : public SeedStackTest
{
protected:
    void SetUp() override
    {
        SeedStackTest::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        wget = QStandardPaths::findExecutable(QStringLiteral("wget"));
        // The interpreter itself, not a launcher script (pyenv shims, /usr/bin/python3 -> python3.11).
        const ProgramRun py = run(QStandardPaths::findExecutable(QStringLiteral("python3")),
                           {"-c", "import os,sys; print(os.path.realpath(sys.executable))"});
        python = QString::fromUtf8(py.out.trimmed());
    }

    QString target(const QString &query) const
    {
        return proxy->proxyUrl(QStringLiteral("/headers?app=") + query);
    }
    QString hostHeader() const { return QStringLiteral("httpbin.test:%1").arg(origin->port()); }

    ProgramRun viaCurl(const QString &query)
    {
        return run(QStringLiteral("/usr/bin/curl"),
                   {"-q", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: " + hostHeader(), target(query)});
    }
    /// wget prints the response headers (-S) on stderr and the body (also of errors) on stdout.
    ProgramRun viaWget(const QString &query)
    {
        return run(wget, {"--no-config", "-S", "-q", "-O", "-", "--content-on-error", "--tries=1",
                          "--header=Host: " + hostHeader(), target(query)});
    }
    ProgramRun viaPython(const QString &query)
    {
        const QString script = QStringLiteral(
                                   "import http.client\n"
                                   "c = http.client.HTTPConnection('127.0.0.1', %1, timeout=20)\n"
                                   "c.request('GET', '/headers?app=%2', headers={'Host': '%3'})\n"
                                   "print(c.getresponse().status)\n")
                                   .arg(proxy->proxyPort())
                                   .arg(query, hostHeader());
        return run(python, {"-c", script});
    }

    /// The access-log record of the request whose path ends in `app=<query>`, waiting for it.
    QJsonObject record(const QString &query)
    {
        QJsonObject found;
        waitUntil([&] {
            const auto r = proxy->apiGet(QStringLiteral("/api/v1/accesslog?after=0&limit=1000"));
            for (const auto &v : QJsonDocument::fromJson(r.body).object().value("items").toArray()) {
                if (v.toObject().value("path").toString().endsWith("app=" + query))
                    found = v.toObject();
            }
            return !found.isEmpty();
        }, 10000);
        return found;
    }

    void expectAttributed(const QJsonObject &rec, const ProgramRun &client, const QString &path)
    {
        ASSERT_FALSE(rec.isEmpty()) << "no access-log record";
        EXPECT_EQ(rec.value("pid").toInteger(), client.pid) << QJsonDocument(rec).toJson().toStdString();
        EXPECT_EQ(rec.value("processPath").toString(), canonical(path));
        EXPECT_EQ(rec.value("process").toString(), QFileInfo(canonical(path)).fileName());
        EXPECT_EQ(rec.value("processUser").toString(), currentUser());
    }

    void apply(const QByteArray &yaml)
    {
        const auto r = proxy->ctl({"apply", "-f", "-"}, yaml);
        ASSERT_EQ(r.exitCode, 0) << r.err.toStdString() << r.out.toStdString();
    }

    QString wget, python;
};

} // namespace

TEST_F(Applications, CurlWgetAndPythonAreEachAttributedInTheAccessLogAndDfproxyctlApps)
{
    const ProgramRun c = viaCurl("curl");
    ASSERT_EQ(c.out, "200") << c.err.toStdString();
    expectAttributed(record("curl"), c, "/usr/bin/curl");

    if (wget.isEmpty()) {
        ADD_FAILURE() << "wget is not installed (scripts/deps.sh DFPROXY_TEST_PACKAGES)";
    } else {
        const ProgramRun w = viaWget("wget");
        ASSERT_EQ(w.exitCode, 0) << w.err.toStdString();
        expectAttributed(record("wget"), w, wget);
    }

    ASSERT_FALSE(python.isEmpty());
    const ProgramRun p = viaPython("python");
    ASSERT_EQ(p.out.trimmed(), "200") << p.err.toStdString();
    expectAttributed(record("python"), p, python);

    // Two different applications (three, with Python) in `dfproxyctl apps`, as a table and as JSON.
    const auto table = proxy->ctl({"apps"});
    ASSERT_EQ(table.exitCode, 0) << table.err.toStdString();
    EXPECT_TRUE(table.out.contains(canonical("/usr/bin/curl"))) << table.out.toStdString();
    EXPECT_TRUE(table.out.contains(canonical(wget))) << table.out.toStdString();
    const auto json = proxy->ctl({"apps", "-o", "json"});
    ASSERT_EQ(json.exitCode, 0) << json.err.toStdString();
    QStringList paths;
    for (const auto &v : QJsonDocument::fromJson(json.out.toUtf8()).object().value("items").toArray()) {
        const QJsonObject app = v.toObject();
        paths.append(app.value("processPath").toString());
        EXPECT_EQ(app.value("hosts").toArray().first().toObject().value("host").toString(), "httpbin.test");
        EXPECT_GE(app.value("requests").toInteger(), 1);
    }
    EXPECT_TRUE(paths.contains(canonical("/usr/bin/curl"))) << paths.join(", ").toStdString();
    EXPECT_TRUE(paths.contains(canonical(wget))) << paths.join(", ").toStdString();
    EXPECT_TRUE(paths.contains(python)) << paths.join(", ").toStdString();
    const auto yaml = proxy->ctl({"apps", "-o", "yaml"});
    EXPECT_NE(yaml.exitCode, 0);
    EXPECT_TRUE(yaml.err.contains("unknown output format")) << yaml.err.toStdString();

    const auto stats = QJsonDocument::fromJson(proxy->apiGet("/api/v1/stats").body).object();
    const auto lookup = stats.value("proxy").toObject().value("applicationLookup").toObject();
    EXPECT_TRUE(lookup.value("enabled").toBool());
    EXPECT_GE(lookup.value("found").toInteger(), 3) << QJsonDocument(lookup).toJson().toStdString();
}

TEST_F(Applications, APolicyAllowingOnlyCurlRefusesWgetWithApplicationDenied)
{
    if (wget.isEmpty())
        GTEST_SKIP() << "wget is not installed";
    apply(QStringLiteral(R"(apiVersion: dfproxy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: curl-only, namespace: httpbin}
spec:
  targetRefs:
  - {kind: HTTPRoute, name: dfp-httproute}
  rules:
  - name: curl
    action: Allow
    applications: ["%1"]
)")
              .arg(canonical("/usr/bin/curl"))
              .toUtf8());
    ProgramRun w;
    ASSERT_TRUE(waitUntil([&] {
        w = viaWget("wget-denied");
        return w.err.contains("403");
    }, 10000)) << w.err.toStdString();
    EXPECT_TRUE(w.err.contains("x-dfproxy-error: application_denied")) << w.err.toStdString();
    EXPECT_TRUE(w.out.contains("wget (" + canonical(wget).toUtf8())) << w.out.toStdString();
    EXPECT_TRUE(w.out.contains("pid " + QByteArray::number(w.pid))) << w.out.toStdString();
    const QJsonObject denied = record("wget-denied");
    EXPECT_EQ(denied.value("reason").toString(), "application_denied");
    EXPECT_EQ(denied.value("pid").toInteger(), w.pid);

    const ProgramRun c = viaCurl("curl-allowed");
    EXPECT_EQ(c.out, "200") << c.err.toStdString();
    const ProgramRun p = viaPython("python-denied");
    EXPECT_EQ(p.out.trimmed(), "403") << p.err.toStdString();
}

TEST_F(Applications, ARateLimitKeyedByApplicationGivesEachProgramItsOwnBucket)
{
    apply(R"(apiVersion: dfproxy.dev/v1alpha1
kind: RateLimitPolicy
metadata: {name: per-app, namespace: httpbin}
spec:
  targetRefs:
  - {kind: HTTPRoute, name: dfp-httproute}
  limits:
  - {key: application, tokens: 2, fillInterval: 1h}
)");
    // Each curl run is a new process of the same program: one bucket for all of them.
    QByteArray third;
    ASSERT_TRUE(waitUntil([&] {
        third = viaCurl("rl").out;
        return third == "429";
    }, 10000)) << third.toStdString();
    EXPECT_EQ(viaCurl("rl-again").out, "429");
    const ProgramRun p = viaPython("rl-python");
    EXPECT_EQ(p.out.trimmed(), "200") << p.err.toStdString(); // another program, another bucket
}

// A client that sent its request and exited before dfproxy read it: no process to find, the request is still
// served and logged, nothing breaks. dfproxy is stopped (SIGSTOP) while the client connects, sends and exits.
TEST_F(Applications, AClientGoneBeforeTheLookupHasNoProcessAndNothingBreaks)
{
    const ProgramRun before = viaCurl("before-gone");
    ASSERT_EQ(record("before-gone").value("pid").toInteger(), before.pid); // the lookup works here
    const qint64 dfproxyPid = proxy->process()->pid();
    ASSERT_GT(dfproxyPid, 0);
    ASSERT_EQ(::kill(pid_t(dfproxyPid), SIGSTOP), 0);
    const QString script = QStringLiteral(
                               "import socket\n"
                               "s = socket.create_connection(('127.0.0.1', %1), timeout=20)\n"
                               "s.sendall(b'GET /headers?app=gone HTTP/1.1\\r\\nHost: %2\\r\\nConnection: close\\r\\n\\r\\n')\n")
                               .arg(proxy->proxyPort())
                               .arg(hostHeader());
    const ProgramRun gone = run(python, {"-c", script});
    ::kill(pid_t(dfproxyPid), SIGCONT);
    ASSERT_EQ(gone.exitCode, 0) << gone.err.toStdString();

    const QJsonObject rec = record("gone");
    ASSERT_FALSE(rec.isEmpty());
    EXPECT_EQ(rec.value("pid").toInteger(), 0) << QJsonDocument(rec).toJson().toStdString();
    EXPECT_EQ(rec.value("process").toString(), "");
    EXPECT_EQ(viaCurl("after-gone").out, "200");
    EXPECT_TRUE(proxy->process()->isRunning());
}

// The lookup runs on its own thread from accept on (#24): clients that connect, send a request and close at once
// (some with a reset), many of them, leave answers for connections already gone. Nothing crashes, every
// connection is released, and the next client is attributed as before.
TEST_F(Applications, ClientsClosingRightAfterTheirRequestLeaveNothingBehind)
{
    const QString script = QStringLiteral(
                               "import socket, struct\n"
                               "for i in range(300):\n"
                               "    s = socket.create_connection(('127.0.0.1', %1), timeout=20)\n"
                               "    s.sendall(b'GET /headers?app=storm HTTP/1.1\\r\\nHost: %2\\r\\n\\r\\n')\n"
                               "    if i % 2:\n"
                               "        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n"
                               "    s.close()\n")
                               .arg(proxy->proxyPort())
                               .arg(hostHeader());
    const ProgramRun storm = run(python, {"-c", script});
    ASSERT_EQ(storm.exitCode, 0) << storm.err.toStdString();
    QJsonObject stats;
    EXPECT_TRUE(waitUntil([&] {
        stats = QJsonDocument::fromJson(proxy->apiGet("/api/v1/stats").body).object().value("proxy").toObject();
        return stats.value("activeConnections").toInteger() == 0;
    }, 20000)) << QJsonDocument(stats).toJson().toStdString();
    EXPECT_TRUE(proxy->process()->isRunning());
    const ProgramRun after = viaCurl("after-storm");
    ASSERT_EQ(after.out, "200");
    expectAttributed(record("after-storm"), after, "/usr/bin/curl");
}

TEST_F(Applications, WithTheLookupOffNoProcessIsRecorded)
{
    const ProgramRun before = viaCurl("before-off");
    ASSERT_EQ(record("before-off").value("pid").toInteger(), before.pid);
    QFile f(proxy->configPath());
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    QJsonObject config = QJsonDocument::fromJson(f.readAll()).object();
    f.close();
    QJsonObject block = config.value("proxy").toObject();
    block.insert("applicationLookup", "off");
    config.insert("proxy", block);
    ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
    // Applies live (the config file is watched): wait for a request recorded without a process.
    QJsonObject rec;
    int n = 0;
    ASSERT_TRUE(waitUntil([&] {
        const QString q = QStringLiteral("off%1").arg(n++);
        viaCurl(q);
        rec = record(q);
        return !rec.isEmpty() && rec.value("pid").toInteger() == 0;
    }, 15000)) << QJsonDocument(rec).toJson().toStdString();
    EXPECT_EQ(rec.value("status").toInt(), 200);
}

// A program that closes a connection and opens the next one is found by probing the descriptor its closed
// connection had (the kernel hands that number out again), not by reading through all of its descriptors: with
// many sockets open, as a browser or a load client has, that was a system call per descriptor and connection
// (issue #21 item 9). The shortcut identifies the program as surely as the scan: a Deny rule naming it refuses
// every one of those connections, and another program is still allowed.
TEST_F(Applications, AProgramThatReconnectsIsFoundAtItsFreedDescriptorAndItsDenyRuleStillApplies)
{
    ASSERT_FALSE(python.isEmpty());
    apply(QStringLiteral(R"(apiVersion: dfproxy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: no-python, namespace: httpbin}
spec:
  targetRefs:
  - {kind: HTTPRoute, name: dfp-httproute}
  defaultAction: Allow
  rules:
  - name: python
    action: Deny
    applications: ["%1"]
)")
              .arg(python)
              .toUtf8());
    // 60 idle sockets besides its connections (the scan read them all each time); a first request to be looked
    // up the slow way, then, once told, 20 connections one after the other, each read to its end and closed.
    const QString script = QStringLiteral(
                               "import socket, sys\n"
                               "idle = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(60)]\n"
                               "def get(q):\n"
                               "    s = socket.create_connection(('127.0.0.1', %1), timeout=20)\n"
                               "    s.sendall(b'GET /headers?app=' + q + b' HTTP/1.1\\r\\nHost: %2\\r\\n'\n"
                               "              b'Connection: close\\r\\n\\r\\n')\n"
                               "    out = b''\n"
                               "    while True:\n"
                               "        b = s.recv(65536)\n"
                               "        if not b: break\n"
                               "        out += b\n"
                               "    s.close()\n"
                               "    return out.split(b' ', 2)[1].decode()\n"
                               "print(get(b'reconnect-first'), flush=True)\n"
                               "sys.stdin.readline()\n"
                               "print(' '.join(get(b'reconnect%d' % i) for i in range(20)), flush=True)\n")
                               .arg(proxy->proxyPort())
                               .arg(hostHeader());
    QProcess client;
    client.start(python, {"-c", script});
    ASSERT_TRUE(client.waitForStarted(10000));
    const qint64 pid = client.processId();
    QDeadlineTimer deadline(20000);
    while (!client.canReadLine() && client.state() == QProcess::Running && !deadline.hasExpired())
        client.waitForReadyRead(100);
    ASSERT_TRUE(client.canReadLine()) << client.readAllStandardError().toStdString();
    EXPECT_EQ(client.readLine().trimmed(), "403");
    auto lookupStats = [&] {
        return QJsonDocument::fromJson(proxy->apiGet("/api/v1/stats").body)
            .object()
            .value("proxy")
            .toObject()
            .value("applicationLookup")
            .toObject();
    };
    const QJsonObject before = lookupStats();
    ASSERT_TRUE(before.contains("descriptorScans")) << QJsonDocument(before).toJson().toStdString();
    client.write("go\n");
    ASSERT_TRUE(client.waitForFinished(60000)) << client.readAllStandardError().toStdString();
    const QByteArray statuses = client.readAllStandardOutput().trimmed();
    EXPECT_EQ(statuses, QByteArray("403 ").repeated(20).trimmed()) << client.readAllStandardError().toStdString();
    const QJsonObject after = lookupStats();
    // Each connection's descriptor was freed by the one before it: most are found by one probe on the worker. A
    // few may still be scanned on the lookup thread (when the worker handles the new connection's request before
    // the old one's close), not one scan per connection as before.
    EXPECT_LE(after.value("descriptorScans").toInteger() - before.value("descriptorScans").toInteger(), 8)
        << QJsonDocument(after).toJson().toStdString();
    EXPECT_GE(after.value("quick").toInteger() - before.value("quick").toInteger(), 12)
        << QJsonDocument(after).toJson().toStdString();
    for (int i = 0; i < 20; ++i) {
        const QJsonObject rec = record(QStringLiteral("reconnect%1").arg(i));
        EXPECT_EQ(rec.value("pid").toInteger(), pid) << i;
        EXPECT_EQ(rec.value("reason").toString(), "application_denied") << i;
    }
    const ProgramRun c = viaCurl("curl-still-allowed");
    EXPECT_EQ(c.out, "200") << c.err.toStdString();
}

#endif // Q_OS_LINUX
