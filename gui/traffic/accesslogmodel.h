// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QAbstractTableModel>
#include <QJsonObject>

namespace dfproxy::gui {

/// Access-log records (newest first), at most `capacity`. Field names are read tolerantly (time|timestamp,
/// client|clientAddress, totalMs|durationMs, …) so small differences between service versions do not matter.
class AccessLogModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        Time, Client, Method,
        Protocol, ///< what the client spoke: HTTP/1.1, HTTP/1.0 or HTTP/2 (the record's `protocol`)
        Host, Path, Status, Reason, Duration, Bytes, Route, Decision,
        Upstream,    ///< the upstream (corporate) proxy taken, and why; empty for backends without one
        Application, ///< the program behind the client (process name; the tooltip adds path, pid and user)
        ColumnCount
    };

    explicit AccessLogModel(int capacity = 5000, QObject *parent = nullptr);

    /// Adds records (oldest first in `records`); the newest ends on top.
    void append(const QList<QJsonObject> &records);
    /// A row that is not a request ("service restarted"), for append(); never exported or copied.
    static QJsonObject separator(const QString &text);
    void clear();
    QJsonObject recordAt(int row) const { return m_rows.value(row); }
    static bool isSeparator(const QJsonObject &record) { return record.contains(QLatin1String("separator")); }

    /// The text of a column for a record (also used by the filter).
    static QString text(const QJsonObject &record, int column);
    /// A curl command that repeats the request through the listener at `proxyUrl` ("http://127.0.0.1:8080").
    static QString curlCommand(const QJsonObject &record, const QString &proxyUrl);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    int m_capacity;
    QList<QJsonObject> m_rows;
};

} // namespace dfproxy::gui
