// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"
#include "traffic/sseparser.h"

#include <QJsonObject>
#include <QPointer>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QAction;
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
/// pause/resume, a detail pane, "Copy as curl" / raw request / URL of the selected record (with a "Copied" notice)
/// and export of the visible records as HAR 1.2 or JSON Lines. Records survive a service restart (a separator row
/// marks it). Shows "not available" when the service has no access-log API.
class TrafficPage : public Page
{
    Q_OBJECT
public:
    enum class Feed { Idle, Streaming, Polling, NotAvailable };
    enum class Copy { Curl, RawRequest, Url };
    enum class ExportFormat { Har, JsonLines };

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
    /// The selected record as `what` ("" without a request selected).
    QString textForSelected(Copy what) const;
    /// Puts textForSelected(what) on the clipboard and says so with a notice; false when nothing is selected.
    bool copySelected(Copy what);
    QAction *copyAction(Copy what) const;
    /// The records the filter shows, oldest first (separator rows included).
    QList<QJsonObject> visibleRecords() const;
    /// Writes visibleRecords() to `path`; the error is in the returned text ("" on success).
    QString exportVisible(const QString &path, ExportFormat format);
    QString statusText() const;

Q_SIGNALS:
    /// Records as they arrive (also while paused; never one twice), oldest first: the dashboard counts them.
    void recordsArrived(const QList<QJsonObject> &records);

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
    void onServerInfo(const QJsonObject &info);
    void updateActions();
    void exportDialog(ExportFormat format);
    QString proxyUrl() const;

    AccessLogModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QLineEdit *m_filter;
    QPushButton *m_pause;
    QLabel *m_status;
    QPlainTextEdit *m_detail;
    QAction *m_copyCurl;
    QAction *m_copyRaw;
    QAction *m_copyUrl;
    QPointer<QNetworkReply> m_stream;
    SseParser m_parser;
    QTimer m_pollTimer;
    QTimer m_reconnect;
    QList<QJsonObject> m_pending;
    QString m_lastPolledKey;
    Feed m_feed = Feed::Idle;
    bool m_paused = false;
    quint64 m_generation = 0;
    qint64 m_lastSeq = 0;         ///< the newest record's seq: a reload adds only newer ones
    double m_lastUptime = -1;     ///< the service's uptime at the last GET /api/v1/server
    bool m_restarted = false;     ///< the service restarted since the records were loaded
};

} // namespace dfproxy::gui
