// SPDX-License-Identifier: Apache-2.0
#include "config/configstore.h"

#include "base/clock.h"
#include "base/logcategories.h"
#include "config/validation.h"
#include "platform/filepermissions.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QUuid>

#include <algorithm>
#include <filesystem>



namespace dfproxy::config {

namespace {

// validateConfig, keeping what it parsed of the config layer's own blocks (proxy.ssrf) with the version.
QList<FieldError> validateAndKeep(Config &c)
{
    SsrfSettings ssrf;
    const QList<FieldError> errors = validateConfig(c, &ssrf);
    c.parsed.set(std::move(ssrf));
    return errors;
}

const QStringList &serverManagedMetadata()
{
    static const QStringList keys = {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
                                     "selfLink", "deletionTimestamp"};
    return keys;
}

constexpr auto kMinimalDefault = R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
  "admin": {"address": "127.0.0.1", "port": 15000}, "resources": []})";

QString joinErrors(const QList<FieldError> &errors)
{
    QStringList parts;
    for (const auto &e : errors)
        parts.append(e.path.isEmpty() ? e.message : e.path + ": " + e.message);
    return parts.join("; ");
}

/// Refuses a write that does not validate, and says so on dfproxy.config at debug (the API client gets the details).
template<class R>
R rejected(const QString &message, const QList<FieldError> &errors)
{
    qCDebug(lcConfig).noquote() << "rejected a new version:" << message << "-" << joinErrors(errors);
    return R::fail(StoreErrorCode::Invalid, message, errors);
}

QByteArray sha256(const QByteArray &bytes)
{
    return QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
}

// The collection's resourceVersion kept at the top of a file written by writeFile(); 0 if absent.
qint64 storedResourceVersion(const QByteArray &fileBytes)
{
    return QJsonDocument::fromJson(fileBytes).object().value(QStringLiteral("resourceVersion")).toString().toLongLong();
}

qint64 versionOf(const Resource &r)
{
    return r.metadata().value("resourceVersion").toString().toLongLong();
}

int kindOrder(const QString &kind)
{
    const auto &kinds = knownKinds();
    for (int i = 0; i < kinds.size(); ++i) {
        if (kinds[i].kind == kind)
            return i;
    }
    return static_cast<int>(kinds.size());
}

struct Requirement
{
    enum class Op { Equals, NotEquals, Exists, NotExists } op;
    QString key;
    QString value;
};

std::optional<QList<Requirement>> parseSelector(const QString &selector, QString *error)
{
    QList<Requirement> reqs;
    const QString trimmed = selector.trimmed();
    if (trimmed.isEmpty())
        return reqs;
    if (trimmed.contains('(')) {
        *error = QStringLiteral("set-based label selectors (in, notin) are not supported");
        return std::nullopt;
    }
    for (QString term : trimmed.split(',')) {
        term = term.trimmed();
        Requirement r{Requirement::Op::Exists, {}, {}};
        if (term.startsWith('!')) {
            r.op = Requirement::Op::NotExists;
            r.key = term.mid(1).trimmed();
        } else if (const auto i = term.indexOf("!="); i >= 0) {
            r.op = Requirement::Op::NotEquals;
            r.key = term.left(i).trimmed();
            r.value = term.mid(i + 2).trimmed();
        } else if (const auto j = term.indexOf("=="); j >= 0) {
            r.op = Requirement::Op::Equals;
            r.key = term.left(j).trimmed();
            r.value = term.mid(j + 2).trimmed();
        } else if (const auto k = term.indexOf('='); k >= 0) {
            r.op = Requirement::Op::Equals;
            r.key = term.left(k).trimmed();
            r.value = term.mid(k + 1).trimmed();
        } else {
            r.key = term;
        }
        if (r.key.isEmpty() || r.key.contains('=') || r.key.contains(' ')) {
            *error = QStringLiteral("invalid label selector term \"%1\"").arg(term);
            return std::nullopt;
        }
        reqs.append(r);
    }
    return reqs;
}

bool matches(const QList<Requirement> &reqs, const Resource &r)
{
    const auto labels = r.metadata().value("labels").toObject();
    for (const auto &req : reqs) {
        const bool has = labels.contains(req.key);
        const QString v = labels.value(req.key).toString();
        switch (req.op) {
        case Requirement::Op::Equals:
            if (!has || v != req.value)
                return false;
            break;
        case Requirement::Op::NotEquals:
            if (has && v == req.value)
                return false;
            break;
        case Requirement::Op::Exists:
            if (!has)
                return false;
            break;
        case Requirement::Op::NotExists:
            if (has)
                return false;
            break;
        }
    }
    return true;
}

constexpr QFileDevice::Permissions kOwnerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;

// Writes `bytes` to `path` atomically (temp file, then rename over it: a crash leaves the old or the new content),
// private from the first byte: the temp file is created 0600 (O_EXCL, so a planted symlink is not followed) and
// restricted to the owner before it takes the place of `path`. The config and its backups hold password hashes
// and JWT keys.
bool writePrivateFile(const QString &path, const QByteArray &bytes, QString *error)
{
    const QString temp = path + QStringLiteral(".tmp");
    QFile::remove(temp); // left by a crash
    QFile f(temp);
    if (!f.open(QIODevice::WriteOnly | QIODevice::NewOnly, kOwnerOnly)) {
        *error = QStringLiteral("cannot write %1: %2").arg(temp, f.errorString());
        return false;
    }
    const bool written = f.write(bytes) == bytes.size() && platform::syncToDisk(f);
    const QString writeError = f.errorString();
    f.close();
    if (!written) {
        *error = QStringLiteral("cannot write %1: %2").arg(temp, writeError);
        QFile::remove(temp);
        return false;
    }
    if (!platform::restrictToOwner(temp, error)) { // the ACL on Windows; a no-op change on Unix
        QFile::remove(temp);
        return false;
    }
    std::error_code ec;
    std::filesystem::rename(QFileInfo(temp).filesystemAbsoluteFilePath(), QFileInfo(path).filesystemAbsoluteFilePath(),
                            ec);
    if (ec) {
        *error = QStringLiteral("cannot rename %1 to %2: %3").arg(temp, path, QString::fromStdString(ec.message()));
        QFile::remove(temp);
        return false;
    }
    return true;
}

QString describe(const ResourceKey &key)
{
    return QStringLiteral("%1 %2/%3").arg(key.kind, key.ns, key.name);
}

QList<FieldError> prefixed(const QString &prefix, const QList<FieldError> &errors)
{
    QList<FieldError> out;
    for (const auto &e : errors)
        out.append(FieldError{e.path.isEmpty() ? prefix : prefix + "." + e.path, e.message});
    return out;
}

} // namespace

QString ApplyOutcome::actionName() const
{
    switch (action) {
    case Action::Created:
        return QStringLiteral("created");
    case Action::Configured:
        return QStringLiteral("configured");
    case Action::Unchanged:
        return QStringLiteral("unchanged");
    }
    return {};
}

ConfigStore::ConfigStore(QObject *parent, const Clock *clock)
    : QObject(parent), m_clock(clock ? clock : &SystemClock::instance())
{
}

std::optional<Config> ConfigStore::readConfigFile(const QString &path, QString *error, QByteArray *bytes) const
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("%1: %2").arg(path, f.errorString());
        return std::nullopt;
    }
    const QByteArray text = f.readAll();
    if (bytes)
        *bytes = text;
    QList<FieldError> errors;
    Config c = Config::fromJsonText(text, &errors);
    if (errors.isEmpty())
        errors = validateAndKeep(c);
    if (errors.isEmpty() && m_validator)
        errors = m_validator(c);
    if (errors.isEmpty() && m_crossCheck)
        errors = m_crossCheck(c);
    if (!errors.isEmpty()) {
        *error = QStringLiteral("%1: %2").arg(path, joinErrors(errors));
        return std::nullopt;
    }
    return c;
}

QJsonObject ConfigStore::usableAdminBlock(const QByteArray &text) const
{
    // The admin API is how the bad file gets fixed: keep its address and port when only other blocks are bad, so
    // the API is where the user (and dfproxyctl, which reads the same file) expects it, not on the default port.
    QList<FieldError> errors;
    Config c = Config::fromJsonText(text, &errors);
    if (!errors.isEmpty())
        return {};
    errors = validateConfig(c);
    if (m_validator)
        errors += m_validator(c);
    const bool adminBad = std::any_of(errors.begin(), errors.end(),
                                      [](const FieldError &e) { return e.path.startsWith(QLatin1String("admin")); });
    return adminBad ? QJsonObject{} : c.admin;
}

void ConfigStore::tightenModes() const
{
    for (const QString &file : {m_path, m_path + ".bak", m_path + ".rejected"}) {
        if (!platform::isAccessibleToOthers(file))
            continue;
        const QString before = platform::describeMode(file);
        QString error;
        if (platform::restrictToOwner(file, &error))
            qCWarning(lcConfig).noquote() << QStringLiteral("%1 was mode %2, readable by others although it holds "
                                                            "secrets; restricted it to its owner (0600)")
                                                 .arg(file, before);
        else
            qCWarning(lcConfig).noquote() << error;
    }
}

bool ConfigStore::load(const QString &path)
{
    m_path = path;
    tightenModes();
    const QString bak = path + ".bak";
    const QJsonObject before = m_config.toJson();
    const bool hadConfig = m_loadedOnce;
    bool ok = true;
    QString error;
    std::optional<Config> next;
    qint64 storedVersion = 0; // the file's top-level resourceVersion (writeFile), 0 if none

    if (!QFileInfo::exists(path)) {
        // First start (or the file was removed): prefer a good backup, else the built-in default; write it out.
        if (QFileInfo::exists(bak))
            next = readConfigFile(bak, &error);
        if (!next) {
            QString defaultError;
            QByteArray text = m_defaultText;
            if (text.isEmpty()) {
                QFile res(QStringLiteral(":/dfproxy/default-config.json"));
                text = res.open(QIODevice::ReadOnly) ? res.readAll() : QByteArray(kMinimalDefault);
            }
            QList<FieldError> errors;
            Config c = Config::fromJsonText(text, &errors);
            if (!errors.isEmpty()) {
                m_lastError = QStringLiteral("built-in default config: %1").arg(joinErrors(errors));
                return false;
            }
            next = c;
        }
        m_mainFileGood = false;
        QString writeError;
        if (!writeFile(*next, 0, &writeError)) {
            error = writeError;
            ok = false;
        } else {
            error.clear();
        }
        m_usingBackup = false;
        m_usingEmpty = false;
    } else if (QByteArray bytes; (next = readConfigFile(path, &error, &bytes))) {
        storedVersion = storedResourceVersion(bytes);
        m_mainFileGood = true;
        m_usingBackup = false;
        m_usingEmpty = false;
        m_fileHash = sha256(bytes);
    } else {
        m_mainFileGood = false;
        ok = false;
        m_fileHash = sha256(bytes);
        QString bakError;
        // The backup is for starting after a crash or a bad edit while stopped. A bad edit of a running service
        // must not switch it to the older backup: it keeps what it runs.
        if (hadConfig) {
            error += QStringLiteral("; keeping the configuration in effect");
        } else if (QByteArray bakBytes; QFileInfo::exists(bak) && (next = readConfigFile(bak, &bakError, &bakBytes))) {
            storedVersion = storedResourceVersion(bakBytes);
            m_usingBackup = true;
            error += QStringLiteral("; using the previous version %1").arg(bak);
        } else {
            if (!bakError.isEmpty())
                error += QStringLiteral("; the previous version is bad too (%1)").arg(bakError);
            error += QStringLiteral("; starting with an empty configuration");
            m_usingEmpty = true;
            QList<FieldError> ignored;
            next = Config::fromJsonText(kMinimalDefault, &ignored);
            next->admin = usableAdminBlock(bytes);
        }
    }

    if (next) {
        // Hand-written files lack server-managed metadata; fill it in memory (stored with the next change).
        // A reload never takes the version back, and a reload that changed something is a write.
        const qint64 previousVersion = hadConfig ? m_version : 0;
        m_version = std::max(storedVersion, previousVersion);
        for (const auto &r : next->resources)
            m_version = std::max(m_version, versionOf(r));
        for (auto &r : next->resources) {
            if (versionOf(r) == 0 || r.metadata().value("uid").toString().isEmpty())
                r = prepare(r.json(), versionOf(r) ? &r : nullptr, versionOf(r) ? versionOf(r) : ++m_version);
        }
        if (hadConfig && m_version == previousVersion && next->toJson() != before)
            ++m_version;
        if (next->parsed.isEmpty() && m_validator)
            m_validator(*next); // the built-in default or the empty config: accepted as they are, parsed all the same
        m_config = *next;
    }
    if (!ok)
        qCDebug(lcConfig).noquote() << "rejected" << path << "-" << error;
    else if (next)
        qCDebug(lcConfig).noquote() << "accepted version" << m_version << "from" << path;
    if (m_usingBackup)
        qCDebug(lcConfig).noquote() << "using the backup" << bak << "(version" << m_version << ")";
    m_loadedOnce = true;
    m_lastError = error;
    if (m_watcher) // re-arm: a replaced file drops out of the watch list
        setWatching(true, m_debounce.interval());
    if (m_config.toJson() != before)
        Q_EMIT changed();
    if (!ok)
        Q_EMIT loadFailed(m_lastError);
    return ok;
}

void ConfigStore::setWatching(bool on, int debounceMs)
{
    if (!on) {
        delete m_watcher;
        m_watcher = nullptr;
        m_debounce.stop();
        return;
    }
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(debounceMs);
    if (!m_watcher) {
        m_watcher = new QFileSystemWatcher(this);
        connect(m_watcher, &QFileSystemWatcher::fileChanged, &m_debounce, qOverload<>(&QTimer::start));
        connect(m_watcher, &QFileSystemWatcher::directoryChanged, &m_debounce, qOverload<>(&QTimer::start));
        connect(&m_debounce, &QTimer::timeout, this, &ConfigStore::onWatchTimeout, Qt::UniqueConnection);
    }
    if (m_path.isEmpty())
        return;
    const QString dir = QFileInfo(m_path).absolutePath();
    if (!m_watcher->directories().contains(dir))
        m_watcher->addPath(dir);
    if (QFileInfo::exists(m_path) && !m_watcher->files().contains(m_path))
        m_watcher->addPath(m_path);
}

void ConfigStore::onWatchTimeout()
{
    if (m_path.isEmpty())
        return;
    setWatching(true, m_debounce.interval());
    QFile f(m_path);
    if (!f.open(QIODevice::ReadOnly))
        return; // removed (or mid-replace): the next event brings it back; a missing file is not reloaded
    if (sha256(f.readAll()) == m_fileHash)
        return; // our own write, or a touch without change
    qCInfo(lcConfig).noquote() << "config file" << m_path << "changed on disk; reloading";
    if (!reload())
        qCWarning(lcConfig).noquote() << "config reload rejected, keeping the running config:" << m_lastError;
}

QString ConfigStore::configEtag() const
{
    const QByteArray canonical = QJsonDocument(m_config.toJson()).toJson(QJsonDocument::Compact);
    return QString::fromLatin1(sha256(canonical).toHex().left(20));
}

StoreResult<Config> ConfigStore::replaceConfig(const QJsonObject &document, const WriteOptions &opts)
{
    using R = StoreResult<Config>;
    if (!opts.ifMatch.isEmpty() && opts.ifMatch != "*" && opts.ifMatch != configEtag())
        return R::fail(StoreErrorCode::PreconditionFailed,
                       QStringLiteral("the config changed (ETag \"%1\", yours \"%2\"); get it again and retry")
                           .arg(configEtag(), opts.ifMatch));
    QList<FieldError> errors;
    Config next = Config::fromJson(document, &errors);
    if (!errors.isEmpty())
        return rejected<R>(QStringLiteral("the config is invalid"), errors);
    QList<ResourceKey> seen;
    for (int i = 0; i < next.resources.size(); ++i) {
        const ResourceKey key = next.resources[i].key();
        if (seen.contains(key))
            errors.append(FieldError{QStringLiteral("resources[%1]").arg(i),
                                     QStringLiteral("%1 appears twice").arg(describe(key))});
        seen.append(key);
    }
    errors += validateAndKeep(next);
    if (errors.isEmpty() && m_validator)
        errors += m_validator(next);
    if (errors.isEmpty() && m_crossCheck)
        errors += m_crossCheck(next);
    const auto outside = m_confinement.check(fileReferences(next), fileReferences(m_config));
    errors += outside;
    errors += checkSecretFiles(fileReferences(next), fileReferences(m_config));
    if (!errors.isEmpty())
        return rejected<R>(
            invalidDetail(QStringLiteral("the config is invalid; nothing was changed"), !outside.isEmpty()), errors);
    qint64 version = m_version;
    for (auto &r : next.resources) {
        const int i = indexOf(r.key());
        const Resource *prev = i >= 0 ? &m_config.resources[i] : nullptr;
        if (prev && stripServerFields(r.json()) == stripServerFields(prev->json()))
            r = *prev;
        else
            r = prepare(r.json(), prev, ++version);
    }
    if (next.toJson() == m_config.toJson() || opts.dryRun)
        return R::ok(next);
    if (version == m_version)
        ++version; // only deletions or global blocks changed: still a write, still a new version
    StoreError error;
    if (!commit(next, version, &error))
        return R{std::nullopt, error};
    return R::ok(m_config);
}

QString ConfigStore::nowRfc3339() const
{
    return m_clock->wallNow().toUTC().toString(Qt::ISODate);
}

QJsonObject ConfigStore::stripServerFields(QJsonObject object)
{
    object.remove("status");
    auto md = object.value("metadata").toObject();
    for (const auto &k : serverManagedMetadata())
        md.remove(k);
    if (object.contains("metadata"))
        object.insert("metadata", md);
    return object;
}

QJsonValue ConfigStore::mergePatch(const QJsonValue &target, const QJsonValue &patch)
{
    if (!patch.isObject())
        return patch;
    QJsonObject result = target.isObject() ? target.toObject() : QJsonObject{};
    const QJsonObject p = patch.toObject();
    for (auto it = p.begin(); it != p.end(); ++it) {
        if (it.value().isNull())
            result.remove(it.key());
        else
            result.insert(it.key(), mergePatch(result.value(it.key()), it.value()));
    }
    return result;
}

Resource ConfigStore::prepare(QJsonObject incoming, const Resource *previous, qint64 version) const
{
    incoming = stripServerFields(incoming);
    Resource r(incoming);
    auto md = r.metadata();
    md.insert("namespace", r.ns());
    if (previous) {
        const auto pmd = previous->metadata();
        md.insert("uid", pmd.value("uid").toString().isEmpty() ? QUuid::createUuid().toString(QUuid::WithoutBraces)
                                                                : pmd.value("uid").toString());
        md.insert("creationTimestamp", pmd.value("creationTimestamp").toString().isEmpty()
                                           ? nowRfc3339()
                                           : pmd.value("creationTimestamp").toString());
        const qint64 gen = pmd.value("generation").toInteger(1);
        md.insert("generation", previous->json().value("spec") == incoming.value("spec") ? gen : gen + 1);
    } else {
        md.insert("uid", QUuid::createUuid().toString(QUuid::WithoutBraces));
        md.insert("creationTimestamp", nowRfc3339());
        md.insert("generation", 1);
    }
    md.insert("resourceVersion", QString::number(version));
    r.json().insert("metadata", md);
    return r;
}

QList<FieldError> ConfigStore::validate(const Resource &r, bool *confined) const
{
    QList<FieldError> errors = validateResource(r);
    const auto outside = m_confinement.check(fileReferences(r), fileReferences(m_config));
    if (confined)
        *confined = !outside.isEmpty();
    return errors + outside + checkSecretFiles(fileReferences(r), fileReferences(m_config));
}

QString ConfigStore::invalidDetail(const QString &message, bool confined) const
{
    return confined ? QStringLiteral("%1; %2").arg(message, m_confinement.describe()) : message;
}

int ConfigStore::indexOf(const ResourceKey &key) const
{
    for (int i = 0; i < m_config.resources.size(); ++i) {
        if (m_config.resources[i].key() == key)
            return i;
    }
    return -1;
}

StoreResult<Resource> ConfigStore::get(const ResourceKey &key) const
{
    const int i = indexOf(key);
    if (i < 0)
        return StoreResult<Resource>::fail(StoreErrorCode::NotFound, QStringLiteral("%1 not found").arg(describe(key)));
    return StoreResult<Resource>::ok(m_config.resources[i]);
}

StoreResult<QList<Resource>> ConfigStore::list(const QString &kind, const QString &ns,
                                               const QString &labelSelector) const
{
    QString error;
    const auto reqs = parseSelector(labelSelector, &error);
    if (!reqs)
        return StoreResult<QList<Resource>>::fail(StoreErrorCode::BadRequest, error);
    QList<Resource> out;
    for (const auto &r : m_config.resources) {
        if ((kind.isEmpty() || r.kind() == kind) && (ns.isEmpty() || r.ns() == ns) && matches(*reqs, r))
            out.append(r);
    }
    std::sort(out.begin(), out.end(), [](const Resource &a, const Resource &b) {
        const int ka = kindOrder(a.kind()), kb = kindOrder(b.kind());
        if (ka != kb)
            return ka < kb;
        if (a.ns() != b.ns())
            return a.ns() < b.ns();
        return a.name() < b.name();
    });
    return StoreResult<QList<Resource>>::ok(out);
}

StoreResult<Resource> ConfigStore::create(const QJsonObject &object, const WriteOptions &opts)
{
    using R = StoreResult<Resource>;
    Resource r = prepare(object, nullptr, m_version + 1);
    bool confined = false;
    if (const auto errors = validate(r, &confined); !errors.isEmpty())
        return rejected<R>(invalidDetail(QStringLiteral("%1 is invalid").arg(describe(r.key())), confined), errors);
    if (indexOf(r.key()) >= 0)
        return R::fail(StoreErrorCode::Conflict, QStringLiteral("%1 already exists").arg(describe(r.key())));
    Config next = m_config;
    next.resources.append(r);
    if (const auto errors = newCrossErrors(next, {{r.key(), QString()}}); !errors.isEmpty())
        return rejected<R>(QStringLiteral("%1 is invalid").arg(describe(r.key())), errors);
    if (opts.dryRun)
        return R::ok(r);
    StoreError error;
    if (!commit(std::move(next), m_version + 1, &error))
        return R{std::nullopt, error};
    return R::ok(r);
}

StoreResult<Resource> ConfigStore::replace(const ResourceKey &key, const QJsonObject &object, const WriteOptions &opts)
{
    using R = StoreResult<Resource>;
    const int i = indexOf(key);
    if (i < 0)
        return R::fail(StoreErrorCode::NotFound, QStringLiteral("%1 not found").arg(describe(key)));
    const Resource &prev = m_config.resources[i];
    const QString prevVersion = prev.metadata().value("resourceVersion").toString();
    if (!opts.ifMatch.isEmpty() && opts.ifMatch != prevVersion)
        return R::fail(StoreErrorCode::PreconditionFailed,
                       QStringLiteral("%1 has resourceVersion %2, not %3").arg(describe(key), prevVersion, opts.ifMatch));
    QJsonObject obj = object;
    auto md = obj.value("metadata").toObject();
    if (!md.contains("namespace") && obj.value("metadata").isObject())
        md.insert("namespace", key.ns);
    if (obj.value("metadata").isObject())
        obj.insert("metadata", md);
    const Resource incoming(obj);
    if (incoming.kind() != key.kind || incoming.ns() != key.ns || incoming.name() != key.name)
        return R::fail(StoreErrorCode::BadRequest,
                       QStringLiteral("the object (%1) does not match the request path (%2)")
                           .arg(describe(incoming.key()), describe(key)));
    const QString givenVersion = md.value("resourceVersion").toString();
    if (!givenVersion.isEmpty() && givenVersion != prevVersion)
        return R::fail(StoreErrorCode::Conflict,
                       QStringLiteral("%1 was modified (resourceVersion %2, yours %3); get it again and retry")
                           .arg(describe(key), prevVersion, givenVersion));
    Resource r = prepare(obj, &prev, m_version + 1);
    bool confined = false;
    if (const auto errors = validate(r, &confined); !errors.isEmpty())
        return rejected<R>(invalidDetail(QStringLiteral("%1 is invalid").arg(describe(key)), confined), errors);
    if (stripServerFields(r.json()) == stripServerFields(prev.json()))
        return R::ok(prev); // a no-op update keeps the resourceVersion, as Kubernetes does
    Config next = m_config;
    next.resources[i] = r;
    if (const auto errors = newCrossErrors(next, {{key, QString()}}); !errors.isEmpty())
        return rejected<R>(QStringLiteral("%1 is invalid").arg(describe(key)), errors);
    if (opts.dryRun)
        return R::ok(r);
    StoreError error;
    if (!commit(std::move(next), m_version + 1, &error))
        return R{std::nullopt, error};
    return R::ok(r);
}

StoreResult<Resource> ConfigStore::patch(const ResourceKey &key, const QJsonObject &patchObj, const WriteOptions &opts)
{
    const int i = indexOf(key);
    if (i < 0)
        return StoreResult<Resource>::fail(StoreErrorCode::NotFound, QStringLiteral("%1 not found").arg(describe(key)));
    QJsonObject base = m_config.resources[i].json();
    base.remove("status");
    const QJsonObject merged = mergePatch(base, patchObj).toObject();
    return replace(key, merged, opts);
}

StoreResult<Resource> ConfigStore::remove(const ResourceKey &key, const WriteOptions &opts)
{
    using R = StoreResult<Resource>;
    const int i = indexOf(key);
    if (i < 0)
        return R::fail(StoreErrorCode::NotFound, QStringLiteral("%1 not found").arg(describe(key)));
    const Resource prev = m_config.resources[i];
    const QString prevVersion = prev.metadata().value("resourceVersion").toString();
    if (!opts.ifMatch.isEmpty() && opts.ifMatch != prevVersion)
        return R::fail(StoreErrorCode::PreconditionFailed,
                       QStringLiteral("%1 has resourceVersion %2, not %3").arg(describe(key), prevVersion, opts.ifMatch));
    if (opts.dryRun)
        return R::ok(prev);
    Config next = m_config;
    next.resources.removeAt(i);
    StoreError error;
    // A deletion is a change too: continue tokens and pollers of the version must see it.
    if (!commit(std::move(next), m_version + 1, &error))
        return R{std::nullopt, error};
    return R::ok(prev);
}

StoreResult<QList<ApplyOutcome>> ConfigStore::apply(const QJsonArray &objects, const WriteOptions &opts)
{
    using R = StoreResult<QList<ApplyOutcome>>;
    Config next = m_config;
    qint64 version = m_version;
    QList<ApplyOutcome> outcomes;
    QList<FieldError> errors;
    QStringList invalid;
    QList<ResourceKey> seen;
    QList<QPair<ResourceKey, QString>> written;
    bool anyChange = false;
    bool confined = false;
    for (int i = 0; i < objects.size(); ++i) {
        const QString prefix = QStringLiteral("items[%1]").arg(i);
        if (!objects[i].isObject()) {
            errors.append(FieldError{prefix, "must be an object"});
            invalid.append(prefix);
            continue;
        }
        const Resource incoming(objects[i].toObject());
        if (const auto env = incoming.validateEnvelope(); !env.isEmpty()) {
            errors.append(prefixed(prefix, env));
            invalid.append(incoming.name().isEmpty() ? prefix : describe(incoming.key()));
            continue;
        }
        if (seen.contains(incoming.key())) {
            errors.append(FieldError{prefix, QStringLiteral("%1 appears twice").arg(describe(incoming.key()))});
            invalid.append(describe(incoming.key()));
            continue;
        }
        seen.append(incoming.key());
        written.append({incoming.key(), prefix});
        const auto it = std::find_if(next.resources.begin(), next.resources.end(),
                                     [&](const Resource &r) { return r.key() == incoming.key(); });
        const Resource *prev = it != next.resources.end() ? &*it : nullptr;
        Resource r = prepare(incoming.json(), prev, version + 1);
        bool outside = false;
        if (const auto e = validate(r, &outside); !e.isEmpty()) {
            confined = confined || outside;
            errors.append(prefixed(prefix, e));
            invalid.append(describe(r.key()));
            continue;
        }
        ApplyOutcome out;
        if (!prev) {
            out.action = ApplyOutcome::Action::Created;
            next.resources.append(r);
        } else if (stripServerFields(r.json()) == stripServerFields(prev->json())) {
            out.action = ApplyOutcome::Action::Unchanged;
            r = *prev;
        } else {
            out.action = ApplyOutcome::Action::Configured;
            *it = r;
        }
        if (out.action != ApplyOutcome::Action::Unchanged) {
            ++version;
            anyChange = true;
        }
        out.resource = r;
        outcomes.append(out);
    }
    if (!errors.isEmpty()) {
        invalid.removeDuplicates();
        return rejected<R>(invalidDetail(QStringLiteral("%1 %2 invalid; nothing was applied")
                                             .arg(invalid.join(", "), invalid.size() == 1 ? "is" : "are"),
                                         confined),
                           errors);
    }
    if (anyChange) {
        if (const auto cross = newCrossErrors(next, written); !cross.isEmpty())
            return rejected<R>(QStringLiteral("together with the config in effect these objects are invalid; nothing "
                                              "was applied"),
                               cross);
    }
    if (opts.dryRun || !anyChange)
        return R::ok(outcomes);
    StoreError error;
    if (!commit(std::move(next), version, &error))
        return R{std::nullopt, error};
    return R::ok(outcomes);
}

QList<FieldError> ConfigStore::newCrossErrors(const Config &next,
                                             const QList<QPair<ResourceKey, QString>> &written) const
{
    if (!m_crossCheck)
        return {};
    const QList<FieldError> all = m_crossCheck(next);
    if (all.isEmpty())
        return all;
    QStringList before; // a write is not refused for what the config had already (messages name their objects)
    for (const FieldError &e : m_crossCheck(m_config))
        before.append(e.message);
    static const QRegularExpression indexed(QStringLiteral("^resources\\[(\\d+)\\]\\.?"));
    QList<FieldError> errors;
    for (FieldError e : all) {
        if (before.contains(e.message))
            continue;
        const QRegularExpressionMatch m = indexed.match(e.path);
        const int i = m.hasMatch() ? m.captured(1).toInt() : -1;
        if (i >= 0 && i < next.resources.size()) {
            const ResourceKey key = next.resources[i].key();
            const auto w =
                std::find_if(written.cbegin(), written.cend(), [&](const auto &p) { return p.first == key; });
            if (w != written.cend()) {
                const QString rest = e.path.mid(m.capturedLength());
                e.path = w->second.isEmpty() ? rest : rest.isEmpty() ? w->second : w->second + u'.' + rest;
            } else {
                e.message = describe(key) + QStringLiteral(": ") + e.message; // not in this write: say which one
            }
        }
        errors.append(e);
    }
    return errors;
}

bool ConfigStore::commit(Config next, qint64 version, StoreError *error)
{
    QString writeError;
    if (!m_path.isEmpty() && !writeFile(next, version, &writeError)) {
        m_lastError = writeError;
        *error = StoreError{StoreErrorCode::Internal, writeError, {}};
        return false;
    }
    m_config = std::move(next);
    m_version = version; // before changed(): its receivers see the new version
    m_lastError.clear();
    qCDebug(lcConfig).noquote() << "accepted version" << version << "with" << m_config.resources.size()
                                << "resources" << (m_path.isEmpty() ? QString() : "written to " + m_path);
    Q_EMIT changed();
    return true;
}

bool ConfigStore::writeFile(const Config &config, qint64 version, QString *error)
{
    const QFileInfo info(m_path);
    const QString dir = info.absolutePath();
    const bool newDir = !QFileInfo::exists(dir);
    if (!QDir().mkpath(dir)) {
        *error = QStringLiteral("cannot create directory %1").arg(dir);
        return false;
    }
    if (newDir && !platform::restrictToOwner(dir, error)) // 0700: what it will hold is private
        return false;
    if (info.exists()) {
        // Keep the previous good version as .bak. A file that was rejected on load is not a good version: keep
        // the existing .bak and save the rejected text aside so hand edits are not lost.
        const QString target = m_mainFileGood ? m_path + ".bak" : m_path + ".rejected";
        QFile current(m_path);
        if (!current.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1: %2").arg(m_path, current.errorString());
            return false;
        }
        if (!writePrivateFile(target, current.readAll(), error))
            return false;
    }
    QJsonObject document = config.toJson();
    // The collection's version is kept beside the objects: a deletion raises it above every object's version, and
    // after a restart it must not go back (pollers and continue tokens would mistake a new state for an old one).
    if (version > 0)
        document.insert(QStringLiteral("resourceVersion"), QString::number(version));
    const QByteArray bytes = QJsonDocument(document).toJson(QJsonDocument::Indented);
    if (!writePrivateFile(m_path, bytes, error))
        return false;
    m_fileHash = sha256(bytes);
    m_mainFileGood = true;
    m_usingBackup = false;
    m_usingEmpty = false;
    return true;
}

} // namespace dfproxy::config
