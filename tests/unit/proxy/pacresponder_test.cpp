// SPDX-License-Identifier: Apache-2.0
// Which requests get the listener's own PAC file, and what it names as the proxy (docs/pac.md). The HTTP side
// (GET/HEAD/304 on the wire, both engines, a real PAC engine) is in tests/integration/pac_test.cpp.
#include "proxy/pacresponder.h"

#include "proxy/router.h"

#include <QNetworkInterface>

#include <gtest/gtest.h>

using namespace dfproxy;
using proxy::CanonicalRequest;

namespace {

routing::Listener listener(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 8080)
{
    routing::Listener l;
    l.gatewayNamespace = QStringLiteral("gw");
    l.gatewayName = QStringLiteral("gw");
    l.gatewayKey = QStringLiteral("gw/gw");
    l.name = QStringLiteral("http");
    l.address = address;
    l.port = port;
    l.protocol = QStringLiteral("HTTP");
    l.pacHosts = {QStringLiteral("www.example.com")};
    return l;
}

class ListRouter final : public proxy::Router
{
public:
    QList<routing::Listener> list;
    QList<routing::Listener> listeners() const override { return list; }
    std::optional<routing::RouteMatch> match(const routing::RequestInfo &, double) const override
    {
        return std::nullopt;
    }
};

struct Request
{
    http::MessageHead head;
    CanonicalRequest canon;
};

/// An origin-form request for `path` with Host `host`, canonicalised as the proxy does.
Request request(const QByteArray &path, const QByteArray &host, const QByteArray &method = "GET")
{
    Request r;
    r.head.method = method;
    r.head.target = path;
    r.head.headers.append({"Host", host});
    EXPECT_FALSE(proxy::canonicalizeRequest(r.head, false, {}, &r.canon)) << host.toStdString();
    return r;
}

std::optional<proxy::LocalReply> answer(const Request &r, const routing::Listener &l,
                                        const proxy::Router *router = nullptr)
{
    return proxy::answerPacRequest(r.head, r.canon, l, router);
}

QByteArray header(const proxy::LocalReply &r, const QByteArray &name)
{
    for (const auto &[n, v] : r.headers) {
        if (n.compare(name, Qt::CaseInsensitive) == 0)
            return v;
    }
    return {};
}

} // namespace

TEST(PacResponder, AnswersBothNamesForTheListenersOwnAddressesAndLocalhost)
{
    const routing::Listener l = listener();
    for (const char *path : {"/proxy.pac", "/wpad.dat", "/proxy.pac?x=1"}) {
        for (const char *host : {"127.0.0.1", "127.0.0.1:8080", "localhost", "localhost:8080", "LOCALHOST."}) {
            const auto r = answer(request(path, host), l);
            ASSERT_TRUE(r) << path << " " << host;
            EXPECT_EQ(r->status, 200);
            EXPECT_EQ(header(*r, "content-type"), "application/x-ns-proxy-autoconfig");
            EXPECT_TRUE(r->body.contains("var proxy = \"PROXY 127.0.0.1:8080\";")) << r->body.toStdString();
        }
    }
}

TEST(PacResponder, LeavesEveryOtherRequestAlone)
{
    const routing::Listener l = listener();
    for (const auto &[path, host] : QList<QPair<QByteArray, QByteArray>>{{"/proxy.pac", "127.0.0.2"},
                                                                         {"/proxy.pac", "127.0.0.1:8081"},
                                                                         {"/proxy.pac", "example.com"},
                                                                         {"/proxy.pac", "localhost.example.com"},
                                                                         {"/Proxy.pac", "127.0.0.1"},
                                                                         {"/proxy.pac/", "127.0.0.1"},
                                                                         {"/x/proxy.pac", "127.0.0.1"},
                                                                         {"/", "127.0.0.1"}})
        EXPECT_FALSE(answer(request(path, host), l)) << path.toStdString() << " " << host.toStdString();

    // Absolute form is a proxied request, whatever it names.
    Request abs;
    abs.head.method = "GET";
    abs.head.target = "http://127.0.0.1:8080/proxy.pac";
    abs.head.headers.append({QByteArray("Host"), QByteArray("127.0.0.1:8080")});
    ASSERT_FALSE(proxy::canonicalizeRequest(abs.head, false, {}, &abs.canon));
    EXPECT_FALSE(answer(abs, l));

    // An HTTPS listener does not serve it (its PROXY line would name a plain-HTTP proxy).
    routing::Listener tls = listener();
    tls.protocol = QStringLiteral("HTTPS");
    EXPECT_FALSE(answer(request("/proxy.pac", "127.0.0.1"), tls));
}

TEST(PacResponder, OtherMethodsGet405WithAllow)
{
    const auto r = answer(request("/proxy.pac", "127.0.0.1", "POST"), listener());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405);
    EXPECT_EQ(r->reason, "method_not_allowed");
    EXPECT_EQ(header(*r, "allow"), "GET, HEAD");
}

TEST(PacResponder, IfNoneMatchGets304WithTheValidatorsAndNoBody)
{
    const routing::Listener l = listener();
    const auto full = answer(request("/proxy.pac", "127.0.0.1"), l);
    ASSERT_TRUE(full);
    const QByteArray etag = header(*full, "etag");
    Request r = request("/proxy.pac", "127.0.0.1");
    r.head.headers.append({"If-None-Match", "\"x\", W/" + etag});
    const auto notModified = answer(r, l);
    ASSERT_TRUE(notModified);
    EXPECT_EQ(notModified->status, 304);
    EXPECT_TRUE(notModified->body.isEmpty());
    EXPECT_EQ(header(*notModified, "etag"), etag);
    EXPECT_EQ(header(*notModified, "cache-control"), "max-age=300");
}

TEST(PacResponder, AnIpv6ListenerIsNamedInBrackets)
{
    const routing::Listener l = listener(QHostAddress(QHostAddress::LocalHostIPv6));
    const auto r = answer(request("/proxy.pac", "[::1]:8080"), l);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body.contains("var proxy = \"PROXY [::1]:8080\";"));
    EXPECT_FALSE(answer(request("/proxy.pac", "127.0.0.1"), l)) << "not an address of this listener";
}

TEST(PacResponder, AWildcardListenerNamesTheAddressTheClientUsed)
{
    const routing::Listener l = listener(QHostAddress(QHostAddress::AnyIPv4));
    const auto r = answer(request("/proxy.pac", "127.0.0.5:8080"), l);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body.contains("var proxy = \"PROXY 127.0.0.5:8080\";")) << r->body.toStdString();
    const auto viaName = answer(request("/proxy.pac", "localhost"), l);
    ASSERT_TRUE(viaName);
    EXPECT_TRUE(viaName->body.contains("var proxy = \"PROXY 127.0.0.1:8080\";"));
    // An address that is not this machine's is another host.
    EXPECT_FALSE(answer(request("/proxy.pac", "192.0.2.1"), l));
    for (const QHostAddress &a : QNetworkInterface::allAddresses()) {
        if (a.protocol() == QAbstractSocket::IPv4Protocol) {
            EXPECT_TRUE(answer(request("/proxy.pac", a.toString().toLatin1()), l)) << a.toString().toStdString();
        }
    }
}

TEST(PacResponder, TheFileComesFromTheConfigInEffectNotTheConnectionsCopy)
{
    const routing::Listener accepted = listener();
    ListRouter router;
    routing::Listener now = listener();
    now.pacHosts = {QStringLiteral("*.changed.example")};
    now.pacSettings.maxAgeS = 7;
    router.list = {now};
    const auto r = answer(request("/proxy.pac", "127.0.0.1"), accepted, &router);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body.contains("\".changed.example\"")) << r->body.toStdString();
    EXPECT_FALSE(r->body.contains("www.example.com"));
    EXPECT_EQ(header(*r, "cache-control"), "max-age=7");
    // A listener that is gone from the config keeps serving what it was accepted with.
    router.list.clear();
    const auto gone = answer(request("/proxy.pac", "127.0.0.1"), accepted, &router);
    ASSERT_TRUE(gone);
    EXPECT_TRUE(gone->body.contains("www.example.com"));
}
