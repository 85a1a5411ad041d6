// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"

QT_BEGIN_NAMESPACE
class QLabel;
class QTreeWidget;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Lists policy objects of every policy kind the service knows (read-only for now; edit them through Import or the
/// JSON tab of a future editor). Kinds come from GET /api/v1/server `kinds` when present, else from the known
/// plurals the service names when asked for an unknown one. Says so when the service has none.
class PoliciesPage : public Page
{
    Q_OBJECT
public:
    explicit PoliciesPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Policies"); }
    void refresh() override;
    void setActive(bool active) override;

    QString message() const;
    QTreeWidget *tree() const { return m_tree; }
    /// Plural names found to be policy kinds (after a refresh).
    QStringList policyPlurals() const { return m_plurals; }

private:
    void listKinds(const QStringList &plurals);

    QLabel *m_message;
    QTreeWidget *m_tree;
    QStringList m_plurals;
};

} // namespace dfproxy::gui
