// SPDX-License-Identifier: Apache-2.0
// The system-proxy switch end to end on Linux (issue #23 items 2, 3, 5): the real dfproxy and dfproxyctl against
// real GSettings/dconf in a private D-Bus session (support/gnomesession.h). `on` points GNOME at dfproxy; `off`, a
// clean stop and a kill -9 followed by a restart each leave the settings exactly as they were; settings the user
// changed meanwhile are left alone.
#include "support/gnomesession.h"
#include "support/testsupport.h"

#include <QFile>
#include <QJsonDocument>

#include <csignal>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

const QString kProxy = QStringLiteral("org.gnome.system.proxy");
const QString kHttp = QStringLiteral("org.gnome.system.proxy.http");
const QString kHttps = QStringLiteral("org.gnome.system.proxy.https");

class GnomeSystemProxy : public ::testing::Test
{
protected:
    void SetUp() override
    {
        const QString missing = GnomeSession::missingTools();
        if (!missing.isEmpty())
            GTEST_SKIP() << missing.toStdString();
        ASSERT_TRUE(session.start()) << session.errorString().toStdString();
        // A user's own settings: a corporate proxy, switched off, with their own exceptions.
        for (const QStringList &set : {QStringList{"set", kProxy, "ignore-hosts", "['corp.example', 'localhost']"},
                                       QStringList{"set", kHttp, "host", "'corp-proxy.example'"},
                                       QStringList{"set", kHttp, "port", "3128"},
                                       QStringList{"set", kProxy + ".socks", "host", "'users-socks.example'"},
                                       QStringList{"set", kProxy + ".socks", "port", "1080"}}) {
            QString error;
            session.gsettings(set, &error);
            ASSERT_TRUE(error.isEmpty()) << error.toStdString();
        }
        before = session.snapshot();
        ASSERT_TRUE(before.contains("corp-proxy.example")) << before.toStdString();
        ASSERT_TRUE(dfproxy.start()) << dfproxy.errorString().toStdString();
    }

    QString journalPath() const { return session.configHome() + "/dfproxy/system-proxy.json"; }

    void turnOn(const QStringList &extra = {})
    {
        const auto r = dfproxy.ctl(QStringList{"system-proxy", "on"} + extra);
        ASSERT_EQ(r.exitCode, 0) << r.out.toStdString() << r.err.toStdString();
        ASSERT_TRUE(QFile::exists(journalPath()));
    }

    GnomeSession session;
    DfproxyProcess dfproxy;
    QString before;
};

} // namespace

TEST_F(GnomeSystemProxy, OnPointsGnomeAtDfproxyWithFixedSettingsAndOffRestoresExactly)
{
    turnOn();
    EXPECT_EQ(session.get(kProxy, "mode"), "'manual'");
    EXPECT_EQ(session.get(kHttp, "host"), "'127.0.0.1'");
    EXPECT_EQ(session.get(kHttp, "port"), QString::number(dfproxy.proxyPort()));
    EXPECT_EQ(session.get(kHttps, "host"), "'127.0.0.1'");
    EXPECT_EQ(session.get(kHttps, "port"), QString::number(dfproxy.proxyPort()));
    EXPECT_TRUE(session.get(kProxy, "ignore-hosts").contains("'192.168.0.0/16'"));
    // The user's SOCKS proxy would carry non-HTTP traffic past dfproxy in 'manual' mode.
    EXPECT_EQ(session.get(kProxy + ".socks", "host"), "''");
#ifndef Q_OS_WIN
    EXPECT_EQ(QFile(journalPath()).permissions() & (QFile::ReadGroup | QFile::ReadOther), QFile::Permissions());
#endif

    const auto status = dfproxy.ctl({"system-proxy", "status"});
    EXPECT_EQ(status.exitCode, 0) << status.err.toStdString();
    EXPECT_TRUE(status.out.contains("state:    on")) << status.out.toStdString();
    EXPECT_TRUE(status.out.contains("mode:     fixed")) << status.out.toStdString();
    EXPECT_TRUE(status.out.contains("set by:   dfproxyctl")) << status.out.toStdString();
    const auto json = dfproxy.ctl({"system-proxy", "status", "-o", "json"});
    const auto o = QJsonDocument::fromJson(json.out.toUtf8()).object();
    EXPECT_EQ(o.value("backend").toString(), "gnome");
    EXPECT_EQ(o.value("previous").toObject().value(kHttp + " host").toString(), "'corp-proxy.example'");

    const auto off = dfproxy.ctl({"system-proxy", "off"});
    EXPECT_EQ(off.exitCode, 0) << off.err.toStdString();
    EXPECT_EQ(session.snapshot(), before);
    EXPECT_FALSE(QFile::exists(journalPath()));
    EXPECT_TRUE(dfproxy.ctl({"system-proxy", "status"}).out.contains("state:    off"));
}

TEST_F(GnomeSystemProxy, PacModeSetsTheAutoconfigUrlAndWarnsThatItCannotBeFailClosed)
{
    const auto r = dfproxy.ctl({"system-proxy", "on", "--pac"});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(r.err.contains("cannot be fail-closed")) << r.err.toStdString();
    EXPECT_EQ(session.get(kProxy, "mode"), "'auto'");
    EXPECT_EQ(session.get(kProxy, "autoconfig-url"),
              QStringLiteral("'http://127.0.0.1:%1/proxy.pac'").arg(dfproxy.proxyPort()));
    ASSERT_EQ(dfproxy.ctl({"system-proxy", "off"}).exitCode, 0);
    EXPECT_EQ(session.snapshot(), before);
}

TEST_F(GnomeSystemProxy, SettingsTheUserChangedMeanwhileAreLeftAlone)
{
    turnOn();
    session.gsettings({"set", kHttps, "host", "'the-users-new-proxy'"});
    const auto off = dfproxy.ctl({"system-proxy", "off"});
    EXPECT_EQ(off.exitCode, 0) << off.err.toStdString();
    EXPECT_TRUE(off.out.contains("left alone (changed since dfproxy set it): " + kHttps + " host"))
        << off.out.toStdString();
    EXPECT_EQ(session.get(kHttps, "host"), "'the-users-new-proxy'");
    EXPECT_EQ(session.get(kProxy, "mode"), "'none'");
    EXPECT_EQ(session.get(kHttp, "host"), "'corp-proxy.example'");
}

TEST_F(GnomeSystemProxy, CleanStopRestores)
{
    turnOn();
    dfproxy.process()->stop();
    EXPECT_EQ(session.snapshot(), before);
    EXPECT_FALSE(QFile::exists(journalPath()));
}

TEST_F(GnomeSystemProxy, AfterKillDashNineCtlKeepsFailClosedSettingsLoudlyAndARestartRestores)
{
    turnOn();
    ASSERT_TRUE(dfproxy.process()->sendSignal(SIGKILL));
    ASSERT_TRUE(dfproxy.process()->waitForExit(10000));

    // failMode closed (the default): the desktop stays pointed at the stopped proxy, egress blocked, and says so.
    const auto status = dfproxy.ctl({"system-proxy", "status"});
    EXPECT_TRUE(status.err.contains("WARNING")) << status.err.toStdString();
    EXPECT_TRUE(status.out.contains("state:    stale")) << status.out.toStdString();
    EXPECT_EQ(session.get(kProxy, "mode"), "'manual'");

    ASSERT_TRUE(dfproxy.restart()) << dfproxy.errorString().toStdString();
    EXPECT_EQ(session.snapshot(), before);
    EXPECT_FALSE(QFile::exists(journalPath()));
    EXPECT_TRUE(dfproxy.process()->stderrData().contains("system proxy: "));
}

TEST_F(GnomeSystemProxy, EnvPrintsShellExports)
{
    const auto r = dfproxy.ctl({"system-proxy", "env"});
    ASSERT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(r.out.contains(QStringLiteral("export http_proxy='http://127.0.0.1:%1'").arg(dfproxy.proxyPort())));
    EXPECT_TRUE(r.out.contains("export no_proxy='localhost,127.0.0.0/8,::1,"));
}

TEST_F(GnomeSystemProxy, ServiceReportsTheTargetAndRefusesToSetAPerUserSetting)
{
    const auto get = dfproxy.apiGet("/api/v1/system-proxy");
    ASSERT_EQ(get.status, 200) << get.body.toStdString();
    const auto o = QJsonDocument::fromJson(get.body).object();
    EXPECT_EQ(o.value("proxy").toString(), QStringLiteral("127.0.0.1:%1").arg(dfproxy.proxyPort()));
    EXPECT_EQ(o.value("failMode").toString(), "closed");
    EXPECT_EQ(o.value("defaultMode").toString(), "fixed");
    EXPECT_EQ(o.value("pacUrl").toString(), QStringLiteral("http://127.0.0.1:%1/proxy.pac").arg(dfproxy.proxyPort()));
    const auto put = dfproxy.api("PUT", "/api/v1/system-proxy", R"({"mode":"fixed"})");
    EXPECT_EQ(put.status, 409);
    EXPECT_TRUE(put.body.contains("dfproxyctl system-proxy on")) << put.body.toStdString();
}

TEST(SystemProxyCtl, UsageErrorsArePrecise)
{
    DfproxyProcess dfproxy;
    for (const QStringList &args : {QStringList{"system-proxy"}, QStringList{"system-proxy", "sideways"},
                                    QStringList{"system-proxy", "off", "--pac"},
                                    QStringList{"system-proxy", "on", "--pac", "--fixed"}}) {
        const auto r = dfproxy.ctl(args);
        EXPECT_EQ(r.exitCode, 1) << args.join(' ').toStdString();
        EXPECT_TRUE(r.err.startsWith("error: ")) << r.err.toStdString();
    }
}

TEST_F(GnomeSystemProxy, FailOpenUsesThePacUrlAndTheNextCtlCommandRestoresAfterAKill)
{
    const QString gateway = QStringLiteral(
                                "apiVersion: gateway.networking.k8s.io/v1\n"
                                "kind: Gateway\n"
                                "metadata:\n"
                                "  name: agentgateway-proxy\n"
                                "  namespace: agentgateway-system\n"
                                "  annotations:\n"
                                "    dfproxy.dev/pac-fail-mode: open\n"
                                "spec:\n"
                                "  gatewayClassName: agentgateway\n"
                                "  listeners:\n"
                                "  - name: http\n"
                                "    protocol: HTTP\n"
                                "    port: %1\n")
                                .arg(dfproxy.proxyPort());
    const auto applied = dfproxy.ctl({"apply", "-f", "-"}, gateway.toUtf8());
    ASSERT_EQ(applied.exitCode, 0) << applied.err.toStdString();
    ASSERT_TRUE(waitUntil([&] { return dfproxy.apiGet("/api/v1/system-proxy").body.contains("\"open\""); }, 10000));

    const auto on = dfproxy.ctl({"system-proxy", "on"});
    ASSERT_EQ(on.exitCode, 0) << on.err.toStdString();
    EXPECT_FALSE(on.err.contains("warning")) << on.err.toStdString();
    EXPECT_EQ(session.get(kProxy, "mode"), "'auto'");

    ASSERT_TRUE(dfproxy.process()->sendSignal(SIGKILL));
    ASSERT_TRUE(dfproxy.process()->waitForExit(10000));
    // failMode open: a stopped proxy means direct anyway, so any system-proxy command puts the settings back.
    const auto status = dfproxy.ctl({"system-proxy", "status"});
    EXPECT_TRUE(status.err.contains("restored")) << status.err.toStdString();
    EXPECT_TRUE(status.out.contains("state:    off")) << status.out.toStdString();
    EXPECT_EQ(session.snapshot(), before);
}
