// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "desktop/systemproxy.h"

namespace dfproxy::desktop::test {

/// A backend whose "OS" is a map: records every write, can normalise values like GSettings does and can fail.
class FakeBackend : public SystemProxyBackend
{
public:
    Settings os;
    QList<Settings> writes;
    bool failWrites = false;
    std::function<QString(const QString &)> normalise = [](const QString &v) { return v; };

    QString name() const override { return QStringLiteral("fake"); }
    std::optional<Settings> read(QString *) override { return os; }
    Settings desired(const ProxyTarget &target, ProxyMode mode, const Settings &) const override
    {
        if (mode == ProxyMode::Pac)
            return {{"mode", "auto"}, {"pac", target.pacUrl}};
        return {{"mode", "manual"}, {"host", target.host}, {"port", QString::number(target.port)}};
    }
    bool write(const Settings &changes, QString *error) override
    {
        if (failWrites) {
            *error = QStringLiteral("refused");
            return false;
        }
        writes.append(changes);
        for (auto it = changes.begin(); it != changes.end(); ++it)
            os.insert(it.key(), it.value() ? SettingValue(normalise(*it.value())) : std::nullopt);
        return true;
    }
};

inline ProxyTarget sampleTarget(bool failClosed = true)
{
    ProxyTarget t;
    t.host = "127.0.0.1";
    t.port = 18080;
    t.pacUrl = "http://127.0.0.1:18080/proxy.pac";
    t.bypass = defaultBypass();
    t.failClosed = failClosed;
    return t;
}

} // namespace dfproxy::desktop::test
