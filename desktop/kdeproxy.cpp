// SPDX-License-Identifier: Apache-2.0
#include "kdeproxy.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSaveFile>
#include <QStandardPaths>

namespace dfproxy::desktop {

namespace {

const QString kGroup = QStringLiteral("[Proxy Settings]");

bool isGroupHeader(const QString &line)
{
    const QString t = line.trimmed();
    return t.startsWith('[') && t.endsWith(']');
}

// The key of a "key=value" line ("" for comments and blank lines).
QString keyOf(const QString &line)
{
    const QString t = line.trimmed();
    const int eq = t.indexOf('=');
    if (t.startsWith('#') || eq <= 0)
        return {};
    return t.left(eq).trimmed();
}

} // namespace

KdeProxyBackend::KdeProxyBackend(QString path, std::function<void()> notify)
    : m_path(path.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) +
                                  QStringLiteral("/kioslaverc")
                            : std::move(path)),
      m_notify(notify ? std::move(notify) : std::function<void()>(sendReparseSignal))
{
}

QStringList KdeProxyBackend::keys()
{
    return {"ProxyType", "httpProxy", "httpsProxy", "ftpProxy", "socksProxy", "NoProxyFor", "Proxy Config Script",
            "ReversedException"};
}

Settings KdeProxyBackend::parse(const QString &text)
{
    Settings s;
    for (const auto &k : keys())
        s.insert(k, std::nullopt);
    bool inGroup = false;
    for (const auto &line : text.split('\n')) {
        if (isGroupHeader(line)) {
            inGroup = line.trimmed() == kGroup;
            continue;
        }
        const QString k = keyOf(line);
        if (inGroup && s.contains(k))
            s.insert(k, line.mid(line.indexOf('=') + 1).trimmed());
    }
    return s;
}

QString KdeProxyBackend::edit(const QString &text, const Settings &changes)
{
    QStringList lines = text.isEmpty() ? QStringList() : text.split('\n');
    if (!lines.isEmpty() && lines.last().isEmpty())
        lines.removeLast();
    Settings pending = changes;
    int groupEnd = -1; // the index after the group's last key line
    bool inGroup = false;
    for (int i = 0; i < lines.size(); ++i) {
        if (isGroupHeader(lines[i])) {
            inGroup = lines[i].trimmed() == kGroup;
            if (inGroup)
                groupEnd = i + 1;
            continue;
        }
        if (!inGroup)
            continue;
        const QString k = keyOf(lines[i]);
        if (!pending.contains(k)) {
            if (!lines[i].trimmed().isEmpty())
                groupEnd = i + 1;
            continue;
        }
        const SettingValue v = pending.take(k);
        if (v) {
            lines[i] = k + '=' + *v;
            groupEnd = i + 1;
        } else {
            lines.removeAt(i--);
        }
    }
    QStringList added;
    for (auto it = pending.begin(); it != pending.end(); ++it) {
        if (it.value())
            added.append(it.key() + '=' + *it.value());
    }
    if (!added.isEmpty()) {
        if (groupEnd < 0) {
            if (!lines.isEmpty() && !lines.last().trimmed().isEmpty())
                lines.append(QString());
            lines.append(kGroup);
            groupEnd = lines.size();
        }
        for (int i = 0; i < added.size(); ++i)
            lines.insert(groupEnd + i, added[i]);
    }
    return lines.join('\n') + '\n';
}

Settings KdeProxyBackend::desired(const ProxyTarget &target, ProxyMode mode, const Settings &) const
{
    Settings s;
    if (mode == ProxyMode::Pac) {
        s.insert("ProxyType", "2");
        s.insert("Proxy Config Script", target.pacUrl);
        return s;
    }
    // KIO's manual proxy: "scheme://host port"; NoProxyFor is a comma list (KIO has no "<local>").
    const QString proxy = QStringLiteral("http://%1 %2").arg(target.host.contains(':') ? '[' + target.host + ']'
                                                                                       : target.host)
                              .arg(target.port);
    QStringList noProxy;
    for (const auto &b : target.bypass) {
        if (b != QLatin1String("<local>"))
            noProxy.append(b);
    }
    s.insert("ProxyType", "1");
    s.insert("httpProxy", proxy);
    s.insert("httpsProxy", proxy);
    // A SOCKS or FTP proxy left in manual mode would still carry other traffic past dfproxy.
    s.insert("ftpProxy", "");
    s.insert("socksProxy", "");
    s.insert("NoProxyFor", noProxy.join(','));
    s.insert("ReversedException", "false");
    return s;
}

std::optional<Settings> KdeProxyBackend::read(QString *error)
{
    QFile f(m_path);
    if (!f.exists())
        return parse({});
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(m_path, f.errorString());
        return std::nullopt;
    }
    return parse(QString::fromUtf8(f.readAll()));
}

bool KdeProxyBackend::write(const Settings &changes, QString *error)
{
    QString text;
    QFile in(m_path);
    if (in.exists()) {
        if (!in.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1: %2").arg(m_path, in.errorString());
            return false;
        }
        text = QString::fromUtf8(in.readAll());
    }
    QDir().mkpath(QFileInfo(m_path).absolutePath());
    QSaveFile out(m_path);
    if (!out.open(QIODevice::WriteOnly) || out.write(edit(text, changes).toUtf8()) < 0 || !out.commit()) {
        *error = QStringLiteral("cannot write %1: %2").arg(m_path, out.errorString());
        return false;
    }
    m_notify();
    return true;
}

void KdeProxyBackend::sendReparseSignal()
{
    if (qEnvironmentVariableIsEmpty("DBUS_SESSION_BUS_ADDRESS"))
        return;
    const QString dbusSend = QStandardPaths::findExecutable(QStringLiteral("dbus-send"));
    if (dbusSend.isEmpty())
        return;
    for (const char *member : {"reparseSlaveConfiguration", "reparseConfiguration"}) {
        QProcess p;
        p.start(dbusSend, {"--session", "--type=signal", "/KIO/Scheduler",
                           QStringLiteral("org.kde.KIO.Scheduler.%1").arg(QLatin1String(member)), "string:"});
        if (!p.waitForFinished(5000))
            p.kill();
        p.waitForFinished(1000);
    }
}

} // namespace dfproxy::desktop
