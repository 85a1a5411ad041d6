// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "systemproxy.h"

namespace dfproxy::desktop {

/// The proxy dictionaries (kSCNetworkProtocolTypeProxies) of the enabled network services, by service ID, with
/// every value as text: numbers in decimal, strings as they are, ExceptionsList as a JSON array.
using MacServiceProxies = QMap<QString, QMap<QString, SettingValue>>;

/// Where SystemConfiguration's preferences live: the real one (macproxy_mac.cpp) uses SCPreferences (and needs
/// the rights to commit them: an administrator); tests use a fake.
class MacProxyStore
{
public:
    virtual ~MacProxyStore() = default;
    /// The enabled network services' proxy settings (only the keys of MacProxyBackend::serviceKeys()).
    virtual std::optional<MacServiceProxies> read(QString *error) = 0;
    /// Changes those keys of those services, commits and applies the preferences in one lock.
    virtual bool write(const MacServiceProxies &changes, QString *error) = 0;
};
/// The real store (macproxy_mac.cpp): defined on macOS only.
std::unique_ptr<MacProxyStore> createMacProxyStore();

/// macOS: every enabled network service's web (HTTP), secure web (HTTPS) proxy or automatic proxy configuration
/// URL, as System Settings > Network > Proxies shows them. Keys are "<service ID>/<SCSchema key>".
class MacProxyBackend : public SystemProxyBackend
{
public:
    explicit MacProxyBackend(std::unique_ptr<MacProxyStore> store);

    QString name() const override { return QStringLiteral("macos"); }
    std::optional<Settings> read(QString *error) override;
    Settings desired(const ProxyTarget &target, ProxyMode mode, const Settings &current) const override;
    bool write(const Settings &changes, QString *error) override;

    /// The SCSchema proxy keys dfproxy reads and may write for each service.
    static QStringList serviceKeys();
    /// Which keys hold numbers (written back as CFNumber) and which an array (ExceptionsList).
    static bool isNumberKey(const QString &key);
    static Settings flatten(const MacServiceProxies &services);
    static MacServiceProxies split(const Settings &settings);

private:
    std::unique_ptr<MacProxyStore> m_store;
};

} // namespace dfproxy::desktop
