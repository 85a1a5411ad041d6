// SPDX-License-Identifier: Apache-2.0
#include "desktop/macproxy.h"

#include "fakebackend.h"
#include "support/tempdir.h"

#include <gtest/gtest.h>

using namespace dfproxy::desktop;
using dfproxy::desktop::test::sampleTarget;

namespace {

/// SystemConfiguration's enabled services (Wi-Fi with a user's proxy, Ethernet without), as text.
struct FakeSc : MacProxyStore
{
    MacServiceProxies *services;
    explicit FakeSc(MacServiceProxies *s) : services(s) {}
    std::optional<MacServiceProxies> read(QString *) override { return *services; }
    bool write(const MacServiceProxies &changes, QString *) override
    {
        for (auto svc = changes.begin(); svc != changes.end(); ++svc) {
            for (auto it = svc.value().begin(); it != svc.value().end(); ++it)
                (*services)[svc.key()].insert(it.key(), it.value());
        }
        return true;
    }
};

MacServiceProxies userServices()
{
    MacServiceProxies s;
    for (const auto &k : MacProxyBackend::serviceKeys()) {
        s["WIFI-ID"].insert(k, std::nullopt);
        s["ETH-ID"].insert(k, std::nullopt);
    }
    s["WIFI-ID"].insert("HTTPEnable", "1");
    s["WIFI-ID"].insert("HTTPProxy", "corp");
    s["WIFI-ID"].insert("HTTPPort", "3128");
    s["WIFI-ID"].insert("ExceptionsList", "[\"*.local\"]");
    return s;
}

} // namespace

TEST(MacProxy, FixedModeCoversEveryEnabledService)
{
    MacServiceProxies services = userServices();
    MacProxyBackend b(std::make_unique<FakeSc>(&services));
    QString error;
    const Settings s = b.desired(sampleTarget(), ProxyMode::Fixed, *b.read(&error));
    for (const QString id : {"WIFI-ID", "ETH-ID"}) {
        EXPECT_EQ(s.value(id + "/HTTPProxy"), SettingValue("127.0.0.1"));
        EXPECT_EQ(s.value(id + "/HTTPSPort"), SettingValue("18080"));
        EXPECT_EQ(s.value(id + "/ProxyAutoConfigEnable"), SettingValue("0"));
        EXPECT_EQ(s.value(id + "/ExcludeSimpleHostnames"), SettingValue("1"));
        EXPECT_EQ(s.value(id + "/SOCKSEnable"), SettingValue("0"));
        EXPECT_EQ(s.value(id + "/FTPEnable"), SettingValue("0"));
        EXPECT_TRUE(s.value(id + "/ExceptionsList")->startsWith("[\"localhost\",\"127.0.0.0/8\""));
    }
    EXPECT_TRUE(MacProxyBackend::isNumberKey("HTTPSPort"));
    EXPECT_FALSE(MacProxyBackend::isNumberKey("HTTPSProxy"));
}

TEST(MacProxy, PacModeTurnsTheFixedProxiesOff)
{
    MacServiceProxies services = userServices();
    MacProxyBackend b(std::make_unique<FakeSc>(&services));
    QString error;
    const Settings s = b.desired(sampleTarget(false), ProxyMode::Pac, *b.read(&error));
    EXPECT_EQ(s.value("WIFI-ID/ProxyAutoConfigEnable"), SettingValue("1"));
    EXPECT_EQ(s.value("WIFI-ID/ProxyAutoConfigURLString"), SettingValue("http://127.0.0.1:18080/proxy.pac"));
    EXPECT_EQ(s.value("WIFI-ID/HTTPEnable"), SettingValue("0"));
}

TEST(MacProxy, OnAndOffRestoreEveryServiceExactly)
{
    MacServiceProxies services = userServices();
    MacProxyBackend b(std::make_unique<FakeSc>(&services));
    dfproxy::test::TempDir dir;
    SystemProxySwitch sw(b, dir.filePath("j.json"), [](const QString &) { return true; });
    QString error;
    ASSERT_TRUE(sw.turnOn(sampleTarget(), ProxyMode::Fixed, "test", &error)) << error.toStdString();
    EXPECT_EQ(services["ETH-ID"].value("HTTPProxy"), SettingValue("127.0.0.1"));
    ASSERT_TRUE(sw.restore(&error)) << error.toStdString();
    EXPECT_EQ(services, userServices());
}
