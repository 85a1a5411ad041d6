// SPDX-License-Identifier: Apache-2.0
#pragma once
// A size-rotated append-only file for the access log (path, path.1, ... path.N).

#include <QFile>
#include <QString>

namespace dfproxy::telemetry {

/// An append-only log file rotated by size: when a write would take the file past maxSizeBytes, `path` becomes
/// `path.1`, `path.1` becomes `path.2`, ... and only `maxFiles` rotated files are kept (the oldest is deleted).
/// A single write larger than maxSizeBytes still goes into one (fresh) file. Not thread-safe: one writer thread.
class RotatingFile
{
public:
    /// maxSizeBytes <= 0 disables rotation; maxFiles = rotated files kept besides the active one (0 = none kept).
    RotatingFile(QString path, qint64 maxSizeBytes, int maxFiles);
    ~RotatingFile();

    /// Opens (creating the directory and file, appending). False with errorString() when it cannot.
    bool open();
    /// Appends `data`, rotating first when needed. False (see errorString()) when the write failed.
    bool write(const QByteArray &data);
    void flush();
    void close();

    QString path() const { return m_path; }
    qint64 size() const { return m_size; }
    quint64 rotations() const { return m_rotations; }
    QString errorString() const { return m_error; }

private:
    bool rotate();

    QString m_path;
    qint64 m_maxSize;
    int m_maxFiles;
    QFile m_file;
    qint64 m_size = 0;
    quint64 m_rotations = 0;
    QString m_error;
};

} // namespace dfproxy::telemetry
