// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"
#include "traffic/sseparser.h"

#include <QJsonObject>
#include <QPointer>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QLabel;
class QLineEdit;
class QNetworkReply;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace dfproxy::gui {

class AccessLogModel;

/// Live traffic: the service's access log as a table, fed by GET /api/v1/accesslog?limit=N and then the
/// server-sent events of GET /api/v1/accesslog/stream (polling the list when there is no stream). Filter box,
/// pause/resume, a detail pane and "copy as curl". Shows "not available" when the service has no access-log API.
class TrafficPage : public Page
{
    Q_OBJECT
public:
    enum class Feed { Idle, Streaming, Polling, NotAvailable };

    explicit TrafficPage(Connection *connection, QWidget *parent = nullptr);
    ~TrafficPage() override;
    QString title() const override { return tr("Live traffic"); }
    void refresh() override;

    Feed feed() const { return m_feed; }
    AccessLogModel *model() const { return m_model; }
    QTableView *table() const { return m_table; }
    QLineEdit *filterEdit() const { return m_filter; }
    void setPaused(bool paused);
    bool isPaused() const { return m_paused; }
    /// The curl command for the selected record (also put on the clipboard by the button).
    QString curlForSelected() const;
    QString statusText() const;

private:
    void start();
    void stop();
    void openStream();
    void onStreamData();
    void onStreamFinished();
    void poll();
    void addRecords(const QList<QJsonObject> &records);
    void showDetail();
    void setFeed(Feed f, const QString &text);
    QString proxyUrl() const;

    AccessLogModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QLineEdit *m_filter;
    QPushButton *m_pause;
    QLabel *m_status;
    QPlainTextEdit *m_detail;
    QPointer<QNetworkReply> m_stream;
    SseParser m_parser;
    QTimer m_pollTimer;
    QTimer m_reconnect;
    QList<QJsonObject> m_pending;
    QString m_lastPolledKey;
    Feed m_feed = Feed::Idle;
    bool m_paused = false;
    quint64 m_generation = 0;
};

} // namespace dfproxy::gui
