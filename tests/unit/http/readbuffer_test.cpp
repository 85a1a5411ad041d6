// SPDX-License-Identifier: Apache-2.0
#include "http/readbuffer.h"

#include <QBuffer>

#include <gtest/gtest.h>

using dfproxy::http::ReadBuffer;

namespace {
/// A source that hands out a fixed text once.
struct Once
{
    QByteArray text;
    qint64 read(char *data, qint64 max)
    {
        const qint64 n = std::min<qint64>(max, text.size());
        memcpy(data, text.constData(), size_t(n));
        text.remove(0, n);
        return n;
    }
};
} // namespace

TEST(ReadBuffer, FillsFromAnySourceAndConsumes)
{
    ReadBuffer b(16);
    Once src{"hello world"};
    EXPECT_EQ(b.fill(&src), 11);
    EXPECT_EQ(QByteArray(b.data(), b.size()), "hello world");
    b.consume(6);
    EXPECT_EQ(QByteArray(b.data(), b.size()), "world");
    QBuffer dev;
    dev.setData("!");
    dev.open(QIODevice::ReadOnly);
    EXPECT_EQ(b.fill(&dev), 1);
    EXPECT_EQ(QByteArray(b.data(), b.size()), "world!");
}

TEST(ReadBuffer, RecycledMemoryServesTheNextBufferOnTheThread)
{
    ReadBuffer first;
    Once a{"request"};
    ASSERT_EQ(first.fill(&a), 7);
    const char *memory = first.data();
    first.recycle();
    EXPECT_EQ(QByteArray(first.data(), first.size()), "request") << "not empty: kept";
    first.consume(7);
    first.recycle();
    EXPECT_TRUE(first.isEmpty());

    ReadBuffer second;
    Once b{"response"};
    ASSERT_EQ(second.fill(&b), 8);
    EXPECT_EQ(second.data(), memory) << "the spare block was taken, not a new one";
    EXPECT_EQ(QByteArray(second.data(), second.size()), "response");

    Once c{"again"};
    ASSERT_EQ(first.fill(&c), 5); // a recycled buffer works like a new one
    EXPECT_EQ(QByteArray(first.data(), first.size()), "again");
    EXPECT_NE(first.data(), second.data());
}
