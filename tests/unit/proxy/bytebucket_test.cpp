// SPDX-License-Identifier: Apache-2.0
#include "proxy/bytebucket.h"

#include <gtest/gtest.h>

using namespace dfproxy;

TEST(ByteBucket, StartsFullAndRefillsProRata)
{
    ManualClock clock;
    proxy::ByteBucket b(1000, 500, &clock);
    EXPECT_EQ(b.available(), 500);
    b.consume(500);
    EXPECT_EQ(b.available(), 0);
    clock.advance(1);
    EXPECT_EQ(b.available(), 1);
    clock.advance(99);
    EXPECT_EQ(b.available(), 100);
    clock.advance(10000);
    EXPECT_EQ(b.available(), 500); // never above the capacity
}

TEST(ByteBucket, FractionalRatesAccumulateExactly)
{
    ManualClock clock;
    proxy::ByteBucket b(300, 300, &clock); // 0.3 bytes per millisecond
    b.consume(300);
    clock.advance(3);
    EXPECT_EQ(b.available(), 0);
    clock.advance(1);
    EXPECT_EQ(b.available(), 1);
    clock.advance(6);
    EXPECT_EQ(b.available(), 3);
}

TEST(ByteBucket, MsUntilSaysWhenEnoughIsBack)
{
    ManualClock clock;
    proxy::ByteBucket b(65536, 65536, &clock);
    EXPECT_EQ(b.msUntil(1000), 0);
    b.consume(65536);
    EXPECT_EQ(b.msUntil(6554), 101); // 6554 bytes at 65.536 bytes/ms, rounded up
    clock.advance(101);
    EXPECT_GE(b.available(), 6554);
    EXPECT_EQ(b.msUntil(1 << 30), 1000 - 101); // capped at the capacity
}

TEST(ByteBucket, ConsumingMoreThanAvailableEmptiesWithoutGoingNegative)
{
    ManualClock clock;
    proxy::ByteBucket b(100, 100, &clock);
    b.consume(1000);
    EXPECT_EQ(b.available(), 0);
    clock.advance(10);
    EXPECT_EQ(b.available(), 1);
}

TEST(ByteBucket, HugeRatesAfterLongIdleDoNotOverflow)
{
    ManualClock clock;
    proxy::ByteBucket b(10'000'000'000, 1'000'000'000'000, &clock);
    b.consume(1'000'000'000'000);
    clock.advance(qint64(1) << 40);
    EXPECT_EQ(b.available(), 1'000'000'000'000);
}
