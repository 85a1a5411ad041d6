// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

QT_BEGIN_NAMESPACE
class QFile;
QT_END_NAMESPACE

namespace dfproxy::platform {

/// Makes `path` (a file or a directory) private to its owner, because it holds secrets (password hashes, JWT keys,
/// the admin token): mode 0600 for a file and 0700 for a directory on Unix; on Windows a protected ACL (nothing
/// inherited) giving full control to the file's owner (the service account), SYSTEM and Administrators only.
/// Returns false and sets `error` (may be null) when that fails.
bool restrictToOwner(const QString &path, QString *error = nullptr);

/// True when someone other than the owner may read or write `path` (Unix: any group or other mode bit). Always
/// false on Windows, where restrictToOwner() is applied on every write instead. False when `path` does not exist.
bool isAccessibleToOthers(const QString &path);

/// The mode of `path` for a log line ("0644"); empty on Windows or when it cannot be read.
QString describeMode(const QString &path);

/// Flushes `file`'s data to the disk (fsync / FlushFileBuffers), so a rename after it never leaves an empty file
/// after a power loss. Returns false when the system reports an error.
bool syncToDisk(QFile &file);

} // namespace dfproxy::platform
