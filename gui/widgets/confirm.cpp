// SPDX-License-Identifier: Apache-2.0
#include "widgets/confirm.h"

#include <QMessageBox>
#include <QPushButton>

namespace dfproxy::gui {

bool confirmDestructive(QWidget *parent, const QString &action, const QString &what, const QString &name,
                        const QString &detail)
{
    const QString question = name.isEmpty() ? QObject::tr("%1 %2?").arg(action, what)
                                            : QObject::tr("%1 %2 “%3”?").arg(action, what, name);
    QMessageBox box(QMessageBox::Warning, QObject::tr("%1 %2").arg(action, what), question, QMessageBox::NoButton,
                    parent);
    box.setObjectName(QStringLiteral("confirmDestructive"));
    box.setInformativeText(detail);
    QPushButton *yes = box.addButton(action, QMessageBox::DestructiveRole);
    yes->setObjectName(QStringLiteral("confirmButton"));
    QPushButton *cancel = box.addButton(QMessageBox::Cancel);
    box.setDefaultButton(cancel);
    box.setEscapeButton(cancel);
    box.setWindowModality(Qt::WindowModal);
    box.exec();
    return box.clickedButton() == yes;
}

} // namespace dfproxy::gui
