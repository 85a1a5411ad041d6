// SPDX-License-Identifier: Apache-2.0
#include "platform/filepermissions.h"

#include <QtGlobal>

#ifndef Q_OS_WIN
#include <QFile>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace dfproxy::platform {

bool restrictToOwner(const QString &path, QString *error)
{
    struct stat st {};
    const QByteArray native = QFile::encodeName(path);
    if (::stat(native.constData(), &st) != 0 || ::chmod(native.constData(), S_ISDIR(st.st_mode) ? 0700 : 0600) != 0) {
        if (error)
            *error = QStringLiteral("cannot restrict %1 to its owner: %2")
                         .arg(path, QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }
    return true;
}

bool isAccessibleToOthers(const QString &path)
{
    struct stat st {};
    return ::stat(QFile::encodeName(path).constData(), &st) == 0 && (st.st_mode & 077) != 0;
}

QString describeMode(const QString &path)
{
    struct stat st {};
    if (::stat(QFile::encodeName(path).constData(), &st) != 0)
        return {};
    return QStringLiteral("%1").arg(st.st_mode & 07777, 4, 8, QLatin1Char('0'));
}

bool syncToDisk(QFile &file)
{
    return file.flush() && ::fsync(file.handle()) == 0;
}

} // namespace dfproxy::platform
#endif
