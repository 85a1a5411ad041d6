// SPDX-License-Identifier: Apache-2.0
#include "config/fileconfinement.h"

#include "config/agentgatewaypolicy.h"
#include "config/tunnelcredentials.h"
#include "platform/filepermissions.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QRegularExpression>

#include <algorithm>

namespace dfproxy::config {

namespace {

#if defined(Q_OS_WIN) || defined(Q_OS_MACOS)
constexpr Qt::CaseSensitivity kPathCase = Qt::CaseInsensitive; // the default file systems ignore case
#else
constexpr Qt::CaseSensitivity kPathCase = Qt::CaseSensitive;
#endif

QString joined(const QString &dir, const QString &rest)
{
    return dir.endsWith(u'/') ? dir + rest : dir + u'/' + rest;
}

QString parentOf(const QString &resolved)
{
    const qsizetype slash = resolved.lastIndexOf(u'/');
    if (slash <= 0)
        return resolved.left(1); // "/" stays "/"
    const QString parent = resolved.left(slash);
    return parent.endsWith(u':') ? parent + u'/' : parent; // "C:/a" -> "C:/"
}

bool isInside(const QString &file, const QString &dir)
{
    return !dir.isEmpty() && file.size() > dir.size() && file.startsWith(joined(dir, {}), kPathCase);
}

void addString(QList<FileReference> &out, const QJsonObject &o, const char *key, const QString &field, bool write)
{
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isString() && !v.toString().isEmpty())
        out.append(FileReference{field + u'.' + QLatin1String(key), v.toString(), write});
}

QString nativeList(const QStringList &dirs)
{
    QStringList out;
    for (const auto &d : dirs)
        out.append(QDir::toNativeSeparators(d));
    return out.isEmpty() ? QStringLiteral("(none)") : out.join(QStringLiteral(", "));
}

QString firstOf(const QString &envList)
{
    // systemd passes one directory per StateDirectory=/LogsDirectory= entry, separated by ':'.
    return envList.split(u':', Qt::SkipEmptyParts).value(0);
}

} // namespace

QList<FileReference> fileReferences(const Resource &resource)
{
    QList<FileReference> out;
    const QJsonObject spec = resource.spec();
    const QString kind = resource.kind();
    if (kind == QLatin1String(kinds::Gateway)) {
        const QJsonArray listeners = spec.value("listeners").toArray();
        for (qsizetype i = 0; i < listeners.size(); ++i) {
            const QJsonObject tls = listeners[i].toObject().value("tls").toObject();
            const QString p = QStringLiteral("spec.listeners[%1].tls").arg(i);
            addString(out, tls, "certFile", p, false);
            addString(out, tls, "keyFile", p, false);
        }
    } else if (kind == QLatin1String(kinds::Backend)) {
        addString(out, spec.value("tls").toObject(), "caFile", QStringLiteral("spec.tls"), false);
    } else if (kind == QLatin1String(kinds::AuthenticationPolicy)) {
        addString(out, spec.value("basic").toObject(), "htpasswdFile", QStringLiteral("spec.basic"), false);
        addString(out, spec.value("jwt").toObject(), "jwksFile", QStringLiteral("spec.jwt"), false);
    } else if (kind == QLatin1String(kinds::AgentgatewayPolicy)) {
        const QJsonObject ann = resource.metadata().value("annotations").toObject();
        const QString credentials = ann.value(QLatin1String(annotations::TunnelCredentialsFile)).toString().trimmed();
        if (!credentials.isEmpty())
            out.append(FileReference{QStringLiteral("metadata.annotations[%1]").arg(annotations::TunnelCredentialsFile),
                                     credentials, false, true});
        for (const char *name : {annotations::HtpasswdFile, annotations::ApiKeysFile, annotations::JwksFile,
                                 annotations::BackendTlsCaFile, annotations::TunnelCaFile}) {
            const QString file = ann.value(QLatin1String(name)).toString().trimmed();
            if (!file.isEmpty())
                out.append(FileReference{QStringLiteral("metadata.annotations[%1]").arg(QLatin1String(name)), file,
                                         false});
        }
        const QString pac = tunnelPacFile(resource);
        if (!pac.isEmpty())
            out.append(FileReference{QStringLiteral("metadata.annotations[%1]").arg(annotations::TunnelPacUrl), pac,
                                     false});
    }
    return out;
}

QList<FileReference> fileReferences(const Config &config)
{
    QList<FileReference> out;
    addString(out, config.logging.value("accessLog").toObject(), "path", QStringLiteral("logging.accessLog"), true);
    addString(out, config.dns, "hostsFilePath", QStringLiteral("dns"), false);
    for (qsizetype i = 0; i < config.resources.size(); ++i) {
        for (auto ref : fileReferences(config.resources[i])) {
            ref.field = QStringLiteral("resources[%1].").arg(i) + ref.field;
            out.append(ref);
        }
    }
    return out;
}

QString resolvedFilePath(const QString &path)
{
    if (path.isEmpty())
        return {};
    QString p = QDir::fromNativeSeparators(path);
    if (QDir::isRelativePath(p))
        p = joined(QDir::fromNativeSeparators(QDir::currentPath()), p); // as open(2) would: against the cwd
    QString root = QStringLiteral("/");
    QString rest = p;
#if defined(Q_OS_WIN)
    if (p.startsWith(QLatin1String("//"))) { // \\server\share\...
        const QStringList parts = p.mid(2).split(u'/', Qt::SkipEmptyParts);
        if (parts.size() < 2)
            return {};
        root = QStringLiteral("//%1/%2/").arg(parts[0], parts[1]);
        rest = parts.mid(2).join(u'/');
    } else if (p.size() >= 2 && p[1] == u':') {
        root = p.left(2) + u'/';
        rest = p.mid(2);
    }
#endif
    QString resolved = QFileInfo(root).canonicalFilePath();
    if (resolved.isEmpty())
        return {};
    const QStringList parts = rest.split(u'/', Qt::SkipEmptyParts);
    for (qsizetype i = 0; i < parts.size(); ++i) {
        const QString &part = parts[i];
        if (part == QLatin1String("."))
            continue;
        if (part == QLatin1String("..")) {
            resolved = parentOf(resolved); // `resolved` has no symlink left, so its lexical parent is the real one
            continue;
        }
        const QFileInfo info(joined(resolved, part));
        if (info.exists() || info.isSymLink()) {
            // A dangling symlink has no canonical path; open(O_CREAT) would create its target wherever it points.
            resolved = info.canonicalFilePath();
            if (resolved.isEmpty())
                return {};
            continue;
        }
        QStringList tail = parts.mid(i);
        tail.removeAll(QStringLiteral("."));
        if (tail.contains(QStringLiteral("..")))
            return {};
        return joined(resolved, tail.join(u'/'));
    }
    return resolved;
}

FileConfinement FileConfinement::forConfigFile(const QString &configPath, const QString &systemConfigPath)
{
    const QString configDir = QFileInfo(configPath).absolutePath();
    const bool system = resolvedFilePath(configPath) == resolvedFilePath(systemConfigPath);
    QString stateDir = firstOf(qEnvironmentVariable("STATE_DIRECTORY"));
    QString logDir = firstOf(qEnvironmentVariable("LOGS_DIRECTORY"));
    if (system) {
#if defined(Q_OS_WIN)
        const QString programData =
            QDir::fromNativeSeparators(qEnvironmentVariable("ProgramData", QStringLiteral("C:/ProgramData")));
        const QString platformState = programData + QStringLiteral("/dfproxy");
        const QString platformLogs = programData + QStringLiteral("/dfproxy/logs");
#elif defined(Q_OS_MACOS)
        const QString platformState = QStringLiteral("/Library/Application Support/dfproxy");
        const QString platformLogs = QStringLiteral("/Library/Logs/dfproxy");
#else
        const QString platformState = QStringLiteral("/var/lib/dfproxy");
        const QString platformLogs = QStringLiteral("/var/log/dfproxy");
#endif
        if (stateDir.isEmpty())
            stateDir = platformState;
        if (logDir.isEmpty())
            logDir = platformLogs;
    }
    FileConfinement c;
    c.readDirs = {configDir};
    if (!stateDir.isEmpty() && stateDir != configDir)
        c.readDirs.append(QDir::fromNativeSeparators(stateDir));
    c.writeDirs = {logDir.isEmpty() ? configDir : QDir::fromNativeSeparators(logDir)};
#if defined(Q_OS_WIN)
    c.readableFiles = {QDir::fromNativeSeparators(qEnvironmentVariable("SystemRoot", QStringLiteral("C:/Windows")))
                       + QStringLiteral("/System32/drivers/etc/hosts")};
#else
    c.readableFiles = {QStringLiteral("/etc/hosts")};
#endif
    const QString absConfig = QFileInfo(configPath).absoluteFilePath();
    for (const char *suffix : {"", ".bak", ".rejected"}) {
        c.reservedFiles.append(absConfig + QLatin1String(suffix));
        c.reservedFiles.append(absConfig + QLatin1String(suffix) + QStringLiteral(".tmp")); // ConfigStore's temp files
    }
    c.reservedFiles.append(QDir(configDir).filePath(QStringLiteral("admin-token")));
    return c;
}

QString FileConfinement::describe() const
{
    return QStringLiteral("files dfproxy reads may be under %1; files it writes under %2")
        .arg(nativeList(readDirs), nativeList(writeDirs));
}

QList<FieldError> FileConfinement::check(const QList<FileReference> &references,
                                         const QList<FileReference> &current) const
{
    QList<FieldError> errors;
    if (!isEnabled())
        return errors;
    static const QRegularExpression rotated(QStringLiteral("^\\.[0-9]+$"));
    for (const auto &ref : references) {
        const bool known = std::any_of(current.begin(), current.end(), [&](const FileReference &c) {
            return c.write == ref.write && c.path == ref.path;
        });
        if (known)
            continue;
        const QString real = resolvedFilePath(ref.path);
        const QStringList &dirs = ref.write ? writeDirs : readDirs;
        bool allowed = false;
        for (const auto &d : dirs)
            allowed = allowed || (!real.isEmpty() && isInside(real, resolvedFilePath(d)));
        if (!ref.write) {
            for (const auto &f : readableFiles)
                allowed = allowed || (!real.isEmpty() && real.compare(resolvedFilePath(f), kPathCase) == 0);
        }
        const QString shown = QDir::toNativeSeparators(ref.path)
            + (real.isEmpty() || real == ref.path ? QString()
                                                  : QStringLiteral(" (%1)").arg(QDir::toNativeSeparators(real)));
        if (!allowed) {
            errors.append(FieldError{
                ref.field,
                QStringLiteral("%1 is outside the directories the admin API may name for a file dfproxy %2: %3 (a "
                               "config file edited on disk may name any path)")
                    .arg(real.isEmpty() ? QDir::toNativeSeparators(ref.path) + QStringLiteral(" cannot be resolved and")
                                        : shown,
                         ref.write ? QStringLiteral("writes") : QStringLiteral("reads"), nativeList(dirs))});
            continue;
        }
        if (!ref.write)
            continue;
        for (const auto &r : reservedFiles) {
            const QString own = resolvedFilePath(r);
            if (own.compare(real, kPathCase) == 0
                || (own.startsWith(real, kPathCase) && rotated.match(own.mid(real.size())).hasMatch())) {
                errors.append(FieldError{ref.field, QStringLiteral("%1 would overwrite dfproxy's own file %2")
                                                        .arg(shown, QDir::toNativeSeparators(r))});
                break;
            }
        }
    }
    return errors;
}

QList<FieldError> checkSecretFiles(const QList<FileReference> &references, const QList<FileReference> &current)
{
    QList<FieldError> errors;
    for (const auto &ref : references) {
        if (!ref.secret)
            continue;
        const bool known = std::any_of(current.begin(), current.end(), [&](const FileReference &c) {
            return c.secret && c.path == ref.path;
        });
        if (known)
            continue;
        const QFileInfo info(ref.path);
        if (!info.isFile())
            errors.append(FieldError{ref.field, QStringLiteral("%1 is not a file dfproxy can read (create it, private "
                                                               "to dfproxy's account, before naming it)")
                                                    .arg(QDir::toNativeSeparators(ref.path))});
        else if (platform::isAccessibleToOthers(ref.path))
            errors.append(FieldError{ref.field, QStringLiteral("%1 holds a password and is readable by others (mode "
                                                               "%2); make it private: chmod 600 %1")
                                                    .arg(QDir::toNativeSeparators(ref.path),
                                                         platform::describeMode(ref.path))});
        else if (ref.field.contains(QLatin1String(annotations::TunnelCredentialsFile))) {
            // What it asks for is known now: a scheme dfproxy cannot speak here is refused with the write, not found
            // out by the first request through the tunnel (the file is still read per request, as it may change).
            QFile f(ref.path);
            QString problem;
            if (f.open(QIODevice::ReadOnly) && !parseTunnelCredentials(f.read(64 * 1024), ref.path, &problem))
                errors.append(FieldError{ref.field, problem});
        }
    }
    return errors;
}

} // namespace dfproxy::config
