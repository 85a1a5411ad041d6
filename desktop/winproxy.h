// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "systemproxy.h"

namespace dfproxy::desktop {

/// The per-user WinINet proxy options of the default (LAN) connection, as INTERNET_PER_CONN_OPTION_LIST holds them.
struct WinInetOptions
{
    // INTERNET_PER_CONN_FLAGS bits (wininet.h), repeated here so the computation builds and is tested everywhere.
    static constexpr quint32 Direct = 0x1;        ///< PROXY_TYPE_DIRECT
    static constexpr quint32 Proxy = 0x2;         ///< PROXY_TYPE_PROXY
    static constexpr quint32 AutoProxyUrl = 0x4;  ///< PROXY_TYPE_AUTO_PROXY_URL
    static constexpr quint32 AutoDetect = 0x8;    ///< PROXY_TYPE_AUTO_DETECT (WPAD)

    quint32 flags = Direct;
    SettingValue proxyServer;    ///< INTERNET_PER_CONN_PROXY_SERVER, "127.0.0.1:8080" (every scheme)
    SettingValue proxyBypass;    ///< INTERNET_PER_CONN_PROXY_BYPASS, "localhost;<local>;..."
    SettingValue autoConfigUrl;  ///< INTERNET_PER_CONN_AUTOCONFIG_URL
};

/// Where WinINet options live: the real one (winproxy_win.cpp) calls InternetQueryOption/InternetSetOption in the
/// user's process; tests use a fake.
class WinInetStore
{
public:
    virtual ~WinInetStore() = default;
    virtual std::optional<WinInetOptions> read(QString *error) = 0;
    /// Sets all four options, then INTERNET_OPTION_SETTINGS_CHANGED and INTERNET_OPTION_REFRESH.
    virtual bool write(const WinInetOptions &options, QString *error) = 0;
};
/// The real store (winproxy_win.cpp): defined on Windows only.
std::unique_ptr<WinInetStore> createWinInetStore();

/// Windows: the per-user WinINet settings (Internet Options, "Use a proxy server"), read by WinINet, Edge, Chrome
/// and .NET. Set from the user's process: Microsoft does not support WinINet in a service. Keys: "Flags" (decimal),
/// "ProxyServer", "ProxyBypass", "AutoConfigURL".
class WinInetBackend : public SystemProxyBackend
{
public:
    explicit WinInetBackend(std::unique_ptr<WinInetStore> store);

    QString name() const override { return QStringLiteral("wininet"); }
    std::optional<Settings> read(QString *error) override;
    Settings desired(const ProxyTarget &target, ProxyMode mode, const Settings &current) const override;
    bool write(const Settings &changes, QString *error) override;

    static Settings toSettings(const WinInetOptions &o);
    /// `base` with `changes` applied.
    static WinInetOptions applied(const WinInetOptions &base, const Settings &changes);
    /// The bypass list in WinINet's syntax: entries joined with ';'. CIDR ranges are kept as they are (Chromium
    /// and Edge honour them; WinINet matches nothing with them) rather than turned into wildcards such as "10.*",
    /// which WinINet would also match against host names ("10.attacker.example") and send them direct.
    static QString bypassString(const QStringList &bypass);

private:
    std::unique_ptr<WinInetStore> m_store;
};

} // namespace dfproxy::desktop
