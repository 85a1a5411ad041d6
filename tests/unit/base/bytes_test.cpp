// SPDX-License-Identifier: Apache-2.0
// The append helpers that stand in for QByteArray::append on the hot path: same bytes as append, any size.
#include "base/bytes.h"

#include <gtest/gtest.h>

using dfproxy::ByteWriter;
using dfproxy::appendRaw;
using dfproxy::growBy;

TEST(Bytes, AppendRawMatchesQByteArrayAppendAcrossReallocations)
{
    QByteArray ours = "head:";
    QByteArray qt = ours;
    const QByteArray shared = ours; // implicitly shared: the first append must detach, not write into `shared`
    for (int i = 0; i < 2000; ++i) {
        const QByteArray piece = QByteArray::number(i) + (i % 7 == 0 ? QByteArray(300, 'x') : QByteArray(","));
        appendRaw(ours, piece.constData(), piece.size());
        qt.append(piece);
    }
    growBy(ours, 0);
    EXPECT_EQ(ours, qt);
    EXPECT_EQ(shared, QByteArray("head:"));
    char *d = growBy(ours, 3);
    std::memcpy(d, "end", 3);
    EXPECT_TRUE(ours.endsWith("end"));
    EXPECT_EQ(ours.size(), qt.size() + 3);
    EXPECT_EQ(ours.constData()[ours.size()], '\0');
}

TEST(Bytes, ByteWriterWritesWhatAppendWouldAndLeavesTheExactSize)
{
    QByteArray out = "prefix|";
    const QByteArray shared = out;
    QByteArray expected = out;
    {
        ByteWriter w(out, 4); // tiny first reservation: every path through reserveMore is taken
        for (int i = 0; i < 5000; ++i) {
            w.put(char('a' + i % 26));
            expected.append(char('a' + i % 26));
            if (i % 100 == 0) {
                const QByteArray big(1000 + i, char('0' + i % 10));
                w.put(big.constData(), big.size());
                expected.append(big);
            }
        }
        w.literal("!end");
        expected.append("!end");
        EXPECT_EQ(w.size(), expected.size());
    }
    EXPECT_EQ(out, expected);
    EXPECT_EQ(out.size(), expected.size());
    EXPECT_EQ(out.constData()[out.size()], '\0');
    EXPECT_EQ(shared, QByteArray("prefix|"));
}

TEST(Bytes, ByteWriterTruncateDropsALaterPartAndFinishCanBeCalledTwice)
{
    QByteArray out;
    ByteWriter w(out);
    w.literal("keep");
    const qsizetype mark = w.size();
    w.literal("-drop-this-part");
    w.truncate(mark);
    w.finish();
    EXPECT_EQ(out, QByteArray("keep"));
    w.literal("+more");
    w.finish();
    EXPECT_EQ(out, QByteArray("keep+more"));
    w.truncate(100); // past the end: nothing changes
    w.finish();
    EXPECT_EQ(out, QByteArray("keep+more"));
}
