// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QJsonObject;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace dfproxy::gui {

class DnsCacheModel;

/// The service's DNS host cache: entries with TTLs counting down, refresh, remove one, flush all, and preresolve a
/// host:port (POST /api/v1/dns/resolve).
class DnsPage : public Page
{
    Q_OBJECT
public:
    explicit DnsPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("DNS cache"); }
    void refresh() override;
    void setActive(bool active) override;

    DnsCacheModel *model() const { return m_model; }
    QTableView *table() const { return m_table; }
    /// Removes the selected entry (DELETE /api/v1/dns/cache/{host:port}) after asking (unless confirmation is off);
    /// the Delete key does the same.
    void removeSelected();
    /// Empties the cache after asking (unless confirmation is off).
    void flushAll();
    void setConfirm(bool confirm) { m_confirm = confirm; }
    /// The question before flushing the whole cache (the page's button and the tray ask the same way).
    static bool confirmFlush(QWidget *parent);
    /// The notice after DELETE /api/v1/dns/cache answered `answer`.
    static QString flushedText(const QJsonObject &answer);
    /// Resolves "host:port" (port 80 when absent) ahead of traffic. The line below the table says "Resolving…"
    /// until the cache shows the outcome: a notice when it resolved, the error when it did not.
    void preresolve(const QString &hostPort);
    int loadCount() const { return m_loads; }
    QString message() const;
    /// The line about the resolver in effect (GET /api/v1/dns/settings); empty for services without it.
    QString settingsText() const;
    /// That line for a settings object (public for tests).
    static QString describeSettings(const QJsonObject &settings);

private:
    void showMessage(const QString &text, bool error = false);
    void reportPreresolve();

    DnsCacheModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QLineEdit *m_search;
    QLineEdit *m_resolveEdit;
    QLabel *m_message;
    QLabel *m_settings;
    QTimer m_poll;
    QTimer m_tick;
    bool m_confirm = true;
    QString m_pendingHost; ///< a preresolve whose outcome the message line waits for
    int m_pendingPort = 0;
    QElapsedTimer m_pendingSince;
    int m_loads = 0;
};

} // namespace dfproxy::gui
