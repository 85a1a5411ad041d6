// SPDX-License-Identifier: Apache-2.0
#include "winproxy.h"

namespace dfproxy::desktop {

WinInetBackend::WinInetBackend(std::unique_ptr<WinInetStore> store) : m_store(std::move(store)) {}

Settings WinInetBackend::toSettings(const WinInetOptions &o)
{
    return Settings{{"Flags", QString::number(o.flags)},
                    {"ProxyServer", o.proxyServer},
                    {"ProxyBypass", o.proxyBypass},
                    {"AutoConfigURL", o.autoConfigUrl}};
}

WinInetOptions WinInetBackend::applied(const WinInetOptions &base, const Settings &changes)
{
    WinInetOptions o = base;
    if (changes.contains("Flags")) {
        const SettingValue v = changes.value("Flags");
        o.flags = v ? v->toUInt() : WinInetOptions::Direct;
    }
    if (changes.contains("ProxyServer"))
        o.proxyServer = changes.value("ProxyServer");
    if (changes.contains("ProxyBypass"))
        o.proxyBypass = changes.value("ProxyBypass");
    if (changes.contains("AutoConfigURL"))
        o.autoConfigUrl = changes.value("AutoConfigURL");
    return o;
}

QString WinInetBackend::bypassString(const QStringList &bypass)
{
    return bypass.join(';');
}

std::optional<Settings> WinInetBackend::read(QString *error)
{
    const auto o = m_store->read(error);
    if (!o)
        return std::nullopt;
    return toSettings(*o);
}

Settings WinInetBackend::desired(const ProxyTarget &target, ProxyMode mode, const Settings &) const
{
    if (mode == ProxyMode::Pac) {
        return Settings{{"Flags", QString::number(WinInetOptions::Direct | WinInetOptions::AutoProxyUrl)},
                        {"AutoConfigURL", target.pacUrl}};
    }
    // No AutoDetect: a WPAD answer could send traffic direct, and fixed settings are the fail-closed ones. One
    // server for every scheme (not "http=...;https=..."): a scheme left out of the list would go direct.
    return Settings{{"Flags", QString::number(WinInetOptions::Direct | WinInetOptions::Proxy)},
                    {"ProxyServer", target.hostPort()},
                    {"ProxyBypass", bypassString(target.bypass)}};
}

bool WinInetBackend::write(const Settings &changes, QString *error)
{
    const auto now = m_store->read(error);
    if (!now)
        return false;
    return m_store->write(applied(*now, changes), error);
}

} // namespace dfproxy::desktop
