// SPDX-License-Identifier: Apache-2.0
#include "base/liveness.h"

#include <gtest/gtest.h>

#include <memory>

using dfproxy::Liveness;

namespace {
struct Object
{
    Liveness liveness;
};
} // namespace

TEST(Liveness, GuardStaysTrueWhileTheOwnerLives)
{
    Object o;
    Liveness::Guard g(o.liveness);
    EXPECT_TRUE(bool(g));
}

TEST(Liveness, EveryNestedGuardSeesTheOwnerDie)
{
    auto o = std::make_unique<Object>();
    Liveness::Guard outer(o->liveness);
    {
        Liveness::Guard inner(o->liveness);
        o.reset(); // deleted while both frames are on the stack
        EXPECT_FALSE(bool(inner));
    }
    EXPECT_FALSE(bool(outer));
}

TEST(Liveness, GuardsThatEndedDoNotOutliveTheirFrame)
{
    auto o = std::make_unique<Object>();
    {
        Liveness::Guard first(o->liveness);
    }
    Liveness::Guard second(o->liveness);
    {
        Liveness::Guard third(o->liveness);
    }
    EXPECT_TRUE(bool(second));
    o.reset(); // must touch only `second`, the one guard still on the stack
    EXPECT_FALSE(bool(second));
}
