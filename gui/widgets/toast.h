// SPDX-License-Identifier: Apache-2.0
#pragma once
// The console's one way to say that something worked (created, saved, deleted, imported, exported, flushed,
// copied): a short non-modal notice in the lower right corner of the window that fades after a few seconds, like
// Docker Desktop's toasts. Errors that need reading stay in dialogs or at the field; success never opens a dialog.

#include <QString>

class QWidget;

namespace dfproxy::gui {

enum class ToastKind { Success, Info, Error };

/// Shows `text` over the top-level window of `anywhere` for `msecs` (then it fades and deletes itself). A newer
/// notice replaces an older one still showing. The label's objectName is "toast" (tests find it with findChild).
void showToast(QWidget *anywhere, const QString &text, ToastKind kind = ToastKind::Success, int msecs = 3000);

} // namespace dfproxy::gui
