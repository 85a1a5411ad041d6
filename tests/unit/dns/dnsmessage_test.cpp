// SPDX-License-Identifier: Apache-2.0
// The DNS wire codec of the UDP resolver: queries byte for byte, replies built by hand (compression, CNAME chains,
// malformed records).
#include "dns/dnsmessage.h"
#include "support/dnsbytes.h"

#include <gtest/gtest.h>

using namespace dfproxy::dns;
namespace w = dfproxy::dns::wire;

namespace {

using dfproxy::test::dnsbytes::put16;
using dfproxy::test::dnsbytes::put32;

QByteArray name(const char *dotted)
{
    return dfproxy::test::dnsbytes::name(QString::fromLatin1(dotted));
}

/// A reply message under construction: header, the question, then records appended by the test.
struct Msg
{
    QByteArray bytes;
    int answers = 0;

    Msg(quint16 id, const char *qname, quint16 qtype, quint16 flags = 0x8180)
    {
        put16(bytes, id);
        put16(bytes, flags);
        put16(bytes, 1);
        put16(bytes, 0); // ANCOUNT, patched by done()
        put16(bytes, 0);
        put16(bytes, 0);
        bytes += name(qname);
        put16(bytes, qtype);
        put16(bytes, w::ClassIn);
    }

    /// Appends a record whose owner is `owner` (wire bytes: a name or a pointer).
    void record(const QByteArray &owner, quint16 type, quint32 ttl, const QByteArray &rdata, quint16 cls = w::ClassIn)
    {
        bytes += owner;
        put16(bytes, type);
        put16(bytes, cls);
        put32(bytes, ttl);
        put16(bytes, quint16(rdata.size()));
        bytes += rdata;
        ++answers;
    }

    QByteArray done() const
    {
        QByteArray b = bytes;
        b[6] = char(answers >> 8);
        b[7] = char(answers & 0xff);
        return b;
    }
};

QByteArray ptr(int offset)
{
    QByteArray b;
    put16(b, quint16(0xC000 | offset));
    return b;
}

QByteArray ipv4(const char *text)
{
    QByteArray b;
    put32(b, QHostAddress(QString::fromLatin1(text)).toIPv4Address());
    return b;
}

} // namespace

TEST(DnsWire, QueryIsAStandardRecursiveQuestion)
{
    const QByteArray q = w::encodeQuery(0xBEEF, "www.example.test", w::TypeAaaa);
    const QByteArray expected = QByteArray::fromHex("beef01000001000000000000") + name("www.example.test")
                                + QByteArray::fromHex("001c0001");
    EXPECT_EQ(q.toHex(), expected.toHex());
}

TEST(DnsWire, NamesAreLowerCaseAsciiAndChecked)
{
    EXPECT_EQ(w::encodeName(QStringLiteral("WWW.Example.TEST.")).value_or("?"), QByteArray("www.example.test"));
    EXPECT_EQ(w::encodeName(QStringLiteral("bücher.test")).value_or("?"), QByteArray("xn--bcher-kva.test"));
    QString error;
    EXPECT_FALSE(w::encodeName(QString(64, QLatin1Char('a')) + QStringLiteral(".test"), &error));
    EXPECT_TRUE(error.contains(QStringLiteral("63"))) << error.toStdString();
    EXPECT_FALSE(w::encodeName(QStringLiteral("a..test"), &error));
    EXPECT_FALSE(w::encodeName(QString(), &error));
    QString tooLong;
    for (int i = 0; i < 50; ++i)
        tooLong += QStringLiteral("abcd.");
    tooLong += QStringLiteral("test");
    EXPECT_FALSE(w::encodeName(tooLong, &error));
    EXPECT_TRUE(error.contains(QStringLiteral("253"))) << error.toStdString();
}

TEST(DnsWire, ReadsAddressesWithCompressedOwnersAndTheSmallestTtl)
{
    Msg m(7, "web.test", w::TypeA);
    m.record(ptr(12), w::TypeA, 120, ipv4("127.1.0.1"));
    m.record(ptr(12), w::TypeA, 60, ipv4("127.1.0.2"));
    m.record(ptr(12), w::TypeA, 90, ipv4("127.1.0.1")); // duplicate: kept once
    const QByteArray d = m.done();
    ASSERT_TRUE(w::isReplyTo(d, 7, "web.test", w::TypeA));
    QString error;
    const auto r = w::parseReply(d, "web.test", w::TypeA, &error);
    ASSERT_TRUE(r) << error.toStdString();
    EXPECT_EQ(r->rcode, 0);
    EXPECT_FALSE(r->truncated);
    EXPECT_EQ(r->addresses, (QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.1")),
                                                 QHostAddress(QStringLiteral("127.1.0.2"))}));
    EXPECT_EQ(r->ttlSeconds, 60u);
}

TEST(DnsWire, ReadsAaaaRecords)
{
    Msg m(8, "six.test", w::TypeAaaa);
    const Q_IPV6ADDR v6 = QHostAddress(QStringLiteral("fd00::53")).toIPv6Address();
    m.record(ptr(12), w::TypeAaaa, 42, QByteArray(reinterpret_cast<const char *>(v6.c), 16));
    m.record(ptr(12), w::TypeA, 42, ipv4("127.1.0.1")); // not the asked type
    const auto r = w::parseReply(m.done(), "six.test", w::TypeAaaa);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("fd00::53"))});
    EXPECT_EQ(r->ttlSeconds, 42u);
}

TEST(DnsWire, FollowsCnameChainsInAnyOrderAndIgnoresOtherOwners)
{
    Msg m(9, "www.alias.test", w::TypeA);
    // Records out of chain order: the address first, then alias -> mid, then mid -> edge (names uncompressed).
    m.record(name("edge.cdn.test"), w::TypeA, 300, ipv4("127.1.0.9"));
    m.record(name("unrelated.test"), w::TypeA, 1, ipv4("127.66.66.66")); // not on the chain: ignored
    m.record(ptr(12), w::TypeCname, 50, name("mid.cdn.test"));
    m.record(name("MID.cdn.test"), w::TypeCname, 200, name("edge.cdn.test"));
    QString error;
    const auto r = w::parseReply(m.done(), "www.alias.test", w::TypeA, &error);
    ASSERT_TRUE(r) << error.toStdString();
    EXPECT_EQ(r->addresses, QList<QHostAddress>{QHostAddress(QStringLiteral("127.1.0.9"))});
    EXPECT_EQ(r->ttlSeconds, 50u);
}

TEST(DnsWire, CnameLoopEndsWithoutAddresses)
{
    Msg m(10, "a.test", w::TypeA);
    m.record(ptr(12), w::TypeCname, 60, name("b.test"));
    m.record(name("b.test"), w::TypeCname, 60, name("a.test"));
    const auto r = w::parseReply(m.done(), "a.test", w::TypeA);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->addresses.isEmpty());
    EXPECT_EQ(r->ttlSeconds, 0u);
}

TEST(DnsWire, TtlWithTheTopBitSetIsZero)
{
    Msg m(11, "t.test", w::TypeA);
    m.record(ptr(12), w::TypeA, 0x80000000u, ipv4("127.1.0.1"));
    const auto r = w::parseReply(m.done(), "t.test", w::TypeA);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->ttlSeconds, 0u);
}

TEST(DnsWire, RecordsOfAnotherClassAreIgnored)
{
    Msg m(12, "c.test", w::TypeA);
    m.record(ptr(12), w::TypeA, 60, ipv4("127.66.66.66"), 3 /* CH */);
    const auto r = w::parseReply(m.done(), "c.test", w::TypeA);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->addresses.isEmpty());
}

TEST(DnsWire, ReplyToAnotherQuestionIsNoReply)
{
    const QByteArray d = Msg(13, "web.test", w::TypeA).done();
    EXPECT_TRUE(w::isReplyTo(d, 13, "WEB.test", w::TypeA));
    EXPECT_FALSE(w::isReplyTo(d, 14, "web.test", w::TypeA)) << "another id";
    EXPECT_FALSE(w::isReplyTo(d, 13, "web2.test", w::TypeA)) << "another name";
    EXPECT_FALSE(w::isReplyTo(d, 13, "web.test", w::TypeAaaa)) << "another type";
    EXPECT_FALSE(w::isReplyTo(Msg(13, "web.test", w::TypeA, 0x0100).done(), 13, "web.test", w::TypeA))
        << "a query, not a reply";
    EXPECT_FALSE(w::isReplyTo(d.left(11), 13, "web.test", w::TypeA)) << "shorter than a header";
    EXPECT_FALSE(w::isReplyTo(d.left(d.size() - 1), 13, "web.test", w::TypeA)) << "question cut short";
}

TEST(DnsWire, ErrorReplyWithoutTheQuestionIsStillAReply)
{
    QByteArray d = QByteArray::fromHex("0011" "8185" "0000" "0000" "0000" "0000"); // REFUSED, QDCOUNT 0
    ASSERT_TRUE(w::isReplyTo(d, 0x11, "x.test", w::TypeA));
    const auto r = w::parseReply(d, "x.test", w::TypeA);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->rcode, 5);
    EXPECT_EQ(w::errorOfRcode(r->rcode), DnsError::Refused);
    QByteArray ok = QByteArray::fromHex("0011" "8180" "0000" "0000" "0000" "0000"); // NOERROR without a question
    EXPECT_FALSE(w::isReplyTo(ok, 0x11, "x.test", w::TypeA));
}

TEST(DnsWire, RcodesAndTruncationAreReported)
{
    const auto nx = w::parseReply(Msg(15, "n.test", w::TypeA, 0x8183).done(), "n.test", w::TypeA);
    ASSERT_TRUE(nx);
    EXPECT_EQ(w::errorOfRcode(nx->rcode), DnsError::NxDomain);
    EXPECT_EQ(w::rcodeName(nx->rcode), QStringLiteral("NXDOMAIN"));
    EXPECT_EQ(w::errorOfRcode(2), DnsError::ServFail);
    EXPECT_EQ(w::errorOfRcode(1), DnsError::BadReply);
    EXPECT_EQ(w::rcodeName(9), QStringLiteral("RCODE 9"));
    const auto tc = w::parseReply(Msg(16, "big.test", w::TypeA, 0x8380).done(), "big.test", w::TypeA);
    ASSERT_TRUE(tc);
    EXPECT_TRUE(tc->truncated);
}

TEST(DnsWire, MalformedRecordsAreRejected)
{
    auto fails = [](const QByteArray &d, const char *what) {
        QString error;
        EXPECT_FALSE(w::parseReply(d, "m.test", w::TypeA, &error)) << what;
        EXPECT_FALSE(error.isEmpty()) << what;
    };
    {
        Msg m(20, "m.test", w::TypeA);
        m.record(ptr(12), w::TypeA, 60, QByteArray(5, '\1'));
        fails(m.done(), "an A record of 5 bytes");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        m.record(ptr(12), w::TypeA, 60, ipv4("127.1.0.1"));
        fails(m.done().chopped(2), "data running past the end");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        m.record(ptr(0x3ff), w::TypeA, 60, ipv4("127.1.0.1"));
        fails(m.done(), "a pointer past the end");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        const int here = int(m.bytes.size());
        m.record(ptr(here), w::TypeA, 60, ipv4("127.1.0.1"));
        fails(m.done(), "a pointer to itself");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        m.record(QByteArray::fromHex("40"), w::TypeA, 60, ipv4("127.1.0.1"));
        fails(m.done(), "a reserved label type");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        m.answers = 3; // claims more records than it has
        m.record(ptr(12), w::TypeA, 60, ipv4("127.1.0.1"));
        fails(m.done(), "ANCOUNT larger than the records");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        QByteArray longName;
        for (int i = 0; i < 5; ++i)
            longName += char(63) + QByteArray(63, 'x');
        longName += '\0';
        m.record(longName, w::TypeA, 60, ipv4("127.1.0.1"));
        fails(m.done(), "a name longer than 255 bytes");
    }
    {
        Msg m(20, "m.test", w::TypeA);
        m.record(ptr(12), w::TypeCname, 60, name("x.test") + "junk");
        fails(m.done(), "a CNAME with bytes after its name");
    }
}
