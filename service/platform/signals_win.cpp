// SPDX-License-Identifier: Apache-2.0
#include "platform/signals.h"

#include <QtGlobal>

#ifdef Q_OS_WIN
#include <QCoreApplication>
#include <QMetaObject>

#include <windows.h>

namespace dfproxy::platform {
namespace {
std::function<void()> g_onStop;

BOOL WINAPI consoleHandler(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        // Runs on a system thread: hop to the main thread.
        QMetaObject::invokeMethod(QCoreApplication::instance(), [] { if (g_onStop) g_onStop(); }, Qt::QueuedConnection);
        return TRUE;
    default:
        return FALSE;
    }
}
} // namespace

void installSignalHandlers(std::function<void()> onStop, std::function<void()> /*onReload*/)
{
    g_onStop = std::move(onStop);
    SetConsoleCtrlHandler(consoleHandler, TRUE);
}

} // namespace dfproxy::platform
#endif
