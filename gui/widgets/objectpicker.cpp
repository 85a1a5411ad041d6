// SPDX-License-Identifier: Apache-2.0
#include "widgets/objectpicker.h"

#include <QHeaderView>
#include <QLineEdit>
#include <QStandardItemModel>
#include <QTreeView>

#include <algorithm>

namespace dfproxy::gui {

namespace {
enum Column { CName, CNamespace, CKind, CListener, CCount };
}

ObjectPicker::ObjectPicker(QWidget *parent) : QComboBox(parent), m_model(new QStandardItemModel(0, CCount, this))
{
    setObjectName(QStringLiteral("objectPicker"));
    setEditable(true);
    setInsertPolicy(QComboBox::NoInsert);
    setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    setMinimumContentsLength(12);
    // A tree view gives the list columns: the name (what the field holds), then namespace and kind to tell
    // same-named objects apart.
    auto *view = new QTreeView(this);
    view->setRootIsDecorated(false);
    view->setHeaderHidden(false);
    view->setAllColumnsShowFocus(true);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    setModel(m_model);
    setView(view);
    setModelColumn(CName);
    m_model->setHorizontalHeaderLabels({tr("Name"), tr("Namespace"), tr("Kind"), tr("Listener")});
    lineEdit()->setPlaceholderText(tr("pick or type a name"));
    connect(this, &QComboBox::activated, this, &ObjectPicker::onActivated);
    connect(lineEdit(), &QLineEdit::textEdited, this, [this](const QString &t) { m_lastName = t.trimmed(); });
}

void ObjectPicker::setObjects(const QList<PickerObject> &objects)
{
    m_objects = objects;
    rebuild();
}

void ObjectPicker::setCreateText(const QString &text)
{
    m_createText = text;
    rebuild();
}

void ObjectPicker::rebuild()
{
    const QString keep = name();
    const QSignalBlocker block(this);
    m_model->removeRows(0, m_model->rowCount());
    for (const PickerObject &o : std::as_const(m_objects)) {
        QList<QStandardItem *> row;
        for (const QString &text : {o.name, o.ns, o.kind, o.sectionName}) {
            auto *item = new QStandardItem(text);
            item->setEditable(false);
            row.append(item);
        }
        row[CName]->setToolTip(QStringLiteral("%1 %2/%3").arg(o.kind, o.ns, o.name));
        m_model->appendRow(row);
    }
    if (!m_createText.isEmpty()) {
        auto *item = new QStandardItem(m_createText);
        item->setEditable(false);
        QFont f = item->font();
        f.setItalic(true);
        item->setFont(f);
        m_model->appendRow(item);
    }
    qobject_cast<QTreeView *>(view())->setColumnHidden(
        CListener, std::none_of(m_objects.begin(), m_objects.end(),
                                [](const PickerObject &o) { return !o.sectionName.isEmpty(); }));
    setName(keep);
}

QString ObjectPicker::name() const
{
    return currentText().trimmed();
}

void ObjectPicker::setName(const QString &name)
{
    m_lastName = name;
    const QSignalBlocker block(this);
    setCurrentIndex(-1);
    setEditText(name);
}

void ObjectPicker::pick(int i)
{
    setCurrentIndex(i);
    onActivated(i);
}

void ObjectPicker::chooseCreate()
{
    if (!m_createText.isEmpty())
        onActivated(int(m_objects.size()));
}

void ObjectPicker::onActivated(int row)
{
    if (row < 0)
        return;
    if (row >= m_objects.size()) {
        setName(m_lastName); // "Create new …" is an action, not a name
        Q_EMIT createRequested();
        return;
    }
    const PickerObject o = m_objects.at(row);
    setName(o.name);
    Q_EMIT picked(o);
}

void ObjectPicker::showPopup()
{
    auto *tree = qobject_cast<QTreeView *>(view());
    int width = 0;
    for (int c = 0; c < CCount; ++c) {
        tree->resizeColumnToContents(c);
        if (!tree->isColumnHidden(c))
            width += tree->columnWidth(c);
    }
    tree->setMinimumWidth(width + 24);
    QComboBox::showPopup();
}

} // namespace dfproxy::gui
