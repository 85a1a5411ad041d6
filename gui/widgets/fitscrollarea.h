// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QScrollArea>

namespace dfproxy::gui {

/// A scroll area for the list parts of an editor (policy cards, route rules): it asks its layout for the whole
/// content's height, so everything shows when the dialog has the room, but settles for `minimumHeight` when it has
/// not, so the list scrolls by itself instead of the whole form (#28 item 1: editors fit a 1280x800 screen).
class FitScrollArea : public QScrollArea
{
    Q_OBJECT
public:
    explicit FitScrollArea(int minimumHeight, QWidget *parent = nullptr);

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    int m_minimumHeight;
};

} // namespace dfproxy::gui
