// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "systemproxy.h"

#include <QByteArray>

namespace dfproxy::desktop {

/// GNOME's proxy settings (org.gnome.system.proxy, read by GNOME, GTK/GLib programs and Chromium and Firefox on
/// GNOME) through the `gsettings` program of the user's session: it writes to dconf over the session's D-Bus,
/// which is why this runs in the user's process (dfproxyctl, the console), never in a system service.
/// Keys are "<schema> <key>"; values are GVariant text as `gsettings get` prints it ("'manual'", "8080",
/// "['localhost', '127.0.0.0/8']").
class GnomeProxyBackend : public SystemProxyBackend
{
public:
    /// Runs `gsettings ARGS...`; returns false with `error` (what gsettings printed) when it fails.
    using Runner = std::function<bool(const QStringList &args, QByteArray *out, QString *error)>;

    /// `runner` defaults to the real gsettings program (runGsettings).
    explicit GnomeProxyBackend(Runner runner = {});

    QString name() const override { return QStringLiteral("gnome"); }
    std::optional<Settings> read(QString *error) override;
    Settings desired(const ProxyTarget &target, ProxyMode mode, const Settings &current) const override;
    bool write(const Settings &changes, QString *error) override;

    /// Every key this backend reads and may write.
    static QStringList keys();
    /// The keys of `gsettings list-recursively org.gnome.system.proxy` output ("schema key value" lines).
    static Settings parseList(const QByteArray &out);
    /// A string as GVariant text: 'text' (or "text" when it holds a single quote), backslashes escaped.
    static QString quote(const QString &s);
    /// A string list as GVariant text: ['a', 'b'], or @as [] when empty.
    static QString quoteList(const QStringList &list);
    /// The argument lists write() passes to gsettings for `changes` (set, or reset for an unset value).
    static QList<QStringList> commandsFor(const Settings &changes);
    /// The real gsettings program, bounded to 10 s. Refuses to run without a D-Bus session bus: without it
    /// gsettings silently writes to memory and nothing changes.
    static bool runGsettings(const QStringList &args, QByteArray *out, QString *error);

private:
    Runner m_runner;
};

} // namespace dfproxy::desktop
