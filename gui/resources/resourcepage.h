// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/page.h"
#include "resources/resourceeditor.h"
#include "resources/references.h"
#include "resources/resourcelistmodel.h"

#include <QMessageBox>
#include <QPointer>

#include <memory>

QT_BEGIN_NAMESPACE
class QLabel;
class QLineEdit;

class QSortFilterProxyModel;
class QTableView;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// A searchable table of one kind with New / Edit / Duplicate / Delete (also the Delete key). Subclasses give the
/// columns and the editor. Each refresh also lists the kinds that reference each other (ReferenceIndex), for the
/// "Used by" / "Uses" columns and the warning when an object still in use is deleted.
class ResourcePage : public Page
{
    Q_OBJECT
public:
    ResourcePage(Connection *connection, ResourceKind kind, QList<ResourceListModel::Column> columns,
                 std::shared_ptr<ReferenceIndex> references, QWidget *parent = nullptr);

    void refresh() override;
    void setActive(bool active) override;

    ResourceListModel *model() const { return m_model; }
    QTableView *table() const { return m_table; }
    QLineEdit *searchEdit() const { return m_search; }
    /// Selects namespace/name in the table; false if it is not listed.
    bool select(const QString &ns, const QString &name);
    /// The object of the selected row (empty if none).
    QJsonObject selectedObject() const;

    /// Opens the editor (non-modal) for a new object, the selected one, or a copy of it; returns it for tests.
    ResourceEditor *newObject();
    ResourceEditor *editSelected();
    ResourceEditor *duplicateSelected();
    /// Deletes the selected object after asking (unless confirmation is off, for tests). An object others reference
    /// is never deleted without asking: the question lists them and offers to remove the references first.
    void deleteSelected();
    void setConfirmDeletes(bool confirm) { m_confirmDeletes = confirm; }
    /// The open delete question (nullptr when none); its buttons are "confirmDeleteButton", "removeReferencesButton"
    /// (only when others reference the object) and "cancelButton".
    QMessageBox *deleteQuestion() const { return m_question; }
    const ReferenceIndex &references() const { return *m_refs; }
    ResourceEditor *currentEditor() const { return m_editor; }
    /// Number of completed list loads (tests wait on it).
    int loadCount() const { return m_loads; }

protected:
    virtual ResourceEditor *createEditor() = 0;
    virtual QJsonObject templateObject() const = 0;

    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    ResourceEditor *openEditor(const QJsonObject &object, ResourceEditor::Mode mode);
    void updateButtons();
    void loadReferences();
    void remove(const QJsonObject &object);
    void removeReferencesThenDelete(const QJsonObject &object, const QList<Reference> &refs);

    ResourceKind m_kind;
    ResourceListModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QTableView *m_table;
    QLineEdit *m_search;
    QLabel *m_info;
    QList<QWidget *> m_selectionButtons;
    QPointer<ResourceEditor> m_editor;
    QPointer<QMessageBox> m_question;
    std::shared_ptr<ReferenceIndex> m_refs;
    bool m_confirmDeletes = true;
    int m_loads = 0;
};

/// AgentgatewayBackends.
class BackendsPage : public ResourcePage
{
    Q_OBJECT
public:
    explicit BackendsPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Backends"); }

private:
    BackendsPage(Connection *connection, std::shared_ptr<ReferenceIndex> references, QWidget *parent);

public:
protected:
    ResourceEditor *createEditor() override;
    QJsonObject templateObject() const override;
};

/// HTTPRoutes, with their Accepted / ResolvedRefs conditions; a backend or Gateway that does not exist is marked.
class RoutesPage : public ResourcePage
{
    Q_OBJECT
public:
    explicit RoutesPage(Connection *connection, QWidget *parent = nullptr);
    QString title() const override { return tr("Routes"); }

private:
    RoutesPage(Connection *connection, std::shared_ptr<ReferenceIndex> references, QWidget *parent);

public:
protected:
    ResourceEditor *createEditor() override;
    QJsonObject templateObject() const override;
};

} // namespace dfproxy::gui
