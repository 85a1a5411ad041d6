// SPDX-License-Identifier: Apache-2.0
#include "base/lazytimer.h"

#include "support/wait.h"

#include <QObject>
#include <QTimerEvent>

#include <gtest/gtest.h>

using dfproxy::LazyTimer;
using dfproxy::test::waitUntil;

namespace {

/// Owns one LazyTimer and records when it expired.
class Owner final : public QObject
{
public:
    LazyTimer timer;
    int expired = 0;
    qint64 expiredAt = 0;
    int otherEvents = 0;

protected:
    void timerEvent(QTimerEvent *ev) override
    {
        if (timer.fired(this, ev)) {
            ++expired;
            expiredAt = LazyTimer::nowMs();
        } else {
            ++otherEvents;
        }
    }
};

} // namespace

TEST(LazyTimer, ExpiresOnceAfterItsDeadline)
{
    Owner o;
    const qint64 start = LazyTimer::nowMs();
    o.timer.start(&o, 30);
    EXPECT_TRUE(o.timer.isActive());
    ASSERT_TRUE(waitUntil([&] { return o.expired > 0; }, 5000));
    EXPECT_GE(o.expiredAt - start, 30);
    EXPECT_FALSE(o.timer.isActive());
    dfproxy::test::spinFor(80);
    EXPECT_EQ(o.expired, 1) << "one-shot";
}

TEST(LazyTimer, RestartingMovesTheDeadlineLater)
{
    Owner o;
    o.timer.start(&o, 40);
    dfproxy::test::spinFor(25);
    const qint64 restarted = LazyTimer::nowMs();
    o.timer.start(&o, 60); // the running Qt timer fires first and re-arms for the rest
    ASSERT_TRUE(waitUntil([&] { return o.expired > 0; }, 5000));
    EXPECT_GE(o.expiredAt - restarted, 60);
    EXPECT_EQ(o.expired, 1);
}

TEST(LazyTimer, RestartingWithAShorterTimeoutExpiresEarlier)
{
    Owner o;
    o.timer.start(&o, 60'000);
    const qint64 start = LazyTimer::nowMs();
    o.timer.start(&o, 20);
    ASSERT_TRUE(waitUntil([&] { return o.expired > 0; }, 5000));
    EXPECT_GE(o.expiredAt - start, 20);
}

TEST(LazyTimer, StoppedTimerNeverExpires)
{
    Owner o;
    o.timer.start(&o, 20);
    o.timer.stop();
    EXPECT_FALSE(o.timer.isActive());
    dfproxy::test::spinFor(100);
    EXPECT_EQ(o.expired, 0);
    o.timer.start(&o, 0); // zero or less is a stop too
    EXPECT_FALSE(o.timer.isActive());
}

TEST(LazyTimer, IgnoresOtherTimers)
{
    Owner o;
    o.timer.start(&o, 200);
    const int other = o.startTimer(10);
    ASSERT_TRUE(waitUntil([&] { return o.otherEvents > 0; }, 5000));
    o.killTimer(other);
    EXPECT_EQ(o.expired, 0);
    EXPECT_TRUE(o.timer.isActive());
}
