// SPDX-License-Identifier: Apache-2.0
#pragma once
// The console's one way to ask before something that cannot be undone (delete an object, remove or flush DNS cache
// entries): a window-modal question that names the object, with the action on its button and Cancel as the default,
// so Enter never destroys anything by accident.

#include <QString>

class QWidget;

namespace dfproxy::gui {

/// Asks "<action> <what> “<name>”?" (e.g. action "Delete", what "backend", name "httpbin/dfp-backend"); `detail`
/// says what follows. Returns true when the user chose `action`. The box's objectName is "confirmDestructive".
bool confirmDestructive(QWidget *parent, const QString &action, const QString &what, const QString &name,
                        const QString &detail = {});

} // namespace dfproxy::gui
