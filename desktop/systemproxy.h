// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QMap>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>

namespace dfproxy::desktop {

/// One desktop setting as the platform stores it, in the text form the backend reads and writes back verbatim
/// (GSettings' GVariant text, a kioslaverc value, a WinINet string, a SystemConfiguration value as text).
/// std::nullopt means "not set" (a key absent from kioslaverc, an unset WinINet string): restoring it removes it.
using SettingValue = std::optional<QString>;
/// The settings a backend manages, by key ("org.gnome.system.proxy mode", "ProxyType", "<service>/HTTPProxy").
using Settings = QMap<QString, SettingValue>;

/// How the desktop is pointed at dfproxy.
enum class ProxyMode {
    Fixed, ///< host:port for HTTP and HTTPS plus the bypass list: a stopped dfproxy blocks egress (fail-closed)
    Pac,   ///< the PAC URL: a browser that cannot fetch it goes direct, so this cannot be fail-closed
};
QString modeName(ProxyMode mode);
std::optional<ProxyMode> modeFromName(const QString &name);

/// Where the desktop should send its traffic: what the service answers at GET /api/v1/system-proxy.
struct ProxyTarget
{
    QString host;            ///< the listener's address as clients reach it ("127.0.0.1", "::1")
    quint16 port = 0;
    QString pacUrl;          ///< "http://127.0.0.1:8080/proxy.pac"
    QStringList bypass;      ///< hosts and CIDR ranges that go direct (the PAC's bypass list)
    bool failClosed = true;  ///< failMode: closed (a stopped proxy blocks egress) or open

    /// "127.0.0.1:8080", "[::1]:8080".
    QString hostPort() const;
    /// The mode `system-proxy on` uses without --pac/--fixed: fixed when fail-closed, PAC when fail-open.
    ProxyMode defaultMode() const { return failClosed ? ProxyMode::Fixed : ProxyMode::Pac; }
    QJsonObject toJson() const;
    /// Reads the service's answer; returns std::nullopt and sets `error` (naming the field) when a field is missing
    /// or wrong. The values end up in shell exports, kioslaverc lines and ';'/','-separated lists, so the host must
    /// be an IP address, the PAC URL an http:// URL and the bypass entries free of spaces, quotes, ';' and ','.
    static std::optional<ProxyTarget> fromJson(const QJsonObject &o, QString *error);
};

/// The bypass list used when the Gateway does not set `dfproxy.dev/pac-bypass`: plain host names ("<local>"),
/// localhost, loopback, link-local and the RFC 1918 ranges.
QStringList defaultBypass();

/// The exports `dfproxyctl system-proxy env` prints for shells (http_proxy, https_proxy, no_proxy and their
/// upper-case twins), one `export` line each.
QString envExports(const ProxyTarget &target);

/// A platform's proxy settings: the only place that talks to the OS. Everything else (which settings point at
/// dfproxy, what the journal holds, what restore writes) is computed from what read() returns, so it is tested
/// on every platform. Implementations are used from one thread at a time.
class SystemProxyBackend
{
public:
    virtual ~SystemProxyBackend() = default;
    /// "gnome", "kde", "wininet", "macos": recorded in the journal, so a restore uses the backend that set them.
    virtual QString name() const = 0;
    /// Every setting this backend may write, as it is now. std::nullopt with `error` set when the OS refuses.
    virtual std::optional<Settings> read(QString *error) = 0;
    /// The settings that point the desktop at `target` in `mode`, given the settings now (macOS: one set per
    /// enabled network service). Pure: no OS call.
    virtual Settings desired(const ProxyTarget &target, ProxyMode mode, const Settings &current) const = 0;
    /// Writes `changes` (a subset of the keys read() returns) and tells the desktop to reload. False with `error`.
    virtual bool write(const Settings &changes, QString *error) = 0;
};

/// The backend for this desktop: WinINet on Windows, SystemConfiguration on macOS; on Linux KDE when
/// $XDG_CURRENT_DESKTOP names KDE, else GNOME's GSettings (also read by Chromium, Firefox and GTK apps elsewhere).
/// `name` forces one ("gnome", "kde", "wininet", "macos"); null when that backend is not built on this platform.
std::unique_ptr<SystemProxyBackend> createBackend(const QString &name = {});
/// The backend names available on this platform.
QStringList backendNames();
/// The backend that wrote the journal at `journalPath` when there is one (a restore must go through it, whatever
/// the desktop says now), else createBackend(). Null with `error` when the journal cannot be read or names a
/// backend this build does not have.
std::unique_ptr<SystemProxyBackend> backendForJournal(const QString &journalPath, QString *error);

/// The journal: what was there before dfproxy changed the desktop's proxy, and what dfproxy wrote. Written
/// (0600) before anything changes, removed once everything is restored.
struct Journal
{
    QString backend;
    Settings previous;   ///< the values before `on`, for every key dfproxy wrote
    Settings applied;    ///< dfproxy's values, as the platform reads them back
    ProxyMode mode = ProxyMode::Fixed;
    QString proxy;       ///< the listener the settings point at, "127.0.0.1:8080"
    QString pacUrl;
    bool failClosed = true;
    QString setBy;       ///< "dfproxyctl", "console"
    qint64 pid = 0;      ///< the process that set them
    QDateTime time;

    QJsonObject toJson() const;
    static std::optional<Journal> fromJson(const QJsonObject &o, QString *error);
};

/// The per-user journal file: $DFPROXY_SYSTEM_PROXY_JOURNAL, else <per-user config dir>/dfproxy/system-proxy.json
/// (Linux ~/.config/dfproxy, macOS ~/Library/Preferences/dfproxy, Windows %LOCALAPPDATA%/dfproxy).
QString defaultJournalPath();
/// Reads the journal; std::nullopt when there is none (error empty) or it cannot be read (error set).
std::optional<Journal> readJournal(const QString &path, QString *error);
/// Writes the journal atomically, readable by its owner only. False with `error`.
bool writeJournal(const QString &path, const Journal &journal, QString *error);

/// The journal for turning the switch on. With an earlier journal (the switch is already on), a key whose value is
/// still dfproxy's keeps its recorded previous value, so a second `on` never records dfproxy's own values as "the
/// user's"; a key the user changed since records the user's value.
Journal journalForOn(const std::optional<Journal> &existing, const Settings &current, const Settings &wanted);

/// What restore writes: the recorded previous value of every key that still holds dfproxy's value. Keys the
/// user changed meanwhile are left alone and listed in `leftAlone` (may be null).
Settings restorePlan(const Journal &journal, const Settings &current, QStringList *leftAlone);

/// How many of dfproxy's values are still in place.
enum class Holding { All, Some, None };
Holding holding(const Journal &journal, const Settings &current);

/// The switch's state as status shows it.
enum class SwitchState {
    Off,        ///< no journal: dfproxy has not changed the desktop's proxy
    On,         ///< dfproxy's values are in place and the proxy answers
    Stale,      ///< dfproxy's values are in place but nothing answers at the proxy address (crash, kill -9, stop)
    Overridden, ///< a journal exists but the user (or another program) replaced every value since
};
QString stateName(SwitchState state);

/// Turns the desktop's proxy on and off through one backend and the journal. Used by dfproxyctl, the console and
/// the service (restore at start and stop). Not thread-safe; blocking (the backend may run a helper program).
class SystemProxySwitch
{
public:
    /// Says whether something answers at "host:port" (a TCP connect): the default probe tries for 1.5 s.
    using Probe = std::function<bool(const QString &hostPort)>;

    SystemProxySwitch(SystemProxyBackend &backend, QString journalPath, Probe probe = {});

    struct Status
    {
        SwitchState state = SwitchState::Off;
        std::optional<Journal> journal;
        Settings current;
        QJsonObject toJson(const QString &backend) const;
    };
    /// Reads the journal and the settings. std::nullopt with `error` when either cannot be read.
    std::optional<Status> status(QString *error);

    /// Journal first, then the settings. `setBy` names the caller for status ("dfproxyctl", "console").
    bool turnOn(const ProxyTarget &target, ProxyMode mode, const QString &setBy, QString *error);

    struct RestoreReport
    {
        bool hadJournal = false;
        QStringList restored;  ///< keys written back
        QStringList leftAlone; ///< keys the user changed meanwhile
    };
    /// Writes back the recorded settings that still hold dfproxy's values and removes the journal. Without a
    /// journal it changes nothing. std::nullopt with `error` when the settings cannot be read or written (the
    /// journal is then kept, so a later restore can finish).
    std::optional<RestoreReport> restore(QString *error);

    /// After a crash: when the journal's proxy does not answer, restores (failMode open, or `force`) or keeps the
    /// settings (failMode closed). Returns a message for the user (empty when there was nothing to do).
    QString recoverStale(bool force, QString *error);

    /// A TCP connect to "host:port" with a timeout; true when it succeeds.
    static bool tcpProbe(const QString &hostPort, int timeoutMs = 1500);

private:
    SystemProxyBackend &m_backend;
    QString m_journalPath;
    Probe m_probe;
};

/// The service's part, at start: a journal whose proxy does not answer was left by a dfproxy that crashed or was
/// killed; its settings are restored whatever the failMode (a fresh dfproxy starts with the switch off). Returns a
/// line for the log, empty when there was nothing to do.
QString restoreAfterCrash(const QString &journalPath = defaultJournalPath());
/// The service's part, at a clean stop: restores the settings when the journal's proxy is one of `ownProxies`
/// ("127.0.0.1:8080", as ProxyTarget::hostPort()). Returns a line for the log, empty when there was nothing to do.
QString restoreAtStop(const QStringList &ownProxies, const QString &journalPath = defaultJournalPath());

} // namespace dfproxy::desktop
