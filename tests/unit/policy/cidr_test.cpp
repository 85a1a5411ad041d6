// SPDX-License-Identifier: Apache-2.0
#include "policy/cidr.h"

#include <gtest/gtest.h>

using namespace dfproxy::policy;

namespace {

QStringList embedded(const char *address)
{
    QStringList out;
    for (const auto &a : embeddedIPv4Addresses(QHostAddress(QString::fromLatin1(address))))
        out.append(a.toString());
    return out;
}

} // namespace

TEST(EmbeddedIPv4, MappedTranslatedAndCompatibleCarryTheLast32Bits)
{
    EXPECT_EQ(embedded("::ffff:169.254.169.254"), QStringList{"169.254.169.254"});
    EXPECT_EQ(embedded("::ffff:0:a9fe:a9fe"), QStringList{"169.254.169.254"});
    EXPECT_EQ(embedded("::a9fe:a9fe"), QStringList{"169.254.169.254"});
    EXPECT_EQ(embedded("::127.0.0.1"), QStringList{"127.0.0.1"});
    EXPECT_EQ(embedded("::2"), QStringList{"0.0.0.2"});
    // :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
    EXPECT_TRUE(embedded("::").isEmpty());
    EXPECT_TRUE(embedded("::1").isEmpty());
}

TEST(EmbeddedIPv4, Nat64WellKnownAndLocalUsePrefixes)
{
    EXPECT_EQ(embedded("64:ff9b::a9fe:a9fe"), QStringList{"169.254.169.254"});
    EXPECT_EQ(embedded("64:ff9b::10.1.2.3"), QStringList{"10.1.2.3"});
    // 64:ff9b::/96 only: other bits set in the middle are not the well-known prefix.
    EXPECT_TRUE(embedded("64:ff9b:0:0:1::a9fe:a9fe").isEmpty());
    // 64:ff9b:1::/48, RFC 6052 /48 layout: octets 1-2 in bits 48-63, the "u" octet, octets 3-4 in bits 72-87.
    const QStringList l48 = embedded("64:ff9b:1:a9fe:00a9:fe00::");
    ASSERT_FALSE(l48.isEmpty());
    EXPECT_EQ(l48.first(), "169.254.169.254");
    // Longer prefixes inside 64:ff9b:1::/48 are read as well (/56, /64, /96).
    EXPECT_TRUE(embedded("64:ff9b:1:00:a9:fea9:fe00:0").contains("169.254.169.254"));  // /56
    EXPECT_TRUE(embedded("64:ff9b:1:0:00a9:fea9:fe00:0").contains("169.254.169.254")); // /64
    EXPECT_TRUE(embedded("64:ff9b:1::a9fe:a9fe").contains("169.254.169.254"));         // /96
}

TEST(EmbeddedIPv4, SixToFourCarriesBits16To47)
{
    EXPECT_EQ(embedded("2002:a9fe:a9fe::1"), QStringList{"169.254.169.254"});
    EXPECT_EQ(embedded("2002:7f00:1:1234::5"), QStringList{"127.0.0.1"});
}

TEST(EmbeddedIPv4, TeredoCarriesTheServerAndTheInvertedClient)
{
    // RFC 4380's example: server 65.54.227.120, client 192.0.2.45 (stored as 3fff:fdd2 after the XOR).
    EXPECT_EQ(embedded("2001:0:4136:e378:8000:63bf:3fff:fdd2"), (QStringList{"65.54.227.120", "192.0.2.45"}));
    // 169.254.169.254 XOR 0xffffffff = 0x5601:5601.
    EXPECT_TRUE(embedded("2001:0:102:304::5601:5601").contains("169.254.169.254"));
    // 2001:db8::/32 is documentation space, not Teredo.
    EXPECT_TRUE(embedded("2001:db8::a9fe:a9fe").isEmpty());
}

TEST(EmbeddedIPv4, IsatapInterfaceIdentifiers)
{
    EXPECT_EQ(embedded("2001:db8::5efe:a9fe:a9fe"), QStringList{"169.254.169.254"});
    EXPECT_EQ(embedded("2001:db8::200:5efe:a01:203"), QStringList{"10.1.2.3"});
}

TEST(EmbeddedIPv4, PlainAddressesCarryNothing)
{
    EXPECT_TRUE(embedded("169.254.169.254").isEmpty());
    EXPECT_TRUE(embedded("2606:2800:220:1:248:1893:25c8:1946").isEmpty());
    EXPECT_TRUE(embedded("fe80::1").isEmpty());
}
