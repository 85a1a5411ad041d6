// SPDX-License-Identifier: Apache-2.0
#include "policy/ratelimiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace dfproxy;
using namespace dfproxy::policy;

TEST(TokenBucket, AllowsBurstThenDeniesWithRetryAfter)
{
    ManualClock clock;
    TokenBucketLimiter l(10, 1000, 10, 100, &clock);
    for (int i = 0; i < 10; ++i)
        EXPECT_TRUE(l.take("k").allowed) << i;
    const auto r = l.take("k");
    EXPECT_FALSE(r.allowed);
    EXPECT_EQ(r.limit, 10);
    EXPECT_EQ(r.remaining, 0);
    EXPECT_EQ(r.retryAfterMs, 100);
    EXPECT_EQ(r.resetMs, 1000);
}

TEST(TokenBucket, RefillsProRataAndCapsAtCapacity)
{
    ManualClock clock;
    TokenBucketLimiter l(10, 1000, 5, 100, &clock);
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(l.take("k").allowed);
    EXPECT_FALSE(l.take("k").allowed);
    clock.advance(99);
    EXPECT_FALSE(l.take("k").allowed);
    clock.advance(1);
    EXPECT_TRUE(l.take("k").allowed);
    EXPECT_FALSE(l.take("k").allowed);
    clock.advance(3'600'000); // a long idle time refills only up to the burst
    int allowed = 0;
    while (l.take("k").allowed)
        ++allowed;
    EXPECT_EQ(allowed, 5);
}

TEST(TokenBucket, KeysHaveSeparateBuckets)
{
    ManualClock clock;
    TokenBucketLimiter l(1, 60000, 1, 100, &clock);
    EXPECT_TRUE(l.take("a").allowed);
    EXPECT_FALSE(l.take("a").allowed);
    EXPECT_TRUE(l.take("b").allowed);
}

TEST(TokenBucket, RefundGivesTheTokenBack)
{
    ManualClock clock;
    TokenBucketLimiter l(1, 60000, 1, 100, &clock);
    EXPECT_TRUE(l.take("a").allowed);
    l.refund("a");
    EXPECT_TRUE(l.take("a").allowed);
    EXPECT_FALSE(l.take("a").allowed);
}

TEST(TokenBucket, KeyCountIsBoundedByMaxKeys)
{
    ManualClock clock;
    TokenBucketLimiter l(1, 1000, 1, 64, &clock);
    for (int i = 0; i < 10000; ++i)
        l.take(QByteArray::number(i));
    EXPECT_LE(l.keyCount(), 64);
    EXPECT_GT(l.keyCount(), 0);
}

TEST(TokenBucket, RecentlyUsedKeysSurviveEviction)
{
    ManualClock clock;
    TokenBucketLimiter l(1, 60000, 1, 1, &clock); // one key only: a new key evicts the old one
    EXPECT_TRUE(l.take("a").allowed);
    EXPECT_FALSE(l.take("a").allowed);
    EXPECT_TRUE(l.take("b").allowed);
    EXPECT_EQ(l.keyCount(), 1);
    EXPECT_FALSE(l.take("b").allowed);
}

TEST(TokenBucket, ConcurrentTakesNeverExceedTheBudget)
{
    ManualClock clock; // time stands still: exactly `capacity` takes may succeed
    TokenBucketLimiter l(1, 1000, 1000, 100, &clock);
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                if (l.take("shared").allowed)
                    ++allowed;
            }
        });
    }
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(allowed.load(), 1000);
}
