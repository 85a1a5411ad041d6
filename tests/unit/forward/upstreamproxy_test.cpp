// SPDX-License-Identifier: Apache-2.0
// Which upstream proxy a request takes: the proxy URL's rules, the bypass list's spellings, the QNAM refusal.
#include "forward/upstreamproxy.h"

#include "../routing/routingtestutil.h"
#include "support/tempdir.h"
#include "support/wait.h"

#include <QFile>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

#include <gtest/gtest.h>

using namespace dfproxy;
using forward::matchesBypass;

TEST(UpstreamProxy, ParsesProxyUrls)
{
    QString error;
    auto p = forward::parseProxyUrl(QStringLiteral("http://Proxy.Corp:3128"), &error);
    ASSERT_TRUE(p) << error.toStdString();
    EXPECT_EQ(p->host, QStringLiteral("proxy.corp"));
    EXPECT_EQ(p->port, 3128);
    EXPECT_FALSE(p->tls);
    EXPECT_EQ(p->address, QStringLiteral("proxy.corp:3128"));
    p = forward::parseProxyUrl(QStringLiteral("https://[::1]/"), &error);
    ASSERT_TRUE(p) << error.toStdString();
    EXPECT_TRUE(p->tls);
    EXPECT_EQ(p->port, 443);
    EXPECT_EQ(p->address, QStringLiteral("[::1]:443"));
    EXPECT_EQ(forward::parseProxyUrl(QStringLiteral("http://proxy"), &error)->port, 3128);

    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("http://u:p@proxy:3128"), &error));
    EXPECT_TRUE(error.contains(QLatin1String("tunnel-credentials-file")));
    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("socks5://proxy:1080"), &error));
    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("http://proxy:3128/path"), &error));
    EXPECT_FALSE(forward::parseProxyUrl(QStringLiteral("proxy:3128"), &error));
}

TEST(UpstreamProxy, BypassSpellings)
{
    const QStringList list = {QStringLiteral("<local>"), QStringLiteral("*.corp.example"),
                              QStringLiteral(".intra.example"), QStringLiteral("Exact.Example."),
                              QStringLiteral("10.0.0.0/8"), QStringLiteral("fd00::/8"), QStringLiteral("192.0.2.7")};
    QString hit;
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("printer"), &hit));
    EXPECT_EQ(hit, QStringLiteral("<local>"));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("a.b.corp.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("A.CORP.EXAMPLE.")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("corp.example")));      // "*." is the subdomains
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("evilcorp.example")));  // not a suffix match on the label
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("x.intra.example")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("xintra.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("exact.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("exact.example.")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("sub.exact.example")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("10.1.2.3"), &hit));
    EXPECT_EQ(hit, QStringLiteral("10.0.0.0/8"));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("::ffff:10.1.2.3"))); // the IPv4-mapped spelling
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("fd12::1")));
    EXPECT_TRUE(matchesBypass(list, QStringLiteral("192.0.2.7")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("11.0.0.1")));
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("127.0.0.1")));       // an IP literal is not a "<local>" name
    EXPECT_FALSE(matchesBypass(list, QStringLiteral("www.example.org")));
    EXPECT_TRUE(matchesBypass({QStringLiteral("*")}, QStringLiteral("anything.test")));
    EXPECT_FALSE(matchesBypass({}, QStringLiteral("printer")));
}

TEST(UpstreamProxy, SelectionSaysWhy)
{
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("ns/corp");
    t.url = QStringLiteral("http://127.0.0.1:3128");
    t.bypass = {QStringLiteral(".local.test")};
    auto s = forward::selectUpstreamProxy(t, QStringLiteral("www.example.org"));
    ASSERT_TRUE(s.proxy);
    EXPECT_EQ(s.proxy->address, QStringLiteral("127.0.0.1:3128"));
    EXPECT_EQ(s.why, QStringLiteral("tunnel"));
    s = forward::selectUpstreamProxy(t, QStringLiteral("a.local.test"));
    EXPECT_FALSE(s.proxy);
    EXPECT_EQ(s.why, QStringLiteral("bypass .local.test"));
    s = forward::selectUpstreamProxy(t, QStringLiteral("www.example.org"), routing::Backend::Engine::Qnam);
    EXPECT_FALSE(s.proxy);
    EXPECT_TRUE(s.error.contains(QLatin1String("qnam")));
    EXPECT_FALSE(forward::tunnelProblem(t, routing::Backend::Engine::Qnam).isEmpty());
    EXPECT_TRUE(forward::tunnelProblem(t, routing::Backend::Engine::Native).isEmpty());
    t.url = QStringLiteral("ftp://x");
    EXPECT_FALSE(forward::selectUpstreamProxy(t, QStringLiteral("www.example.org")).error.isEmpty());
    EXPECT_FALSE(forward::tunnelProblem(t, routing::Backend::Engine::Native).isEmpty());
}

namespace {

/// The selection of http://`host`/ through `t` (waits for the PAC answer); `ssrf` stands for proxy.ssrf.
forward::ProxySelection selectWithPac(const routing::BackendTunnel &t, const QString &host,
                                      const forward::SsrfFilter &ssrf = {})
{
    QObject context;
    std::optional<forward::ProxySelection> result;
    std::optional<forward::ProxySelection> now = forward::selectUpstreamProxy(
        t, QStringLiteral("http"), host, 80, routing::Backend::Engine::Native, nullptr, &context,
        [&](forward::ProxySelection s) { result = std::move(s); }, ssrf);
    if (now)
        return *now;
    EXPECT_TRUE(test::waitUntil([&] { return result.has_value(); }, 20000));
    return result.value_or(forward::ProxySelection{});
}

} // namespace

// A PAC answer that names only proxies dfproxy cannot use asks for a proxy: the request takes the tunnel's own
// proxy, as when the PAC fails, and never goes DIRECT past the proxy the PAC demands. An empty answer, or DIRECT
// named among them, is DIRECT.
TEST(UpstreamProxy, PacAnswerWithNothingUsableTakesTheTunnelNotDirect)
{
    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("odd.pac"),
                              "function FindProxyForURL(url, host) {\n"
                              "  if (host == 'socks.test') return 'SOCKS5 socks.corp.example:1080';\n"
                              "  if (host == 'noport.test') return 'PROXY proxy.corp.example';\n"
                              "  if (host == 'comma.test') return 'PROXY a.example:1,PROXY b.example:2';\n"
                              "  if (host == 'typo.test') return 'PROXIE proxy.corp.example:3128;';\n"
                              "  if (host == 'withdirect.test') return 'SOCKS s.example:1080; DIRECT';\n"
                              "  if (host == 'empty.test') return '';\n"
                              "  return 'PROXY pac-proxy.example:3128'; }\n"));
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("ns/odd-pac");
    t.url = QStringLiteral("http://127.0.0.1:3128");
    t.pacUrl = QUrl::fromLocalFile(dir.filePath(QStringLiteral("odd.pac"))).toString();

    const auto good = selectWithPac(t, QStringLiteral("www.example.org"));
    ASSERT_TRUE(good.proxy) << good.why.toStdString();
    EXPECT_EQ(good.proxy->address, QStringLiteral("pac-proxy.example:3128"));
    for (const char *host : {"socks.test", "noport.test", "comma.test", "typo.test"}) {
        SCOPED_TRACE(host);
        const auto s = selectWithPac(t, QString::fromLatin1(host));
        ASSERT_TRUE(s.proxy) << "went DIRECT: " << s.why.toStdString();
        EXPECT_EQ(s.proxy->address, QStringLiteral("127.0.0.1:3128"));
        EXPECT_TRUE(s.fallbacks.isEmpty());
        EXPECT_TRUE(s.why.contains(QLatin1String("nothing dfproxy can use"))) << s.why.toStdString();
        EXPECT_TRUE(s.why.endsWith(QLatin1String(", tunnel"))) << s.why.toStdString();
    }
    for (const char *host : {"withdirect.test", "empty.test"}) {
        SCOPED_TRACE(host);
        const auto s = selectWithPac(t, QString::fromLatin1(host));
        EXPECT_FALSE(s.proxy) << s.why.toStdString();
        EXPECT_TRUE(s.fallbacks.isEmpty());
    }
}

// A PAC file fetched over plain http:// may have been rewritten on the way (the WPAD attack): the tunnel's
// credentials go to the tunnel's own proxy only, never to another proxy such a file names (Basic would hand the
// password to whoever the file points at). From a file:// (or https://) PAC they go to every proxy it names.
TEST(UpstreamProxy, CredentialsGoOnlyToTheTunnelsOwnProxyWhenThePacCameOverHttp)
{
    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("cred"), "corpuser:S3cret-pass\n"));
    ASSERT_TRUE(QFile::setPermissions(dir.filePath(QStringLiteral("cred")), QFile::ReadOwner | QFile::WriteOwner));
    const QByteArray pac = "function FindProxyForURL(url, host) {\n"
                           "  if (host == 'own.test') return 'PROXY 127.0.0.1:3128';\n"
                           "  return 'PROXY 192.0.2.66:3128; PROXY 127.0.0.1:3128'; }\n";
    ASSERT_TRUE(dir.writeFile(QStringLiteral("corp.pac"), pac));
    // The PAC server: answers every request with the file (this thread's event loop runs while selectWithPac waits).
    QTcpServer server;
    ASSERT_TRUE(server.listen(QHostAddress::LocalHost, 0));
    QObject::connect(&server, &QTcpServer::newConnection, &server, [&server, pac] {
        QTcpSocket *c = server.nextPendingConnection();
        QObject::connect(c, &QTcpSocket::readyRead, c, [c, pac] {
            if (!c->readAll().contains("\r\n\r\n"))
                return;
            c->write("HTTP/1.1 200 OK\r\nContent-Type: application/x-ns-proxy-autoconfig\r\nContent-Length: "
                     + QByteArray::number(pac.size()) + "\r\nConnection: close\r\n\r\n" + pac);
            c->disconnectFromHost();
        });
    });

    routing::BackendTunnel t;
    t.url = QStringLiteral("http://127.0.0.1:3128");
    t.credentialsFile = dir.filePath(QStringLiteral("cred"));
    for (const bool overHttp : {true, false}) {
        SCOPED_TRACE(overHttp ? "http:// PAC" : "file:// PAC");
        t.policyKey = overHttp ? QStringLiteral("ns/http-pac") : QStringLiteral("ns/file-pac");
        t.pacUrl = overHttp ? QStringLiteral("http://127.0.0.1:%1/corp.pac").arg(server.serverPort())
                            : QUrl::fromLocalFile(dir.filePath(QStringLiteral("corp.pac"))).toString();
        const auto other = selectWithPac(t, QStringLiteral("www.example.org"));
        ASSERT_TRUE(other.proxy) << other.why.toStdString();
        EXPECT_EQ(other.proxy->address, QStringLiteral("192.0.2.66:3128")) << other.why.toStdString();
        EXPECT_EQ(other.proxy->auth == nullptr, overHttp) << other.why.toStdString();
        ASSERT_EQ(other.fallbacks.size(), 1);
        ASSERT_TRUE(other.fallbacks[0]);
        EXPECT_TRUE(other.fallbacks[0]->auth) << "the tunnel's own proxy keeps its credentials";
        EXPECT_EQ(other.why.contains(QLatin1String("credentials only to the tunnel's own proxy")), overHttp)
            << other.why.toStdString();
        const auto own = selectWithPac(t, QStringLiteral("own.test"));
        ASSERT_TRUE(own.proxy) << own.why.toStdString();
        EXPECT_TRUE(own.proxy->auth) << own.why.toStdString();
    }
}

// The apply-time check: a Gateway's tunnel that reaches a qnam backend through one of its routes is an error at the
// policy's spec.backend.tunnel (the backend's own policy is refused by config validation already); native backends
// are fine, and a policy the qnam backend's own (tunnel-less) route does not reach is not blamed.
TEST(UpstreamProxy, TunnelErrorsNameThePolicyOfAGatewayTunnelReachingAQnamBackend)
{
    using namespace routing::testutil;
    const config::Resource policy(QJsonObject{
        {"apiVersion", "agentgateway.dev/v1alpha1"},
        {"kind", "AgentgatewayPolicy"},
        {"metadata", QJsonObject{{"name", "corp"}, {"namespace", "gw"}}},
        {"spec", parse(R"({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}],
                          "backend": {"tunnel": {"url": "http://proxy.corp:3128"}}})")}});
    auto config = configOf({defaultGateway(), backend("gw", "native"), backend("gw", "q", R"({"engine": "qnam",
                            "dynamicForwardProxy": {}})"),
                            route("gw", "r", routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/a"}}])",
                                                            "native"))),
                            policy});
    EXPECT_TRUE(forward::tunnelErrors(config).isEmpty());
    config.resources.append(
        route("gw", "to-q", routeSpec(rule(R"([{"path": {"type": "PathPrefix", "value": "/q"}}])", "q"))));
    const auto errors = forward::tunnelErrors(config);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, QStringLiteral("resources[4].spec.backend.tunnel"));
    EXPECT_TRUE(errors[0].message.contains(QLatin1String("gw/q uses engine: qnam"))) << errors[0].message.toStdString();
}

// A PAC answer (perhaps rewritten on the way: WPAD) naming the metadata address, or any address where no proxy is,
// as a proxy: that entry is skipped as if unreachable and the next one is taken, and the reason says so; naming
// only such proxies is 502 upstream_proxy_denied. proxy.ssrf (here: 10.0.0.0/8 denied) applies as well, except to
// the tunnel's own proxy (spec.backend.tunnel.url, trusted as the administrator configured it).
TEST(UpstreamProxy, PacNamedProxiesPassTheSsrfGuardUnlessTheyAreTheTunnelsOwn)
{
    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("wpad.pac"),
                              "function FindProxyForURL(url, host) {\n"
                              "  if (host == 'metadata.test')\n"
                              "    return 'PROXY 169.254.169.254:3128; PROXY 127.0.0.1:3129';\n"
                              "  if (host == 'blocked.test') return 'PROXY 169.254.169.254:80; PROXY [fe80::1]:3128; "
                              "PROXY 0.0.0.0:3128; PROXY [::ffff:169.254.169.254]:3128; PROXY 224.0.0.1:3128; "
                              "PROXY [64:ff9b::a9fe:a9fe]:3128; HTTPS [fd00:ec2::254]:443';\n"
                              "  if (host == 'private.test') return 'PROXY 10.0.0.9:3128; PROXY 10.0.0.5:3128';\n"
                              "  return 'PROXY 127.0.0.1:3129'; }\n"));
    routing::BackendTunnel t;
    t.policyKey = QStringLiteral("ns/wpad-pac");
    t.url = QStringLiteral("http://10.0.0.5:3128");
    t.pacUrl = QUrl::fromLocalFile(dir.filePath(QStringLiteral("wpad.pac"))).toString();
    const forward::SsrfFilter denyTen = [](const QList<QHostAddress> &addresses, quint16) {
        QList<QHostAddress> kept;
        for (const QHostAddress &a : addresses) {
            if (!a.isInSubnet(QHostAddress::parseSubnet(QStringLiteral("10.0.0.0/8"))))
                kept.append(a);
        }
        return kept;
    };

    const auto metadata = selectWithPac(t, QStringLiteral("metadata.test"), denyTen);
    ASSERT_TRUE(metadata.proxy) << metadata.why.toStdString() << metadata.error.toStdString();
    EXPECT_EQ(metadata.proxy->address, QStringLiteral("127.0.0.1:3129"));
    EXPECT_TRUE(metadata.proxy->guarded);
    EXPECT_TRUE(metadata.fallbacks.isEmpty());
    EXPECT_TRUE(metadata.why.contains(QLatin1String("the SSRF guard refuses the upstream proxy 169.254.169.254:3128")))
        << metadata.why.toStdString();

    const auto blocked = selectWithPac(t, QStringLiteral("blocked.test"), denyTen);
    EXPECT_FALSE(blocked.proxy) << blocked.why.toStdString();
    EXPECT_EQ(blocked.errorKind, forward::ForwardError::ProxyDenied);
    for (const char *refused : {"169.254.169.254:80", "[fe80::1]:3128", "0.0.0.0:3128", "224.0.0.1:3128",
                                "[64:ff9b::a9fe:a9fe]:3128", "[fd00:ec2::254]:443"})
        EXPECT_TRUE(blocked.error.contains(QLatin1String(refused))) << refused << ": " << blocked.error.toStdString();
    EXPECT_EQ(forward::reasonString(blocked.errorKind), "upstream_proxy_denied");

    // 10.0.0.9 is refused by proxy.ssrf; 10.0.0.5 is the tunnel's own proxy, which the guard does not check.
    const auto priv = selectWithPac(t, QStringLiteral("private.test"), denyTen);
    ASSERT_TRUE(priv.proxy) << priv.why.toStdString() << priv.error.toStdString();
    EXPECT_EQ(priv.proxy->address, QStringLiteral("10.0.0.5:3128"));
    EXPECT_FALSE(priv.proxy->guarded);
    EXPECT_TRUE(priv.why.contains(QLatin1String("10.0.0.9:3128"))) << priv.why.toStdString();

    // What the Connector dials: a guarded proxy only at allowed addresses, the tunnel's own at all of them.
    QString refusal;
    const QList<QHostAddress> resolved{QHostAddress(QStringLiteral("169.254.169.254")),
                                       QHostAddress(QStringLiteral("10.1.1.1")), QHostAddress(QStringLiteral("::1"))};
    EXPECT_EQ(forward::allowedProxyAddresses(*metadata.proxy, resolved, denyTen, &refusal),
              QList<QHostAddress>{QHostAddress(QStringLiteral("::1"))});
    EXPECT_TRUE(refusal.contains(QLatin1String("169.254.169.254, 10.1.1.1"))) << refusal.toStdString();
    EXPECT_EQ(forward::allowedProxyAddresses(*priv.proxy, resolved, denyTen), resolved);
}
