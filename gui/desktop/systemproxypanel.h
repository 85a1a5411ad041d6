// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QGroupBox>

class QCheckBox;
class QComboBox;
class QLabel;
class QMenu;
class QPushButton;

namespace dfproxy::gui {

class SystemProxyController;

/// The dashboard's "System proxy" box: the switch, the mode (automatic by failMode, fixed, PAC), the state
/// (on/off/stale, PAC or fixed, who set it), a one-line fail-open/closed explanation and a PAC preview.
class SystemProxyPanel : public QGroupBox
{
    Q_OBJECT
public:
    explicit SystemProxyPanel(SystemProxyController *controller, QWidget *parent = nullptr);

private:
    void update();
    void toggled(bool on);
    /// GET /proxy.pac through the listener, shown in a dialog.
    void previewPac();

    SystemProxyController *m_controller;
    QCheckBox *m_switch;
    QComboBox *m_mode;
    QLabel *m_state;
    QLabel *m_explanation;
    QLabel *m_message;
    QPushButton *m_preview;
};

/// Adds the tray menu's checkable "System proxy" entry (its text shows the state) to `menu`.
void addSystemProxyAction(QMenu *menu, SystemProxyController *controller);

} // namespace dfproxy::gui
