// SPDX-License-Identifier: Apache-2.0
#include "telemetry/rotatingfile.h"

#include <QDir>
#include <QFileInfo>

#include "base/logcategories.h"
#include "platform/filepermissions.h"

namespace dfproxy::telemetry {

RotatingFile::RotatingFile(QString path, qint64 maxSizeBytes, int maxFiles)
    : m_path(std::move(path)), m_maxSize(maxSizeBytes), m_maxFiles(qMax(0, maxFiles))
{
}

RotatingFile::~RotatingFile()
{
    close();
}

bool RotatingFile::open()
{
    if (m_file.isOpen())
        return true;
    const QFileInfo info(m_path);
    if (!QDir().mkpath(info.absolutePath())) {
        m_error = QStringLiteral("cannot create the directory %1").arg(info.absolutePath());
        return false;
    }
    m_file.setFileName(m_path);
    // Access-log lines can hold secrets (identities, query strings with keys): a new file is created private to
    // the service's account (0600, on Windows an owner-only ACL), and a looser existing one is tightened.
#ifndef Q_OS_WIN
    const bool existed = QFile::exists(m_path);
#endif
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Append, QFile::ReadOwner | QFile::WriteOwner)) {
        m_error = QStringLiteral("cannot open %1: %2").arg(m_path, m_file.errorString());
        return false;
    }
#ifdef Q_OS_WIN
    platform::restrictToOwner(m_path);
#else
    if (existed && platform::isAccessibleToOthers(m_path))
        platform::restrictToOwner(m_path);
#endif
    m_size = m_file.size();
    m_error.clear();
    return true;
}

bool RotatingFile::write(const QByteArray &data)
{
    if (!m_file.isOpen() && !open())
        return false;
    if (m_maxSize > 0 && m_size > 0 && m_size + data.size() > m_maxSize && !rotate())
        return false;
    const qint64 n = m_file.write(data);
    if (n != data.size()) {
        m_error = QStringLiteral("cannot write %1: %2").arg(m_path, m_file.errorString());
        return false;
    }
    m_size += n;
    return true;
}

void RotatingFile::flush()
{
    if (m_file.isOpen())
        m_file.flush();
}

void RotatingFile::close()
{
    if (m_file.isOpen())
        m_file.close();
}

bool RotatingFile::rotate()
{
    m_file.close();
    const auto numbered = [this](int i) { return m_path + '.' + QString::number(i); };
    if (m_maxFiles == 0) {
        QFile::remove(m_path);
    } else {
        QFile::remove(numbered(m_maxFiles));
        for (int i = m_maxFiles - 1; i >= 1; --i) {
            if (QFile::exists(numbered(i)))
                QFile::rename(numbered(i), numbered(i + 1));
        }
        if (!QFile::rename(m_path, numbered(1)))
            QFile::remove(m_path); // e.g. Windows with the file held elsewhere: start over rather than grow forever
    }
    // Files beyond the retention (left from a larger maxFiles earlier) go too.
    for (int i = m_maxFiles + 1; QFile::exists(numbered(i)); ++i)
        QFile::remove(numbered(i));
    ++m_rotations;
    qCDebug(lcTelemetry).noquote() << "rotated" << m_path << "at" << m_size << "bytes (limit" << m_maxSize
                                   << "bytes, keeping" << m_maxFiles << "older files)";
    m_size = 0;
    return open();
}

} // namespace dfproxy::telemetry
