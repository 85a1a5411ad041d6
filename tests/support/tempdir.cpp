// SPDX-License-Identifier: Apache-2.0
#include "support/tempdir.h"

#include <QDir>
#include <QFile>
#include <QMutex>
#include <QSaveFile>
#include <QSet>
#include <QTcpServer>

namespace dfproxy::test {

TempDir::TempDir() : m_dir(QDir::tempPath() + QStringLiteral("/dfproxy-test-XXXXXX"))
{
    if (qEnvironmentVariableIntValue("DFPROXY_KEEP_TEMP") == 1)
        m_dir.setAutoRemove(false);
}

bool TempDir::writeFile(const QString &name, const QByteArray &data) const
{
    QSaveFile file(filePath(name));
    if (!file.open(QIODevice::WriteOnly))
        return false;
    if (file.write(data) != data.size())
        return false;
    return file.commit();
}

QByteArray TempDir::readFile(const QString &name) const
{
    QFile file(filePath(name));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return file.readAll();
}

quint16 freeTcpPort(const QHostAddress &address)
{
    // The kernel may hand out the same ephemeral port to two binds in a row once the first is closed: a test that
    // asks for two ports before binding either (a second listener beside DfproxyProcess's) then gets one port
    // twice. No port is handed out twice by one test process.
    static QMutex mutex;
    static QSet<quint16> given;
    QMutexLocker lock(&mutex);
    for (int attempt = 0; attempt < 64; ++attempt) {
        QTcpServer server;
        if (!server.listen(address, 0))
            return 0;
        const quint16 port = server.serverPort();
        if (!given.contains(port)) {
            given.insert(port);
            return port;
        }
    }
    return 0;
}

} // namespace dfproxy::test
