// SPDX-License-Identifier: Apache-2.0
#include "systemproxy.h"

#include <algorithm>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>
#include <QStandardPaths>
#include <QTcpSocket>

namespace dfproxy::desktop {

QString modeName(ProxyMode mode)
{
    return mode == ProxyMode::Pac ? QStringLiteral("pac") : QStringLiteral("fixed");
}

std::optional<ProxyMode> modeFromName(const QString &name)
{
    if (name == QLatin1String("pac"))
        return ProxyMode::Pac;
    if (name == QLatin1String("fixed"))
        return ProxyMode::Fixed;
    return std::nullopt;
}

QString ProxyTarget::hostPort() const
{
    const bool v6 = host.contains(':');
    return (v6 ? '[' + host + ']' : host) + ':' + QString::number(port);
}

QJsonObject ProxyTarget::toJson() const
{
    return QJsonObject{{"proxy", hostPort()},
                       {"host", host},
                       {"port", port},
                       {"pacUrl", pacUrl},
                       {"bypass", QJsonArray::fromStringList(bypass)},
                       {"failMode", failClosed ? "closed" : "open"},
                       {"defaultMode", modeName(defaultMode())}};
}

namespace {

// Nothing that could end a shell word, an INI line or a list entry.
bool isPlainToken(const QString &s)
{
    static const QString forbidden = QStringLiteral("'\"`$\\;,");
    return !s.isEmpty() && std::none_of(s.begin(), s.end(), [](QChar c) {
        return c.unicode() <= 0x20 || c.unicode() == 0x7f || forbidden.contains(c);
    });
}

} // namespace

std::optional<ProxyTarget> ProxyTarget::fromJson(const QJsonObject &o, QString *error)
{
    const auto fail = [error](const char *field, const QString &why) {
        *error = QStringLiteral("the service's system-proxy answer: %1 %2").arg(QLatin1String(field), why);
        return std::nullopt;
    };
    ProxyTarget t;
    t.host = o.value("host").toString();
    if (QHostAddress(t.host).isNull() || !isPlainToken(t.host))
        return fail("host", QStringLiteral("must be an IP address"));
    const int port = o.value("port").toInt(-1);
    if (port < 1 || port > 65535)
        return fail("port", QStringLiteral("must be 1..65535"));
    t.port = static_cast<quint16>(port);
    const QString failMode = o.value("failMode").toString();
    if (failMode != "closed" && failMode != "open")
        return fail("failMode", QStringLiteral("must be closed or open"));
    t.failClosed = failMode == "closed";
    t.pacUrl = o.value("pacUrl").toString();
    if (!t.pacUrl.startsWith(QLatin1String("http://")) || !isPlainToken(t.pacUrl))
        return fail("pacUrl", QStringLiteral("must be an http:// URL"));
    for (const auto &v : o.value("bypass").toArray()) {
        if (!isPlainToken(v.toString()))
            return fail("bypass", QStringLiteral("entries must not hold spaces, quotes, ';' or ','"));
        t.bypass.append(v.toString());
    }
    return t;
}

QStringList defaultBypass()
{
    return {"<local>",       "localhost",     "127.0.0.0/8",    "::1",           "169.254.0.0/16",
            "fe80::/10",     "10.0.0.0/8",    "172.16.0.0/12",  "192.168.0.0/16"};
}

QString envExports(const ProxyTarget &target)
{
    const QString url = QStringLiteral("http://") + target.hostPort();
    // no_proxy has no "plain host names" entry; curl, wget and Python accept host suffixes and (curl >= 7.86,
    // Python) CIDR ranges.
    QStringList noProxy;
    for (const auto &b : target.bypass) {
        if (b != QLatin1String("<local>"))
            noProxy.append(b);
    }
    const QString no = noProxy.join(',');
    QString out;
    for (const auto &[name, value] : {std::pair{"http_proxy", url}, std::pair{"https_proxy", url},
                                      std::pair{"no_proxy", no}, std::pair{"HTTP_PROXY", url},
                                      std::pair{"HTTPS_PROXY", url}, std::pair{"NO_PROXY", no}})
        out += QStringLiteral("export %1='%2'\n").arg(QLatin1String(name), value);
    return out;
}

namespace {

QJsonObject settingsToJson(const Settings &s)
{
    QJsonObject o;
    for (auto it = s.begin(); it != s.end(); ++it)
        o.insert(it.key(), it.value() ? QJsonValue(*it.value()) : QJsonValue(QJsonValue::Null));
    return o;
}

std::optional<Settings> settingsFromJson(const QJsonValue &v)
{
    if (!v.isObject())
        return std::nullopt;
    Settings s;
    const QJsonObject o = v.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (it.value().isNull())
            s.insert(it.key(), std::nullopt);
        else if (it.value().isString())
            s.insert(it.key(), it.value().toString());
        else
            return std::nullopt;
    }
    return s;
}

} // namespace

QJsonObject Journal::toJson() const
{
    return QJsonObject{{"version", 1},
                       {"backend", backend},
                       {"mode", modeName(mode)},
                       {"proxy", proxy},
                       {"pacUrl", pacUrl},
                       {"failMode", failClosed ? "closed" : "open"},
                       {"setBy", setBy},
                       {"pid", pid},
                       {"time", time.toUTC().toString(Qt::ISODate)},
                       {"previous", settingsToJson(previous)},
                       {"applied", settingsToJson(applied)}};
}

std::optional<Journal> Journal::fromJson(const QJsonObject &o, QString *error)
{
    Journal j;
    j.backend = o.value("backend").toString();
    const auto mode = modeFromName(o.value("mode").toString());
    const auto previous = settingsFromJson(o.value("previous"));
    const auto applied = settingsFromJson(o.value("applied"));
    if (o.value("version").toInt() != 1 || j.backend.isEmpty() || !mode || !previous || !applied) {
        *error = QStringLiteral("not a dfproxy system-proxy journal (version 1 with backend, mode, previous, applied)");
        return std::nullopt;
    }
    j.mode = *mode;
    j.previous = *previous;
    j.applied = *applied;
    j.proxy = o.value("proxy").toString();
    j.pacUrl = o.value("pacUrl").toString();
    j.failClosed = o.value("failMode").toString() != QLatin1String("open");
    j.setBy = o.value("setBy").toString();
    j.pid = o.value("pid").toInteger();
    j.time = QDateTime::fromString(o.value("time").toString(), Qt::ISODate);
    return j;
}

QString defaultJournalPath()
{
    const QString env = qEnvironmentVariable("DFPROXY_SYSTEM_PROXY_JOURNAL");
    if (!env.isEmpty())
        return env;
    return QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation) +
           QStringLiteral("/dfproxy/system-proxy.json");
}

std::optional<Journal> readJournal(const QString &path, QString *error)
{
    error->clear();
    QFile f(path);
    if (!f.exists())
        return std::nullopt;
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read %1: %2").arg(path, f.errorString());
        return std::nullopt;
    }
    QJsonParseError pe;
    const auto doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
        *error = QStringLiteral("%1: invalid JSON (%2)").arg(path, pe.errorString());
        return std::nullopt;
    }
    QString why;
    auto j = Journal::fromJson(doc.object(), &why);
    if (!j)
        *error = path + ": " + why;
    return j;
}

bool writeJournal(const QString &path, const Journal &journal, QString *error)
{
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        *error = QStringLiteral("cannot create %1").arg(info.absolutePath());
        return false;
    }
    QSaveFile f(path);
    // Owner-only before any byte is written: the journal names the user's proxies (which may carry credentials).
    if (!f.open(QIODevice::WriteOnly) || !f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)) {
        *error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    f.write(QJsonDocument(journal.toJson()).toJson(QJsonDocument::Indented));
    if (!f.commit()) {
        *error = QStringLiteral("cannot write %1: %2").arg(path, f.errorString());
        return false;
    }
    return true;
}

Journal journalForOn(const std::optional<Journal> &existing, const Settings &current, const Settings &wanted)
{
    Journal j;
    for (auto it = wanted.begin(); it != wanted.end(); ++it) {
        const QString &key = it.key();
        const SettingValue now = current.value(key);
        const bool stillOurs = existing && existing->applied.contains(key) && existing->applied.value(key) == now &&
                               existing->previous.contains(key);
        j.previous.insert(key, stillOurs ? existing->previous.value(key) : now);
    }
    // Keys of an earlier `on` that this one does not write (a network service disabled since) stay recorded.
    if (existing) {
        for (auto it = existing->applied.begin(); it != existing->applied.end(); ++it) {
            if (!wanted.contains(it.key()) && current.value(it.key()) == it.value()) {
                j.previous.insert(it.key(), existing->previous.value(it.key()));
                j.applied.insert(it.key(), it.value());
            }
        }
    }
    for (auto it = wanted.begin(); it != wanted.end(); ++it)
        j.applied.insert(it.key(), it.value());
    return j;
}

Settings restorePlan(const Journal &journal, const Settings &current, QStringList *leftAlone)
{
    Settings plan;
    for (auto it = journal.applied.begin(); it != journal.applied.end(); ++it) {
        if (current.value(it.key()) == it.value())
            plan.insert(it.key(), journal.previous.value(it.key()));
        else if (leftAlone)
            leftAlone->append(it.key());
    }
    return plan;
}

Holding holding(const Journal &journal, const Settings &current)
{
    int held = 0;
    for (auto it = journal.applied.begin(); it != journal.applied.end(); ++it) {
        if (current.value(it.key()) == it.value())
            ++held;
    }
    if (held == 0)
        return Holding::None;
    return held == journal.applied.size() ? Holding::All : Holding::Some;
}

QString stateName(SwitchState state)
{
    switch (state) {
    case SwitchState::Off:
        return QStringLiteral("off");
    case SwitchState::On:
        return QStringLiteral("on");
    case SwitchState::Stale:
        return QStringLiteral("stale");
    case SwitchState::Overridden:
        return QStringLiteral("overridden");
    }
    return {};
}

QJsonObject SystemProxySwitch::Status::toJson(const QString &backend) const
{
    QJsonObject o{{"state", stateName(state)}, {"backend", backend}, {"current", settingsToJson(current)}};
    if (journal) {
        o.insert("mode", modeName(journal->mode));
        o.insert("proxy", journal->proxy);
        o.insert("pacUrl", journal->pacUrl);
        o.insert("failMode", journal->failClosed ? "closed" : "open");
        o.insert("setBy", journal->setBy);
        o.insert("pid", journal->pid);
        o.insert("since", journal->time.toUTC().toString(Qt::ISODate));
        o.insert("previous", settingsToJson(journal->previous));
    }
    return o;
}

SystemProxySwitch::SystemProxySwitch(SystemProxyBackend &backend, QString journalPath, Probe probe)
    : m_backend(backend), m_journalPath(std::move(journalPath)),
      m_probe(probe ? std::move(probe) : Probe([](const QString &hp) { return tcpProbe(hp); }))
{
}

std::optional<SystemProxySwitch::Status> SystemProxySwitch::status(QString *error)
{
    Status s;
    s.journal = readJournal(m_journalPath, error);
    if (!error->isEmpty())
        return std::nullopt;
    const auto current = m_backend.read(error);
    if (!current)
        return std::nullopt;
    s.current = *current;
    if (!s.journal)
        s.state = SwitchState::Off;
    else if (holding(*s.journal, s.current) == Holding::None)
        s.state = SwitchState::Overridden;
    else
        s.state = m_probe(s.journal->proxy) ? SwitchState::On : SwitchState::Stale;
    return s;
}

bool SystemProxySwitch::turnOn(const ProxyTarget &target, ProxyMode mode, const QString &setBy, QString *error)
{
    auto existing = readJournal(m_journalPath, error);
    if (!error->isEmpty())
        return false;
    if (existing && existing->backend != m_backend.name()) {
        *error = QStringLiteral("the journal %1 records settings of the %2 backend; run `dfproxyctl system-proxy off` "
                                "first")
                     .arg(m_journalPath, existing->backend);
        return false;
    }
    const auto current = m_backend.read(error);
    if (!current)
        return false;
    const Settings wanted = m_backend.desired(target, mode, *current);
    Journal journal = journalForOn(existing, *current, wanted);
    journal.backend = m_backend.name();
    journal.mode = mode;
    journal.proxy = target.hostPort();
    journal.pacUrl = target.pacUrl;
    journal.failClosed = target.failClosed;
    journal.setBy = setBy;
    journal.pid = QCoreApplication::applicationPid();
    journal.time = QDateTime::currentDateTimeUtc();
    // The journal is on disk before the first setting changes: a crash in between leaves something to restore.
    if (!writeJournal(m_journalPath, journal, error))
        return false;
    if (!m_backend.write(wanted, error))
        return false;
    // Record the values as the platform reads them back (GSettings normalises the text of a value), so "still
    // holds dfproxy's value" compares like with like.
    const auto after = m_backend.read(error);
    if (!after)
        return false;
    for (auto it = wanted.begin(); it != wanted.end(); ++it)
        journal.applied.insert(it.key(), after->value(it.key()));
    if (holding(journal, *after) != Holding::All) {
        *error = QStringLiteral("the %1 settings did not keep dfproxy's values").arg(m_backend.name());
        return false;
    }
    return writeJournal(m_journalPath, journal, error);
}

std::optional<SystemProxySwitch::RestoreReport> SystemProxySwitch::restore(QString *error)
{
    RestoreReport report;
    const auto journal = readJournal(m_journalPath, error);
    if (!error->isEmpty())
        return std::nullopt;
    if (!journal)
        return report;
    report.hadJournal = true;
    if (journal->backend != m_backend.name()) {
        *error = QStringLiteral("the journal %1 records settings of the %2 backend, not %3: nothing restored")
                     .arg(m_journalPath, journal->backend, m_backend.name());
        return std::nullopt;
    }
    const auto current = m_backend.read(error);
    if (!current)
        return std::nullopt;
    const Settings plan = restorePlan(*journal, *current, &report.leftAlone);
    if (!plan.isEmpty() && !m_backend.write(plan, error))
        return std::nullopt;
    report.restored = plan.keys();
    if (!QFile::remove(m_journalPath) && QFile::exists(m_journalPath)) {
        *error = QStringLiteral("restored, but cannot remove the journal %1").arg(m_journalPath);
        return std::nullopt;
    }
    return report;
}

QString SystemProxySwitch::recoverStale(bool force, QString *error)
{
    const auto s = status(error);
    if (!s || !s->journal)
        return {};
    if (s->state == SwitchState::On)
        return {};
    if (s->state == SwitchState::Stale && s->journal->failClosed && !force) {
        return QStringLiteral("WARNING: the desktop's proxy still points at dfproxy (%1), which is not running: "
                              "with failMode closed, egress is blocked until dfproxy runs again. Run `dfproxyctl "
                              "system-proxy off` to restore the previous settings.")
            .arg(s->journal->proxy);
    }
    const auto r = restore(error);
    if (!r)
        return {};
    return QStringLiteral("dfproxy was not running at %1: restored the desktop's previous proxy settings (%2 "
                          "restored, %3 changed by the user and left alone)")
        .arg(s->journal->proxy)
        .arg(r->restored.size())
        .arg(r->leftAlone.size());
}

bool SystemProxySwitch::tcpProbe(const QString &hostPort, int timeoutMs)
{
    const int colon = hostPort.lastIndexOf(':');
    if (colon <= 0)
        return false;
    QString host = hostPort.left(colon);
    if (host.startsWith('[') && host.endsWith(']'))
        host = host.mid(1, host.size() - 2);
    bool ok = false;
    const int port = hostPort.mid(colon + 1).toInt(&ok);
    if (!ok || port < 1 || port > 65535)
        return false;
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(host), static_cast<quint16>(port));
    return socket.waitForConnected(timeoutMs);
}

namespace {

// The backend the journal names, or a message saying why there is none.
std::unique_ptr<SystemProxyBackend> journalBackend(const QString &journalPath, std::optional<Journal> *journal,
                                                   QString *message)
{
    QString error;
    *journal = readJournal(journalPath, &error);
    if (!error.isEmpty())
        *message = QStringLiteral("system proxy: %1").arg(error);
    if (!*journal)
        return nullptr;
    auto backend = createBackend((*journal)->backend);
    if (!backend)
        *message = QStringLiteral("system proxy: the journal %1 names the %2 backend, which this build does not have")
                       .arg(journalPath, (*journal)->backend);
    return backend;
}

QString describe(const std::optional<SystemProxySwitch::RestoreReport> &r, const QString &error)
{
    if (!r)
        return QStringLiteral("system proxy: restore failed: %1").arg(error);
    return QStringLiteral("system proxy: restored the desktop's previous proxy settings (%1 restored, %2 changed "
                          "by the user and left alone)")
        .arg(r->restored.size())
        .arg(r->leftAlone.size());
}

} // namespace

std::unique_ptr<SystemProxyBackend> backendForJournal(const QString &journalPath, QString *error)
{
    const auto journal = readJournal(journalPath, error);
    if (!error->isEmpty())
        return nullptr;
    if (!journal)
        return createBackend();
    auto backend = createBackend(journal->backend);
    if (!backend)
        *error = QStringLiteral("the journal %1 names the %2 backend, which this build does not have")
                     .arg(journalPath, journal->backend);
    return backend;
}

QString restoreAfterCrash(const QString &journalPath)
{
    std::optional<Journal> journal;
    QString message;
    auto backend = journalBackend(journalPath, &journal, &message);
    if (!backend)
        return message;
    SystemProxySwitch sw(*backend, journalPath);
    QString error;
    const QString done = sw.recoverStale(/*force=*/true, &error);
    if (!error.isEmpty())
        return QStringLiteral("system proxy: restore after a crash failed: %1").arg(error);
    return done.isEmpty() ? QString() : QStringLiteral("system proxy: ") + done;
}

QString restoreAtStop(const QStringList &ownProxies, const QString &journalPath)
{
    std::optional<Journal> journal;
    QString message;
    auto backend = journalBackend(journalPath, &journal, &message);
    if (!backend || !ownProxies.contains(journal->proxy))
        return message;
    SystemProxySwitch sw(*backend, journalPath);
    QString error;
    const auto r = sw.restore(&error);
    return describe(r, error);
}

} // namespace dfproxy::desktop
