// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "client/apiclient.h"

#include <QDialog>
#include <QJsonObject>
#include <QMap>

QT_BEGIN_NAMESPACE
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTabWidget;
class QFormLayout;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// Which API collection an editor writes to.
struct ResourceKind
{
    QString plural;     ///< "backends"
    QString kind;       ///< "AgentgatewayBackend"
    QString apiVersion; ///< "agentgateway.dev/v1alpha1"
};

/// The common part of the backend, route and policy editors: name and namespace, a Form tab the subclass fills, a
/// YAML tab with the whole object (fields the form has no widget for too; JSON pasted there reads as well), kept in
/// sync when the tab changes, Save (POST when creating, PUT when editing) and the server's validation errors shown
/// beside the fields they name (FieldBox) and on their lines in the YAML text. Non-modal: open() it and listen to
/// saved().
class ResourceEditor : public QDialog
{
    Q_OBJECT
public:
    enum class Mode { Create, Edit };

    ResourceEditor(client::ApiClient *api, ResourceKind kind, QWidget *parent = nullptr);

    /// Fills the editor. Create mode takes a template (a duplicate or defaults); Edit mode locks name and namespace.
    void load(const QJsonObject &object, Mode mode);
    Mode mode() const { return m_mode; }
    /// The object as the editor would send it now (from the form or, when that tab is shown, the YAML text).
    /// nullopt when the YAML text does not parse (the reason and its line are shown).
    std::optional<QJsonObject> buildObject();

    /// Sends the object. saved() follows success; errors appear beside their fields.
    void save();
    /// The last save's error text ("" after success) and whether a save is in flight.
    QString lastError() const { return m_lastError; }
    bool isSaving() const { return m_saving; }
    /// The error shown beside the field with this path ("" if none).
    QString fieldError(const QString &path) const;

    QLineEdit *nameEdit() const { return m_name; }
    QLineEdit *namespaceEdit() const { return m_namespace; }
    QTabWidget *tabs() const { return m_tabs; }
    QPlainTextEdit *yamlEdit() const { return m_yaml; }
    /// Shows the Form (false) or the YAML tab (true), syncing the other one.
    void showYaml(bool yaml);
    /// 1-based YAML lines marked with the last save's validation errors, with their messages.
    QMap<int, QString> yamlErrorLines() const { return m_yamlErrorLines; }

Q_SIGNALS:
    /// The server stored the object (its answer, with server fields).
    void saved(const QJsonObject &object);

protected:
    /// Rows for the kind's spec go into this layout (below name and namespace).
    QFormLayout *form() const { return m_form; }
    /// Adds a tab after Form and YAML (e.g. route status).
    void addExtraTab(QWidget *w, const QString &title);
    /// Subclasses show `object` (its spec and status) in their widgets.
    virtual void setForm(const QJsonObject &object) = 0;
    /// Subclasses build the spec from their widgets; `original` is the spec as loaded (keep fields without widgets).
    virtual QJsonObject specFromForm(const QJsonObject &original) const = 0;
    /// Called once the service stored the object (`stored`, its answer), before saved(): an editor that writes
    /// other objects too (the backend editor's upstream proxy policy) does it here and calls `finish` with nullopt
    /// or the error to show (the editor then stays open, in Edit mode, since the object exists now).
    using AfterSaveDone = std::function<void(const std::optional<client::ApiError> &)>;
    virtual void afterSave(const QJsonObject &stored, AfterSaveDone finish);

private:
    void onTabChanged(int index);
    QJsonObject objectFromForm() const;
    std::optional<QJsonObject> objectFromYaml();
    void setYamlText(const QJsonObject &object);
    void remarkYaml();
    void markYamlErrors();
    void showError(const client::ApiError &e);
    static QString resourceNamespaceOr(const QJsonObject &metadata);
    void finishSave(const QJsonObject &stored, const std::optional<client::ApiError> &error);

    client::ApiClient *m_api;
    ResourceKind m_kind;
    Mode m_mode = Mode::Create;
    QJsonObject m_original;
    QJsonObject m_sent; ///< the last object Save sent
    QTabWidget *m_tabs;
    QFormLayout *m_form;
    QLineEdit *m_name;
    QLineEdit *m_namespace;
    QPlainTextEdit *m_yaml;
    QLabel *m_error;
    QPushButton *m_save;
    int m_formTab = 0;
    int m_yamlTab = 1;
    int m_lastTab = 0;
    bool m_switching = false;
    QList<QPair<QString, QString>> m_yamlErrors; ///< the last save's field errors (path, message)
    QMap<int, QString> m_yamlErrorLines;
    QString m_lastError;
    bool m_saving = false;
};

} // namespace dfproxy::gui
