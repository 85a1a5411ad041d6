// SPDX-License-Identifier: Apache-2.0
#include "widgets/toast.h"

#include <QEvent>
#include <QGraphicsOpacityEffect>
#include <QLabel>
#include <QPropertyAnimation>
#include <QTimer>
#include <QWidget>

namespace dfproxy::gui {

namespace {

/// Keeps the notice in the window's lower right corner while the window is resized.
class Toast : public QLabel
{
public:
    Toast(QWidget *window, const QString &text, ToastKind kind)
        : QLabel(text, window)
    {
        setObjectName(QStringLiteral("toast"));
        setWordWrap(true);
        setMaximumWidth(qMax(240, window->width() / 2));
        setAttribute(Qt::WA_TransparentForMouseEvents);
        const char *background = kind == ToastKind::Error ? "#b3261e" : kind == ToastKind::Info ? "#3c4043" : "#1e6b34";
        setStyleSheet(QStringLiteral("QLabel#toast { background: %1; color: white; border-radius: 6px; padding: 8px 14px; }")
                          .arg(QLatin1String(background)));
        adjustSize();
        window->installEventFilter(this);
        place();
    }

    void place()
    {
        const QWidget *w = parentWidget();
        const int margin = 16;
        move(w->width() - width() - margin, w->height() - height() - margin - 24 /* above the status bar */);
        raise();
    }

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (watched == parentWidget() && event->type() == QEvent::Resize)
            place();
        return QLabel::eventFilter(watched, event);
    }
};

} // namespace

void showToast(QWidget *anywhere, const QString &text, ToastKind kind, int msecs)
{
    if (!anywhere)
        return;
    QWidget *window = anywhere->window();
    for (QLabel *old : window->findChildren<QLabel *>(QStringLiteral("toast"), Qt::FindDirectChildrenOnly)) {
        old->hide();
        old->setObjectName(QString());
        old->deleteLater();
    }
    auto *toast = new Toast(window, text, kind);
    toast->show();
    QTimer::singleShot(msecs, toast, [toast] {
        auto *effect = new QGraphicsOpacityEffect(toast);
        toast->setGraphicsEffect(effect);
        auto *fade = new QPropertyAnimation(effect, "opacity", toast);
        fade->setDuration(400);
        fade->setStartValue(1.0);
        fade->setEndValue(0.0);
        QObject::connect(fade, &QPropertyAnimation::finished, toast, &QObject::deleteLater);
        fade->start();
    });
}

} // namespace dfproxy::gui
