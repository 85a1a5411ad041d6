// SPDX-License-Identifier: Apache-2.0
// Negotiate (Kerberos through GSSAPI) to a real Squid (negotiate_kerberos_auth) in a throwaway MIT realm on loopback:
// the proxy's 407 answered with a ticket of the account's credentials cache, for plain HTTP and for CONNECT.
// Skipped without the KDC, Squid or GSSAPI. About 2 s (realm, KDC and Squid start). NTLM the same way: GSSAPI's NTLM
// mechanism (gss-ntlmssp) against Squid with an NTLM helper that takes any user.
#include "dns/hostcache.h"
#include "forward/connector.h"
#include "forward/http1forwarder.h"
#include "forward/upstreamproxy.h"
#include "net/stream.h"
#include "platform/proxysecurity.h"

#include "support/kdc.h"
#include "support/origin.h"
#include "support/squid.h"
#include "support/tempdir.h"
#include "support/wait.h"

#include <gtest/gtest.h>

#include <QFile>
#include <QFileInfo>
#include <QTcpSocket>

using namespace dfproxy;
using forward::ForwardError;

namespace {

/// Answers "localhost" (the proxy's name: its principal is HTTP/localhost) with 127.0.0.1.
class LocalhostCache final : public dns::HostCache
{
public:
    Outcome lookup(const QString &host, quint16, dns::LookupFamily, QObject *, Callback) override
    {
        Outcome o;
        dns::ResolveResult r;
        if (host == QLatin1String("localhost"))
            r.addresses = {QHostAddress(QHostAddress::LocalHost)};
        else
            r.error = dns::DnsError::NxDomain;
        o.ready = r;
        return o;
    }
    void reportConnectFailure(const QString &, quint16, const QHostAddress &) override {}
};

struct Sink : forward::ResponseSink
{
    int status = 0;
    bool complete = false;
    ForwardError error = ForwardError::None;
    QString detail;
    void onUpstreamConnected(const QHostAddress &, bool) override {}
    void onResponseHead(const http::MessageHead &head) override { status = head.status; }
    void onResponseBody(const char *, qsizetype) override {}
    void onResponseComplete() override { complete = true; }
    void onUpgraded(net::Stream *upstream, const QByteArray &) override { upstream->deleteLater(); }
    void onRequestBodyDrained() override {}
    void onError(ForwardError e, const QString &d) override
    {
        error = e;
        detail = d;
    }
};

} // namespace

TEST(NegotiateKdc, KerberosTicketAnswersSquidsNegotiateChallenge)
{
    if (!test::Kdc::available() || !test::Squid::available())
        GTEST_SKIP() << "needs krb5-kdc, krb5-admin-server, krb5-user and squid";
    if (const QString why = platform::ProxySecurityContext::unavailableReason(
            platform::ProxySecurityContext::Mechanism::Negotiate);
        !why.isEmpty())
        GTEST_SKIP() << why.toStdString();
    test::Kdc kdc;
    ASSERT_TRUE(kdc.start()) << kdc.describe().toStdString();
    qputenv("KRB5_CONFIG", kdc.krb5ConfigPath().toLocal8Bit());
    qputenv("KRB5CCNAME", ("FILE:" + kdc.ccachePath()).toLocal8Bit());
    ASSERT_TRUE(kdc.kinit()) << kdc.errorString().toStdString();

    test::OriginProcess origin;
    ASSERT_TRUE(origin.start()) << origin.describe().toStdString();
    test::Squid::Options o;
    o.auth = test::Squid::Auth::Negotiate;
    o.hosts = {QStringLiteral("127.0.0.1 origin.test")};
    o.krb5Config = kdc.krb5ConfigPath();
    o.keytab = kdc.keytabPath();
    o.servicePrincipal = kdc.servicePrincipal();
    test::Squid squid(o);
    ASSERT_TRUE(squid.start()) << squid.errorString().toStdString();

    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("negotiate.cred"), "type: negotiate\n"));
    QFile::setPermissions(dir.filePath(QStringLiteral("negotiate.cred")), QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("test/kerberos");
    t.url = QStringLiteral("http://localhost:%1").arg(squid.port());
    t.credentialsFile = dir.filePath(QStringLiteral("negotiate.cred"));
    const forward::ProxySelection sel = forward::selectUpstreamProxy(t, QStringLiteral("origin.test"));
    ASSERT_TRUE(sel.proxy) << sel.error.toStdString();
    ASSERT_TRUE(sel.proxy->credentialsError.isEmpty()) << sel.proxy->credentialsError.toStdString();

    LocalhostCache cache;
    forward::ForwarderOptions fo;
    fo.hostCache = &cache;
    forward::Http1Forwarder fwd(fo);
    forward::Upstream up;
    up.host = QStringLiteral("origin.test");
    up.port = origin.port();
    up.proxy = sel.proxy;
    Sink sink;
    forward::ForwardRequest req;
    req.upstream = up;
    req.method = "GET";
    req.target = "/echo";
    req.headers = {{"Host", "origin.test:" + QByteArray::number(origin.port())}};
    auto ex = fwd.start(std::move(req), &sink);
    ex->endBody();
    ASSERT_TRUE(test::waitUntil([&] { return sink.complete || sink.error != ForwardError::None; }, 30000));
    EXPECT_EQ(sink.error, ForwardError::None) << sink.detail.toStdString() << "\n" << squid.describe().toStdString();
    EXPECT_EQ(sink.status, 200);

    // CONNECT, as a client's tunnel asks for it.
    forward::Upstream tunnel = up;
    tunnel.viaConnect = true;
    QTcpSocket *socket = nullptr;
    ForwardError error = ForwardError::None;
    QString detail;
    forward::Connector::Options options;
    options.hostCache = &cache;
    forward::Connector c(
        tunnel, options, [&](QTcpSocket *s, const QHostAddress &) { socket = s; },
        [&](ForwardError e, const QString &d) {
            error = e;
            detail = d;
        });
    c.start();
    ASSERT_TRUE(test::waitUntil([&] { return socket || error != ForwardError::None; }, 30000));
    ASSERT_TRUE(socket) << detail.toStdString();
    socket->write("GET /echo HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(test::readUntilClosed(*socket, 20000).startsWith("HTTP/1.1 200"));
    delete socket;
    EXPECT_TRUE(test::waitUntil([&] { return squid.accessLog().contains(" alice@DFPROXY.TEST "); }, 10000))
        << squid.accessLog().constData();
}

TEST(NtlmSquid, GssNtlmsspAnswersSquidsNtlmChallenge)
{
    if (!test::Squid::available() || !QFileInfo::exists(QStringLiteral("/usr/bin/python3")))
        GTEST_SKIP() << "needs squid and python3 (Squid's NTLM helper of the tests)";
    if (const QString why = platform::ProxySecurityContext::unavailableReason(
            platform::ProxySecurityContext::Mechanism::Ntlm);
        !why.isEmpty())
        GTEST_SKIP() << why.toStdString();
    // gss-ntlmssp takes the account's NTLM credentials from NTLM_USER_FILE (DOMAIN:user:password lines).
    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("ntlm-users"), "DFPROXY:alice:s3cret\n"));
    qputenv("NTLM_USER_FILE", dir.filePath(QStringLiteral("ntlm-users")).toLocal8Bit());

    test::OriginProcess origin;
    ASSERT_TRUE(origin.start()) << origin.describe().toStdString();
    test::Squid::Options o;
    o.auth = test::Squid::Auth::Ntlm; // any user with any password
    o.hosts = {QStringLiteral("127.0.0.1 origin.test")};
    test::Squid squid(o);
    ASSERT_TRUE(squid.start()) << squid.errorString().toStdString();

    ASSERT_TRUE(dir.writeFile(QStringLiteral("ntlm.cred"), "type: ntlm\n"));
    QFile::setPermissions(dir.filePath(QStringLiteral("ntlm.cred")), QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("test/ntlm");
    t.url = QStringLiteral("http://localhost:%1").arg(squid.port());
    t.credentialsFile = dir.filePath(QStringLiteral("ntlm.cred"));
    const forward::ProxySelection sel = forward::selectUpstreamProxy(t, QStringLiteral("origin.test"));
    ASSERT_TRUE(sel.proxy) << sel.error.toStdString();
    ASSERT_TRUE(sel.proxy->credentialsError.isEmpty()) << sel.proxy->credentialsError.toStdString();

    LocalhostCache cache;
    forward::ForwarderOptions fo;
    fo.hostCache = &cache;
    forward::Http1Forwarder fwd(fo);
    forward::Upstream up;
    up.host = QStringLiteral("origin.test");
    up.port = origin.port();
    up.proxy = sel.proxy;
    Sink sink;
    forward::ForwardRequest req;
    req.upstream = up;
    req.method = "GET";
    req.target = "/echo";
    req.headers = {{"Host", "origin.test:" + QByteArray::number(origin.port())}};
    auto ex = fwd.start(std::move(req), &sink);
    ex->endBody();
    ASSERT_TRUE(test::waitUntil([&] { return sink.complete || sink.error != ForwardError::None; }, 30000));
    EXPECT_EQ(sink.error, ForwardError::None) << sink.detail.toStdString() << "\n" << squid.describe().toStdString();
    EXPECT_EQ(sink.status, 200);

    // CONNECT, as a client's tunnel asks for it.
    forward::Upstream tunnel = up;
    tunnel.viaConnect = true;
    QTcpSocket *socket = nullptr;
    ForwardError error = ForwardError::None;
    QString detail;
    forward::Connector::Options options;
    options.hostCache = &cache;
    forward::Connector c(
        tunnel, options, [&](QTcpSocket *s, const QHostAddress &) { socket = s; },
        [&](ForwardError e, const QString &d) {
            error = e;
            detail = d;
        });
    c.start();
    ASSERT_TRUE(test::waitUntil([&] { return socket || error != ForwardError::None; }, 30000));
    ASSERT_TRUE(socket) << detail.toStdString() << "\n" << squid.describe().toStdString();
    socket->write("GET /echo HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(test::readUntilClosed(*socket, 20000).startsWith("HTTP/1.1 200"));
    delete socket;
    EXPECT_TRUE(test::waitUntil([&] { return squid.accessLog().contains("alice"); }, 10000))
        << squid.accessLog().constData();
    EXPECT_TRUE(squid.accessLog().contains("CONNECT origin.test:")) << squid.accessLog().constData();
}
