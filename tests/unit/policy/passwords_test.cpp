// SPDX-License-Identifier: Apache-2.0
#include "platform/passwordcrypt.h"
#include "policy/passwords.h"

#include "base/clock.h"

#include <gtest/gtest.h>

using namespace dfproxy::policy;
using dfproxy::ManualClock;

// Known vectors: crypt_blowfish's test suite, `openssl passwd -6 -salt saltsalt password`, passlib's docs.
TEST(PasswordHash, VerifiesBcrypt)
{
    if (!dfproxy::platform::cryptAvailable())
        GTEST_SKIP() << "no crypt(3) on this platform";
    const QByteArray hash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    EXPECT_EQ(verifyPasswordHash("U*U", hash), std::optional<bool>(true));
    EXPECT_EQ(verifyPasswordHash("U*V", hash), std::optional<bool>(false));
}

TEST(PasswordHash, VerifiesSha512Crypt)
{
    if (!dfproxy::platform::cryptAvailable())
        GTEST_SKIP() << "no crypt(3) on this platform";
    const QByteArray hash =
        "$6$saltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/";
    EXPECT_EQ(verifyPasswordHash("password", hash), std::optional<bool>(true));
    EXPECT_EQ(verifyPasswordHash("Password", hash), std::optional<bool>(false));
}

TEST(PasswordHash, VerifiesPasslibPbkdf2Sha256)
{
    const QByteArray hash = "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M";
    EXPECT_EQ(verifyPasswordHash("password", hash), std::optional<bool>(true));
    EXPECT_EQ(verifyPasswordHash("passwore", hash), std::optional<bool>(false));
    EXPECT_EQ(verifyPasswordHash("password", hash.mid(1)), std::optional<bool>(true)); // dfproxy's spelling
}

TEST(PasswordHash, Pbkdf2RoundTrip)
{
    const QByteArray hash = hashPbkdf2Sha256("s3cret", "0123456789abcdef", 1000);
    EXPECT_TRUE(hash.startsWith("pbkdf2-sha256$1000$"));
    EXPECT_EQ(verifyPasswordHash("s3cret", hash), std::optional<bool>(true));
    EXPECT_EQ(verifyPasswordHash("s3cret!", hash), std::optional<bool>(false));
}

TEST(PasswordHash, MalformedHashesAreUnsupportedNotAccepted)
{
    EXPECT_FALSE(verifyPasswordHash("x", "").has_value());
    EXPECT_FALSE(verifyPasswordHash("x", "plaintext").has_value());
    EXPECT_FALSE(verifyPasswordHash("x", "pbkdf2-sha256$abc$salt$hash").has_value());
    EXPECT_FALSE(verifyPasswordHash("x", "pbkdf2-sha256$1000$!!$hash").has_value());
    EXPECT_FALSE(verifyPasswordHash("x", "$2b$99$garbage").value_or(false));
}

TEST(PasswordHash, ParsesHtpasswd)
{
    QStringList problems;
    const auto users = parseHtpasswd("# comment\nalice:$2y$05$abc\n\nbob:$6$x$y\nbroken\n", &problems);
    EXPECT_EQ(users.size(), 2);
    EXPECT_EQ(users.value("alice"), QByteArray("$2y$05$abc"));
    ASSERT_EQ(problems.size(), 1);
    EXPECT_TRUE(problems[0].startsWith("line 5")) << problems[0].toStdString();
}

TEST(VerificationCache, RemembersSuccessesBoundedAndKeyedByUserPasswordAndHash)
{
    VerificationCache cache(2);
    cache.insert("u", "h1", "p");
    EXPECT_TRUE(cache.contains("u", "h1", "p"));
    EXPECT_FALSE(cache.contains("u", "h2", "p")); // a changed hash never matches
    EXPECT_FALSE(cache.contains("u", "h1", "q"));
    EXPECT_FALSE(cache.contains("v", "h1", "p")); // another user with the same hash and password
    EXPECT_FALSE(cache.contains("u:", "h1", "p"));
    cache.insert("u", "h2", "p");
    cache.insert("u", "h3", "p");
    EXPECT_EQ(cache.size(), 2);
    EXPECT_FALSE(cache.contains("u", "h1", "p"));
}

TEST(VerificationCache, ForgetsAnEntryATtlAfterItsLastUse)
{
    ManualClock clock;
    VerificationCache cache(16, 60000, &clock);
    cache.insert("u", "h", "p");
    clock.advance(59999);
    EXPECT_TRUE(cache.contains("u", "h", "p"));
    clock.advance(59999); // the hit above started a new TTL
    EXPECT_TRUE(cache.contains("u", "h", "p"));
    clock.advance(60000);
    EXPECT_FALSE(cache.contains("u", "h", "p"));
    EXPECT_EQ(cache.size(), 0);
}

TEST(ApiKeyHash, Sha256Hex)
{
    EXPECT_EQ(sha256Hex("abc"), QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}
