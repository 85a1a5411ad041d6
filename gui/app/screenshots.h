// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QObject>
#include <QString>

#include <functional>

namespace dfproxy::gui {

class MainWindow;

/// Walks through every screen (and the two editors) once the console is connected and has collected some history,
/// saving `<dir>/<screen>.png` with QWidget::grab(); emits done() at the end (used by scripts/screenshots).
class ScreenshotRunner : public QObject
{
    Q_OBJECT
public:
    ScreenshotRunner(MainWindow *window, const QString &dir);
    void start();

Q_SIGNALS:
    void done();

private:
    void next();
    void save(QWidget *w, const QString &name);
    /// Puts the pointer on the latency chart's p99 line, which shows its hover value.
    void hoverLatency();
    /// Saves the main window with the visible tooltip painted in.
    void saveWithTooltip(const QString &name);

    MainWindow *m_window;
    QString m_dir;
    QList<std::pair<int, std::function<void()>>> m_steps; ///< delay before, action
};

} // namespace dfproxy::gui
