// SPDX-License-Identifier: Apache-2.0
#include "proxy/connectionlimiter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace dfproxy::proxy;
using Admission = ConnectionLimiter::Admission;

TEST(ConnectionLimiter, PerClientAndGlobalLimitsHoldAndFreedSlotsAreReused)
{
    ConnectionLimiter l;
    l.setLimits(3, 2);
    const QHostAddress a("10.0.0.1"), b("10.0.0.2"), c("10.0.0.3");
    EXPECT_EQ(l.admit(a), Admission::Admitted);
    EXPECT_EQ(l.admit(a), Admission::Admitted);
    EXPECT_EQ(l.admit(a), Admission::ClientLimit);
    EXPECT_EQ(l.admit(b), Admission::Admitted);
    EXPECT_EQ(l.admit(c), Admission::GlobalLimit); // the global limit is checked first
    EXPECT_EQ(l.open(), 3);
    EXPECT_EQ(l.openFrom(a), 2);
    l.release(a);
    EXPECT_EQ(l.admit(c), Admission::Admitted);
    EXPECT_EQ(l.admit(a), Admission::GlobalLimit);
    EXPECT_EQ(l.openFrom(QHostAddress("10.0.0.9")), 0);
}

TEST(ConnectionLimiter, ZeroMeansNoLimitAndLimitsChangeLive)
{
    ConnectionLimiter l;
    const QHostAddress a("127.0.0.1");
    for (int i = 0; i < 1000; ++i)
        ASSERT_EQ(l.admit(a), Admission::Admitted);
    l.setLimits(0, 10); // lower than what is open: nothing is closed, nothing new is admitted
    EXPECT_EQ(l.admit(a), Admission::ClientLimit);
    for (int i = 0; i < 991; ++i)
        l.release(a);
    EXPECT_EQ(l.admit(a), Admission::Admitted);
    EXPECT_EQ(l.admit(a), Admission::ClientLimit);
}

TEST(ConnectionLimiter, MappedIpv4CountsAsTheIpv4AddressAndUnknownReleasesAreIgnored)
{
    ConnectionLimiter l;
    l.setLimits(0, 1);
    EXPECT_EQ(l.admit(QHostAddress("::ffff:192.0.2.7")), Admission::Admitted);
    EXPECT_EQ(l.admit(QHostAddress("192.0.2.7")), Admission::ClientLimit);
    EXPECT_EQ(l.admit(QHostAddress("2001:db8::7")), Admission::Admitted);
    l.release(QHostAddress("198.51.100.1")); // never admitted
    EXPECT_EQ(l.open(), 2);
    {
        ConnectionSlot slot(&l, QHostAddress("192.0.2.7"));
        ConnectionSlot moved(std::move(slot));
    } // released once, by the slot it moved to
    EXPECT_EQ(l.open(), 1);
    EXPECT_EQ(l.admit(QHostAddress("192.0.2.7")), Admission::Admitted);
}

TEST(ConnectionLimiter, ConcurrentAdmitsNeverExceedTheLimit)
{
    ConnectionLimiter l;
    l.setLimits(100, 0);
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            const QHostAddress me(QStringLiteral("10.1.0.%1").arg(t + 1));
            for (int i = 0; i < 1000; ++i) {
                if (l.admit(me) == Admission::Admitted) {
                    admitted.fetch_add(1);
                    if (i % 2)
                        l.release(me), admitted.fetch_sub(1);
                }
            }
        });
    }
    for (auto &t : threads)
        t.join();
    EXPECT_EQ(l.open(), admitted.load());
    EXPECT_LE(l.open(), 100);
}
