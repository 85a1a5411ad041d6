// SPDX-License-Identifier: Apache-2.0
#include "jwttestutil.h"

#include <QJsonArray>

#include <gtest/gtest.h>

using namespace dfproxy::policy;
using namespace dfproxy::policy::test;

namespace {

constexpr qint64 Now = 1'700'000'000;

QJsonObject claims(qint64 exp = Now + 300)
{
    return QJsonObject{{"iss", "https://issuer.test"}, {"aud", "dfproxy"}, {"sub", "alice"}, {"exp", exp},
                       {"nbf", Now - 10}};
}

JwtVerifier::Settings settings()
{
    return JwtVerifier::Settings{"https://issuer.test", {"dfproxy"}, 60000};
}

class JwtAlgorithms : public ::testing::TestWithParam<TestSigner::Alg>
{
};

} // namespace

TEST_P(JwtAlgorithms, AcceptsAValidToken)
{
    TestSigner signer(GetParam());
    JwtVerifier v(signer.jwks(), settings());
    ASSERT_EQ(v.keyCount(), 1) << v.problems().join("; ").toStdString();
    const auto r = v.verify(signer.sign(claims()), Now);
    EXPECT_TRUE(r.ok) << r.error.toStdString();
    EXPECT_EQ(r.claims.value("sub").toString(), "alice");
    EXPECT_TRUE(v.verify(signer.sign(claims(), false), Now).ok); // no kid: any key of the algorithm
}

TEST_P(JwtAlgorithms, RefusesExpiredNotYetValidWrongAudienceWrongIssuer)
{
    TestSigner signer(GetParam());
    JwtVerifier v(signer.jwks(), settings());
    EXPECT_EQ(v.verify(signer.sign(claims(Now - 61)), Now).error, "token expired");
    EXPECT_TRUE(v.verify(signer.sign(claims(Now - 30)), Now).ok) << "within the 60 s clock skew";
    auto early = claims();
    early.insert("nbf", Now + 120);
    EXPECT_EQ(v.verify(signer.sign(early), Now).error, "token not yet valid (nbf)");
    auto aud = claims();
    aud.insert("aud", QJsonArray{"other", "another"});
    EXPECT_EQ(v.verify(signer.sign(aud), Now).error, "wrong audience");
    aud.insert("aud", QJsonArray{"other", "dfproxy"});
    EXPECT_TRUE(v.verify(signer.sign(aud), Now).ok);
    auto iss = claims();
    iss.insert("iss", "https://evil.test");
    EXPECT_EQ(v.verify(signer.sign(iss), Now).error, "wrong issuer");
}

TEST_P(JwtAlgorithms, RefusesABadSignature)
{
    TestSigner signer(GetParam());
    TestSigner other(GetParam());
    JwtVerifier v(signer.jwks(), settings());
    QByteArray token = signer.sign(claims());
    // Change the payload, keep the signature.
    const QList<QByteArray> parts = token.split('.');
    auto c = claims();
    c.insert("sub", "mallory");
    const QByteArray forged = parts[0] + '.' + base64UrlEncode(QJsonDocument(c).toJson(QJsonDocument::Compact)) + '.'
                              + parts[2];
    EXPECT_EQ(v.verify(forged, Now).error, "bad signature");
    EXPECT_FALSE(v.verify(other.sign(claims()), Now).ok);
}

INSTANTIATE_TEST_SUITE_P(Jwt, JwtAlgorithms,
                         ::testing::Values(TestSigner::Alg::RS256, TestSigner::Alg::ES256, TestSigner::Alg::HS256),
                         [](const auto &info) {
                             return std::string(info.param == TestSigner::Alg::RS256   ? "RS256"
                                                : info.param == TestSigner::Alg::ES256 ? "ES256"
                                                                                         : "HS256");
                         });

TEST(Jwt, RefusesAlgNoneAndAlgorithmConfusion)
{
    TestSigner rsa(TestSigner::Alg::RS256);
    JwtVerifier v(rsa.jwks(), settings());
    const QByteArray body = base64UrlEncode(QJsonDocument(claims()).toJson(QJsonDocument::Compact));
    const QByteArray none = base64UrlEncode(R"({"alg":"none"})") + '.' + body + '.';
    EXPECT_FALSE(v.verify(none, Now).ok);
    TestSigner hs(TestSigner::Alg::HS256);
    EXPECT_FALSE(v.verify(hs.sign(claims()), Now).ok); // HS256 token, but the JWKS has only an RSA key
}

TEST(Jwt, MalformedTokensAndKeysAreRefusedNotCrashing)
{
    TestSigner hs(TestSigner::Alg::HS256);
    JwtVerifier v(hs.jwks(), settings());
    for (const QByteArray &t : {QByteArray(), QByteArray("a.b"), QByteArray("a.b.c"), QByteArray("!!.??.**"),
                               QByteArray("e30.e30.AAAA")})
        EXPECT_FALSE(v.verify(t, Now).ok) << t.toStdString();
    JwtVerifier bad(QJsonObject{{"keys", QJsonArray{QJsonObject{{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}},
                                                     QJsonObject{{"kty", "oct"}, {"k", "c2hvcnQ"}},
                                                     QJsonObject{{"kty", "OKP"}}}}},
                    settings());
    EXPECT_EQ(bad.keyCount(), 0);
    EXPECT_EQ(bad.problems().size(), 4);
    EXPECT_FALSE(bad.verify(hs.sign(claims()), Now).ok);
}

TEST(Jwt, ATokenWithoutExpIsRefusedUnlessRequireExpirationIsOff)
{
    TestSigner hs(TestSigner::Alg::HS256);
    auto forever = claims();
    forever.remove("exp");
    EXPECT_EQ(JwtVerifier(hs.jwks(), settings()).verify(hs.sign(forever), Now).error, "token has no exp");
    auto lax = settings();
    lax.requireExpiration = false;
    const auto r = JwtVerifier(hs.jwks(), lax).verify(hs.sign(forever), Now);
    EXPECT_TRUE(r.ok) << r.error.toStdString();
    // A malformed exp is refused either way.
    forever.insert("exp", "tomorrow");
    EXPECT_EQ(JwtVerifier(hs.jwks(), lax).verify(hs.sign(forever), Now).error, "claim exp is not a number");
}

TEST(Jwt, MaxLifetimeBoundsExpMinusIatOrExpMinusNow)
{
    TestSigner hs(TestSigner::Alg::HS256);
    auto s = settings();
    s.maxLifetimeSecs = 3600;
    JwtVerifier v(hs.jwks(), s);
    auto c = claims(Now + 3600);
    c.insert("iat", Now);
    EXPECT_TRUE(v.verify(hs.sign(c), Now).ok);
    c.insert("iat", Now - 1);
    EXPECT_EQ(v.verify(hs.sign(c), Now).error, "token lifetime exceeds maxLifetime");
    // Issued long ago, 30 days of validity: refused even in its last minute.
    c = claims(Now + 60);
    c.insert("iat", Now - 30 * 86400);
    EXPECT_EQ(v.verify(hs.sign(c), Now).error, "token lifetime exceeds maxLifetime");
    // No iat: what is left of it counts.
    EXPECT_TRUE(v.verify(hs.sign(claims(Now + 3000)), Now).ok);
    EXPECT_EQ(v.verify(hs.sign(claims(Now + 4000)), Now).error, "token lifetime exceeds maxLifetime");
    c = claims();
    c.insert("iat", "yesterday");
    EXPECT_EQ(v.verify(hs.sign(c), Now).error, "claim iat is not a number");
    // maxLifetime needs an exp even with requireExpiration off.
    s.requireExpiration = false;
    c = claims();
    c.remove("exp");
    EXPECT_EQ(JwtVerifier(hs.jwks(), s).verify(hs.sign(c), Now).error, "token has no exp");
}
