// SPDX-License-Identifier: Apache-2.0
#include "support/tempdir.h"

#include <QDir>
#include <QFile>
#include <QSaveFile>
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
    QTcpServer server;
    if (!server.listen(address, 0))
        return 0;
    return server.serverPort();
}

} // namespace dfproxy::test
