// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QComboBox>
#include <QList>

QT_BEGIN_NAMESPACE
class QStandardItemModel;
QT_END_NAMESPACE

namespace dfproxy::gui {

/// An object a reference field can point at (a backend, a Gateway, a route).
struct PickerObject
{
    QString kind;
    QString ns;
    QString name;
    QString sectionName; ///< a Gateway listener, when the reference may name one
};

/// A reference field: an editable combo box over the objects that exist, its list showing name, namespace and kind
/// (and listener), with an optional "Create new …" entry at the end. The text stays free, so a reference to an
/// object not created yet (or one the list does not know) can still be typed.
class ObjectPicker : public QComboBox
{
    Q_OBJECT
public:
    explicit ObjectPicker(QWidget *parent = nullptr);

    /// Replaces the list; the typed name stays.
    void setObjects(const QList<PickerObject> &objects);
    QList<PickerObject> objects() const { return m_objects; }
    /// Adds "Create new …" (`text`) at the end of the list; empty removes it.
    void setCreateText(const QString &text);
    /// The referenced name (the edit text, trimmed).
    QString name() const;
    void setName(const QString &name);
    /// Picks list entry `i` as if the user chose it (tests, screenshots).
    void pick(int i);
    /// Chooses the "Create new …" entry as if the user did.
    void chooseCreate();
    /// Sizes the list to its columns before showing it.
    void showPopup() override;

Q_SIGNALS:
    /// The user chose an existing object from the list.
    void picked(const dfproxy::gui::PickerObject &object);
    /// The user chose "Create new …"; the name is left as it was.
    void createRequested();

private:
    void rebuild();
    void onActivated(int row);

    QStandardItemModel *m_model;
    QList<PickerObject> m_objects;
    QString m_createText;
    QString m_lastName;
};

} // namespace dfproxy::gui
