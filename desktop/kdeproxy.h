// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "systemproxy.h"

namespace dfproxy::desktop {

/// KDE's proxy settings: the [Proxy Settings] group of kioslaverc ($XDG_CONFIG_HOME/kioslaverc), read by KIO,
/// Konqueror, Falkon and Chromium/Firefox on Plasma. Edited line by line (QSettings would rewrite the whole file
/// and escape "Proxy Config Script"); KIO reloads it on the org.kde.KIO.Scheduler reparse signal.
/// Keys are kioslaverc's ("ProxyType", "httpProxy", ...); a key absent from the file reads as unset.
class KdeProxyBackend : public SystemProxyBackend
{
public:
    /// `path` defaults to kioslaverc in the per-user config directory; `notify` defaults to sending the reparse
    /// signal with dbus-send when a session bus is there.
    explicit KdeProxyBackend(QString path = {}, std::function<void()> notify = {});

    QString name() const override { return QStringLiteral("kde"); }
    std::optional<Settings> read(QString *error) override;
    Settings desired(const ProxyTarget &target, ProxyMode mode, const Settings &current) const override;
    bool write(const Settings &changes, QString *error) override;

    static QStringList keys();
    /// The values of `keys()` in the [Proxy Settings] group of a kioslaverc text.
    static Settings parse(const QString &text);
    /// `text` with `changes` applied to its [Proxy Settings] group (keys replaced in place, added at the end of
    /// the group, removed when unset; the group added when missing). Every other line is kept as it is.
    static QString edit(const QString &text, const Settings &changes);
    /// Tells running KIO programs to re-read kioslaverc (KF5 and KF6 signal names).
    static void sendReparseSignal();

private:
    QString m_path;
    std::function<void()> m_notify;
};

} // namespace dfproxy::desktop
