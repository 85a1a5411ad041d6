// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QAbstractTableModel>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>

namespace dfproxy::gui {

/// The entries of GET /api/v1/dns/cache. TTLs count down locally between polls (ttlLeftMs minus the time since the
/// answer arrived); call tick() to repaint them.
class DnsCacheModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Host, Port, Family, Addresses, TtlLeft, State, Hits, Failures, LastResolved, LastError, ColumnCount };

    explicit DnsCacheModel(QObject *parent = nullptr);

    void setItems(const QJsonArray &items);
    QJsonObject itemAt(int row) const { return m_items.value(row); }
    /// Row whose host (and port, when > 0) match; -1 if none.
    int rowOf(const QString &host, int port = 0) const;
    /// Milliseconds of TTL left now for a row.
    qint64 ttlLeftMs(int row) const;
    void tick();

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QList<QJsonObject> m_items;
    QElapsedTimer m_since;
};

} // namespace dfproxy::gui
