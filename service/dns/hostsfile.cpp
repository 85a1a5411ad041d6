// SPDX-License-Identifier: Apache-2.0
#include "dns/hostsfile.h"

#include "dns/dnstypes.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace dfproxy::dns {

namespace {

QString normalise(const QString &name)
{
    if (isNormalName(name)) // what the host cache passes
        return name;
    QString n = name.trimmed().toLower();
    if (n.endsWith(QLatin1Char('.')))
        n.chop(1);
    return n;
}

} // namespace

QString HostsFile::defaultPath()
{
#ifdef Q_OS_WIN
    const QString root = qEnvironmentVariable("SystemRoot", QStringLiteral("C:\\Windows"));
    return QDir::fromNativeSeparators(root) + QStringLiteral("/System32/drivers/etc/hosts");
#else
    return QStringLiteral("/etc/hosts");
#endif
}

QHash<QString, QList<QHostAddress>> HostsFile::parse(const QByteArray &text)
{
    QHash<QString, QList<QHostAddress>> out;
    const QList<QByteArray> lines = text.split('\n');
    for (QByteArray line : lines) {
        const qsizetype hash = line.indexOf('#');
        if (hash >= 0)
            line.truncate(hash);
        const QList<QByteArray> fields = line.simplified().split(' ');
        if (fields.size() < 2 || fields.first().isEmpty())
            continue;
        QHostAddress addr;
        if (!addr.setAddress(QString::fromLatin1(fields.first())))
            continue;
        for (qsizetype i = 1; i < fields.size(); ++i) {
            const QString name = normalise(QString::fromUtf8(fields.at(i)));
            if (name.isEmpty())
                continue;
            auto &list = out[name];
            if (!list.contains(addr))
                list.append(addr);
        }
    }
    return out;
}

HostsFile::HostsFile(const QString &path) : m_path(path.isEmpty() ? defaultPath() : path)
{
    load();
}

void HostsFile::load()
{
    const QFileInfo fi(m_path);
    m_exists = fi.exists();
    m_mtime = m_exists ? fi.lastModified() : QDateTime();
    m_size = m_exists ? fi.size() : -1;
    m_names.clear();
    QFile f(m_path);
    if (m_exists && f.open(QIODevice::ReadOnly))
        m_names = parse(f.read(16 * 1024 * 1024));
}

bool HostsFile::reloadIfChanged()
{
    const QFileInfo fi(m_path);
    const bool exists = fi.exists();
    if (exists == m_exists && (!exists || (fi.lastModified() == m_mtime && fi.size() == m_size)))
        return false;
    load();
    return true;
}

std::optional<QList<QHostAddress>> HostsFile::lookup(const QString &name) const
{
    const QString n = normalise(name);
    if (n == QLatin1String("localhost"))
        return QList<QHostAddress>{QHostAddress(QHostAddress::LocalHost), QHostAddress(QHostAddress::LocalHostIPv6)};
    auto it = m_names.constFind(n);
    if (it == m_names.constEnd())
        return std::nullopt;
    return *it;
}

} // namespace dfproxy::dns
