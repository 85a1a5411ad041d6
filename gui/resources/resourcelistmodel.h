// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QAbstractTableModel>
#include <QJsonObject>

#include <functional>

namespace dfproxy::gui {

/// A table over a list of API objects (the `items` of GET /api/v1/<plural>). Each column is a function of an object,
/// so one model serves every kind. Sorting and searching go through a QSortFilterProxyModel on top.
class ResourceListModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    struct Column
    {
        QString title;
        std::function<QString(const QJsonObject &)> text;
        /// Optional: a tooltip (e.g. a condition's message).
        std::function<QString(const QJsonObject &)> toolTip = {};
        /// Optional: "good", "bad" or "" to colour the cell.
        std::function<QString(const QJsonObject &)> health = {};
    };

    explicit ResourceListModel(QList<Column> columns, QObject *parent = nullptr);

    void setItems(const QList<QJsonObject> &items);
    /// Columns computed from outside data (references) changed: repaint without losing the selection.
    void refreshColumns();
    const QList<QJsonObject> &items() const { return m_items; }
    QJsonObject itemAt(int row) const { return m_items.value(row); }
    /// Row of namespace/name, -1 if absent.
    int rowOf(const QString &ns, const QString &name) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QList<Column> m_columns;
    QList<QJsonObject> m_items;
};

/// metadata.namespace of an API object ("default" when absent) and metadata.name.
QString resourceNamespace(const QJsonObject &o);
QString resourceName(const QJsonObject &o);
/// "3m", "2h", "5d" since metadata.creationTimestamp.
QString objectAge(const QJsonObject &o);

} // namespace dfproxy::gui
