// SPDX-License-Identifier: Apache-2.0
// Authentication to an upstream proxy: the challenge parser, Basic, and Digest against RFC 7616's own example
// (section 3.9.1: MD5 and SHA-256), the nonce count of a reused nonce, and what is refused.
#include "forward/proxyauth.h"
#include "platform/proxysecurity.h"

#include "support/tempdir.h"

#include <gtest/gtest.h>

#include <QFile>

using namespace dfproxy;
using forward::ProxyAuth;

namespace {

const QByteArray kRfcChallengeMd5 = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, "
                                    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
                                    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
const QByteArray kRfcChallengeSha = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
                                    "algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
                                    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
const QByteArray kRfcCnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

QByteArray param(const QByteArray &authorization, const QByteArray &name)
{
    const QList<ProxyAuth::Challenge> parsed = ProxyAuth::parseChallenges({authorization});
    return parsed.isEmpty() ? QByteArray() : parsed.first().param(name);
}

} // namespace

TEST(ProxyAuth, ParsesSeveralChallengesInOneValue)
{
    const auto c = ProxyAuth::parseChallenges(
        {"Basic realm=\"corp, proxy\", Digest realm=\"x\", nonce=\"n\\\"1\", qop=auth", "Negotiate"});
    ASSERT_EQ(c.size(), 3);
    EXPECT_EQ(c[0].scheme, "basic");
    EXPECT_EQ(c[0].param("realm"), "corp, proxy");
    EXPECT_EQ(c[1].scheme, "digest");
    EXPECT_EQ(c[1].param("nonce"), "n\"1");
    EXPECT_EQ(c[1].param("qop"), "auth");
    EXPECT_EQ(c[2].scheme, "negotiate");
}

TEST(ProxyAuth, BasicIsSentBeforeAnyChallenge)
{
    ProxyAuth auth(QStringLiteral("alice"), QStringLiteral("pa:ss"));
    EXPECT_EQ(auth.preemptive("GET", "http://a.test/"), "Basic " + QByteArray("alice:pa:ss").toBase64());
    QString error;
    EXPECT_EQ(auth.answer({"Basic realm=\"corp\""}, "GET", "http://a.test/", &error),
              "Basic " + QByteArray("alice:pa:ss").toBase64());
}

TEST(ProxyAuth, DigestMd5MatchesRfc7616Example)
{
    ProxyAuth auth(QStringLiteral("Mufasa"), QStringLiteral("Circle of Life"));
    auth.setClientNonceForTest(kRfcCnonce);
    QString error;
    const QByteArray a = auth.answer({kRfcChallengeMd5}, "GET", "/dir/index.html", &error);
    ASSERT_FALSE(a.isEmpty()) << error.toStdString();
    EXPECT_EQ(param(a, "response"), "8ca523f5e9506fed4657c9700eebdbec") << a.constData();
    EXPECT_EQ(param(a, "nc"), "00000001");
    EXPECT_EQ(param(a, "qop"), "auth");
    EXPECT_EQ(param(a, "opaque"), "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS");
    EXPECT_EQ(param(a, "uri"), "/dir/index.html");
}

TEST(ProxyAuth, DigestSha256MatchesRfc7616ExampleAndIsPreferredOverMd5AndBasic)
{
    ProxyAuth auth(QStringLiteral("Mufasa"), QStringLiteral("Circle of Life"));
    auth.setClientNonceForTest(kRfcCnonce);
    QString error;
    const QByteArray a = auth.answer({"Basic realm=\"x\"", kRfcChallengeMd5, kRfcChallengeSha}, "GET",
                                     "/dir/index.html", &error);
    EXPECT_EQ(param(a, "algorithm"), "SHA-256");
    EXPECT_EQ(param(a, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

TEST(ProxyAuth, DigestNonceIsReusedWithTheNextCount)
{
    ProxyAuth auth(QStringLiteral("Mufasa"), QStringLiteral("Circle of Life"));
    EXPECT_TRUE(auth.preemptive("GET", "/").startsWith("Basic ")); // nothing known yet
    QString error;
    ASSERT_FALSE(auth.answer({kRfcChallengeMd5}, "GET", "/a", &error).isEmpty());
    const QByteArray next = auth.preemptive("GET", "/b");
    EXPECT_TRUE(next.startsWith("Digest ")) << next.constData();
    EXPECT_EQ(param(next, "nc"), "00000002");
    EXPECT_EQ(param(next, "uri"), "/b");
}

TEST(ProxyAuth, UnanswerableChallengesAreRefusedWithTheSchemesOffered)
{
    ProxyAuth auth(QStringLiteral("a"), QStringLiteral("b"));
    QString error;
    EXPECT_TRUE(auth.answer({"NTLM", "Negotiate"}, "CONNECT", "a.test:443", &error).isEmpty());
    EXPECT_TRUE(error.contains(QLatin1String("ntlm, negotiate"))) << error.toStdString();
    // qop=auth-int alone needs the body's hash: not answered.
    EXPECT_TRUE(auth.answer({"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""}, "GET", "/", &error).isEmpty());
    EXPECT_TRUE(auth.answer({"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"}, "GET", "/", &error)
                    .isEmpty());
    EXPECT_TRUE(auth.answer({}, "GET", "/", &error).isEmpty());
    EXPECT_TRUE(error.contains(QLatin1String("without a Proxy-Authenticate"))) << error.toStdString();
}

TEST(ProxyAuth, CredentialsFileMustBePrivateAndHoldUserColonPassword)
{
    test::TempDir dir;
    const QString path = dir.filePath(QStringLiteral("creds"));
    ASSERT_TRUE(dir.writeFile(QStringLiteral("creds"), "bob:pa:ss word\n"));
    QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QString error;
    auto auth = ProxyAuth::fromFile(path, &error);
    ASSERT_TRUE(auth) << error.toStdString();
    EXPECT_EQ(auth->user(), QStringLiteral("bob"));
    EXPECT_EQ(auth->preemptive("GET", "/"), "Basic " + QByteArray("bob:pa:ss word").toBase64());

#ifndef Q_OS_WIN
    QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadOther);
    EXPECT_FALSE(ProxyAuth::fromFile(path, &error));
    EXPECT_TRUE(error.contains(QLatin1String("chmod 600"))) << error.toStdString();
    QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
#endif
    // type: ntlm where GSSAPI has no NTLM mechanism (gss-ntlmssp not installed): refused when the file is read,
    // so at apply time; with the mechanism it is taken. The lookup is faked: both hold on any machine.
    using Security = platform::ProxySecurityContext;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("creds"), "type: ntlm\n"));
    Security::setAvailabilityForTesting([](Security::Mechanism m) {
        return m == Security::Mechanism::Ntlm ? QStringLiteral("NTLM needs GSSAPI's NTLM mechanism, which is not "
                                                               "installed (Debian package gss-ntlmssp)")
                                              : QString();
    });
    EXPECT_FALSE(ProxyAuth::fromFile(path, &error));
    EXPECT_TRUE(error.contains(QLatin1String("'ntlm'"))) << error.toStdString();
    EXPECT_TRUE(error.contains(QLatin1String("gss-ntlmssp"))) << error.toStdString();
    Security::setAvailabilityForTesting([](Security::Mechanism) { return QString(); });
    auto ntlm = ProxyAuth::fromFile(path, &error);
    ASSERT_TRUE(ntlm) << error.toStdString();
    EXPECT_TRUE(ntlm->isConnectionBased());
    Security::setAvailabilityForTesting({});
    ASSERT_TRUE(dir.writeFile(QStringLiteral("creds"), "no-colon\n"));
    EXPECT_FALSE(ProxyAuth::fromFile(path, &error));
    ASSERT_TRUE(dir.writeFile(QStringLiteral("creds"), "bob:pa\rss\n")); // a control byte: never into a header
    EXPECT_FALSE(ProxyAuth::fromFile(path, &error));
    EXPECT_FALSE(ProxyAuth::fromFile(dir.filePath(QStringLiteral("missing")), &error));
}
