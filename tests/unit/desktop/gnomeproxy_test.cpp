// SPDX-License-Identifier: Apache-2.0
#include "desktop/gnomeproxy.h"

#include "fakebackend.h"
#include "support/tempdir.h"

#include <gtest/gtest.h>

using namespace dfproxy::desktop;
using dfproxy::desktop::test::sampleTarget;

namespace {

/// A pretend `gsettings` over a map, answering list-recursively, set and reset like the real program (the
/// end-to-end test against real GSettings/dconf is tests/integration/systemproxy_test.cpp).
struct FakeGsettings
{
    QMap<QString, QString> values{{"org.gnome.system.proxy mode", "'none'"},
                                  {"org.gnome.system.proxy autoconfig-url", "''"},
                                  {"org.gnome.system.proxy ignore-hosts", "['localhost', '127.0.0.0/8', '::1']"},
                                  {"org.gnome.system.proxy use-same-proxy", "true"},
                                  {"org.gnome.system.proxy.http host", "''"},
                                  {"org.gnome.system.proxy.http port", "8080"},
                                  {"org.gnome.system.proxy.https host", "''"},
                                  {"org.gnome.system.proxy.https port", "0"},
                                  {"org.gnome.system.proxy.ftp host", "''"},
                                  {"org.gnome.system.proxy.ftp port", "0"},
                                  {"org.gnome.system.proxy.socks host", "'users-socks.example'"},
                                  {"org.gnome.system.proxy.socks port", "1080"},
                                  {"org.gnome.system.proxy.socks enabled", "false"}};
    QMap<QString, QString> defaults = values;
    QList<QStringList> calls;

    GnomeProxyBackend::Runner runner()
    {
        return [this](const QStringList &args, QByteArray *out, QString *) {
            calls.append(args);
            if (args.value(0) == "list-recursively") {
                for (auto it = values.begin(); it != values.end(); ++it)
                    *out += (it.key() + ' ' + it.value() + '\n').toUtf8();
            } else if (args.value(0) == "set") {
                values.insert(args[1] + ' ' + args[2], args[3]);
            } else if (args.value(0) == "reset") {
                values.insert(args[1] + ' ' + args[2], defaults.value(args[1] + ' ' + args[2]));
            }
            return true;
        };
    }
};

} // namespace

TEST(GnomeProxy, QuotesLikeGVariantText)
{
    EXPECT_EQ(GnomeProxyBackend::quote("manual"), "'manual'");
    EXPECT_EQ(GnomeProxyBackend::quote("it's"), "\"it's\"");
    EXPECT_EQ(GnomeProxyBackend::quote("a\\b"), "'a\\\\b'");
    EXPECT_EQ(GnomeProxyBackend::quoteList({"localhost", "::1"}), "['localhost', '::1']");
    EXPECT_EQ(GnomeProxyBackend::quoteList({}), "@as []");
}

TEST(GnomeProxy, ParsesOnlyTheKeysItManages)
{
    const Settings s = GnomeProxyBackend::parseList("org.gnome.system.proxy mode 'manual'\n"
                                                    "org.gnome.system.proxy.http port 3128\n"
                                                    "org.gnome.system.proxy.socks enabled false\n"
                                                    "org.gnome.system.proxy ignore-hosts ['a b', 'c']\n");
    EXPECT_EQ(s.value("org.gnome.system.proxy mode"), SettingValue("'manual'"));
    EXPECT_EQ(s.value("org.gnome.system.proxy.http port"), SettingValue("3128"));
    EXPECT_EQ(s.value("org.gnome.system.proxy ignore-hosts"), SettingValue("['a b', 'c']"));
    EXPECT_FALSE(s.contains("org.gnome.system.proxy.socks enabled"));
}

TEST(GnomeProxy, FixedModeSetsManualHttpAndHttpsAndTheBypassList)
{
    GnomeProxyBackend b([](const QStringList &, QByteArray *, QString *) { return true; });
    const Settings s = b.desired(sampleTarget(), ProxyMode::Fixed, {});
    EXPECT_EQ(s.value("org.gnome.system.proxy mode"), SettingValue("'manual'"));
    EXPECT_EQ(s.value("org.gnome.system.proxy.http host"), SettingValue("'127.0.0.1'"));
    EXPECT_EQ(s.value("org.gnome.system.proxy.https port"), SettingValue("18080"));
    EXPECT_TRUE(s.value("org.gnome.system.proxy ignore-hosts")->startsWith("['<local>', 'localhost', '127.0.0.0/8'"));
    EXPECT_FALSE(s.contains("org.gnome.system.proxy autoconfig-url"));
    // A user's SOCKS proxy would carry everything that is not HTTP(S) past dfproxy in 'manual' mode.
    EXPECT_EQ(s.value("org.gnome.system.proxy.socks host"), SettingValue("''"));
    EXPECT_EQ(s.value("org.gnome.system.proxy.ftp host"), SettingValue("''"));
}

TEST(GnomeProxy, PacModeSetsAutoAndTheUrlOnly)
{
    GnomeProxyBackend b([](const QStringList &, QByteArray *, QString *) { return true; });
    const Settings s = b.desired(sampleTarget(false), ProxyMode::Pac, {});
    EXPECT_EQ(s, (Settings{{"org.gnome.system.proxy mode", "'auto'"},
                           {"org.gnome.system.proxy autoconfig-url", "'http://127.0.0.1:18080/proxy.pac'"}}));
}

TEST(GnomeProxy, WritesTheModeLastAndResetsUnsetValues)
{
    const auto cmds = GnomeProxyBackend::commandsFor({{"org.gnome.system.proxy.http host", std::nullopt}});
    EXPECT_EQ(cmds.value(0), (QStringList{"reset", "org.gnome.system.proxy.http", "host"}));

    FakeGsettings gs;
    GnomeProxyBackend b(gs.runner());
    QString error;
    ASSERT_TRUE(b.write(b.desired(sampleTarget(), ProxyMode::Fixed, {}), &error));
    EXPECT_EQ(gs.calls.last(), (QStringList{"set", "org.gnome.system.proxy", "mode", "'manual'"}));
}

TEST(GnomeProxy, OnAndOffThroughTheSwitchGiveBackTheExactTexts)
{
    FakeGsettings gs;
    const auto before = gs.values;
    GnomeProxyBackend b(gs.runner());
    dfproxy::test::TempDir dir;
    SystemProxySwitch sw(b, dir.filePath("j.json"), [](const QString &) { return true; });
    QString error;
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error)) << error.toStdString();
    EXPECT_EQ(gs.values.value("org.gnome.system.proxy.http host"), "'127.0.0.1'");
    EXPECT_EQ(gs.values.value("org.gnome.system.proxy.socks host"), "''");
    ASSERT_TRUE(sw.restore(&error)) << error.toStdString();
    EXPECT_EQ(gs.values, before);
}

TEST(GnomeProxy, MissingSchemaIsAPreciseError)
{
    GnomeProxyBackend b([](const QStringList &, QByteArray *out, QString *) {
        *out = "org.gnome.system.proxy mode 'none'\n";
        return true;
    });
    QString error;
    EXPECT_FALSE(b.read(&error));
    EXPECT_TRUE(error.contains("gsettings-desktop-schemas")) << error.toStdString();
}
