// SPDX-License-Identifier: Apache-2.0
#include "base/boundedring.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using dfproxy::BoundedRing;

namespace {

std::vector<int> contents(const BoundedRing<int> &r)
{
    std::vector<int> out;
    for (size_t i = 0; i < r.size(); ++i)
        out.push_back(r.at(i));
    return out;
}

} // namespace

TEST(BoundedRing, KeepsTheNewestOldestFirst)
{
    BoundedRing<int> r;
    EXPECT_TRUE(r.empty());
    for (int i = 1; i <= 3; ++i)
        r.push(int(i), 4);
    EXPECT_EQ(contents(r), (std::vector<int>{1, 2, 3}));
    for (int i = 4; i <= 10; ++i)
        r.push(int(i), 4);
    EXPECT_EQ(contents(r), (std::vector<int>{7, 8, 9, 10}));
}

TEST(BoundedRing, EveryCapacityAndWrapPositionAgreesWithAPlainList)
{
    // Against a plain list trimmed from the front, for every capacity and every number of pushes, including a
    // capacity change (smaller and larger) at every wrap position.
    for (size_t cap = 1; cap <= 6; ++cap) {
        for (int pushes = 0; pushes <= 15; ++pushes) {
            for (size_t next = 0; next <= 8; ++next) {
                BoundedRing<int> r;
                std::vector<int> model;
                int v = 0;
                const auto push = [&](size_t c) {
                    r.push(int(++v), c);
                    model.push_back(v);
                    if (c == 0)
                        model.clear();
                    while (model.size() > c)
                        model.erase(model.begin());
                };
                for (int i = 0; i < pushes; ++i)
                    push(cap);
                ASSERT_EQ(contents(r), model) << cap << " " << pushes;
                r.fit(next);
                while (model.size() > next)
                    model.erase(model.begin());
                ASSERT_EQ(contents(r), model) << cap << " " << pushes << " -> " << next;
                for (int i = 0; i < 9; ++i)
                    push(next);
                ASSERT_EQ(contents(r), model) << cap << " " << pushes << " -> " << next << " then 9";
            }
        }
    }
}

TEST(BoundedRing, MovesItemsInAndFindsThePartitionPoint)
{
    BoundedRing<std::string> r;
    for (int i = 0; i < 7; ++i) {
        std::string s(40, char('a' + i)); // long enough to live on the heap
        r.push(std::move(s), 5);
    }
    ASSERT_EQ(r.size(), 5u);
    EXPECT_EQ(r.at(0), std::string(40, 'c'));
    EXPECT_EQ(r.at(4), std::string(40, 'g'));
    EXPECT_EQ(r.partitionPoint([](const std::string &s) { return s[0] > 'd'; }), 2u);
    EXPECT_EQ(r.partitionPoint([](const std::string &) { return true; }), 0u);
    EXPECT_EQ(r.partitionPoint([](const std::string &) { return false; }), 5u);
    r.clear();
    EXPECT_EQ(r.partitionPoint([](const std::string &) { return true; }), 0u);
}
