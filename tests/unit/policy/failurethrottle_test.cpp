// SPDX-License-Identifier: Apache-2.0
#include "policy/failurethrottle.h"

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::policy;
using Outcome = FailureThrottle::Outcome;

TEST(FailureThrottle, RefusesAClientAfterMaxFailuresUntilTheWindowEnds)
{
    ManualClock clock;
    FailureThrottle t({3, 60000, 100}, &clock);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(t.begin("10.0.0.1"), 0) << i;
        t.end("10.0.0.1", Outcome::Failure);
    }
    clock.advance(10000);
    EXPECT_EQ(t.begin("10.0.0.1"), 50000); // until the window that began with the first failure ends
    EXPECT_EQ(t.begin("10.0.0.2"), 0);     // other clients are not affected
    t.end("10.0.0.2", Outcome::Success);
    clock.advance(50000);
    EXPECT_EQ(t.begin("10.0.0.1"), 0);
    t.end("10.0.0.1", Outcome::Success);
}

TEST(FailureThrottle, AttemptsInFlightCountSoABurstCannotOvertakeTheFirstFailure)
{
    ManualClock clock;
    FailureThrottle t({3, 60000, 100}, &clock);
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(t.begin("c"), 0) << i;
    EXPECT_GT(t.begin("c"), 0);
    t.end("c", Outcome::Success);
    t.end("c", Outcome::Abandoned); // never verified: no failure
    EXPECT_EQ(t.begin("c"), 0);
}

TEST(FailureThrottle, SuccessesDoNotResetFailuresAndIdleClientsAreForgotten)
{
    ManualClock clock;
    FailureThrottle t({2, 1000, 100}, &clock);
    ASSERT_EQ(t.begin("c"), 0);
    t.end("c", Outcome::Failure);
    ASSERT_EQ(t.begin("c"), 0);
    t.end("c", Outcome::Success); // one right guess does not buy more wrong ones
    ASSERT_EQ(t.begin("c"), 0);
    t.end("c", Outcome::Failure);
    EXPECT_GT(t.begin("c"), 0);
    ASSERT_EQ(t.begin("ok"), 0);
    t.end("ok", Outcome::Success);
    EXPECT_EQ(t.size(), 1); // only the failing client is remembered
}

TEST(FailureThrottle, RemembersAtMostMaxClients)
{
    ManualClock clock;
    FailureThrottle t({1, 60000, 4}, &clock);
    for (int i = 0; i < 10; ++i) {
        const QByteArray c = "10.0.0." + QByteArray::number(i);
        ASSERT_EQ(t.begin(c), 0);
        t.end(c, Outcome::Failure);
        clock.advance(1);
    }
    EXPECT_LE(t.size(), 4);
    EXPECT_GT(t.begin("10.0.0.9"), 0); // the newest are kept
}
