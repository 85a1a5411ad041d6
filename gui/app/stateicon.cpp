// SPDX-License-Identifier: Apache-2.0
#include "app/stateicon.h"

#include <QPainter>
#include <QPixmap>

namespace dfproxy::gui {

QIcon stateIcon(ConnectionState state)
{
    QColor color(0xb0, 0x00, 0x20);
    if (state == ConnectionState::Connected)
        color = QColor(0x1b, 0x7f, 0x3b);
    else if (state == ConnectionState::Connecting)
        color = QColor(0xd9, 0x8c, 0x00);
    QIcon icon;
    for (int size : {16, 22, 32, 64}) {
        QPixmap pm(size, size);
        pm.fill(Qt::transparent);
        QPainter p(&pm);
        p.setRenderHint(QPainter::Antialiasing);
        p.setPen(Qt::NoPen);
        p.setBrush(color);
        p.drawEllipse(QRectF(1, 1, size - 2, size - 2));
        p.setPen(Qt::white);
        QFont f = p.font();
        f.setBold(true);
        f.setPixelSize(size * 6 / 10);
        p.setFont(f);
        p.drawText(QRect(0, 0, size, size), Qt::AlignCenter, QStringLiteral("D"));
        icon.addPixmap(pm);
    }
    return icon;
}

} // namespace dfproxy::gui
