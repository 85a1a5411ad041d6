// SPDX-License-Identifier: Apache-2.0
#include "support/binaries.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace dfproxy::test {

QString buildDir()
{
    const QString fromEnv = qEnvironmentVariable("DFPROXY_BUILD_DIR");
    if (!fromEnv.isEmpty())
        return QDir(fromEnv).absolutePath();
    // Test binaries live in <build>/tests.
    QDir dir(QCoreApplication::applicationDirPath());
    dir.cdUp();
    return dir.absolutePath();
}

QString sourceDir()
{
    return qEnvironmentVariable("DFPROXY_SOURCE_DIR");
}

QString buildBinary(const QString &name)
{
    static const QStringList subdirs{QStringLiteral("service"),        QStringLiteral("admin"), QStringLiteral("gui"),
                                     QStringLiteral("tests/fixtures"), QStringLiteral("tests"), QString()};
#ifdef Q_OS_WIN
    const QString file = name + QStringLiteral(".exe");
#else
    const QString &file = name;
#endif
    const QDir root(buildDir());
    for (const QString &sub : subdirs) {
        const QFileInfo info(root.filePath(sub.isEmpty() ? file : sub + QLatin1Char('/') + file));
        if (info.isFile() && info.isExecutable())
            return info.absoluteFilePath();
    }
    return {};
}

} // namespace dfproxy::test
