// SPDX-License-Identifier: Apache-2.0
// The background-thread priority: lowered for the calling thread only, never for the rest of the process.
#include "platform/threadpriority.h"

#include <gtest/gtest.h>

#include <QtGlobal>

#include <thread>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {
int niceOfThisThread()
{
    return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
}
} // namespace

TEST(ThreadPriority, LowersOnlyTheCallingThread)
{
    const int mine = niceOfThisThread();
    int before = 0, after = 0;
    bool ok = false;
    std::thread t([&] {
        before = niceOfThisThread();
        ok = dfproxy::platform::lowerCurrentThreadPriority();
        after = niceOfThisThread();
    });
    t.join();
    ASSERT_TRUE(ok);
    EXPECT_EQ(before, mine);
    EXPECT_EQ(after, qMin(before + 5, 19));
    EXPECT_EQ(niceOfThisThread(), mine) << "the caller's own priority must not change";
    // A thread started afterwards starts from the process's priority again.
    int fresh = 0;
    std::thread([&] { fresh = niceOfThisThread(); }).join();
    EXPECT_EQ(fresh, mine);
}
#else
TEST(ThreadPriority, IsBestEffortElsewhere)
{
    std::thread([] { dfproxy::platform::lowerCurrentThreadPriority(); }).join();
    SUCCEED();
}
#endif
