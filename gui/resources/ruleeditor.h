// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QJsonObject>
#include <QWidget>

QT_BEGIN_NAMESPACE
class QComboBox;
class QGroupBox;
class QLineEdit;
class QSpinBox;
class QTableWidget;
QT_END_NAMESPACE

#include "widgets/objectpicker.h"

namespace dfproxy::gui {

class FieldBox;

/// One HTTPRoute rule: name, matches (path type/value, method, headers, query params), filters (request/response
/// header modifiers, URLRewrite, RequestRedirect), weighted backendRefs and timeouts. Keeps fields it has no widget
/// for. Its FieldBoxes carry paths under `prefix` ("spec.rules[2]") so server errors land on the right widget.
class RuleEditor : public QWidget
{
    Q_OBJECT
public:
    explicit RuleEditor(QWidget *parent = nullptr);

    void setPrefix(const QString &prefix);
    void load(const QJsonObject &rule);
    /// The rule as JSON; also renumbers the filter FieldBoxes to the order the filters are written in.
    QJsonObject toJson() const;

    QTableWidget *matchesTable() const { return m_matches; }
    QTableWidget *backendRefsTable() const { return m_backends; }
    /// Adds a row; empty arguments give defaults (PathPrefix "/"; group agentgateway.dev, kind AgentgatewayBackend).
    void addMatch(const QString &pathType = {}, const QString &pathValue = {}, const QString &method = {},
                  const QString &headers = {}, const QString &queryParams = {});
    void addBackendRef(const QString &name = {}, const QString &ns = {}, int weight = 1, int port = 0);
    /// The Backend cell of row `row`: a picker over the backends that exist.
    ObjectPicker *backendPicker(int row) const;
    /// Backends the pickers offer (the route editor lists them).
    void setKnownBackends(const QList<PickerObject> &backends);
    /// Sets row `row` to the backend namespace/name (after "Create new backend…").
    void setBackendRef(int row, const QString &ns, const QString &name);

Q_SIGNALS:
    /// "Create new backend…" was chosen in row `row`.
    void createBackendRequested(int row);

public:
    QLineEdit *requestTimeoutEdit() const { return m_requestTimeout; }
    QLineEdit *backendTimeoutEdit() const { return m_backendTimeout; }
    QGroupBox *redirectGroup() const { return m_redirect; }
    QLineEdit *redirectHostnameEdit() const { return m_redirectHost; }

private:
    struct HeaderModifierWidgets
    {
        QGroupBox *group = nullptr;
        QLineEdit *set = nullptr;
        QLineEdit *add = nullptr;
        QLineEdit *remove = nullptr;
        FieldBox *box = nullptr;
    };
    HeaderModifierWidgets makeHeaderModifier(const QString &title, const QString &objectName);
    static void loadHeaderModifier(const HeaderModifierWidgets &w, const QJsonObject &o);
    static QJsonObject headerModifierJson(const HeaderModifierWidgets &w);

    QJsonObject m_original;
    QString m_prefix;
    QLineEdit *m_name;
    QTableWidget *m_matches;
    HeaderModifierWidgets m_requestHeaders;
    HeaderModifierWidgets m_responseHeaders;
    QGroupBox *m_rewrite;
    QLineEdit *m_rewriteHost;
    QComboBox *m_rewritePathType;
    QLineEdit *m_rewritePath;
    FieldBox *m_rewriteBox;
    QGroupBox *m_redirect;
    QComboBox *m_redirectScheme;
    QLineEdit *m_redirectHost;
    QSpinBox *m_redirectPort;
    QComboBox *m_redirectStatus;
    QComboBox *m_redirectPathType;
    QLineEdit *m_redirectPath;
    FieldBox *m_redirectBox;
    QTableWidget *m_backends;
    QLineEdit *m_requestTimeout;
    QLineEdit *m_backendTimeout;
    QList<PickerObject> m_knownBackends;
    QList<FieldBox *> m_boxes; ///< boxes whose path is prefix + suffix
    QList<QString> m_suffixes;
};

/// "a=1, b=2" <-> [{name:a,value:1},...]; "~=" marks a RegularExpression match (for header/query matches).
QJsonArray parseValueMatches(const QString &text);
QString valueMatchesText(const QJsonArray &matches);

} // namespace dfproxy::gui
