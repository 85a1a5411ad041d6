// SPDX-License-Identifier: Apache-2.0
#include "desktop/systemproxy.h"

#include "fakebackend.h"
#include "support/tempdir.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>

#include <gtest/gtest.h>

using namespace dfproxy::desktop;
using dfproxy::desktop::test::FakeBackend;
using dfproxy::desktop::test::sampleTarget;
using dfproxy::test::TempDir;

namespace {

Settings userSettings()
{
    return {{"mode", "none"}, {"host", "corp-proxy.example"}, {"port", "3128"}, {"pac", std::nullopt}};
}

struct SwitchFixture : ::testing::Test
{
    TempDir dir;
    FakeBackend backend;
    bool proxyUp = true;
    QString journalPath = dir.filePath("dfproxy/system-proxy.json");
    SystemProxySwitch sw{backend, journalPath, [this](const QString &) { return proxyUp; }};
    QString error;

    void SetUp() override { backend.os = userSettings(); }
};

} // namespace

TEST(SystemProxy, DefaultModeIsFixedWhenFailClosedAndPacWhenFailOpen)
{
    EXPECT_EQ(sampleTarget(true).defaultMode(), ProxyMode::Fixed);
    EXPECT_EQ(sampleTarget(false).defaultMode(), ProxyMode::Pac);
}

TEST(SystemProxy, TargetRoundTripsThroughJsonAndRejectsAnIncompleteAnswer)
{
    QString error;
    const auto t = ProxyTarget::fromJson(sampleTarget(false).toJson(), &error);
    ASSERT_TRUE(t) << error.toStdString();
    EXPECT_EQ(t->hostPort(), "127.0.0.1:18080");
    EXPECT_FALSE(t->failClosed);
    EXPECT_EQ(t->bypass, defaultBypass());
    const QJsonObject noPort{{"host", "127.0.0.1"}, {"port", 0}, {"failMode", "closed"}};
    EXPECT_FALSE(ProxyTarget::fromJson(noPort, &error));
    EXPECT_FALSE(error.isEmpty());
}

TEST(SystemProxy, Ipv6TargetIsBracketed)
{
    ProxyTarget t = sampleTarget();
    t.host = "::1";
    EXPECT_EQ(t.hostPort(), "[::1]:18080");
}

TEST(SystemProxy, EnvExportsNameTheProxyAndTheBypassWithoutPlainNamesMarker)
{
    const QString env = envExports(sampleTarget());
    EXPECT_TRUE(env.contains("export http_proxy='http://127.0.0.1:18080'\n"));
    EXPECT_TRUE(env.contains("export HTTPS_PROXY='http://127.0.0.1:18080'\n"));
    EXPECT_TRUE(env.contains("export no_proxy='localhost,127.0.0.0/8,::1,"));
    EXPECT_FALSE(env.contains("<local>"));
}

TEST(SystemProxy, JournalRoundTripsIncludingUnsetValues)
{
    Journal j;
    j.backend = "gnome";
    j.previous = {{"a", "'none'"}, {"b", std::nullopt}};
    j.applied = {{"a", "'manual'"}, {"b", "x"}};
    j.mode = ProxyMode::Pac;
    j.proxy = "127.0.0.1:1";
    j.failClosed = false;
    j.setBy = "console";
    QString error;
    const auto back = Journal::fromJson(j.toJson(), &error);
    ASSERT_TRUE(back) << error.toStdString();
    EXPECT_EQ(back->previous, j.previous);
    EXPECT_EQ(back->applied, j.applied);
    EXPECT_EQ(back->mode, ProxyMode::Pac);
    EXPECT_FALSE(back->failClosed);
    EXPECT_EQ(back->setBy, "console");
    EXPECT_FALSE(Journal::fromJson(QJsonObject{{"version", 2}}, &error));
}

TEST(SystemProxy, JournalForOnRecordsTheValuesBeforeForEveryKeyWritten)
{
    const Journal j = journalForOn(std::nullopt, userSettings(), {{"mode", "manual"}, {"pac", "u"}});
    EXPECT_EQ(j.previous, (Settings{{"mode", "none"}, {"pac", std::nullopt}}));
    EXPECT_EQ(j.applied, (Settings{{"mode", "manual"}, {"pac", "u"}}));
}

TEST(SystemProxy, SecondOnKeepsTheUsersValuesNotDfproxysOwn)
{
    Journal first = journalForOn(std::nullopt, userSettings(), {{"mode", "manual"}, {"host", "127.0.0.1"}});
    // The desktop now holds dfproxy's mode; the user changed the host to another proxy meanwhile.
    const Settings now{{"mode", "manual"}, {"host", "other-proxy"}, {"port", "3128"}};
    const Journal second = journalForOn(first, now, {{"mode", "manual"}, {"host", "127.0.0.1"}});
    EXPECT_EQ(second.previous.value("mode"), SettingValue("none"));
    EXPECT_EQ(second.previous.value("host"), SettingValue("other-proxy"));
}

TEST(SystemProxy, RestorePlanLeavesKeysTheUserChangedAlone)
{
    Journal j;
    j.previous = {{"mode", "none"}, {"host", "corp"}, {"pac", std::nullopt}};
    j.applied = {{"mode", "manual"}, {"host", "127.0.0.1"}, {"pac", "u"}};
    QStringList leftAlone;
    const Settings plan = restorePlan(j, {{"mode", "manual"}, {"host", "user-set"}, {"pac", "u"}}, &leftAlone);
    EXPECT_EQ(plan, (Settings{{"mode", "none"}, {"pac", std::nullopt}}));
    EXPECT_EQ(leftAlone, QStringList{"host"});
    EXPECT_EQ(holding(j, {{"mode", "manual"}, {"host", "user-set"}, {"pac", "u"}}), Holding::Some);
    EXPECT_EQ(holding(j, j.applied), Holding::All);
    EXPECT_EQ(holding(j, j.previous), Holding::None);
}

TEST_F(SwitchFixture, OnWritesTheJournalBeforeTheSettingsAndOffRestoresExactly)
{
    backend.failWrites = true;
    EXPECT_FALSE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error));
    // The write failed, but the journal was there first: a restore finds it.
    ASSERT_TRUE(QFile::exists(journalPath));
    backend.failWrites = false;

    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error)) << error.toStdString();
    EXPECT_EQ(backend.os.value("mode"), SettingValue("manual"));
    EXPECT_EQ(backend.os.value("port"), SettingValue("18080"));
    const auto st = sw.status(&error);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->state, SwitchState::On);
    EXPECT_EQ(st->journal->setBy, "test");

    const auto r = sw.restore(&error);
    ASSERT_TRUE(r) << error.toStdString();
    EXPECT_EQ(backend.os, userSettings());
    EXPECT_FALSE(QFile::exists(journalPath));
    EXPECT_EQ(sw.status(&error)->state, SwitchState::Off);
}

TEST_F(SwitchFixture, JournalIsPrivateToItsOwner)
{
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Pac, "test", &error));
#ifndef Q_OS_WIN
    EXPECT_EQ(QFileInfo(journalPath).permissions() & (QFile::ReadGroup | QFile::ReadOther | QFile::WriteGroup |
                                                      QFile::WriteOther),
              QFile::Permissions());
#endif
}

TEST_F(SwitchFixture, JournalRecordsTheValuesAsThePlatformReadsThemBack)
{
    backend.normalise = [](const QString &v) { return "<" + v + ">"; };
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error)) << error.toStdString();
    EXPECT_EQ(sw.status(&error)->state, SwitchState::On);
    ASSERT_TRUE(sw.restore(&error));
    // Restore writes the recorded text back; the fake normalises it again, as GSettings would not.
    EXPECT_EQ(backend.os.value("mode"), SettingValue("<none>"));
}

TEST_F(SwitchFixture, UserChangedSettingsSurviveOff)
{
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error));
    backend.os.insert("host", "the-users-new-proxy");
    const auto r = sw.restore(&error);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->leftAlone, QStringList{"host"});
    EXPECT_EQ(backend.os.value("host"), SettingValue("the-users-new-proxy"));
    EXPECT_EQ(backend.os.value("mode"), SettingValue("none"));
}

TEST_F(SwitchFixture, EverySettingReplacedMeansOverridden)
{
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error));
    backend.os = {{"mode", "auto"}, {"host", "x"}, {"port", "1"}, {"pac", "y"}};
    EXPECT_EQ(sw.status(&error)->state, SwitchState::Overridden);
}

TEST_F(SwitchFixture, StaleFailOpenIsRestoredAndStaleFailClosedIsKeptLoudly)
{
    ASSERT_TRUE(sw.turnOn(sampleTarget(/*failClosed=*/true), ProxyMode::Fixed, "test", &error));
    proxyUp = false;
    EXPECT_EQ(sw.status(&error)->state, SwitchState::Stale);
    const QString kept = sw.recoverStale(false, &error);
    EXPECT_TRUE(kept.startsWith("WARNING")) << kept.toStdString();
    EXPECT_EQ(backend.os.value("mode"), SettingValue("manual"));
    EXPECT_TRUE(QFile::exists(journalPath));
    // The service's own start restores whatever the failMode.
    EXPECT_TRUE(sw.recoverStale(true, &error).contains("restored"));
    EXPECT_EQ(backend.os, userSettings());

    ASSERT_TRUE(sw.turnOn(sampleTarget(/*failClosed=*/false), ProxyMode::Pac, "test", &error));
    EXPECT_TRUE(sw.recoverStale(false, &error).contains("restored"));
    EXPECT_EQ(backend.os, userSettings());
}

TEST_F(SwitchFixture, RunningProxyIsNotStale)
{
    ASSERT_TRUE(sw.turnOn(sampleTarget(false), ProxyMode::Pac, "test", &error));
    EXPECT_TRUE(sw.recoverStale(false, &error).isEmpty());
    EXPECT_EQ(backend.os.value("mode"), SettingValue("auto"));
}

TEST_F(SwitchFixture, OffWithoutJournalChangesNothing)
{
    const auto r = sw.restore(&error);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->hadJournal);
    EXPECT_TRUE(backend.writes.isEmpty());
}

TEST_F(SwitchFixture, UnreadableJournalIsAnErrorNotAFreshStart)
{
    ASSERT_TRUE(QDir().mkpath(dir.filePath("dfproxy")));
    ASSERT_TRUE(dir.writeFile("dfproxy/system-proxy.json", "{not json"));
    EXPECT_FALSE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error));
    EXPECT_TRUE(error.contains("invalid JSON")) << error.toStdString();
    EXPECT_TRUE(backend.writes.isEmpty());
}

TEST(SystemProxy, TcpProbeSaysNoForAClosedPortAndMalformedAddresses)
{
    const quint16 port = dfproxy::test::freeTcpPort();
    EXPECT_FALSE(SystemProxySwitch::tcpProbe(QStringLiteral("127.0.0.1:%1").arg(port), 2000));
    EXPECT_FALSE(SystemProxySwitch::tcpProbe("127.0.0.1", 100));
    EXPECT_FALSE(SystemProxySwitch::tcpProbe("127.0.0.1:99999", 100));
}

TEST(SystemProxy, TargetWithShellOrSettingsMetacharactersIsRefused)
{
    // The target ends up in `eval "$(dfproxyctl system-proxy env)"`, kioslaverc lines and ';'/','-joined lists.
    const QJsonObject good = sampleTarget().toJson();
    QString error;
    ASSERT_TRUE(ProxyTarget::fromJson(good, &error)) << error.toStdString();
    const QList<QPair<QString, QJsonValue>> bad = {
        {"host", "127.0.0.1'; touch /tmp/x; '"},
        {"host", "proxy.example"},
        {"pacUrl", "http://127.0.0.1:1/p.pac\n[Proxy Settings]"},
        {"pacUrl", "file:///etc/passwd"},
        {"bypass", QJsonArray{"localhost", "a;b"}},
        {"bypass", QJsonArray{"it's"}},
        {"bypass", QJsonArray{"x\ny"}},
    };
    for (const auto &[field, value] : bad) {
        QJsonObject o = good;
        o.insert(field, value);
        error.clear();
        EXPECT_FALSE(ProxyTarget::fromJson(o, &error)) << field.toStdString();
        EXPECT_TRUE(error.contains(field)) << error.toStdString();
    }
}

TEST_F(SwitchFixture, RestoreThroughAnotherBackendKeepsTheJournal)
{
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error));
    struct OtherBackend : FakeBackend
    {
        QString name() const override { return QStringLiteral("other"); }
    } other;
    other.os = backend.os;
    SystemProxySwitch wrong(other, journalPath, [](const QString &) { return true; });
    EXPECT_FALSE(wrong.restore(&error));
    EXPECT_TRUE(error.contains("fake")) << error.toStdString();
    EXPECT_TRUE(other.writes.isEmpty());
    EXPECT_TRUE(QFile::exists(journalPath));
    // backendForJournal() picks the journal's backend; "fake" is built nowhere, so there is none.
    EXPECT_EQ(backendForJournal(journalPath, &error), nullptr);
    EXPECT_TRUE(error.contains("fake")) << error.toStdString();
}
