// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"
#include "policies/policyeditors.h"

#include <QJsonObject>
#include <QMessageBox>
#include <QPointer>

#include <memory>
#include <optional>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QLineEdit;

class QPushButton;
class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace dfproxy::gui {

class ResourceListModel;

/// Rate limit, authentication and authorization policies in one table (Kind, Namespace, Name, Attached to — a target
/// that does not exist marked missing —, Summary, Age) with a kind filter and search; New (pick the kind), Edit,
/// Duplicate, Delete (asks first; also the Delete key). Also loads the Gateways (and their listeners), HTTPRoutes and
/// backends the editors offer as targets. Says so when the service has no policy kinds (an older version).
class PoliciesPage : public Page
{
    Q_OBJECT
public:
    explicit PoliciesPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Policies"); }
    void refresh() override;
    void setActive(bool active) override;

    QString message() const;
    /// Plurals of the policy kinds the service answered for (after a refresh).
    QStringList policyPlurals() const { return m_plurals; }
    ResourceListModel *model() const { return m_model; }
    QTableView *table() const { return m_table; }
    QLineEdit *searchEdit() const { return m_search; }
    QComboBox *kindFilter() const { return m_kindFilter; }
    /// Selects the policy; false if it is not listed (or filtered out).
    bool select(const QString &kind, const QString &ns, const QString &name);
    QJsonObject selectedObject() const;
    /// Row in the model of kind/ns/name, -1 if absent.
    int rowOf(const QString &kind, const QString &ns, const QString &name) const;

    /// Opens the editor (non-modal) for a new policy, the selected one, or a copy; returns it for tests.
    PolicyEditor *newPolicy(PolicyKind kind);
    PolicyEditor *editSelected();
    PolicyEditor *duplicateSelected();
    /// Deletes the selected policy after asking (unless confirmation is off, for tests); the Delete key does too.
    void deleteSelected();
    /// The open delete question (nullptr when none); its delete button is "confirmDeleteButton".
    QMessageBox *deleteQuestion() const { return m_question; }
    void setConfirmDeletes(bool confirm) { m_confirmDeletes = confirm; }
    PolicyEditor *currentEditor() const { return m_editor; }
    QList<KnownTarget> knownTargets() const { return m_targets; }
    /// Completed loads of the policy list (tests wait on it).
    int loadCount() const { return m_loads; }

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    void remove(const QJsonObject &policy);
    PolicyEditor *openEditor(PolicyKind kind, const QJsonObject &object, ResourceEditor::Mode mode);
    void loadTargets();
    void updateButtons();

    /// The targets that exist, shared with the Attached to column (nullopt until listed).
    std::shared_ptr<std::optional<QList<KnownTarget>>> m_existing;
    QLabel *m_message;
    QComboBox *m_kindFilter;
    QLineEdit *m_search;
    ResourceListModel *m_model;
    QSortFilterProxyModel *m_kindProxy;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QPushButton *m_new;
    QList<QWidget *> m_selectionButtons;
    QPointer<PolicyEditor> m_editor;
    QPointer<QMessageBox> m_question;
    QStringList m_plurals;
    QList<KnownTarget> m_targets;
    bool m_confirmDeletes = true;
    int m_loads = 0;
    int m_generation = 0;
};

} // namespace dfproxy::gui
