// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QString>
#include <QTemporaryDir>

namespace dfproxy::test {

// A fresh directory under the system temp dir, removed with the object (kept when DFPROXY_KEEP_TEMP=1, for
// debugging a failed test).
class TempDir
{
public:
    TempDir();

    bool isValid() const { return m_dir.isValid(); }
    QString path() const { return m_dir.path(); }
    // Absolute path of name inside the directory (the file need not exist).
    QString filePath(const QString &name) const { return m_dir.filePath(name); }
    // Writes (replaces) name with data; returns false on any I/O error.
    bool writeFile(const QString &name, const QByteArray &data) const;
    // Reads name; empty if missing.
    QByteArray readFile(const QString &name) const;

private:
    QTemporaryDir m_dir;
};

// A TCP port that was free on address a moment ago (bind to port 0, read it, close), never one this process was
// given before. 0 on failure.
quint16 freeTcpPort(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost));

} // namespace dfproxy::test
