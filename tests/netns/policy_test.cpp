// SPDX-License-Identifier: Apache-2.0
// Egress policies through the real binary (docs/policies.md): authentication (401 for Host-header clients, 407 for
// explicit-proxy clients and tunnels; Basic with $6$, bcrypt and pbkdf2 hashes from a htpasswd file, API keys,
// HS256 and RS256 JWTs), authorization, rate limits, the SSRF guard (refusal after DNS, before connecting) and the
// Via loop check; identity and decision in the access log; the policy counters in /metrics.
// The SSRF tests make dfproxy resolve names to non-loopback addresses (169.254.169.254, 10.1.2.3) and check that it
// never dials them: the whole file runs inside a network namespace with only loopback up (tests/netns-run), so a
// failing check cannot reach those addresses.
#include "integration/proxyitutil.h"
#include "support/squid.h"
#include "support/testsupport.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>
#include <QPasswordDigestor>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QUrl>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

const QByteArray kSeed = dfproxy::test::seedManifests();

// bcrypt (cost 5) of "bcrypt-secret", made once with crypt(3): no CLI on Debian makes bcrypt without extra packages.
const QByteArray kBcryptHash = "$2b$05$LFNGM/8HxKu4MgJBSKDWOesyFZJkA1AEv.hA/7xPaz1.RW/J1uISS";

struct RunResult
{
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

RunResult run(const QString &program, const QStringList &args, const QByteArray &input = {})
{
    QProcess p;
    p.start(program, args);
    RunResult r;
    if (!p.waitForStarted(5000)) {
        r.err = p.errorString().toUtf8();
        return r;
    }
    p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(30000);
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QByteArray b64url(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

QByteArray jwtSigningInput(const QJsonObject &header, const QJsonObject &claims)
{
    return b64url(QJsonDocument(header).toJson(QJsonDocument::Compact)) + '.'
           + b64url(QJsonDocument(claims).toJson(QJsonDocument::Compact));
}

// The value of one sample line ("name{labels} value") of a Prometheus exposition; -1 when absent.
double metric(const QByteArray &exposition, const QString &series)
{
    for (const QByteArray &line : exposition.split('\n')) {
        if (line.startsWith(series.toUtf8() + ' '))
            return line.mid(series.size() + 1).toDouble();
    }
    return -1;
}

class Policies : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (qgetenv("DFPROXY_NETNS") != "isolated")
            GTEST_SKIP() << "not inside a network namespace of its own (ctest runs this binary through tests/netns-run)";
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        Dnsmasq::Options dnsOpts;
        dnsOpts.localTtl = 300;
        dns = std::make_unique<Dnsmasq>(dnsOpts);
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        for (const char *name : {"httpbin.test", "api.blocked.test", "self.test"})
            ASSERT_TRUE(dns->setHost(name, {QHostAddress("127.0.0.1")}));
        ASSERT_TRUE(dns->setHost("metadata.test", {QHostAddress("169.254.169.254")}));
        ASSERT_TRUE(dns->setHost("private.test", {QHostAddress("10.1.2.3")}));
        // Only an AAAA record: the metadata address behind the NAT64 well-known prefix.
        ASSERT_TRUE(dns->setHost("nat64.test", {QHostAddress("64:ff9b::a9fe:a9fe")}));
        origin = std::make_unique<OriginProcess>();
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
    }

    // Starts dfproxy (CONNECT allowed to the origin's port and 443; `ssrf` as proxy.ssrf when given) with the seed
    // route.
    void startProxy(const QJsonObject &ssrf = {})
    {
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        QJsonObject config = QJsonDocument::fromJson(proxy->dir().readFile("config.json")).object();
        QJsonArray resources = config.value("resources").toArray();
        QJsonObject gateway = resources[0].toObject();
        QJsonObject spec = gateway.value("spec").toObject();
        QJsonArray listeners = spec.value("listeners").toArray();
        QJsonObject listener = listeners[0].toObject();
        listener.insert("allowedConnectPorts", QJsonArray{origin->port(), 443});
        listeners[0] = listener;
        spec.insert("listeners", listeners);
        gateway.insert("spec", spec);
        resources[0] = gateway;
        config.insert("resources", resources);
        if (!ssrf.isEmpty()) {
            QJsonObject proxyBlock = config.value("proxy").toObject();
            proxyBlock.insert("ssrf", ssrf);
            config.insert("proxy", proxyBlock);
        }
        ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
        ASSERT_TRUE(proxy->restart()) << proxy->describe().toStdString();
        apply(kSeed);
    }

    void apply(const QByteArray &yaml)
    {
        const auto r = proxy->ctl({"apply", "-f", "-"}, yaml);
        ASSERT_EQ(r.exitCode, 0) << r.err.toStdString() << r.out.toStdString();
    }

    QString target(const char *host = "httpbin.test") const
    {
        return QStringLiteral("%1:%2").arg(QLatin1String(host)).arg(origin->port());
    }

    // A Host-header (origin-form) request.
    CurlResult get(const QString &path = QStringLiteral("/headers"), const QStringList &extra = {},
                   const char *host = "httpbin.test")
    {
        return curl(QStringList{"-H", "host: " + target(host)} + extra + QStringList{proxy->proxyUrl(path)});
    }
    // An explicit-proxy (absolute-form) request; `tunnel` makes curl use CONNECT.
    CurlResult viaProxy(const QStringList &extra = {}, bool tunnel = false, const char *host = "httpbin.test")
    {
        QStringList args{"-x", proxy->proxyUrl("")};
        if (tunnel)
            args << "-p";
        return curl(args + extra + QStringList{"http://" + target(host) + "/headers"});
    }

    CurlResult admin(const QString &path)
    {
        return proxy->apiGet(path);
    }
    QByteArray metrics() { return admin("/metrics").body; }
    QJsonObject stats() { return QJsonDocument::fromJson(admin("/api/v1/stats").body).object(); }

    // The access-log records so far (oldest first), once there are at least `count`.
    QJsonArray accessLog(int count)
    {
        QJsonArray items;
        waitUntil(
            [&] {
                items = QJsonDocument::fromJson(admin("/api/v1/accesslog?after=0&limit=1000").body)
                            .object()
                            .value("items")
                            .toArray();
                return items.size() >= count;
            },
            10000);
        return items;
    }

    // Header names the origin received on /headers.
    static QJsonObject originHeaders(const CurlResult &r)
    {
        return QJsonDocument::fromJson(r.body).object().value("headers").toObject();
    }

    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

QByteArray basicPolicy(const QByteArray &aliceHash, const QString &htpasswdFile = {})
{
    QByteArray y = "apiVersion: dfproxy.dev/v1alpha1\n"
                   "kind: AuthenticationPolicy\n"
                   "metadata: {name: users, namespace: agentgateway-system}\n"
                   "spec:\n"
                   "  targetRefs:\n"
                   "  - {kind: Gateway, name: agentgateway-proxy}\n"
                   "  basic:\n"
                   "    realm: dfproxy\n"
                   "    users:\n"
                   "    - name: alice\n"
                   "      passwordHash: \""
                   + aliceHash + "\"\n";
    if (!htpasswdFile.isEmpty())
        y += "    htpasswdFile: " + htpasswdFile.toUtf8() + "\n";
    return y;
}

// `openssl passwd -6`: the SHA-512-crypt hash docs/policies.md tells users to make.
QByteArray sha512Crypt(const QByteArray &password)
{
    const auto r = run("openssl", {"passwd", "-6", "-stdin"}, password + '\n');
    return r.exitCode == 0 ? r.out.trimmed() : QByteArray();
}

} // namespace

TEST(NetworkNamespace, OnlyLoopbackIsReachable)
{
    if (qgetenv("DFPROXY_NETNS") != "isolated")
        GTEST_SKIP() << "not inside a network namespace of its own (ctest runs this binary through tests/netns-run)";
    QTcpSocket s;
    s.connectToHost(QHostAddress("192.0.2.1"), 80); // TEST-NET-1: no route here, so the dial fails at once
    EXPECT_FALSE(s.waitForConnected(3000));
    EXPECT_EQ(s.error(), QAbstractSocket::NetworkError) << s.errorString().toStdString();
}

TEST_F(Policies, BasicAuthAnswers401ToHostHeaderClientsAndHidesCredentialsFromTheOrigin)
{
    startProxy();
    const QByteArray hash = sha512Crypt("s3cret");
    ASSERT_TRUE(hash.startsWith("$6$")) << hash.constData();
    apply(basicPolicy(hash));

    const auto none = get();
    EXPECT_EQ(none.status, 401) << none.describe().toStdString();
    EXPECT_TRUE(none.header("www-authenticate").startsWith("Basic realm=\"dfproxy\"")) << none.describe().toStdString();
    EXPECT_EQ(none.header("x-dfproxy-error"), "authn_required");
    EXPECT_FALSE(none.hasHeader("proxy-authenticate"));

    const auto wrong = get("/headers", {"-u", "alice:wrong"});
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.header("x-dfproxy-error"), "authn_failed");

    const auto ok = get("/headers", {"-u", "alice:s3cret"});
    ASSERT_EQ(ok.status, 200) << ok.describe().toStdString();
    const auto seen = originHeaders(ok);
    EXPECT_TRUE(seen.contains("host")) << ok.body.constData();
    EXPECT_FALSE(seen.contains("authorization")) << ok.body.constData();

    const auto log = accessLog(3);
    ASSERT_EQ(log.size(), 3);
    EXPECT_EQ(log[0].toObject().value("reason").toString(), "authn_required");
    EXPECT_EQ(log[0].toObject().value("decision").toString(), "deny:authn agentgateway-system/users");
    EXPECT_EQ(log[2].toObject().value("identity").toString(), "alice");
    EXPECT_EQ(log[2].toObject().value("decision").toString(), "allow");

    const QByteArray m = metrics();
    EXPECT_EQ(metric(m, "dfproxy_authn_decisions_total{result=\"authenticated\"}"), 1) << m.constData();
    EXPECT_EQ(metric(m, "dfproxy_authn_decisions_total{result=\"challenged\"}"), 1);
    EXPECT_EQ(metric(m, "dfproxy_authn_decisions_total{result=\"rejected\"}"), 1);
}

TEST_F(Policies, AWrongPasswordFloodFromOneClientIsThrottledWhileACorrectClientStillGets200)
{
    startProxy();
    const QByteArray hash = sha512Crypt("s3cret");
    ASSERT_TRUE(hash.startsWith("$6$")) << hash.constData();
    apply(basicPolicy(hash));
    const auto authn = [this] { return stats().value("policy").toObject().value("authn").toObject(); };

    // 30 wrong passwords at once from 127.0.0.1: at most 10 are verified (the throttle counts attempts in flight),
    // the rest are refused with 429 before any hashing.
    QStringList args{"-s", "-Z", "--parallel-max", "30", "-u", "alice:wrong", "-H", "host: " + target(),
                     "--interface", "127.0.0.1", "-w", "%{http_code}\n"};
    for (int i = 0; i < 30; ++i)
        args << "-o" << "/dev/null" << proxy->proxyUrl("/headers");
    const auto flood = run("curl", args);
    ASSERT_EQ(flood.exitCode, 0) << flood.err.constData();
    const QList<QByteArray> codes = flood.out.trimmed().split('\n');
    ASSERT_EQ(codes.size(), 30) << flood.out.constData();
    EXPECT_EQ(codes.count("401") + codes.count("429"), 30) << flood.out.constData();
    EXPECT_LE(codes.count("401"), 10) << flood.out.constData();
    EXPECT_GE(codes.count("429"), 20) << flood.out.constData();

    const auto throttled = get("/headers", {"-u", "alice:wrong", "--interface", "127.0.0.1"});
    EXPECT_EQ(throttled.status, 429) << throttled.describe().toStdString();
    EXPECT_EQ(throttled.header("x-dfproxy-error"), "authn_throttled");
    EXPECT_GE(throttled.header("retry-after").toInt(), 1) << throttled.describe().toStdString();
    // The throttled address waits even with the right password; another client is served.
    EXPECT_EQ(get("/headers", {"-u", "alice:s3cret", "--interface", "127.0.0.1"}).status, 429);
    const auto ok = get("/headers", {"-u", "alice:s3cret", "--interface", "127.0.0.2"});
    EXPECT_EQ(ok.status, 200) << ok.describe().toStdString();

    // An unknown user costs a hash too (the dummy one), so it answers as slowly as a known one.
    const double dummies = authn().value("dummyVerifications").toDouble();
    EXPECT_EQ(get("/headers", {"-u", "mallory:guess", "--interface", "127.0.0.3"}).status, 401);
    EXPECT_EQ(authn().value("dummyVerifications").toDouble(), dummies + 1)
        << QJsonDocument(authn()).toJson().constData();
    EXPECT_GE(authn().value("throttled").toDouble(), 22);
    // The same counts in /metrics.
    const QByteArray m = metrics();
    EXPECT_GE(metric(m, "dfproxy_authn_decisions_total{result=\"throttled\"}"), 22) << m.constData();
    EXPECT_EQ(metric(m, "dfproxy_authn_password_verifications_total{user=\"unknown\"}"),
              authn().value("dummyVerifications").toDouble());
}

TEST_F(Policies, ExplicitProxyClientsAndTunnelsGet407AndProxyAuthorizationIsNotForwarded)
{
    startProxy();
    const QByteArray hash = sha512Crypt("s3cret");
    ASSERT_FALSE(hash.isEmpty());
    apply(basicPolicy(hash));

    const auto none = viaProxy();
    EXPECT_EQ(none.status, 407) << none.describe().toStdString();
    EXPECT_TRUE(none.header("proxy-authenticate").startsWith("Basic realm=\"dfproxy\""))
        << none.describe().toStdString();
    EXPECT_FALSE(none.hasHeader("www-authenticate"));

    const auto ok = viaProxy({"--proxy-user", "alice:s3cret"});
    ASSERT_EQ(ok.status, 200) << ok.describe().toStdString();
    EXPECT_FALSE(originHeaders(ok).contains("proxy-authorization")) << ok.body.constData();

    const auto tunnelNone = viaProxy({}, true);
    EXPECT_NE(tunnelNone.exitCode, 0);
    EXPECT_TRUE(tunnelNone.rawHeaders.contains(" 407 ")) << tunnelNone.describe().toStdString();
    EXPECT_TRUE(tunnelNone.rawHeaders.toLower().contains("proxy-authenticate: basic realm=\"dfproxy\""));

    const auto tunnelOk = viaProxy({"--proxy-user", "alice:s3cret"}, true);
    EXPECT_EQ(tunnelOk.status, 200) << tunnelOk.describe().toStdString();
    EXPECT_TRUE(tunnelOk.rawHeaders.contains("200 Connection Established")) << tunnelOk.rawHeaders.constData();
    EXPECT_FALSE(originHeaders(tunnelOk).contains("proxy-authorization"));

    const auto log = accessLog(4);
    ASSERT_EQ(log.size(), 4);
    EXPECT_EQ(log[3].toObject().value("method").toString(), "CONNECT");
    EXPECT_EQ(log[3].toObject().value("identity").toString(), "alice");
}

TEST_F(Policies, HtpasswdFileWithBcryptAndPbkdf2Hashes)
{
    startProxy();
    const QByteArray salt = "0123456789abcdef";
    const QByteArray pbkdf2 = QPasswordDigestor::deriveKeyPbkdf2(QCryptographicHash::Sha256, "pbkdf2-secret", salt,
                                                                 1000, 32);
    const QByteArray pbkdf2Line = "carol:pbkdf2-sha256$1000$" + salt.toBase64() + '$' + pbkdf2.toBase64();
    const QString htpasswd = proxy->dir().filePath("htpasswd");
    ASSERT_TRUE(proxy->dir().writeFile("htpasswd", "# users\nbob:" + kBcryptHash + "\n" + pbkdf2Line + "\n"));
    apply(basicPolicy(sha512Crypt("s3cret"), htpasswd));

    for (int i = 0; i < 2; ++i) { // the second bcrypt check is answered from the verification cache
        const auto bob = get("/headers", {"-u", "bob:bcrypt-secret"});
        EXPECT_EQ(bob.status, 200) << bob.describe().toStdString();
    }
    EXPECT_EQ(get("/headers", {"-u", "bob:bcrypt-wrong"}).status, 401);
    const auto carol = get("/headers", {"-u", "carol:pbkdf2-secret"});
    EXPECT_EQ(carol.status, 200) << carol.describe().toStdString();
    EXPECT_EQ(get("/headers", {"-u", "carol:nope"}).status, 401);
    EXPECT_EQ(get("/headers", {"-u", "alice:s3cret"}).status, 200);

    const auto log = accessLog(6);
    ASSERT_EQ(log.size(), 6);
    EXPECT_EQ(log[0].toObject().value("identity").toString(), "bob");
    EXPECT_EQ(log[3].toObject().value("identity").toString(), "carol");
    EXPECT_EQ(log[5].toObject().value("identity").toString(), "alice");
    EXPECT_TRUE(stats().value("policy").toObject().value("problems").toArray().isEmpty());
}

TEST_F(Policies, ApiKeysAndHs256AndRs256JwtsAuthenticate)
{
    startProxy();
    // An RSA key made with the openssl CLI, published as a JWKS file next to an HS256 secret.
    const QString keyPath = proxy->dir().filePath("rsa.pem");
    ASSERT_EQ(run("openssl", {"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath})
                  .exitCode,
              0);
    const auto modulus = run("openssl", {"rsa", "-in", keyPath, "-noout", "-modulus"});
    ASSERT_TRUE(modulus.out.startsWith("Modulus=")) << modulus.err.constData();
    const QByteArray n = QByteArray::fromHex(modulus.out.trimmed().mid(8));
    const QByteArray secret = "0123456789abcdef0123456789abcdef";
    const QJsonObject jwks{{"keys", QJsonArray{QJsonObject{{"kty", "RSA"}, {"kid", "rsa1"}, {"use", "sig"},
                                                           {"n", QString::fromLatin1(b64url(n))}, {"e", "AQAB"}},
                                               QJsonObject{{"kty", "oct"}, {"kid", "hs1"},
                                                           {"k", QString::fromLatin1(b64url(secret))}}}}};
    ASSERT_TRUE(proxy->dir().writeFile("jwks.json", QJsonDocument(jwks).toJson()));
    const QByteArray apiKey = "k-0123456789";
    apply("apiVersion: dfproxy.dev/v1alpha1\n"
          "kind: AuthenticationPolicy\n"
          "metadata: {name: tokens, namespace: agentgateway-system}\n"
          "spec:\n"
          "  targetRefs:\n"
          "  - {kind: Gateway, name: agentgateway-proxy}\n"
          "  apiKey:\n"
          "    header: x-api-key\n"
          "    keys:\n"
          "    - {name: ci, sha256: \""
          + QCryptographicHash::hash(apiKey, QCryptographicHash::Sha256).toHex()
          + "\"}\n"
            "  jwt:\n"
            "    issuer: https://idp.test\n"
            "    audiences: [dfproxy]\n"
            "    jwksFile: "
          + proxy->dir().filePath("jwks.json").toUtf8() + "\n");

    const qint64 now = QDateTime::currentSecsSinceEpoch();
    const auto claims = [now](const QString &sub, qint64 exp) {
        return QJsonObject{{"iss", "https://idp.test"}, {"aud", "dfproxy"}, {"sub", sub}, {"exp", now + exp}};
    };
    const auto hs256 = [&](const QJsonObject &c) {
        const QByteArray input = jwtSigningInput({{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "hs1"}}, c);
        return input + '.' + b64url(QMessageAuthenticationCode::hash(input, secret, QCryptographicHash::Sha256));
    };
    const QByteArray rsInput =
        jwtSigningInput({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", "rsa1"}}, claims("rs-user", 600));
    ASSERT_TRUE(proxy->dir().writeFile("input.txt", rsInput));
    const auto sig = run("openssl", {"dgst", "-sha256", "-sign", keyPath, proxy->dir().filePath("input.txt")});
    ASSERT_EQ(sig.exitCode, 0) << sig.err.constData();
    const QByteArray rs256 = rsInput + '.' + b64url(sig.out);

    const auto bearer = [](const QByteArray &token) { return QStringList{"-H", "Authorization: Bearer " + token}; };
    const auto hsOk = get("/headers", bearer(hs256(claims("hs-user", 600))));
    EXPECT_EQ(hsOk.status, 200) << hsOk.describe().toStdString();
    EXPECT_FALSE(originHeaders(hsOk).contains("authorization"));
    EXPECT_EQ(get("/headers", bearer(rs256)).status, 200);
    const auto expired = get("/headers", bearer(hs256(claims("hs-user", -3600))));
    EXPECT_EQ(expired.status, 401);
    EXPECT_EQ(expired.header("x-dfproxy-error"), "authn_failed");
    EXPECT_TRUE(expired.header("www-authenticate").contains("Bearer realm=\"dfproxy\""))
        << expired.describe().toStdString();
    QByteArray tampered = rs256;
    tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(get("/headers", bearer(tampered)).status, 401);

    const auto keyOk = get("/headers", {"-H", "x-api-key: " + apiKey});
    EXPECT_EQ(keyOk.status, 200) << keyOk.describe().toStdString();
    EXPECT_FALSE(originHeaders(keyOk).contains("x-api-key")) << keyOk.body.constData();
    EXPECT_EQ(get("/headers", {"-H", "x-api-key: wrong"}).status, 401);

    const auto log = accessLog(6);
    ASSERT_EQ(log.size(), 6) << QJsonDocument(log).toJson().constData();
    EXPECT_EQ(log[0].toObject().value("identity").toString(), "hs-user");
    EXPECT_EQ(log[1].toObject().value("identity").toString(), "rs-user");
    EXPECT_EQ(log[4].toObject().value("identity").toString(), "ci");
    EXPECT_EQ(log[3].toObject().value("reason").toString(), "authn_failed");
    EXPECT_TRUE(stats().value("policy").toObject().value("problems").toArray().isEmpty())
        << QJsonDocument(stats()).toJson().constData();
}

TEST_F(Policies, JwtWithoutExpIs401UnlessRequireExpirationIsFalse)
{
    startProxy();
    const QByteArray secret = "0123456789abcdef0123456789abcdef";
    const auto policy = [&](const QByteArray &extra) {
        return "apiVersion: dfproxy.dev/v1alpha1\n"
               "kind: AuthenticationPolicy\n"
               "metadata: {name: tokens, namespace: agentgateway-system}\n"
               "spec:\n"
               "  targetRefs:\n"
               "  - {kind: Gateway, name: agentgateway-proxy}\n"
               "  jwt:\n"
               "    jwks: {keys: [{kty: oct, kid: hs1, k: \""
               + b64url(secret) + "\"}]}\n" + extra;
    };
    const auto bearer = [&](const QJsonObject &claims) {
        const QByteArray input = jwtSigningInput({{"alg", "HS256"}, {"kid", "hs1"}}, claims);
        const QByteArray token =
            input + '.' + b64url(QMessageAuthenticationCode::hash(input, secret, QCryptographicHash::Sha256));
        return QStringList{"-H", "Authorization: Bearer " + token};
    };
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    const QJsonObject forever{{"sub", "forever"}};
    const QJsonObject week{{"sub", "week"}, {"iat", now}, {"exp", now + 7 * 86400}};

    apply(policy({}));
    const auto refused = get("/headers", bearer(forever));
    EXPECT_EQ(refused.status, 401) << refused.describe().toStdString();
    EXPECT_EQ(refused.header("x-dfproxy-error"), "authn_failed");
    EXPECT_EQ(get("/headers", bearer(week)).status, 200);

    apply(policy("    requireExpiration: false\n"));
    EXPECT_TRUE(waitUntil([&] { return get("/headers", bearer(forever)).status == 200; }, 10000));

    apply(policy("    maxLifetime: 24h\n"));
    EXPECT_TRUE(waitUntil([&] { return get("/headers", bearer(week)).status == 401; }, 10000));
    EXPECT_EQ(get("/headers", bearer(forever)).status, 401);
    EXPECT_EQ(get("/headers", bearer({{"sub", "day"}, {"iat", now}, {"exp", now + 86400}})).status, 200);
}

TEST_F(Policies, AuthorizationDeniesAHostWildcardAndAllowsAClientCidr)
{
    startProxy();
    const QByteArray policy = "apiVersion: dfproxy.dev/v1alpha1\n"
                              "kind: AuthorizationPolicy\n"
                              "metadata: {name: egress, namespace: agentgateway-system}\n"
                              "spec:\n"
                              "  targetRefs:\n"
                              "  - {kind: Gateway, name: agentgateway-proxy}\n"
                              "  defaultAction: Deny\n"
                              "  rules:\n"
                              "  - {name: blocked, action: Deny, hosts: [\"*.blocked.test\"]}\n"
                              "  - {name: local, action: Allow, clientCIDRs: [\"@NET@\"]}\n";
    apply(QByteArray(policy).replace("@NET@", "127.0.0.0/8"));

    EXPECT_EQ(get().status, 200);
    const auto blocked = get("/headers", {}, "api.blocked.test");
    EXPECT_EQ(blocked.status, 403) << blocked.describe().toStdString();
    EXPECT_EQ(blocked.header("x-dfproxy-error"), "authz_denied");
    const auto tunnel = viaProxy({}, true, "api.blocked.test");
    EXPECT_NE(tunnel.exitCode, 0);
    EXPECT_TRUE(tunnel.rawHeaders.contains(" 403 ")) << tunnel.describe().toStdString();
    EXPECT_TRUE(tunnel.rawHeaders.contains("authz_denied")) << tunnel.rawHeaders.constData();

    // Clients outside the CIDR fall through to the default action.
    apply(QByteArray(policy).replace("@NET@", "10.0.0.0/8"));
    EXPECT_EQ(get().status, 403);

    const auto log = accessLog(4);
    ASSERT_EQ(log.size(), 4);
    EXPECT_EQ(log[1].toObject().value("decision").toString(),
              "deny:authz agentgateway-system/egress rule blocked");
    EXPECT_EQ(log[3].toObject().value("decision").toString(),
              "deny:authz agentgateway-system/egress default action");
    const QByteArray m = metrics();
    EXPECT_EQ(metric(m, "dfproxy_authz_decisions_total{decision=\"allow\"}"), 1) << m.constData();
    EXPECT_EQ(metric(m, "dfproxy_authz_decisions_total{decision=\"deny\"}"), 3);
}

TEST_F(Policies, RateLimitAnswers429WithRetryAfterAndRateLimitHeaders)
{
    startProxy();
    apply("apiVersion: dfproxy.dev/v1alpha1\n"
          "kind: RateLimitPolicy\n"
          "metadata: {name: per-client, namespace: httpbin}\n"
          "spec:\n"
          "  targetRefs:\n"
          "  - {kind: HTTPRoute, name: dfp-httproute}\n"
          "  limits:\n"
          "  - {name: per-ip, key: clientIP, tokens: 3, fillInterval: 1m}\n");
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(get().status, 200) << i;
    const auto limited = get();
    EXPECT_EQ(limited.status, 429) << limited.describe().toStdString();
    EXPECT_EQ(limited.header("x-dfproxy-error"), "ratelimited");
    EXPECT_GE(limited.header("retry-after").toInt(), 1) << limited.describe().toStdString();
    EXPECT_LE(limited.header("retry-after").toInt(), 60);
    EXPECT_EQ(limited.header("ratelimit-limit"), "3");
    EXPECT_EQ(limited.header("ratelimit-remaining"), "0");
    EXPECT_EQ(limited.header("ratelimit-policy"), "3;w=60");
    EXPECT_TRUE(limited.hasHeader("ratelimit-reset"));

    const auto tunnel = viaProxy({}, true);
    EXPECT_NE(tunnel.exitCode, 0);
    EXPECT_TRUE(tunnel.rawHeaders.contains(" 429 ")) << tunnel.describe().toStdString();

    const auto log = accessLog(5);
    ASSERT_EQ(log.size(), 5);
    EXPECT_EQ(log[3].toObject().value("reason").toString(), "ratelimited");
    EXPECT_EQ(log[3].toObject().value("decision").toString(), "deny:ratelimit httpbin/per-client per-ip");
    EXPECT_EQ(log[4].toObject().value("method").toString(), "CONNECT");
    EXPECT_EQ(log[4].toObject().value("status").toInt(), 429);

    const QByteArray m = metrics();
    EXPECT_EQ(metric(m, "dfproxy_ratelimit_decisions_total{decision=\"allow\"}"), 3) << m.constData();
    EXPECT_EQ(metric(m, "dfproxy_ratelimit_decisions_total{decision=\"deny\"}"), 2);

    // A config change that keeps the limit keeps its bucket: still limited.
    apply("apiVersion: dfproxy.dev/v1alpha1\n"
          "kind: AuthorizationPolicy\n"
          "metadata: {name: open, namespace: agentgateway-system}\n"
          "spec:\n"
          "  targetRefs:\n"
          "  - {kind: Gateway, name: agentgateway-proxy}\n"
          "  defaultAction: Allow\n");
    EXPECT_EQ(get().status, 429);
}

TEST_F(Policies, BytesPerSecondThrottlesConnectTunnelsAndTheWholePayloadArrives)
{
    startProxy();
    constexpr int kSize = 256 * 1024;
    const QString url = "http://" + target() + QStringLiteral("/bytes/%1").arg(kSize);
    const auto download = [&] {
        return curl({"-x", proxy->proxyUrl(""), "-p", url});
    };
    const auto proxyStat = [&](const char *name) {
        return stats().value("proxy").toObject().value(QLatin1String(name)).toInteger(-1);
    };
    auto expectIntact = [&](const CurlResult &r) {
        ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
        ASSERT_EQ(r.body.size(), kSize);
        for (int i = 0; i < kSize; i += 4093)
            ASSERT_EQ(r.body[i], char('a' + i % 26)) << i;
    };

    // Without a bandwidth limit nothing is throttled.
    expectIntact(download());
    EXPECT_EQ(proxyStat("tunnelsThrottled"), 0);
    EXPECT_EQ(proxyStat("tunnelThrottlePauses"), 0);

    // 256 KiB through a 16 KiB bucket refilled at 128 KiB/s cannot pass without the tunnel pausing its reads.
    apply("apiVersion: dfproxy.dev/v1alpha1\n"
          "kind: RateLimitPolicy\n"
          "metadata: {name: bandwidth, namespace: httpbin}\n"
          "spec:\n"
          "  targetRefs:\n"
          "  - {kind: HTTPRoute, name: dfp-httproute}\n"
          "  limits:\n"
          "  - {name: per-tunnel, bytesPerSecond: 131072, burstBytes: 16384}\n");
    expectIntact(download());
    EXPECT_EQ(proxyStat("tunnelsThrottled"), 1);
    EXPECT_GE(proxyStat("tunnelThrottlePauses"), 1);
    // A bandwidth-only limit counts no requests: plain requests are never refused by it.
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(get().status, 200) << i;
}

TEST_F(Policies, SsrfGuardRefusesMetadataAddressesAndTheProxyItselfBeforeConnecting)
{
    startProxy();
    const double opened = stats().value("proxy").toObject().value("upstreamConnectionsOpened").toDouble();

    const auto metadata = curl({"-H", "host: metadata.test", proxy->proxyUrl("/latest/meta-data/")});
    EXPECT_EQ(metadata.status, 403) << metadata.describe().toStdString();
    EXPECT_EQ(metadata.header("x-dfproxy-error"), "ssrf_denied");
    const auto metadataTunnel = curl({"-x", proxy->proxyUrl(""), "-p", "http://metadata.test:443/"});
    EXPECT_TRUE(metadataTunnel.rawHeaders.contains(" 403 ")) << metadataTunnel.describe().toStdString();
    // denySelf: the admin API and the proxy's own listener, by name.
    const auto self = curl({"-H", QStringLiteral("host: self.test:%1").arg(proxy->adminPort()),
                            proxy->proxyUrl("/api/v1/config")});
    EXPECT_EQ(self.status, 403) << self.describe().toStdString();
    EXPECT_EQ(self.header("x-dfproxy-error"), "ssrf_denied");
    const auto loop = curl({"-H", QStringLiteral("host: self.test:%1").arg(proxy->proxyPort()), proxy->proxyUrl("/")});
    EXPECT_EQ(loop.status, 403) << loop.describe().toStdString();
    // Loopback origins stay allowed under the default preset.
    EXPECT_EQ(get().status, 200);

    const auto log = accessLog(5);
    ASSERT_EQ(log.size(), 5);
    for (int i = 0; i < 4; ++i) {
        const auto rec = log[i].toObject();
        EXPECT_EQ(rec.value("reason").toString(), "ssrf_denied") << i;
        EXPECT_EQ(rec.value("decision").toString(), "deny:ssrf") << i;
        EXPECT_TRUE(rec.value("resolvedAddress").toString().isEmpty()) << i; // never connected
    }
    // Only the allowed request opened an upstream connection.
    EXPECT_EQ(stats().value("proxy").toObject().value("upstreamConnectionsOpened").toDouble(), opened + 1);
    const QByteArray m = metrics();
    EXPECT_EQ(metric(m, "dfproxy_ssrf_denied_total"), 4) << m.constData();
}

TEST_F(Policies, SsrfGuardRefusesTheMetadataAddressBehindANat64Prefix)
{
    startProxy();
    // nat64.test has only an AAAA record, 64:ff9b::a9fe:a9fe: through a NAT64 gateway that is 169.254.169.254.
    const auto r = curl({"-H", "host: nat64.test", proxy->proxyUrl("/latest/meta-data/")});
    EXPECT_EQ(r.status, 403) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-dfproxy-error"), "ssrf_denied");
    const auto tunnel = curl({"-x", proxy->proxyUrl(""), "-p", "http://nat64.test:443/"});
    EXPECT_TRUE(tunnel.rawHeaders.contains(" 403 ")) << tunnel.describe().toStdString();
    EXPECT_GE(dns->queryCount("nat64.test", "AAAA"), 1) << dns->log().toStdString(); // it was asked, and answered
    EXPECT_EQ(stats().value("proxy").toObject().value("upstreamConnectionsOpened").toDouble(), 0);
    EXPECT_EQ(metric(metrics(), "dfproxy_ssrf_denied_total"), 2);
}

TEST_F(Policies, StrictSsrfPresetRefusesLoopbackAndPrivateAddresses)
{
    startProxy({{"preset", "strict"}});
    const auto originStats = [this] {
        return QJsonDocument::fromJson(curl({origin->url("/stats")}).body).object().value("requestsServed").toInt();
    };
    const int served = originStats();

    const auto loopback = get();
    EXPECT_EQ(loopback.status, 403) << loopback.describe().toStdString();
    EXPECT_EQ(loopback.header("x-dfproxy-error"), "ssrf_denied");
    const auto priv = curl({"-H", "host: private.test", proxy->proxyUrl("/")});
    EXPECT_EQ(priv.status, 403) << priv.describe().toStdString();
    EXPECT_EQ(priv.header("x-dfproxy-error"), "ssrf_denied");
    const auto tunnel = viaProxy({}, true);
    EXPECT_TRUE(tunnel.rawHeaders.contains(" 403 ")) << tunnel.describe().toStdString();

    EXPECT_EQ(originStats(), served + 1); // only the /stats request itself reached the origin
    EXPECT_EQ(stats().value("proxy").toObject().value("upstreamConnectionsOpened").toDouble(), 0);
    EXPECT_EQ(metric(metrics(), "dfproxy_ssrf_denied_total"), 3);
}

TEST_F(Policies, RequestLoopThroughTheProxyIs508WhenDenySelfIsOff)
{
    startProxy({{"denySelf", false}});
    const auto loop = curl({"-H", QStringLiteral("host: self.test:%1").arg(proxy->proxyPort()), proxy->proxyUrl("/")});
    EXPECT_EQ(loop.status, 508) << loop.describe().toStdString();
    EXPECT_EQ(loop.header("x-dfproxy-error"), "loop_detected");
    // A client sending dfproxy's Via is refused the same way.
    EXPECT_EQ(get("/", {"-H", "Via: 1.1 dfproxy"}).status, 508);
    EXPECT_EQ(metric(metrics(), "dfproxy_loop_denied_total"), 2);
}

TEST_F(Policies, DenySelfKnowsAnAdminPortGivenOnTheCommandLine)
{
    using namespace dfproxy::test::proxyit;
    DfproxyProcess::Options p;
    p.dnsServers = {dns->address().toString()};
    p.extraResources = {dfpBackend("dfp-backend"), route("dfp-httproute", {}, "dfp-backend")};
    proxy = std::make_unique<DfproxyProcess>(p);
    ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
    proxy->process()->stop();
    // The config names another admin port; --admin-port moves the admin API back to the one the test knows.
    QJsonObject config = QJsonDocument::fromJson(proxy->dir().readFile("config.json")).object();
    config.insert("admin", QJsonObject{{"address", "127.0.0.1"}, {"port", freeTcpPort()}});
    ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
    ManagedProcess service(buildBinary("dfproxy"), {"--config", proxy->configPath(), "--admin-port",
                                                    QString::number(proxy->adminPort())});
    ASSERT_TRUE(service.start());
    const QHostAddress lo(QHostAddress::LocalHost);
    ASSERT_TRUE(service.waitForPort(lo, proxy->adminPort(), 15000)) << service.describe().toStdString();
    ASSERT_TRUE(service.waitForPort(lo, proxy->proxyPort(), 15000)) << service.describe().toStdString();

    const auto self = curl({"-H", QStringLiteral("host: self.test:%1").arg(proxy->adminPort()),
                            proxy->proxyUrl("/api/v1/config")});
    EXPECT_EQ(self.status, 403) << self.describe().toStdString() << service.describe().toStdString();
    EXPECT_EQ(self.header("x-dfproxy-error"), "ssrf_denied");
    EXPECT_EQ(get().status, 200);
}

// Through an upstream (corporate) proxy the target is resolved by the proxy, and still the SSRF guard sees what the
// name resolves to here: metadata.test, the metadata address spelled as an IP literal or as an IPv4-mapped IPv6
// literal are refused before anything is sent to the proxy (docs/upstream-proxy.md, "DNS and the SSRF guard").
TEST_F(Policies, SsrfGuardStillAppliesThroughAnUpstreamProxy)
{
    if (!Squid::available())
        GTEST_SKIP() << "squid is not installed (Debian package squid)";
    startProxy();
    Squid::Options o;
    o.dnsServer = dns->address();
    Squid squid(o);
    ASSERT_TRUE(squid.start()) << squid.errorString().toStdString();
    apply(QStringLiteral("apiVersion: agentgateway.dev/v1alpha1\n"
                         "kind: AgentgatewayPolicy\n"
                         "metadata: {name: corp-proxy, namespace: httpbin}\n"
                         "spec:\n"
                         "  targetRefs:\n"
                         "  - {group: agentgateway.dev, kind: AgentgatewayBackend, name: dfp-backend}\n"
                         "  backend:\n"
                         "    tunnel:\n"
                         "      url: %1\n").arg(squid.url()).toUtf8());
    // The tunnel is in force: an allowed target goes through Squid.
    ASSERT_TRUE(waitUntil(
        [&] {
            get();
            return squid.accessLog().contains("GET http://httpbin.test:");
        },
        20000))
        << squid.accessLog().constData();

    const auto byName = get("/latest/meta-data/", {}, "metadata.test");
    EXPECT_EQ(byName.status, 403) << byName.describe().toStdString();
    EXPECT_EQ(byName.header("x-dfproxy-error"), "ssrf_denied");
    for (const QString &url : {QStringLiteral("http://169.254.169.254/latest/meta-data/"),
                               QStringLiteral("http://[::ffff:169.254.169.254]/latest/meta-data/")}) {
        const auto literal = curl({"-x", proxy->proxyUrl(""), url});
        EXPECT_EQ(literal.status, 403) << url.toStdString() << "\n" << literal.describe().toStdString();
        EXPECT_EQ(literal.header("x-dfproxy-error"), "ssrf_denied") << url.toStdString();
    }
    const auto tunnel = curl({"-x", proxy->proxyUrl(""), "-p", "http://metadata.test:443/"});
    EXPECT_TRUE(tunnel.rawHeaders.contains(" 403 ")) << tunnel.describe().toStdString();
    spinFor(300); // Squid writes its log as requests end
    EXPECT_FALSE(squid.accessLog().contains("169.254")) << squid.accessLog().constData();
    EXPECT_FALSE(squid.accessLog().contains("metadata")) << squid.accessLog().constData();
}

// A PAC file (perhaps rewritten on the way: the WPAD attack) naming the metadata address as a proxy, by IP literal or
// by a name that resolves there: those entries are skipped, never dialled (169.254.169.254 is put on this
// namespace's loopback with a listener, which would see the connection), and the next entry carries the request;
// the access log says why. Naming only such proxies is 502 upstream_proxy_denied (docs/upstream-proxy.md, "PAC and
// the SSRF guard").
TEST_F(Policies, PacNamedProxyOnTheMetadataAddressIsSkippedNeverDialled)
{
    if (!Tinyproxy::available())
        GTEST_SKIP() << "tinyproxy is not installed (Debian package tinyproxy)";
    startProxy();
    const RunResult added = run("ip", {"addr", "add", "169.254.169.254/32", "dev", "lo"});
    ASSERT_TRUE(added.exitCode == 0 || added.err.contains("File exists")) << added.err.constData();
    QTcpServer metadata; // stands in for the metadata service: dialling it is the bug
    ASSERT_TRUE(metadata.listen(QHostAddress(QStringLiteral("169.254.169.254")), 0))
        << metadata.errorString().toStdString();
    Tinyproxy tiny;
    ASSERT_TRUE(tiny.start()) << tiny.errorString().toStdString();
    const quint16 dead = freeTcpPort();
    const QString pac = proxy->dir().filePath(QStringLiteral("wpad.pac"));
    ASSERT_TRUE(proxy->dir().writeFile(QStringLiteral("wpad.pac"),
                                       QStringLiteral("function FindProxyForURL(url, host) {\n"
                                                      "  if (host == 'literal.test')\n"
                                                      "    return 'PROXY 169.254.169.254:%1';\n"
                                                      "  if (host == 'name.test') return 'PROXY metadata.test:%1';\n"
                                                      "  return 'PROXY 169.254.169.254:%1; PROXY metadata.test:%1; "
                                                      "PROXY 127.0.0.1:%2';\n"
                                                      "}\n")
                                           .arg(metadata.serverPort())
                                           .arg(tiny.port())
                                           .toUtf8()));
    apply(QStringLiteral("apiVersion: agentgateway.dev/v1alpha1\n"
                         "kind: AgentgatewayPolicy\n"
                         "metadata:\n"
                         "  name: corp-proxy\n"
                         "  namespace: httpbin\n"
                         "  annotations:\n"
                         "    dfproxy.dev/tunnel-pac-url: %1\n"
                         "spec:\n"
                         "  targetRefs:\n"
                         "  - {group: agentgateway.dev, kind: AgentgatewayBackend, name: dfp-backend}\n"
                         "  backend:\n"
                         "    tunnel:\n"
                         "      url: http://127.0.0.1:%2\n")
              .arg(QUrl::fromLocalFile(pac).toString())
              .arg(dead)
              .toUtf8());
    // The origin by address: tinyproxy resolves with the system's resolver. -m: a request stuck on the metadata
    // listener (which accepts and never answers) must not hang the test.
    const QString viaTiny = QStringLiteral("http://127.0.0.1:%1/headers").arg(origin->port());
    CurlResult r;
    EXPECT_TRUE(waitUntil(
        [&] {
            r = curl({"-m", "5", "-x", proxy->proxyUrl(""), viaTiny});
            return r.status == 200;
        },
        20000))
        << r.describe().toStdString();
    EXPECT_TRUE(tiny.describe().contains(QLatin1String("/headers"))) << tiny.describe().toStdString();
    const QByteArray log = admin("/api/v1/accesslog?after=0&limit=1000").body;
    EXPECT_TRUE(log.contains(QStringLiteral("\"upstreamProxy\":\"127.0.0.1:%1\"").arg(tiny.port()).toUtf8()))
        << log.constData();
    EXPECT_TRUE(log.contains(QStringLiteral("skipped: the SSRF guard refuses the upstream proxy 169.254.169.254:%1 at "
                                            "169.254.169.254")
                                 .arg(metadata.serverPort())
                                 .toUtf8()))
        << log.constData();

    for (const char *host : {"literal.test", "name.test"}) {
        const auto denied = curl({"-m", "5", "-x", proxy->proxyUrl(""),
                                  QStringLiteral("http://%1:%2/headers").arg(QLatin1String(host)).arg(origin->port())});
        EXPECT_EQ(denied.status, 502) << host << "\n" << denied.describe().toStdString();
        EXPECT_EQ(denied.header("x-dfproxy-error"), "upstream_proxy_denied") << host;
        EXPECT_TRUE(denied.body.contains("the SSRF guard refuses the upstream proxy")) << denied.body.constData();
    }
    EXPECT_FALSE(metadata.waitForNewConnection(200)) << "dfproxy dialled the metadata address as a proxy";
}
