// SPDX-License-Identifier: Apache-2.0
#include "support/binaries.h"

#include <QDir>
#include <QFileInfo>

namespace dfproxy::test {

QString buildDir()
{
    // $DFPROXY_BUILD_DIR points the tests at another build; by default, the one they were built in.
    const QString fromEnv = qEnvironmentVariable("DFPROXY_BUILD_DIR");
    return QDir(fromEnv.isEmpty() ? QStringLiteral(DFPROXY_TEST_BUILD_DIR) : fromEnv).absolutePath();
}

QString sourceDir()
{
    const QString fromEnv = qEnvironmentVariable("DFPROXY_SOURCE_DIR");
    return QDir(fromEnv.isEmpty() ? QStringLiteral(DFPROXY_TEST_SOURCE_DIR) : fromEnv).absolutePath();
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
