// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDateTime>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QString>

#include <optional>

namespace dfproxy::dns {

/// The hosts file (/etc/hosts, or %SystemRoot%\System32\drivers\etc\hosts on Windows) as a name -> addresses map.
/// `localhost` always resolves to 127.0.0.1 and ::1, whatever the file says. Not thread-safe: the owner locks.
class HostsFile
{
public:
    /// The platform's hosts file path.
    static QString defaultPath();
    /// Parses hosts-file text: "address name [aliases...]" lines, '#' comments. Names are lower-cased; a name
    /// listed on several lines collects all its addresses in file order. Bad lines are skipped.
    static QHash<QString, QList<QHostAddress>> parse(const QByteArray &text);

    /// Reads `path` (empty = defaultPath()). A missing file leaves only localhost.
    explicit HostsFile(const QString &path = QString());

    /// Re-reads the file when its modification time or size changed since the last read. True if re-read.
    bool reloadIfChanged();
    /// The addresses of `name` (case-insensitive, trailing dot ignored), or nullopt when the file does not list it.
    std::optional<QList<QHostAddress>> lookup(const QString &name) const;

    QString path() const { return m_path; }
    qsizetype size() const { return m_names.size(); }

private:
    void load();

    QString m_path;
    QHash<QString, QList<QHostAddress>> m_names;
    QDateTime m_mtime;
    qint64 m_size = -1;
    bool m_exists = false;
};

} // namespace dfproxy::dns
