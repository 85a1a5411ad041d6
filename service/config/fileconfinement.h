// SPDX-License-Identifier: Apache-2.0
#pragma once
// Where the files a config names may be when the config comes through the admin API. dfproxy runs as a service
// account (root or LocalSystem on some installs); without this an API caller could make it append to or rotate away
// any file (logging.accessLog.path) or read any file as htpasswd, JWKS, CA, certificate or hosts file. A config
// file edited on disk is not confined: whoever can write it could write those files anyway.

#include "config/config.h"

#include <QStringList>

namespace dfproxy::config {

/// One file path a config names.
struct FileReference
{
    QString field;      ///< "logging.accessLog.path", "resources[2].spec.basic.htpasswdFile" (or rooted at "spec")
    QString path;       ///< as written
    bool write = false; ///< dfproxy writes (and rotates) it; otherwise it only reads it
    bool secret = false; ///< it holds a secret (a password): it must exist and be private to its owner (0600)
};

/// Errors (422) for each secret reference whose file is missing or readable by others (Unix mode bits; always
/// private on Windows, see platform::isAccessibleToOthers). Whatever path the config came by: a secret file the
/// whole machine can read is a leak however it was named. References `current` already names are not checked again.
QList<FieldError> checkSecretFiles(const QList<FileReference> &references, const QList<FileReference> &current);

/// Every file path field of a whole config, with paths rooted at the config.
QList<FileReference> fileReferences(const Config &config);
/// The file path fields of one resource, with paths rooted at the resource ("spec.tls.caFile").
QList<FileReference> fileReferences(const Resource &resource);

/// The path the kernel would reach for `path`: made absolute against the working directory, then resolved one
/// component at a time, following symlinks and `..` as open(2) does. A file that does not exist yet is its deepest
/// existing directory, resolved, with the rest appended (which then must not contain `..`). Empty when it cannot
/// be judged (a dangling symlink, `..` below a directory that does not exist).
QString resolvedFilePath(const QString &path);

/// The directories files may be in when a config comes through the admin API.
struct FileConfinement
{
    QStringList readDirs;      ///< files dfproxy reads: the config directory and the service's state directory
    QStringList writeDirs;     ///< files dfproxy writes: the service's log directory
    QStringList readableFiles; ///< single files also allowed for reading (the platform's hosts file)
    /// dfproxy's own files, never a log target even inside a log directory (the config file, its backups, the
    /// admin token): the access log appends to its file and renames it on rotation.
    QStringList reservedFiles;

    bool isEnabled() const { return !readDirs.isEmpty() || !writeDirs.isEmpty(); }

    /// The confinement of a service whose config file is `configPath`: reads under the config file's directory and
    /// the state directory, writes under the log directory. The state and log directories are systemd's
    /// $STATE_DIRECTORY and $LOGS_DIRECTORY when set; else, for the system service's config file, the platform's
    /// (/var/lib/dfproxy and /var/log/dfproxy; %ProgramData%\dfproxy and %ProgramData%\dfproxy\logs;
    /// /Library/Application Support/dfproxy and /Library/Logs/dfproxy); else the config file's directory.
    /// `systemConfigPath` is the system service's config file.
    static FileConfinement forConfigFile(const QString &configPath, const QString &systemConfigPath);

    /// Errors (422) for each reference outside the directories of its role. A reference that `current` already
    /// names in the same role with the same path is allowed: it came from the file on disk (or passed this check).
    QList<FieldError> check(const QList<FileReference> &references, const QList<FileReference> &current) const;
    /// One line naming the allowed directories, for the problem's detail.
    QString describe() const;
};

} // namespace dfproxy::config
