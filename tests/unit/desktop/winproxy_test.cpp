// SPDX-License-Identifier: Apache-2.0
#include "desktop/winproxy.h"

#include "fakebackend.h"
#include "support/tempdir.h"

#include <gtest/gtest.h>

using namespace dfproxy::desktop;
using dfproxy::desktop::test::sampleTarget;

namespace {

/// What InternetSetOption would hold for the LAN connection.
struct FakeWinInet : WinInetStore
{
    WinInetOptions *options;
    int writes = 0;
    explicit FakeWinInet(WinInetOptions *o) : options(o) {}
    std::optional<WinInetOptions> read(QString *) override { return *options; }
    bool write(const WinInetOptions &o, QString *) override
    {
        *options = o;
        ++writes;
        return true;
    }
};

WinInetOptions userOptions()
{
    WinInetOptions o;
    o.flags = WinInetOptions::Direct | WinInetOptions::AutoDetect;
    o.proxyServer = "corp:3128";
    o.proxyBypass = std::nullopt;
    o.autoConfigUrl = std::nullopt;
    return o;
}

} // namespace

TEST(WinInetProxy, FixedModeIsProxyWithoutAutoDetectAndOneServerForEveryScheme)
{
    WinInetOptions o = userOptions();
    WinInetBackend b(std::make_unique<FakeWinInet>(&o));
    const Settings s = b.desired(sampleTarget(), ProxyMode::Fixed, {});
    EXPECT_EQ(s.value("Flags"), SettingValue("3"));
    // "http=...;https=..." would send every other scheme (ftp, socks) direct.
    EXPECT_EQ(s.value("ProxyServer"), SettingValue("127.0.0.1:18080"));
    EXPECT_EQ(s.value("ProxyBypass"),
              SettingValue("<local>;localhost;127.0.0.0/8;::1;169.254.0.0/16;fe80::/10;10.0.0.0/8;172.16.0.0/12;"
                           "192.168.0.0/16"));
}

TEST(WinInetProxy, BypassNeverBecomesAHostNameWildcard)
{
    // "10.*" would also match "10.attacker.example" and send it direct.
    EXPECT_FALSE(WinInetBackend::bypassString(defaultBypass()).contains(".*"));
}

TEST(WinInetProxy, PacModeSetsTheAutoConfigUrl)
{
    WinInetOptions o = userOptions();
    WinInetBackend b(std::make_unique<FakeWinInet>(&o));
    const Settings s = b.desired(sampleTarget(false), ProxyMode::Pac, {});
    EXPECT_EQ(s, (Settings{{"Flags", "5"}, {"AutoConfigURL", "http://127.0.0.1:18080/proxy.pac"}}));
}

TEST(WinInetProxy, OnAndOffRestoreEveryOption)
{
    WinInetOptions o = userOptions();
    auto store = std::make_unique<FakeWinInet>(&o);
    auto *fake = store.get();
    WinInetBackend b(std::move(store));
    dfproxy::test::TempDir dir;
    SystemProxySwitch sw(b, dir.filePath("j.json"), [](const QString &) { return true; });
    QString error;
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error)) << error.toStdString();
    EXPECT_EQ(o.flags, 3u);
    EXPECT_EQ(o.proxyServer, SettingValue("127.0.0.1:18080"));
    ASSERT_TRUE(sw.restore(&error)) << error.toStdString();
    EXPECT_EQ(o.flags, userOptions().flags);
    EXPECT_EQ(o.proxyServer, userOptions().proxyServer);
    EXPECT_EQ(o.proxyBypass, std::nullopt);
    EXPECT_EQ(fake->writes, 2);
}
