// SPDX-License-Identifier: Apache-2.0
// dfproxyctl against the real dfproxy: edit (with a scripted $EDITOR), dns, stats, server, logs, get -o, help.
#include "support/testsupport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

const QByteArray kBackendYaml = dfproxy::test::seedBackendYaml();

std::string both(const DfproxyProcess::CtlResult &r)
{
    return (r.out + "\n--- stderr ---\n" + r.err).toStdString();
}

// Sets an environment variable for the dfproxyctl runs of one test.
class ScopedEnv
{
public:
    ScopedEnv(const char *name, const QByteArray &value) : m_name(name) { qputenv(name, value); }
    ~ScopedEnv() { qunsetenv(m_name); }

private:
    const char *m_name;
};

class Dfproxyctl : public ::testing::Test
{
protected:
    void SetUp() override
    {
        qunsetenv("DFPROXY_EDITOR");
        qunsetenv("KUBE_EDITOR");
        qunsetenv("VISUAL");
        ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
        const auto r = proxy.ctl({"apply", "-f", "-"}, kBackendYaml);
        ASSERT_EQ(r.exitCode, 0) << both(r);
    }

    // An editor script; `body` is shell run with the file as $1.
    QByteArray editorScript(const QString &name, const QByteArray &body)
    {
        const QString path = proxy.dir().filePath(name);
        proxy.dir().writeFile(name, "#!/bin/sh\nset -e\n" + body + "\n");
        QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        return path.toUtf8();
    }

    DfproxyProcess proxy;
};

} // namespace

TEST_F(Dfproxyctl, EditAppliesWhatTheEditorSaved)
{
    ScopedEnv editor("EDITOR", editorScript("edit.sh", R"(sed -i 's/namespace: httpbin/namespace: httpbin\n  labels:\n    edited: "yes"/' "$1")"));
    auto r = proxy.ctl({"edit", "backend", "dfp-backend", "-n", "httpbin"});
    ASSERT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.out.contains("agentgatewaybackend.agentgateway.dev/dfp-backend edited")) << both(r);
    r = proxy.ctl({"get", "backend", "dfp-backend", "-n", "httpbin", "-o", "json"});
    ASSERT_EQ(r.exitCode, 0) << both(r);
    const auto obj = QJsonDocument::fromJson(r.out.toUtf8()).object();
    EXPECT_EQ(obj.value("metadata").toObject().value("labels").toObject().value("edited").toString(), "yes") << both(r);
}

TEST_F(Dfproxyctl, EditReopensWithTheServersErrorUntilFixed)
{
    // First save: an invalid spec. Second time (the error is on top): fix it.
    ScopedEnv editor("EDITOR", editorScript("edit.sh", R"(
if grep -q '^# Error' "$1"; then
  grep -q 'spec' "$1" && echo seen-error >> "$1.log"
  sed -i 's/bogusField: 1/dynamicForwardProxy: {}/' "$1"
else
  sed -i 's/dynamicForwardProxy: {}/bogusField: 1/' "$1"
  echo first >> "$1.log"
fi)"));
    const auto r = proxy.ctl({"edit", "backends", "dfp-backend", "-n", "httpbin"});
    // The second save restored the original object: nothing to change, a clean exit.
    EXPECT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.err.contains("no changes")) << both(r);

    // An editor that keeps saving the same invalid object gives up with exit 1, like kubectl.
    ScopedEnv stubborn("EDITOR", editorScript("bad.sh", R"(sed -i 's/dynamicForwardProxy: {}/bogusField: 1/' "$1")"));
    const auto bad = proxy.ctl({"edit", "backends", "dfp-backend", "-n", "httpbin"});
    EXPECT_EQ(bad.exitCode, 1) << both(bad);
    EXPECT_TRUE(bad.err.contains("Edit cancelled, no valid changes were saved")) << both(bad);
    EXPECT_TRUE(bad.err.contains("A copy of your changes has been stored")) << both(bad);
}

TEST_F(Dfproxyctl, EditOfMissingObjectFails)
{
    ScopedEnv editor("EDITOR", "true");
    const auto r = proxy.ctl({"edit", "httproute", "nope", "-n", "httpbin"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_TRUE(r.err.contains("NotFound")) << both(r);
}

TEST_F(Dfproxyctl, DnsCommands)
{
    auto r = proxy.ctl({"dns", "list"});
    EXPECT_EQ(r.exitCode, 0) << both(r);
    // An IP literal resolves without any DNS server.
    r = proxy.ctl({"dns", "resolve", "127.0.0.1:8080"});
    EXPECT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.out.contains("127.0.0.1:8080")) << both(r);
    r = proxy.ctl({"dns", "list", "-o", "json"});
    ASSERT_EQ(r.exitCode, 0) << both(r);
    const auto items = QJsonDocument::fromJson(r.out.toUtf8()).object().value("items").toArray();
    if (!items.isEmpty()) { // the cache may answer IP literals without an entry
        r = proxy.ctl({"dns", "list"});
        EXPECT_TRUE(r.out.contains("HOST:PORT")) << both(r);
        r = proxy.ctl({"dns", "rm", items[0].toObject().value("key").toString()});
        EXPECT_EQ(r.exitCode, 0) << both(r);
        EXPECT_TRUE(r.out.contains("removed")) << both(r);
    }
    r = proxy.ctl({"dns", "rm", "nowhere.test:80"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_TRUE(r.err.contains("not in the DNS cache")) << both(r);
    r = proxy.ctl({"dns", "flush"});
    EXPECT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.out.contains("flushed")) << both(r);
    r = proxy.ctl({"dns", "frobnicate"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_TRUE(r.err.contains("unknown dns subcommand")) << both(r);
}

TEST_F(Dfproxyctl, StatsServerAndGetFormats)
{
    auto r = proxy.ctl({"stats"});
    ASSERT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(QJsonDocument::fromJson(r.out.toUtf8()).object().contains("dns")) << both(r);
    r = proxy.ctl({"server"});
    EXPECT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.out.contains("configPath:")) << both(r);
    r = proxy.ctl({"get", "backends", "-n", "httpbin", "-o", "yaml"});
    EXPECT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.out.contains("name: dfp-backend")) << both(r);
    r = proxy.ctl({"get", "backends", "-n", "httpbin"});
    EXPECT_TRUE(r.out.startsWith("NAMESPACE")) << both(r);
    r = proxy.ctl({"export"});
    EXPECT_EQ(r.exitCode, 0) << both(r);
    EXPECT_TRUE(r.out.contains("kind: AgentgatewayBackend")) << both(r);
}

TEST_F(Dfproxyctl, LogsPrintsRecentRecordsAndFollowsNewOnes)
{
    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << origin.describe();
    ASSERT_EQ(proxy.ctl({"apply", "-f", "-"}, seedRouteYaml()).exitCode, 0);
    // An IP literal needs no DNS server.
    const QString host = "host: " + origin.authority();
    ASSERT_EQ(curl({"-H", host, proxy.proxyUrl("/headers?first")}).status, 200);

    auto r = proxy.ctl({"logs", "--tail", "5"});
    ASSERT_EQ(r.exitCode, 0) << both(r);
    const auto lines = r.out.split('\n', Qt::SkipEmptyParts);
    ASSERT_EQ(lines.size(), 1) << both(r);
    const auto record = QJsonDocument::fromJson(lines[0].toUtf8()).object();
    EXPECT_EQ(record.value("status").toInt(), 200) << both(r);
    EXPECT_TRUE(record.value("path").toString().contains("first")) << both(r);

    // logs -f --tail N: the recent records, then each request made after it started, one JSON line each.
    ManagedProcess follow(buildBinary("dfproxyctl"), {"--config", proxy.configPath(), "logs", "-f", "--tail", "5"});
    ASSERT_TRUE(follow.start()) << follow.describe();
    ASSERT_TRUE(waitUntil([&] { return follow.stdoutData().contains("first"); }, 10000)) << follow.describe();
    ASSERT_EQ(curl({"-H", host, proxy.proxyUrl("/headers?second")}).status, 200);
    EXPECT_TRUE(waitUntil([&] { return follow.stdoutData().contains("second"); }, 10000)) << follow.describe();
    follow.stop();
}

TEST_F(Dfproxyctl, EveryCommandHasHelp)
{
    for (const QString cmd : {"apply", "get", "describe", "delete", "export", "edit", "dns", "stats", "logs", "server",
                              "version"}) {
        const auto r = proxy.ctl({cmd, "--help"});
        EXPECT_EQ(r.exitCode, 0) << cmd.toStdString() << both(r);
        EXPECT_TRUE(r.out.startsWith("Usage: dfproxyctl " + cmd)) << both(r);
    }
    const auto r = proxy.ctl({"bogus"});
    EXPECT_EQ(r.exitCode, 1);
}
