// SPDX-License-Identifier: Apache-2.0
// DeadlineList against a ManualClock (order, cancellation, callbacks that start and cancel others) and once against
// the real clock (its one Qt timer fires).
#include "base/deadlinelist.h"

#include "support/wait.h"

#include <gtest/gtest.h>

#include <QList>

#include <memory>

using dfproxy::DeadlineList;
using dfproxy::ManualClock;

TEST(DeadlineList, FiresEachDeadlineOnceInTheOrderTheyAreDue)
{
    ManualClock clock;
    DeadlineList list(clock);
    QList<int> fired;
    list.start(300, [&] { fired.append(3); });
    list.start(100, [&] { fired.append(1); });
    list.start(200, [&] { fired.append(2); });
    list.start(200, [&] { fired.append(22); }); // same time: in the order started
    EXPECT_EQ(list.size(), 4);
    EXPECT_EQ(list.nextDueMs(), clock.nowMs() + 100);
    clock.advance(99);
    list.runDue();
    EXPECT_TRUE(fired.isEmpty());
    clock.advance(101);
    list.runDue();
    EXPECT_EQ(fired, (QList<int>{1, 2, 22}));
    clock.advance(1000);
    list.runDue();
    list.runDue();
    EXPECT_EQ(fired, (QList<int>{1, 2, 22, 3}));
    EXPECT_EQ(list.size(), 0);
    EXPECT_EQ(list.nextDueMs(), 0);
}

TEST(DeadlineList, ACancelledDeadlineNeverFires)
{
    ManualClock clock;
    DeadlineList list(clock);
    int fired = 0;
    auto a = list.start(100, [&] { ++fired; });
    auto b = list.start(100, [&] { fired += 10; });
    list.cancel(&a);
    EXPECT_FALSE(a);
    list.cancel(&a); // twice: ignored
    EXPECT_EQ(list.size(), 1);
    clock.advance(100);
    list.runDue();
    EXPECT_EQ(fired, 10);
    list.cancel(&b); // fired already: ignored
    EXPECT_EQ(list.size(), 0);
}

TEST(DeadlineList, CallbacksMayStartAndCancelOthers)
{
    ManualClock clock;
    DeadlineList list(clock);
    QList<int> fired;
    DeadlineList::Token victim;
    list.start(10, [&] {
        fired.append(1);
        list.cancel(&victim);
        list.start(0, [&] { fired.append(4); }); // due now, but waits for the next call
    });
    victim = list.start(20, [&] { fired.append(2); });
    list.start(30, [&] { fired.append(3); });
    clock.advance(50);
    list.runDue();
    EXPECT_EQ(fired, (QList<int>{1, 3}));
    list.runDue();
    EXPECT_EQ(fired, (QList<int>{1, 3, 4}));
}

TEST(DeadlineList, ACallbackMayDestroyTheList)
{
    // A DNS query's timeout ends a request, whose connection goes on to its next request, which may drop the
    // resolver (and its list) of a cache replaced meanwhile: the list must not touch itself after that.
    ManualClock clock;
    auto list = std::make_unique<DeadlineList>(clock);
    int fired = 0;
    list->start(10, [&] {
        ++fired;
        list.reset();
    });
    list->start(10, [&] { ++fired; }); // gone with the list
    clock.advance(10);
    list->runDue();
    EXPECT_EQ(fired, 1);
    EXPECT_EQ(list, nullptr);
}

TEST(DeadlineList, ItsQtTimerFiresTheEarliestThenTheRest)
{
    DeadlineList list; // the system clock: the Qt timer does the work
    QList<int> fired;
    list.start(60'000, [&] { fired.append(9); });
    auto cancelled = list.start(30, [&] { fired.append(0); });
    list.start(80, [&] { fired.append(2); });
    list.start(40, [&] { fired.append(1); }); // later than the 30 ms the timer is armed for: no Qt call
    list.cancel(&cancelled);                  // the timer wakes for nothing at 30 ms and re-arms for 40
    ASSERT_TRUE(dfproxy::test::waitUntil([&] { return fired.size() >= 2; }, 10'000));
    EXPECT_EQ(fired, (QList<int>{1, 2}));
    EXPECT_EQ(list.size(), 1);
}
