// SPDX-License-Identifier: Apache-2.0
#pragma once
// ConfigStore: the one owner of the running config — validation, versions (resourceVersion, ETag), the file
// and its .bak, live reloads, and the change signal the service compiles snapshots from.

#include "config/config.h"
#include "config/fileconfinement.h"

#include <QJsonArray>
#include <QObject>
#include <QTimer>

#include <functional>
#include <optional>

QT_BEGIN_NAMESPACE
class QFileSystemWatcher;
QT_END_NAMESPACE

namespace dfproxy {
class Clock;
}

namespace dfproxy::config {

/// Why a store operation was refused. The admin API maps each code to one HTTP status (admin/api/apitypes.cpp, httpStatus).
enum class StoreErrorCode {
    BadRequest,         ///< malformed request (bad selector, wrong kind in path, ...): 400
    NotFound,           ///< no such object: 404
    Conflict,           ///< already exists, or metadata.resourceVersion is stale: 409
    PreconditionFailed, ///< If-Match resourceVersion does not match: 412
    Invalid,            ///< validation failed; see fields: 422
    Internal,           ///< the config file could not be written: 500
};

struct StoreError
{
    StoreErrorCode code = StoreErrorCode::Internal;
    QString message;
    QList<FieldError> fields;
};

/// A value or a StoreError.
template<typename T>
struct StoreResult
{
    std::optional<T> value;
    StoreError error;

    static StoreResult ok(T v) { return StoreResult{std::move(v), {}}; }
    static StoreResult fail(StoreErrorCode code, QString message, QList<FieldError> fields = {})
    {
        return StoreResult{std::nullopt, StoreError{code, std::move(message), std::move(fields)}};
    }
    bool isOk() const { return value.has_value(); }
    explicit operator bool() const { return isOk(); }
};

/// What apply did with one object.
struct ApplyOutcome
{
    enum class Action { Created, Configured, Unchanged };
    Action action = Action::Unchanged;
    Resource resource; ///< the object as stored (with server-managed metadata)
    /// "created", "configured" or "unchanged" (kubectl's words).
    QString actionName() const;
};

/// Options of a write.
struct WriteOptions
{
    bool dryRun = false; ///< validate and compute the result, but store nothing and emit nothing
    /// If set, the stored object's resourceVersion must equal it (HTTP If-Match), else PreconditionFailed.
    /// For replaceConfig() it is compared with configEtag(); "*" matches anything.
    QString ifMatch;
};

/// Parses the parts of a whole config the config area does not understand (the dns, proxy, admin, logging blocks)
/// into their typed form, kept in `config.parsed`, and returns every problem, paths rooted at the config
/// ("dns.servers[0]"). Runs once per version the store validates (resource writes keep the blocks and their parsed
/// form). Called on the main thread.
using ConfigValidator = std::function<QList<FieldError>(Config &)>;
/// Checks across resources that need more than this layer knows (forward::tunnelErrors: which backends an upstream
/// proxy reaches, through the routes' attachment). Returns every problem of `config`, paths rooted at the config
/// ("resources[3].spec.backend.tunnel"). Called on the main thread.
using CrossResourceCheck = std::function<QList<FieldError>(const Config &)>;

/// Owns the current configuration and its file.
///
/// The file is the source of truth at start; afterwards every accepted change is validated with
/// config::validateResource, written atomically (previous file copied to `<path>.bak` first, new content written
/// through a temp file renamed over it) and announced with changed(). The file, its backups and its directory (when
/// created here) are private to the service's account (0600/0700, an owner-only ACL on Windows): they hold
/// password hashes and JWT keys; looser modes found by load() are tightened. A file that does not parse or validate
/// never replaces a good configuration. Server-managed metadata (uid, resourceVersion, creationTimestamp,
/// generation) is set here; `status` is never stored (the API computes it on read).
///
/// Lives on the main thread; not thread-safe. Readers on other threads take a copy of config() via a queued
/// signal.
class ConfigStore : public QObject
{
    Q_OBJECT
public:
    /// `clock` (not owned; SystemClock if null) stamps creationTimestamp.
    explicit ConfigStore(QObject *parent = nullptr, const Clock *clock = nullptr);

    /// Loads `path`. Order of preference: the file; if it is bad, `<path>.bak`; if both are bad, the config
    /// already loaded (or the built-in default in memory). When no file exists, the built-in default is written to
    /// `path` (creating its directory). Returns false if the config in effect did not come from a good file or the
    /// default could not be written; lastError() says why. Even then a config is in effect (the backup, the one
    /// loaded before, or the empty one): callers keep running on it. Emits changed() if the config in effect changed.
    bool load(const QString &path);
    /// Loads the file again (e.g. after an edit by hand, SIGHUP). Unlike the first load, a bad file never falls
    /// back to `<path>.bak` here: the config in effect is kept (traffic is not disturbed) and lastError() says why.
    bool reload() { return load(m_path); }

    /// Adds the parsing and checks of the global blocks, run on every load/reload and by replaceConfig(); a config
    /// the store falls back to without validation (the built-in default, the empty one) is parsed too, its problems
    /// ignored. Set it before load().
    void setConfigValidator(ConfigValidator validator) { m_validator = std::move(validator); }
    /// Adds a check across resources, run where the validator is (loads, replaceConfig()) and also on every resource
    /// write (create, replace, patch, apply, dry runs too): a write is refused (Invalid) for the problems it brings,
    /// not for ones the config already had, with paths as the write names its objects ("items[1].spec..." for
    /// apply, "spec..." for the object written) or "resources[i]..." for another object it breaks. Set it before
    /// load().
    void setCrossResourceCheck(CrossResourceCheck check) { m_crossCheck = std::move(check); }
    /// Confines the files named by changes through create/replace/patch/apply/replaceConfig (the admin API) to
    /// `confinement`'s directories (Invalid otherwise); load() and reload() are not confined. Off by default.
    void setFileConfinement(FileConfinement confinement) { m_confinement = std::move(confinement); }
    /// Watches the config file (and its directory, since editors replace files) and reloads it shortly after it
    /// changes on disk (debounced by `debounceMs`). Our own writes are recognised and not reloaded. Off by default.
    void setWatching(bool on, int debounceMs = 200);
    bool isWatching() const { return m_watcher != nullptr; }

    /// An opaque tag of the whole config in effect (a content hash), for HTTP ETag / If-Match on /api/v1/config.
    QString configEtag() const;
    /// Replaces the whole config (global blocks and every resource) with `document` (a Config as in the file,
    /// server-managed metadata optional). Resources that did not change keep their metadata. Checks `opts.ifMatch`
    /// against configEtag() (PreconditionFailed), then parses and validates everything, including the validator
    /// hook (Invalid, with field paths like "resources[2].spec.rules" or "dns.servers[0]").
    StoreResult<Config> replaceConfig(const QJsonObject &document, const WriteOptions &opts = {});

    /// Replaces the built-in default used on first start (JSON text of a Config). By default it is the compiled-in
    /// `:/dfproxy/default-config.json`, or a minimal config if that resource is not linked in.
    void setDefaultConfigText(const QByteArray &json) { m_defaultText = json; }

    QString path() const { return m_path; }
    /// The last load or save problem, empty if none. Sticky until the next successful load/save.
    QString lastError() const { return m_lastError; }
    /// True if the config in effect came from `<path>.bak` because the main file was bad.
    bool usingBackup() const { return m_usingBackup; }
    /// True if the config in effect is the built-in empty one because neither the file nor `<path>.bak` loaded.
    bool usingEmptyConfig() const { return m_usingEmpty; }
    const Config &config() const { return m_config; }
    /// The global resourceVersion (a decimal string): every accepted write (create, update, delete, apply,
    /// replaceConfig) raises it; a stored object's resourceVersion is the global one of its last write. The file
    /// keeps it (top-level "resourceVersion"), so it never goes back across a restart.
    QString resourceVersion() const { return QString::number(m_version); }

    /// One object, or NotFound.
    StoreResult<Resource> get(const ResourceKey &key) const;
    /// Objects of `kind` (empty: all kinds), in namespace `ns` (empty: all), matching `labelSelector`
    /// ("k=v,k2!=v,k3,!k4"; a malformed selector is BadRequest). Sorted by kind, namespace, name.
    StoreResult<QList<Resource>> list(const QString &kind = {}, const QString &ns = {},
                                      const QString &labelSelector = {}) const;

    /// Creates an object; Conflict if it exists, Invalid if validation fails.
    StoreResult<Resource> create(const QJsonObject &object, const WriteOptions &opts = {});
    /// Replaces the object at `key` (the object must name the same kind/namespace/name: BadRequest otherwise).
    /// NotFound if missing. A metadata.resourceVersion in the object must match the stored one (Conflict).
    StoreResult<Resource> replace(const ResourceKey &key, const QJsonObject &object, const WriteOptions &opts = {});
    /// Applies an RFC 7386 JSON merge patch to the object at `key`.
    StoreResult<Resource> patch(const ResourceKey &key, const QJsonObject &mergePatch, const WriteOptions &opts = {});
    /// Deletes the object at `key`; returns it as it was.
    StoreResult<Resource> remove(const ResourceKey &key, const WriteOptions &opts = {});
    /// Creates or updates each object. All-or-nothing: if any object is invalid nothing is stored and the error's
    /// fields are prefixed with "items[i].". One file write and one changed() for the whole batch.
    StoreResult<QList<ApplyOutcome>> apply(const QJsonArray &objects, const WriteOptions &opts = {});

    /// The config without server-managed metadata, for export as manifests.
    static QJsonObject stripServerFields(QJsonObject object);
    /// RFC 7386 JSON merge patch.
    static QJsonValue mergePatch(const QJsonValue &target, const QJsonValue &patch);

Q_SIGNALS:
    /// An accepted change (or a reload that changed the config). config() already holds the new state.
    void changed();
    /// A load or reload was rejected; the config in effect was kept. `error` is lastError().
    void loadFailed(const QString &error);

private:
    QString nowRfc3339() const;
    /// Fills server-managed metadata of `incoming` from `previous` (or fresh for a new object) and drops status.
    Resource prepare(QJsonObject incoming, const Resource *previous, qint64 version) const;
    /// validateResource plus the file confinement; `confined` (may be null) is set when a file path was refused.
    /// m_crossCheck's problems of `next` that the config in effect does not have; `written` names the objects of
    /// the write with the prefix their paths get ("items[2]", or "" for the one object of create/replace).
    QList<FieldError> newCrossErrors(const Config &next, const QList<QPair<ResourceKey, QString>> &written) const;
    QList<FieldError> validate(const Resource &r, bool *confined = nullptr) const;
    /// `message`, plus the allowed directories when `confined`.
    QString invalidDetail(const QString &message, bool confined) const;
    std::optional<Config> readConfigFile(const QString &path, QString *error, QByteArray *bytes = nullptr) const;
    void onWatchTimeout();
    /// The admin block of a config file that was refused, when the file parses and that block is valid; else {}.
    QJsonObject usableAdminBlock(const QByteArray &text) const;
    /// Restricts the config file and its backups to the owner when someone else may read them (logged).
    void tightenModes() const;
    /// Writes `next` and makes it the config in effect at `version`; emits changed().
    bool commit(Config next, qint64 version, StoreError *error);
    /// `version` > 0 is kept as the file's top-level "resourceVersion" (so it survives a restart).
    bool writeFile(const Config &config, qint64 version, QString *error);
    int indexOf(const ResourceKey &key) const;

    const Clock *m_clock;
    QString m_path;
    QString m_lastError;
    QByteArray m_defaultText;
    Config m_config;
    qint64 m_version = 0;
    bool m_loadedOnce = false;
    bool m_mainFileGood = false;
    bool m_usingBackup = false;
    bool m_usingEmpty = false;
    ConfigValidator m_validator;
    CrossResourceCheck m_crossCheck;
    FileConfinement m_confinement;
    QFileSystemWatcher *m_watcher = nullptr;
    QTimer m_debounce;
    QByteArray m_fileHash; ///< SHA-256 of the file as last read or written by us: skip reloads of our own writes
};

} // namespace dfproxy::config
