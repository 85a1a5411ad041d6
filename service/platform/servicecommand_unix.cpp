// SPDX-License-Identifier: Apache-2.0
// `dfproxy service ...` on Linux (systemd) and macOS (launchd).
#include "platform/servicemanager.h"

#include <QtGlobal>

#ifndef Q_OS_WIN
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSaveFile>

#include <cstdio>
#include <unistd.h>

namespace dfproxy::platform {
namespace {

void say(const QString &text)
{
    std::printf("%s\n", qPrintable(text));
    std::fflush(stdout);
}

void fail(const QString &text)
{
    std::fprintf(stderr, "dfproxy service: %s\n", qPrintable(text));
}

/// Runs a command with the terminal attached, echoing it first. Returns its exit code, or -1 when it could not run.
int run(const QString &program, const QStringList &arguments, bool quiet = false)
{
    if (!quiet)
        say(QStringLiteral("+ %1 %2").arg(program, arguments.join(' ')));
    QProcess p;
    p.setProcessChannelMode(quiet ? QProcess::SeparateChannels : QProcess::ForwardedChannels);
    p.start(program, arguments);
    if (!p.waitForStarted(10000)) {
        fail(QStringLiteral("cannot run %1: %2").arg(program, p.errorString()));
        return -1;
    }
    p.waitForFinished(-1);
    return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

QByteArray resourceText(const QString &name)
{
    QFile f(name);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeFile(const QString &path, const QByteArray &text, QString *error)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size() || !f.commit()) {
        *error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther);
    return true;
}

int usage()
{
    fail(QStringLiteral("usage: dfproxy service install|uninstall|start|stop|status"));
    return 2;
}

bool needRoot(const QString &verb)
{
    if (::geteuid() == 0)
        return true;
    fail(QStringLiteral("'%1' changes the system service: run it as root (sudo dfproxy service %1)").arg(verb));
    return false;
}

#ifdef Q_OS_MACOS
// ---- macOS: a launchd daemon -------------------------------------------------------------------------------------
const QString kLabel = QStringLiteral("dev.dfproxy.dfproxy");
const QString kPlist = QStringLiteral("/Library/LaunchDaemons/dev.dfproxy.dfproxy.plist");
const QString kTemplateProgram = QStringLiteral("/Applications/dfproxy-console.app/Contents/MacOS/dfproxy");

bool loaded()
{
    return run(QStringLiteral("/bin/launchctl"), {QStringLiteral("print"), "system/" + kLabel}, true) == 0;
}

int install()
{
    QByteArray plist = resourceText(QStringLiteral(":/dfproxy/launchd/dev.dfproxy.dfproxy.plist"));
    if (plist.isEmpty()) {
        fail(QStringLiteral("the launchd template is missing from this binary"));
        return 1;
    }
    QString program = QCoreApplication::applicationFilePath().toHtmlEscaped();
    plist.replace(kTemplateProgram.toUtf8(), program.toUtf8());
    const QString configDir = QFileInfo(systemConfigPath()).absolutePath();
    for (const QString &dir : {configDir, QStringLiteral("/Library/Logs/dfproxy")}) {
        if (!QDir().mkpath(dir)) {
            fail(QStringLiteral("cannot create %1").arg(dir));
            return 1;
        }
    }
    QString error;
    if (loaded())
        run(QStringLiteral("/bin/launchctl"), {QStringLiteral("bootout"), "system/" + kLabel});
    if (!writeFile(kPlist, plist, &error)) {
        fail(error);
        return 1;
    }
    say(QStringLiteral("wrote %1 (config %2, log /Library/Logs/dfproxy/dfproxy.log)").arg(kPlist, systemConfigPath()));
    return run(QStringLiteral("/bin/launchctl"), {QStringLiteral("bootstrap"), QStringLiteral("system"), kPlist}) == 0 ? 0 : 1;
}

int uninstall()
{
    if (!QFileInfo::exists(kPlist) && !loaded()) {
        say(QStringLiteral("dfproxy is not installed as a launchd daemon (%1 does not exist)").arg(kPlist));
        return 0;
    }
    if (loaded())
        run(QStringLiteral("/bin/launchctl"), {QStringLiteral("bootout"), "system/" + kLabel});
    if (QFileInfo::exists(kPlist) && !QFile::remove(kPlist)) {
        fail(QStringLiteral("cannot remove %1").arg(kPlist));
        return 1;
    }
    say(QStringLiteral("removed %1; kept the config in %2 and the logs in /Library/Logs/dfproxy")
            .arg(kPlist, QFileInfo(systemConfigPath()).absolutePath()));
    return 0;
}

int control(const QString &verb)
{
    if (!QFileInfo::exists(kPlist)) {
        fail(QStringLiteral("dfproxy is not installed as a launchd daemon: run 'sudo dfproxy service install' first"));
        return verb == QLatin1String("status") ? 3 : 1;
    }
    const QString launchctl = QStringLiteral("/bin/launchctl");
    if (verb == QLatin1String("start")) {
        // KeepAlive restarts a killed daemon, so "stopped" means "booted out": starting bootstraps it again.
        if (loaded())
            return run(launchctl, {QStringLiteral("kickstart"), "system/" + kLabel}) == 0 ? 0 : 1;
        return run(launchctl, {QStringLiteral("bootstrap"), QStringLiteral("system"), kPlist}) == 0 ? 0 : 1;
    }
    if (verb == QLatin1String("stop")) {
        if (!loaded()) {
            say(QStringLiteral("dfproxy is not running"));
            return 0;
        }
        return run(launchctl, {QStringLiteral("bootout"), "system/" + kLabel}) == 0 ? 0 : 1;
    }
    if (!loaded()) {
        say(QStringLiteral("dfproxy: installed (%1), not loaded").arg(kPlist));
        return 3;
    }
    return run(launchctl, {QStringLiteral("print"), "system/" + kLabel}) == 0 ? 0 : 3;
}

#else
// ---- Linux and other Unix: a systemd unit -------------------------------------------------------------------------
const QString kUnitName = QStringLiteral("dfproxy.service");
const QString kUnitPath = QStringLiteral("/etc/systemd/system/dfproxy.service");
const QString kSystemctl = QStringLiteral("systemctl");

/// The unit the Debian package ships, if it is installed.
QString packagedUnit()
{
    for (const QString &p : {QStringLiteral("/lib/systemd/system/dfproxy.service"),
                             QStringLiteral("/usr/lib/systemd/system/dfproxy.service")}) {
        if (QFileInfo::exists(p))
            return p;
    }
    return {};
}

int install()
{
    if (const QString packaged = packagedUnit(); !packaged.isEmpty()) {
        fail(QStringLiteral("dfproxy is installed from a package (unit %1): it is already a service; use "
                            "'dfproxy service start|stop|status'").arg(packaged));
        return 1;
    }
    QByteArray unit = resourceText(QStringLiteral(":/dfproxy/systemd/dfproxy.service"));
    if (unit.isEmpty()) {
        fail(QStringLiteral("the systemd unit template is missing from this binary"));
        return 1;
    }
    // systemd splits ExecStart= on spaces; a path with spaces must be quoted.
    QString program = QCoreApplication::applicationFilePath();
    if (program.contains(' '))
        program = '"' + program + '"';
    unit.replace("ExecStart=/usr/bin/dfproxy ", "ExecStart=" + program.toUtf8() + ' ');

    if (run(QStringLiteral("getent"), {QStringLiteral("passwd"), QStringLiteral("dfproxy")}, true) != 0) {
        if (run(QStringLiteral("useradd"), {QStringLiteral("--system"), QStringLiteral("--user-group"),
                                            QStringLiteral("--home-dir"), QStringLiteral("/var/lib/dfproxy"),
                                            QStringLiteral("--no-create-home"), QStringLiteral("--shell"),
                                            QStringLiteral("/usr/sbin/nologin"), QStringLiteral("dfproxy")}) != 0) {
            fail(QStringLiteral("cannot create the system user dfproxy"));
            return 1;
        }
    }
    const QStringList dirs = {QStringLiteral("/etc/dfproxy"), QStringLiteral("/var/lib/dfproxy"),
                              QStringLiteral("/var/log/dfproxy")};
    for (const QString &dir : dirs) {
        if (!QDir().mkpath(dir)) {
            fail(QStringLiteral("cannot create %1").arg(dir));
            return 1;
        }
    }
    // The service writes its config (admin API changes) and its admin token into /etc/dfproxy.
    if (run(QStringLiteral("chown"), QStringList{QStringLiteral("-R"), QStringLiteral("dfproxy:dfproxy")} + dirs) != 0
        || run(QStringLiteral("chmod"), QStringList{QStringLiteral("0750")} + dirs) != 0)
        return 1;
    QString error;
    if (!writeFile(kUnitPath, unit, &error)) {
        fail(error);
        return 1;
    }
    say(QStringLiteral("wrote %1 (config /etc/dfproxy/config.json, written with the defaults on first start)")
            .arg(kUnitPath));
    if (run(kSystemctl, {QStringLiteral("daemon-reload")}) != 0)
        return 1;
    return run(kSystemctl, {QStringLiteral("enable"), QStringLiteral("--now"), kUnitName}) == 0 ? 0 : 1;
}

int uninstall()
{
    if (!QFileInfo::exists(kUnitPath)) {
        if (const QString packaged = packagedUnit(); !packaged.isEmpty()) {
            fail(QStringLiteral("dfproxy is installed from a package (unit %1): remove it with 'apt remove dfproxy'")
                     .arg(packaged));
            return 1;
        }
        say(QStringLiteral("dfproxy is not installed as a service (%1 does not exist)").arg(kUnitPath));
        return 0;
    }
    run(kSystemctl, {QStringLiteral("disable"), QStringLiteral("--now"), kUnitName});
    if (!QFile::remove(kUnitPath)) {
        fail(QStringLiteral("cannot remove %1").arg(kUnitPath));
        return 1;
    }
    run(kSystemctl, {QStringLiteral("daemon-reload")});
    say(QStringLiteral("removed %1; kept the user dfproxy, /etc/dfproxy, /var/lib/dfproxy and /var/log/dfproxy "
                       "(remove them with: userdel dfproxy && rm -r /etc/dfproxy /var/lib/dfproxy /var/log/dfproxy)")
            .arg(kUnitPath));
    return 0;
}

int control(const QString &verb)
{
    if (verb == QLatin1String("status")) {
        const int rc = run(kSystemctl, {QStringLiteral("status"), QStringLiteral("--no-pager"), kUnitName});
        return rc < 0 ? 1 : rc;
    }
    return run(kSystemctl, {verb, kUnitName}) == 0 ? 0 : 1;
}
#endif

} // namespace

int runServiceCommand(const QStringList &args)
{
    static const QStringList verbs = {QStringLiteral("install"), QStringLiteral("uninstall"), QStringLiteral("start"),
                                      QStringLiteral("stop"), QStringLiteral("status")};
    if (args.size() != 1 || !verbs.contains(args.first()))
        return usage();
    const QString verb = args.first();
#ifdef Q_OS_MACOS
    if (verb != QLatin1String("status") && !needRoot(verb))
        return 1;
    if (verb == QLatin1String("install"))
        return install();
    if (verb == QLatin1String("uninstall"))
        return uninstall();
    return control(verb);
#else
    // sd_booted(3): systemctl cannot work without a running systemd (containers, WSL1, other init systems).
    if (!QFileInfo::exists(QStringLiteral("/run/systemd/system"))) {
        fail(QStringLiteral("System has not been booted with systemd (no /run/systemd/system), so there is no service "
                            "manager to register with. Run dfproxy in the foreground instead: dfproxy --config %1")
                 .arg(systemConfigPath()));
        return 1;
    }
    if (verb != QLatin1String("status") && !needRoot(verb))
        return 1;
    if (verb == QLatin1String("install"))
        return install();
    if (verb == QLatin1String("uninstall"))
        return uninstall();
    return control(verb);
#endif
}

} // namespace dfproxy::platform
#endif
