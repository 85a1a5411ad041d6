// SPDX-License-Identifier: Apache-2.0
#include "platform/threadpriority.h"

#include <QtGlobal>

#if defined(Q_OS_LINUX)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(Q_OS_MACOS)
#include <pthread.h>
#include <sys/qos.h>
#elif defined(Q_OS_WIN)
#include <windows.h>
#endif

namespace dfproxy::platform {

bool lowerCurrentThreadPriority()
{
#if defined(Q_OS_LINUX)
    // On Linux a nice value belongs to the thread (PRIO_PROCESS with a thread id), not to the process. +5 weighs
    // the thread at a third of a normal one: it still gets its share when every core is busy, but a woken
    // proxy, client or origin thread goes first instead of waiting out the writer's slice.
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    return ::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + 5) == 0;
#elif defined(Q_OS_MACOS)
    return pthread_set_qos_class_self_np(QOS_CLASS_UTILITY, 0) == 0;
#elif defined(Q_OS_WIN)
    return SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_BELOW_NORMAL) != 0;
#else
    return false;
#endif
}

bool useLeftoverCpuOnCurrentThread()
{
#if defined(Q_OS_LINUX)
    // Nice 19 weighs the thread at 1.5 % of a normal one: it still makes progress on a saturated machine, but a woken
    // worker preempts it at once.
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    return ::setpriority(PRIO_PROCESS, tid, 19) == 0;
#elif defined(Q_OS_MACOS)
    return pthread_set_qos_class_self_np(QOS_CLASS_BACKGROUND, 0) == 0;
#elif defined(Q_OS_WIN)
    return SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_LOWEST) != 0;
#else
    return false;
#endif
}

} // namespace dfproxy::platform
