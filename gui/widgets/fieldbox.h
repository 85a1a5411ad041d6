// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QLabel>
#include <QPair>
#include <QWidget>

namespace dfproxy::gui {

/// An input with a (hidden) error line right under it. `path` is the field path the server uses in validation errors
/// ("spec.static.host", "spec.rules[0].matches"); an error for that path or anything below it shows here.
/// objectName is "field:<path>"; the error label's objectName is "fieldError".
class FieldBox : public QWidget
{
    Q_OBJECT
public:
    FieldBox(const QString &path, QWidget *input, QWidget *parent = nullptr);

    QString path() const { return m_path; }
    /// Renames the field (rules and filters get their index when the object is built).
    void setPath(const QString &path);
    QWidget *input() const { return m_input; }

    /// Shows `message` under the input and marks the input red.
    void setError(const QString &message);
    void clearError();
    QString errorText() const;
    bool hasError() const { return !m_error->isHidden(); }

private:
    QString m_path;
    QWidget *m_input;
    QLabel *m_error;
};

/// Shows validation errors (path, message) beside the FieldBox under `root` whose path is the longest prefix of each
/// error's path, and brings hidden tabs with errors to the front. Clears older errors first. Returns the errors no
/// field took.
QList<QPair<QString, QString>> showFieldErrors(QWidget *root, const QList<QPair<QString, QString>> &errors);
/// Clears every FieldBox error under `root`.
void clearFieldErrors(QWidget *root);

} // namespace dfproxy::gui
