// SPDX-License-Identifier: Apache-2.0
#include "gnomeproxy.h"

#include <algorithm>

#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QStandardPaths>

namespace dfproxy::desktop {

namespace {

const QString kProxy = QStringLiteral("org.gnome.system.proxy");
const QString kHttp = QStringLiteral("org.gnome.system.proxy.http");
const QString kHttps = QStringLiteral("org.gnome.system.proxy.https");
const QString kFtp = QStringLiteral("org.gnome.system.proxy.ftp");
const QString kSocks = QStringLiteral("org.gnome.system.proxy.socks");

QString key(const QString &schema, const char *name)
{
    return schema + ' ' + QLatin1String(name);
}

} // namespace

GnomeProxyBackend::GnomeProxyBackend(Runner runner) : m_runner(runner ? std::move(runner) : Runner(runGsettings)) {}

QStringList GnomeProxyBackend::keys()
{
    return {key(kProxy, "mode"), key(kProxy, "autoconfig-url"), key(kProxy, "ignore-hosts"),
            key(kHttp, "host"),  key(kHttp, "port"),            key(kHttps, "host"),
            key(kHttps, "port"), key(kFtp, "host"),             key(kFtp, "port"),
            key(kSocks, "host"), key(kSocks, "port")};
}

Settings GnomeProxyBackend::parseList(const QByteArray &out)
{
    const QStringList wanted = keys();
    Settings s;
    for (const auto &raw : QString::fromUtf8(out).split('\n')) {
        const QString line = raw.trimmed();
        const int a = line.indexOf(' ');
        const int b = a < 0 ? -1 : line.indexOf(' ', a + 1);
        if (b < 0)
            continue;
        const QString k = line.left(b);
        if (wanted.contains(k))
            s.insert(k, line.mid(b + 1));
    }
    return s;
}

QString GnomeProxyBackend::quote(const QString &s)
{
    QString escaped = s;
    escaped.replace('\\', QStringLiteral("\\\\"));
    if (!s.contains('\''))
        return '\'' + escaped + '\'';
    escaped.replace('"', QStringLiteral("\\\""));
    return '"' + escaped + '"';
}

QString GnomeProxyBackend::quoteList(const QStringList &list)
{
    if (list.isEmpty())
        return QStringLiteral("@as []");
    QStringList quoted;
    for (const auto &s : list)
        quoted.append(quote(s));
    return '[' + quoted.join(QStringLiteral(", ")) + ']';
}

Settings GnomeProxyBackend::desired(const ProxyTarget &target, ProxyMode mode, const Settings &) const
{
    Settings s;
    if (mode == ProxyMode::Pac) {
        // ignore-hosts does not apply in 'auto' mode: the PAC file carries the bypass list.
        s.insert(key(kProxy, "mode"), quote("auto"));
        s.insert(key(kProxy, "autoconfig-url"), quote(target.pacUrl));
        return s;
    }
    s.insert(key(kProxy, "mode"), quote("manual"));
    s.insert(key(kHttp, "host"), quote(target.host));
    s.insert(key(kHttp, "port"), QString::number(target.port));
    s.insert(key(kHttps, "host"), quote(target.host));
    s.insert(key(kHttps, "port"), QString::number(target.port));
    // A SOCKS or FTP proxy left in 'manual' mode would still carry other traffic past dfproxy: cleared (and
    // restored with the rest).
    s.insert(key(kFtp, "host"), quote(""));
    s.insert(key(kFtp, "port"), "0");
    s.insert(key(kSocks, "host"), quote(""));
    s.insert(key(kSocks, "port"), "0");
    // CIDR ranges and host names as GNOME understands them; "<local>" (plain names) is Chromium's and WinINet's
    // spelling, which GLib ignores.
    s.insert(key(kProxy, "ignore-hosts"), quoteList(target.bypass));
    return s;
}

QList<QStringList> GnomeProxyBackend::commandsFor(const Settings &changes)
{
    QList<QStringList> out;
    for (auto it = changes.begin(); it != changes.end(); ++it) {
        const QString schema = it.key().section(' ', 0, 0);
        const QString name = it.key().section(' ', 1);
        out.append(it.value() ? QStringList{"set", schema, name, *it.value()} : QStringList{"reset", schema, name});
    }
    return out;
}

std::optional<Settings> GnomeProxyBackend::read(QString *error)
{
    QByteArray out;
    if (!m_runner({"list-recursively", kProxy}, &out, error))
        return std::nullopt;
    Settings s = parseList(out);
    for (const auto &k : keys()) {
        if (!s.contains(k)) {
            *error = QStringLiteral("GSettings has no key %1 (is gsettings-desktop-schemas installed?)").arg(k);
            return std::nullopt;
        }
    }
    return s;
}

bool GnomeProxyBackend::write(const Settings &changes, QString *error)
{
    // The mode goes last: the desktop never switches to 'manual' with half of the host/port written.
    QList<QStringList> commands = commandsFor(changes);
    std::stable_partition(commands.begin(), commands.end(),
                          [](const QStringList &c) { return c.value(2) != QLatin1String("mode"); });
    for (const auto &args : commands) {
        QByteArray out;
        if (!m_runner(args, &out, error))
            return false;
    }
    return true;
}

bool GnomeProxyBackend::runGsettings(const QStringList &args, QByteArray *out, QString *error)
{
    const QString runtime = qEnvironmentVariable("XDG_RUNTIME_DIR");
    if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS") &&
        (runtime.isEmpty() || !QFileInfo::exists(runtime + QStringLiteral("/bus")))) {
        *error = QStringLiteral("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set): GNOME's proxy settings "
                                "can only be changed from the desktop user's session");
        return false;
    }
    const QString program = QStandardPaths::findExecutable(QStringLiteral("gsettings"));
    if (program.isEmpty()) {
        *error = QStringLiteral("gsettings is not installed (Debian: libglib2.0-bin)");
        return false;
    }
    QProcess p;
    p.start(program, args);
    if (!p.waitForFinished(10000)) {
        p.kill();
        p.waitForFinished(1000);
        *error = QStringLiteral("gsettings %1 did not finish in 10 s").arg(args.join(' '));
        return false;
    }
    *out = p.readAllStandardOutput();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        *error = QStringLiteral("gsettings %1: %2")
                     .arg(args.join(' '), QString::fromUtf8(p.readAllStandardError()).trimmed());
        return false;
    }
    return true;
}

} // namespace dfproxy::desktop
