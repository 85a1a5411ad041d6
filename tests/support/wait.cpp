// SPDX-License-Identifier: Apache-2.0
#include "support/wait.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QTcpSocket>
#include <QTimer>

namespace dfproxy::test {

bool waitUntil(const std::function<bool()> &pred, int timeoutMs)
{
    if (pred())
        return true;
    const QDeadlineTimer deadline(timeoutMs);
    // A ticking timer bounds each blocking processEvents() call, so the deadline is checked often.
    QTimer tick;
    tick.setInterval(5);
    tick.start();
    QEventLoop loop;
    while (!pred()) {
        if (deadline.hasExpired())
            return pred();
        loop.processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents);
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    }
    return true;
}

void spinFor(int ms)
{
    const QDeadlineTimer deadline(ms);
    waitUntil([&] { return deadline.hasExpired(); }, ms + 1000);
}

QByteArray readUntilClosed(QTcpSocket &socket, int maxMs)
{
    QByteArray got;
    waitUntil(
        [&] {
            got += socket.readAll();
            return socket.state() == QAbstractSocket::UnconnectedState;
        },
        maxMs);
    return got + socket.readAll();
}

} // namespace dfproxy::test
