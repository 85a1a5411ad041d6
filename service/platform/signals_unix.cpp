// SPDX-License-Identifier: Apache-2.0
#include "platform/signals.h"

#include <QtGlobal>

#ifndef Q_OS_WIN
#include <QCoreApplication>
#include <QSocketNotifier>

#include <csignal>
#include <sys/socket.h>
#include <unistd.h>

namespace dfproxy::platform {
namespace {
// A signal handler may only write to a pipe; the notifier turns that into a call on the main thread.
int g_fds[2] = {-1, -1};

void handler(int sig)
{
    const char c = static_cast<char>(sig);
    [[maybe_unused]] auto n = ::write(g_fds[0], &c, 1);
}
} // namespace

void installSignalHandlers(std::function<void()> onStop, std::function<void()> onReload)
{
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, g_fds) != 0)
        return;
    auto *notifier = new QSocketNotifier(g_fds[1], QSocketNotifier::Read, QCoreApplication::instance());
    QObject::connect(notifier, &QSocketNotifier::activated, notifier, [onStop, onReload] {
        char c = 0;
        if (::read(g_fds[1], &c, 1) != 1)
            return;
        if (c == SIGHUP) {
            if (onReload)
                onReload();
        } else if (onStop) {
            onStop();
        }
    });
    struct sigaction sa = {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGHUP, &sa, nullptr);
    // A client that goes away mid-write must not kill the service.
    ::signal(SIGPIPE, SIG_IGN);
}

} // namespace dfproxy::platform
#endif
