// SPDX-License-Identifier: Apache-2.0
#include "support/gnomesession.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>

namespace dfproxy::test {

GnomeSession::GnomeSession() = default;

GnomeSession::~GnomeSession()
{
    if (m_bus)
        m_bus->stop(3000);
    for (auto it = m_saved.begin(); it != m_saved.end(); ++it) {
        if (it.value())
            qputenv(it.key().constData(), *it.value());
        else
            qunsetenv(it.key().constData());
    }
}

QString GnomeSession::missingTools()
{
    for (const char *program : {"dbus-daemon", "gsettings"}) {
        if (QStandardPaths::findExecutable(QLatin1String(program)).isEmpty())
            return QStringLiteral("%1 is not installed (scripts/deps.sh: dbus-daemon, libglib2.0-bin)").arg(program);
    }
    if (!QFile::exists("/usr/share/glib-2.0/schemas/org.gnome.system.proxy.gschema.xml"))
        return QStringLiteral("the org.gnome.system.proxy schema is not installed (gsettings-desktop-schemas)");
    if (!QFile::exists("/usr/share/dbus-1/services/ca.desrt.dconf.service"))
        return QStringLiteral("dconf-service is not installed (dconf-gsettings-backend)");
    return {};
}

void GnomeSession::setEnv(const char *name, const QString &value)
{
    if (!m_saved.contains(name))
        m_saved.insert(name, qEnvironmentVariableIsSet(name) ? std::optional(qgetenv(name)) : std::nullopt);
    if (value.isNull())
        qunsetenv(name);
    else
        qputenv(name, value.toUtf8());
}

bool GnomeSession::start()
{
    const QString runtime = m_dir.filePath("run");
    QDir().mkpath(runtime);
    QFile::setPermissions(runtime, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    QDir().mkpath(configHome());
    setEnv("XDG_CONFIG_HOME", configHome());
    setEnv("XDG_RUNTIME_DIR", runtime);
    setEnv("XDG_CURRENT_DESKTOP", "GNOME");
    setEnv("GSETTINGS_BACKEND", "dconf");
    setEnv("DFPROXY_SYSTEM_PROXY_JOURNAL", QString());
    setEnv("DBUS_SESSION_BUS_ADDRESS", QString());
    const QString address = "unix:path=" + m_dir.filePath("bus");
    m_bus = std::make_unique<ManagedProcess>("dbus-daemon", QStringList{"--session", "--nofork", "--nopidfile",
                                                                        "--address=" + address, "--print-address=1"});
    if (!m_bus->start() || !m_bus->waitForOutput(QRegularExpression("unix:"), 10000, ManagedProcess::Channel::Stdout)) {
        m_error = "dbus-daemon did not start: " + m_bus->describe();
        return false;
    }
    setEnv("DBUS_SESSION_BUS_ADDRESS", address);
    // The first write activates dconf-service; a read back proves that writes reach it.
    QString error;
    gsettings({"set", "org.gnome.system.proxy", "mode", "'none'"}, &error);
    if (!error.isEmpty() || get("org.gnome.system.proxy", "mode") != "'none'") {
        m_error = "GSettings writes do not persist in the private session: " + error;
        return false;
    }
    return true;
}

QString GnomeSession::gsettings(const QStringList &args, QString *error) const
{
    QProcess p;
    p.start("gsettings", args);
    if (!p.waitForFinished(20000) || p.exitCode() != 0) {
        if (error)
            *error = "gsettings " + args.join(' ') + ": " + QString::fromUtf8(p.readAllStandardError());
        p.kill();
        return {};
    }
    return QString::fromUtf8(p.readAllStandardOutput()).trimmed();
}

QString GnomeSession::snapshot() const
{
    return gsettings({"list-recursively", "org.gnome.system.proxy"});
}

} // namespace dfproxy::test
