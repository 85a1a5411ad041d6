// SPDX-License-Identifier: Apache-2.0
#include "desktop/kdeproxy.h"

#include "fakebackend.h"
#include "support/tempdir.h"

#include <gtest/gtest.h>

using namespace dfproxy::desktop;
using dfproxy::desktop::test::sampleTarget;

namespace {

const char *kUserFile = "[$Version]\n"
                        "update_info=kioslave.upd:change-proxy-ignore-hosts\n"
                        "\n"
                        "[Proxy Settings]\n"
                        "# my notes\n"
                        "ProxyType=0\n"
                        "httpProxy=http://corp 3128\n"
                        "\n"
                        "[Cookie Policy]\n"
                        "CookieGlobalAdvice=Accept\n";

} // namespace

TEST(KdeProxy, ParsesTheProxyGroupOnlyAndUnsetKeysAreUnset)
{
    const Settings s = KdeProxyBackend::parse(kUserFile);
    EXPECT_EQ(s.value("ProxyType"), SettingValue("0"));
    EXPECT_EQ(s.value("httpProxy"), SettingValue("http://corp 3128"));
    EXPECT_EQ(s.value("Proxy Config Script"), std::nullopt);
    EXPECT_FALSE(s.contains("CookieGlobalAdvice"));
}

TEST(KdeProxy, FixedAndPacSettings)
{
    KdeProxyBackend b("/nonexistent", [] {});
    const Settings fixed = b.desired(sampleTarget(), ProxyMode::Fixed, {});
    EXPECT_EQ(fixed.value("ProxyType"), SettingValue("1"));
    EXPECT_EQ(fixed.value("httpsProxy"), SettingValue("http://127.0.0.1 18080"));
    EXPECT_EQ(fixed.value("socksProxy"), SettingValue(""));
    EXPECT_EQ(fixed.value("ftpProxy"), SettingValue(""));
    EXPECT_TRUE(fixed.value("NoProxyFor")->startsWith("localhost,127.0.0.0/8,::1"));
    const Settings pac = b.desired(sampleTarget(false), ProxyMode::Pac, {});
    EXPECT_EQ(pac, (Settings{{"ProxyType", "2"}, {"Proxy Config Script", "http://127.0.0.1:18080/proxy.pac"}}));
}

TEST(KdeProxy, EditKeepsEveryOtherLineAndRemovesUnsetKeys)
{
    const QString edited = KdeProxyBackend::edit(kUserFile, {{"ProxyType", "2"},
                                                             {"Proxy Config Script", "http://x/proxy.pac"},
                                                             {"httpProxy", std::nullopt}});
    EXPECT_EQ(edited, "[$Version]\n"
                      "update_info=kioslave.upd:change-proxy-ignore-hosts\n"
                      "\n"
                      "[Proxy Settings]\n"
                      "# my notes\n"
                      "ProxyType=2\n"
                      "Proxy Config Script=http://x/proxy.pac\n"
                      "\n"
                      "[Cookie Policy]\n"
                      "CookieGlobalAdvice=Accept\n");
    EXPECT_EQ(KdeProxyBackend::edit("", {{"ProxyType", "1"}}), "[Proxy Settings]\nProxyType=1\n");
}

TEST(KdeProxy, OnAndOffRestoreTheFileByteForByteAndSignalKio)
{
    dfproxy::test::TempDir dir;
    ASSERT_TRUE(dir.writeFile("kioslaverc", kUserFile));
    int signals = 0;
    KdeProxyBackend b(dir.filePath("kioslaverc"), [&] { ++signals; });
    SystemProxySwitch sw(b, dir.filePath("j.json"), [](const QString &) { return true; });
    QString error;
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error)) << error.toStdString();
    EXPECT_TRUE(dir.readFile("kioslaverc").contains("ProxyType=1\n"));
    EXPECT_EQ(signals, 1);
    ASSERT_TRUE(sw.restore(&error)) << error.toStdString();
    EXPECT_EQ(dir.readFile("kioslaverc"), QByteArray(kUserFile));
    EXPECT_EQ(signals, 2);
}
