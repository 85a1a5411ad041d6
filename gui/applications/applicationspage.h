// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"

#include <QJsonArray>
#include <QTimer>

QT_BEGIN_NAMESPACE
class QLabel;
class QPushButton;
class QTreeWidget;
class QTreeWidgetItem;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Every program seen behind local clients (GET /api/v1/applications): icon, name, user, path, and under each the
/// hosts it reached (requests, denied, bytes, last seen). "Deny this application to this host" and "Allow only
/// these hosts" create or update the AuthorizationPolicy "console-applications" on the Gateways of the first
/// namespace that has one (ApplicationRules; docs/applications.md).
class ApplicationsPage : public Page
{
    Q_OBJECT
public:
    explicit ApplicationsPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Applications"); }
    void refresh() override;
    void setActive(bool active) override;

    QTreeWidget *tree() const { return m_tree; }
    QString message() const;
    int loadCount() const { return m_loads; }
    void setConfirm(bool confirm) { m_confirm = confirm; }
    /// The selected host row's program and host: a Deny rule for them.
    void denySelectedHost();
    /// The selected program (or the program of the selected host): allow it the hosts it reached so far, only.
    void allowOnlySelectedHosts();

private:
    void show(const QJsonArray &items);
    void updateButtons();
    void showMessage(const QString &text, bool error = false);
    /// GET the Gateways, then the managed policy, and send `change(existing policy or {}, ns, targetRefs)`.
    void changePolicy(const QString &what, std::function<QJsonObject(const QJsonObject &, const QString &,
                                                                     const QJsonArray &)> change);

    QTreeWidget *m_tree;
    QPushButton *m_denyButton;
    QPushButton *m_allowOnlyButton;
    QLabel *m_message;
    QTimer m_poll;
    bool m_confirm = true;
    int m_loads = 0;
};

} // namespace dfproxy::gui
