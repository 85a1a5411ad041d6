// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "resources/resourceeditor.h"
#include "widgets/objectpicker.h"

#include <QPointer>

QT_BEGIN_NAMESPACE
class QLineEdit;
class QTabWidget;
class QTableWidget;
class QTreeWidget;
QT_END_NAMESPACE

namespace dfproxy::gui {

class RuleEditor;

/// Edits an HTTPRoute: parentRefs, hostnames and one tab per rule (RuleEditor); a Status tab shows the route's
/// Accepted / ResolvedRefs conditions per parent as the service reported them. Gateway and backend cells are pickers
/// over the Gateways and backends the service has (listed when the editor opens); "Create new backend…" opens a
/// backend editor and puts the new backend in the row.
class RouteEditor : public ResourceEditor
{
    Q_OBJECT
public:
    explicit RouteEditor(client::ApiClient *api, QWidget *parent = nullptr);

    static ResourceKind resourceKind();
    /// A new route: attached to the default Gateway, one rule without backends.
    static QJsonObject newObject();

    QTableWidget *parentRefsTable() const { return m_parents; }
    QLineEdit *hostnamesEdit() const { return m_hostnames; }
    QTabWidget *rulesTabs() const { return m_rules; }
    RuleEditor *rule(int i) const;
    int ruleCount() const;
    RuleEditor *addRule(const QJsonObject &rule = {});
    void removeRule(int i);
    QTreeWidget *statusTree() const { return m_status; }
    /// The Gateway cell of parentRefs row `row`.
    ObjectPicker *parentPicker(int row) const;
    /// Lists backends and Gateways again for the pickers; pickerLoads() counts completed listings (tests wait on it).
    void refreshPickers();
    int pickerLoads() const { return m_pickerLoads; }
    QList<PickerObject> knownBackends() const { return m_backends; }
    /// The backend editor "Create new backend…" opened (nullptr when none is open).
    ResourceEditor *backendCreator() const { return m_creator; }

protected:
    void setForm(const QJsonObject &object) override;
    QJsonObject specFromForm(const QJsonObject &original) const override;

private:
    void addParentRef(const QJsonObject &ref);
    void renumberRules();
    void createBackend(RuleEditor *rule, int row);

    client::ApiClient *m_api;
    QList<PickerObject> m_backends;
    QList<PickerObject> m_gateways;
    int m_pickerLoads = 0;
    QPointer<ResourceEditor> m_creator;

    QTableWidget *m_parents;
    QLineEdit *m_hostnames;
    QTabWidget *m_rules;
    QTreeWidget *m_status;
};

/// Fills a tree with the route's status.parents[].conditions (one parent per top-level item); `emptyText` (default:
/// about a route) when there are none.
void fillRouteStatus(QTreeWidget *tree, const QJsonObject &status, const QString &emptyText = {});

} // namespace dfproxy::gui
