// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/managedprocess.h"
#include "support/tempdir.h"

#include <QMap>

#include <memory>

namespace dfproxy::test {

/// A private GNOME settings session for the system-proxy tests: its own D-Bus session bus (dbus-daemon, which
/// activates dconf-service), $XDG_CONFIG_HOME (where dconf keeps the settings and dfproxy its journal) and
/// $XDG_RUNTIME_DIR in a temp dir, and XDG_CURRENT_DESKTOP=GNOME. It sets these in the test process's own
/// environment, so dfproxy, dfproxyctl, gsettings and browsers started by the test inherit them; the destructor
/// puts the environment back and stops the bus. Nothing of the machine's own session is read or written.
class GnomeSession
{
public:
    GnomeSession();
    ~GnomeSession();
    GnomeSession(const GnomeSession &) = delete;
    GnomeSession &operator=(const GnomeSession &) = delete;

    /// Why the session cannot run here (a missing program or schema), empty when it can: tests skip with it.
    static QString missingTools();
    /// Starts the bus. False with errorString() when it does not come up.
    bool start();
    QString errorString() const { return m_error; }

    /// Runs `gsettings args...`; returns its stdout, trimmed (empty on failure, with the error in `error`).
    QString gsettings(const QStringList &args, QString *error = nullptr) const;
    /// `gsettings get org.gnome.system.proxy[.SUB] KEY`.
    QString get(const QString &schema, const QString &key) const { return gsettings({"get", schema, key}); }
    /// Every key of org.gnome.system.proxy and its children, as `gsettings list-recursively` prints them.
    QString snapshot() const;
    QString configHome() const { return m_dir.filePath("config"); }

private:
    void setEnv(const char *name, const QString &value);

    TempDir m_dir;
    std::unique_ptr<ManagedProcess> m_bus;
    QMap<QByteArray, std::optional<QByteArray>> m_saved;
    QString m_error;
};

} // namespace dfproxy::test
