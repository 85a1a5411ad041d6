// SPDX-License-Identifier: Apache-2.0
#include "policy/verificationpool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

using namespace dfproxy::policy;

TEST(VerificationPool, RunsJobsOffTheCallingThreadAndBoundsTheQueue)
{
    VerificationPool pool(1, 2);
    std::promise<void> release;
    std::shared_future<void> gate = release.get_future().share();
    std::promise<std::thread::id> ran;
    ASSERT_TRUE(pool.submit([gate, &ran] {
        ran.set_value(std::this_thread::get_id());
        gate.wait();
    }));
    const auto worker = ran.get_future().get(); // the thread is now busy with the first job
    EXPECT_NE(worker, std::this_thread::get_id());
    std::atomic<int> done{0};
    EXPECT_TRUE(pool.submit([&done] { ++done; }));
    EXPECT_TRUE(pool.submit([&done] { ++done; }));
    EXPECT_FALSE(pool.submit([&done] { ++done; })); // two waiting: full
    EXPECT_EQ(pool.queued(), 2);
    release.set_value();
    while (done.load() < 2)
        std::this_thread::yield();
    EXPECT_TRUE(pool.submit([&done] { ++done; }));
}
