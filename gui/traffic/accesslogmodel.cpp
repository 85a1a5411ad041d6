// SPDX-License-Identifier: Apache-2.0
#include "traffic/accesslogmodel.h"

#include "traffic/loggedrequest.h"
#include "widgets/jsonutil.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QFont>

namespace dfproxy::gui {

namespace {

QString str(const QJsonObject &r, const QStringList &keys)
{
    return jsonText(firstOf(r, keys));
}

} // namespace

AccessLogModel::AccessLogModel(int capacity, QObject *parent) : QAbstractTableModel(parent), m_capacity(capacity) {}

void AccessLogModel::append(const QList<QJsonObject> &records)
{
    if (records.isEmpty())
        return;
    const int n = int(std::min<qsizetype>(records.size(), m_capacity));
    beginInsertRows({}, 0, n - 1);
    for (int i = int(records.size()) - n; i < records.size(); ++i)
        m_rows.prepend(records[i]);
    endInsertRows();
    if (m_rows.size() > m_capacity) {
        beginRemoveRows({}, m_capacity, int(m_rows.size()) - 1);
        m_rows.resize(m_capacity);
        endRemoveRows();
    }
}

QJsonObject AccessLogModel::separator(const QString &text)
{
    return QJsonObject{{"separator", text}, {"time", QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)}};
}

void AccessLogModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

QString AccessLogModel::text(const QJsonObject &r, int column)
{
    if (isSeparator(r) && column != Time)
        return column == Host ? QStringLiteral("── %1 ──").arg(r.value("separator").toString()) : QString();
    switch (column) {
    case Time: {
        const QString t = str(r, {"time", "timestamp", "startTime"});
        const auto dt = QDateTime::fromString(t, Qt::ISODateWithMs);
        return dt.isValid() ? dt.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz")) : t;
    }
    case Client: {
        QString c = str(r, {"client", "clientAddress", "downstreamAddress"});
        const QJsonValue port = r.value("clientPort");
        if (port.isDouble() && !c.contains(u':'))
            c += u':' + QString::number(port.toInt());
        return c;
    }
    case Method:
        return str(r, {"method"});
    case Protocol:
        return str(r, {"protocol"});
    case Host: {
        // The port the request named, also for records answered before routing (404 route_not_found).
        const LoggedRequest q = LoggedRequest::fromRecord(r);
        const int port = r.value("port").toInt(0) > 0 ? r.value("port").toInt() : q.port;
        const QString host = q.host.contains(u':') ? u'[' + q.host + u']' : q.host;
        return port > 0 ? host + u':' + QString::number(port) : host;
    }
    case Path:
        return str(r, {"path", "target", "uri"});
    case Status:
        return str(r, {"status", "code", "responseCode"});
    case Reason:
        return str(r, {"reason", "error", "errorReason"});
    case Duration: {
        const QJsonValue ms = firstOf(r, {"totalMs", "durationMs", "duration"});
        return ms.isDouble() ? QStringLiteral("%1 ms").arg(ms.toDouble()) : jsonText(ms);
    }
    case Bytes: {
        const QJsonValue in = firstOf(r, {"bytesIn", "bytesReceived", "requestBytes"});
        const QJsonValue out = firstOf(r, {"bytesOut", "bytesSent", "responseBytes"});
        if (!in.isDouble() && !out.isDouble())
            return {};
        return QStringLiteral("↑%1 ↓%2").arg(formatBytes(qint64(in.toDouble())), formatBytes(qint64(out.toDouble())));
    }
    case Route:
        return str(r, {"route", "routeName"});
    case Decision:
        return str(r, {"decision", "policyDecision", "verdict"});
    case Upstream: { // the upstream (corporate) proxy taken, and why; empty for backends without one
        const QString proxy = str(r, {"upstreamProxy"});
        const QString why = str(r, {"upstreamProxyReason"});
        return proxy.isEmpty() || why.isEmpty() ? proxy : proxy + QStringLiteral(" (") + why + QLatin1Char(')');
    }
    case Application:
        return str(r, {"process"});
    default:
        return {};
    }
}

QString AccessLogModel::curlCommand(const QJsonObject &r, const QString &proxyUrl)
{
    return isSeparator(r) ? QString() : LoggedRequest::fromRecord(r).curlCommand(proxyUrl);
}

int AccessLogModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int AccessLogModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant AccessLogModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows.size())
        return {};
    const QJsonObject &r = m_rows[index.row()];
    if (role == Qt::ToolTipRole && index.column() == Application && !text(r, Application).isEmpty())
        return tr("%1\npid %2, user %3")
            .arg(r.value("processPath").toString())
            .arg(r.value("pid").toInteger())
            .arg(r.value("processUser").toString());
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole)
        return text(r, index.column());
    if (isSeparator(r)) {
        if (role == Qt::BackgroundRole)
            return QBrush(QColor(0xe8, 0xea, 0xed));
        if (role == Qt::FontRole) {
            QFont f;
            f.setItalic(true);
            return f;
        }
        return {};
    }
    if (role == Qt::ForegroundRole && index.column() == Status) {
        const int s = text(r, Status).toInt();
        if (s >= 500 || s == 0)
            return QBrush(QColor(0xb0, 0x00, 0x20));
        if (s >= 400)
            return QBrush(QColor(0xb3, 0x6b, 0x00));
        return QBrush(QColor(0x1b, 0x7f, 0x3b));
    }
    return {};
}

QVariant AccessLogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const QStringList titles = {tr("Time"),   tr("Client"), tr("Method"), tr("Protocol"), tr("Host"),
                                       tr("Path"),   tr("Status"),
                                       tr("Reason"), tr("Duration"), tr("Bytes"), tr("Route"), tr("Decision"),
                                       tr("Upstream proxy"), tr("Application")};
    return titles.value(section);
}

} // namespace dfproxy::gui
