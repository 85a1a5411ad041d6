// SPDX-License-Identifier: Apache-2.0
#include "resources/resourcelistmodel.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

namespace dfproxy::gui {

QString resourceNamespace(const QJsonObject &o)
{
    const QString ns = o.value("metadata").toObject().value("namespace").toString();
    return ns.isEmpty() ? QStringLiteral("default") : ns;
}

QString resourceName(const QJsonObject &o)
{
    return o.value("metadata").toObject().value("name").toString();
}

QString objectAge(const QJsonObject &o)
{
    const auto created = QDateTime::fromString(o.value("metadata").toObject().value("creationTimestamp").toString(),
                                               Qt::ISODateWithMs);
    if (!created.isValid())
        return {};
    const qint64 s = std::max<qint64>(0, created.secsTo(QDateTime::currentDateTimeUtc()));
    if (s < 120)
        return QStringLiteral("%1s").arg(s);
    if (s < 7200)
        return QStringLiteral("%1m").arg(s / 60);
    if (s < 172800)
        return QStringLiteral("%1h").arg(s / 3600);
    return QStringLiteral("%1d").arg(s / 86400);
}

ResourceListModel::ResourceListModel(QList<Column> columns, QObject *parent)
    : QAbstractTableModel(parent), m_columns(std::move(columns))
{
}

void ResourceListModel::setItems(const QList<QJsonObject> &items)
{
    beginResetModel();
    m_items = items;
    endResetModel();
}

void ResourceListModel::refreshColumns()
{
    if (!m_items.isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(m_items.size()) - 1, int(m_columns.size()) - 1));
}

int ResourceListModel::rowOf(const QString &ns, const QString &name) const
{
    for (int i = 0; i < m_items.size(); ++i) {
        if (resourceNamespace(m_items[i]) == ns && resourceName(m_items[i]) == name)
            return i;
    }
    return -1;
}

int ResourceListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_items.size());
}

int ResourceListModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_columns.size());
}

QVariant ResourceListModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_items.size() || index.column() >= m_columns.size())
        return {};
    const auto &col = m_columns[index.column()];
    const QJsonObject &o = m_items[index.row()];
    switch (role) {
    case Qt::DisplayRole:
        return col.text(o);
    case Qt::ToolTipRole:
        return col.toolTip ? col.toolTip(o) : col.text(o);
    case Qt::ForegroundRole:
        if (col.health) {
            const QString h = col.health(o);
            if (h == QLatin1String("good"))
                return QBrush(QColor(0x1b, 0x7f, 0x3b));
            if (h == QLatin1String("bad"))
                return QBrush(QColor(0xb0, 0x00, 0x20));
        }
        return {};
    default:
        return {};
    }
}

QVariant ResourceListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal && role == Qt::DisplayRole && section < m_columns.size())
        return m_columns[section].title;
    return {};
}

} // namespace dfproxy::gui
