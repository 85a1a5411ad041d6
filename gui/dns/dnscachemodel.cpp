// SPDX-License-Identifier: Apache-2.0
#include "dns/dnscachemodel.h"

#include "widgets/jsonutil.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

namespace dfproxy::gui {

DnsCacheModel::DnsCacheModel(QObject *parent) : QAbstractTableModel(parent)
{
    m_since.start();
}

void DnsCacheModel::setItems(const QJsonArray &items)
{
    beginResetModel();
    m_items.clear();
    for (const auto &v : items)
        m_items.append(v.toObject());
    m_since.restart();
    endResetModel();
}

int DnsCacheModel::rowOf(const QString &host, int port) const
{
    for (int i = 0; i < m_items.size(); ++i) {
        if (m_items[i].value("host").toString() == host && (port <= 0 || m_items[i].value("port").toInt() == port))
            return i;
    }
    return -1;
}

qint64 DnsCacheModel::ttlLeftMs(int row) const
{
    const qint64 ttl = qint64(m_items.value(row).value("ttlLeftMs").toDouble());
    return std::max<qint64>(0, ttl - m_since.elapsed());
}

void DnsCacheModel::tick()
{
    if (!m_items.isEmpty())
        Q_EMIT dataChanged(index(0, TtlLeft), index(int(m_items.size()) - 1, TtlLeft), {Qt::DisplayRole});
}

int DnsCacheModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_items.size());
}

int DnsCacheModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant DnsCacheModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_items.size())
        return {};
    const QJsonObject &o = m_items[index.row()];
    if (role == Qt::ForegroundRole && index.column() == State) {
        const QString s = o.value("state").toString();
        if (s == QLatin1String("resolved"))
            return QBrush(QColor(0x1b, 0x7f, 0x3b));
        if (s == QLatin1String("failed"))
            return QBrush(QColor(0xb0, 0x00, 0x20));
        if (s == QLatin1String("stale"))
            return QBrush(QColor(0xb3, 0x6b, 0x00));
        return {};
    }
    if (role == Qt::UserRole && index.column() == TtlLeft)
        return ttlLeftMs(index.row());
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    switch (index.column()) {
    case Host:
        return o.value("host").toString();
    case Port:
        return o.value("port").toInt();
    case Family:
        return o.value("lookupFamily").toString();
    case Addresses:
        return jsonText(o.value("addresses"));
    case TtlLeft: {
        if (o.value("addresses").toArray().isEmpty())
            return QStringLiteral("–");
        const qint64 left = ttlLeftMs(index.row());
        return left <= 0 ? tr("expired") : QStringLiteral("%1 s").arg(double(left) / 1000.0, 0, 'f', 1);
    }
    case State:
        return o.value("state").toString();
    case Hits:
        return qint64(o.value("hits").toDouble());
    case Failures:
        return qint64(o.value("failures").toDouble());
    case LastResolved: {
        const auto t = QDateTime::fromString(o.value("lastResolved").toString(), Qt::ISODateWithMs);
        return t.isValid() ? t.toLocalTime().toString(QStringLiteral("HH:mm:ss")) : QString();
    }
    case LastError:
        return o.value("lastError").toString();
    default:
        return {};
    }
}

QVariant DnsCacheModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const QStringList titles = {tr("Host"),   tr("Port"), tr("Family"),   tr("Addresses"),     tr("TTL left"),
                                       tr("State"),  tr("Hits"), tr("Failures"), tr("Last resolved"), tr("Last error")};
    return titles.value(section);
}

} // namespace dfproxy::gui
