// SPDX-License-Identifier: Apache-2.0
#include "widgets/fitscrollarea.h"

#include <QEvent>
#include <QScrollBar>

#include <algorithm>

namespace dfproxy::gui {

FitScrollArea::FitScrollArea(int minimumHeight, QWidget *parent) : QScrollArea(parent), m_minimumHeight(minimumHeight)
{
    setWidgetResizable(true);
    setFrameShape(QFrame::NoFrame);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
    // The content's height changes (a card added, a filter ticked): the dialog's layout must ask again.
    viewport()->installEventFilter(this);
}

QSize FitScrollArea::sizeHint() const
{
    const QSize inner = widget() ? widget()->sizeHint() : QSize(0, 0);
    return {inner.width() + verticalScrollBar()->sizeHint().width() + 2 * frameWidth(),
            inner.height() + 2 * frameWidth()};
}

QSize FitScrollArea::minimumSizeHint() const
{
    const int width = widget() ? widget()->minimumSizeHint().width() + verticalScrollBar()->sizeHint().width() : 0;
    return {width, std::min(sizeHint().height(), m_minimumHeight)};
}

bool FitScrollArea::eventFilter(QObject *watched, QEvent *event)
{
    // The content widget lives in the viewport: its layout changes arrive there as LayoutRequest.
    if (watched == viewport() && event->type() == QEvent::LayoutRequest)
        updateGeometry();
    return QScrollArea::eventFilter(watched, event);
}

} // namespace dfproxy::gui
