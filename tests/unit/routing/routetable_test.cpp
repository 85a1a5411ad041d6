// SPDX-License-Identifier: Apache-2.0
#include "routing/routetable.h"
#include "routingtestutil.h"

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::routing;
using namespace dfproxy::routing::testutil;

namespace {

// One route "r" in ns "app" with the given rules, backends a..e in ns "app".
std::shared_ptr<const RouteTable> tableWithRules(const QByteArray &rules, const QByteArray &hostnames = "[]")
{
    QList<config::Resource> res{defaultGateway(), route("app", "r", routeSpec(rules, hostnames))};
    for (const char *b : {"a", "b", "c", "d", "e"})
        res.append(backend("app", b));
    return RouteTable::build(configOf(res));
}

} // namespace

TEST(RouteTable, ExactPathBeatsLongerPrefix)
{
    const auto t = tableWithRules(rule(R"([{"path": {"type": "PathPrefix", "value": "/foo/bar/baz"}}])", "a") + ","
                                  + rule(R"([{"path": {"type": "Exact", "value": "/foo"}}])", "b"));
    EXPECT_EQ(target(*t, Request("GET", "/foo")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/foo/bar/baz")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/foo/")), "<no route>");
}

TEST(RouteTable, LongestPrefixWinsAcrossRules)
{
    const auto t = tableWithRules(rule(R"([{"path": {"type": "PathPrefix", "value": "/"}}])", "a") + ","
                                  + rule(R"([{"path": {"type": "PathPrefix", "value": "/api"}}])", "b") + ","
                                  + rule(R"([{"path": {"type": "PathPrefix", "value": "/api/v2"}}])", "c"));
    EXPECT_EQ(target(*t, Request("GET", "/")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/api")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/api/v1/x")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/api/v2/x")), "c");
    const auto m = t->match(Request("GET", "/api/v2/x").info, 0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->matchedPrefix, "/api/v2");
    EXPECT_EQ(m->ruleIndex, 2);
}

TEST(RouteTable, PathPrefixMatchesWholePathElements)
{
    const auto t = tableWithRules(rule(R"([{"path": {"type": "PathPrefix", "value": "/foo/"}}])", "a"));
    EXPECT_EQ(target(*t, Request("GET", "/foo")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/foo/")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/foo/bar")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/foobar")), "<no route>");
    EXPECT_EQ(target(*t, Request("GET", "/fo")), "<no route>");
}

TEST(RouteTable, RuleWithoutMatchesCatchesEverything)
{
    const auto t = tableWithRules(rule("[]", "a"));
    EXPECT_EQ(target(*t, Request("DELETE", "/x/y")), "a");
    EXPECT_EQ(target(*t, Request("GET", "")), "a");
}

TEST(RouteTable, MethodMatchBeatsNoMethodForTheSamePath)
{
    const auto t = tableWithRules(rule(R"([{"path": {"value": "/x"}}])", "a") + ","
                                  + rule(R"([{"path": {"value": "/x"}, "method": "POST"}])", "b"));
    EXPECT_EQ(target(*t, Request("POST", "/x")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/x")), "a");
}

TEST(RouteTable, LongerPrefixBeatsMethodMatch)
{
    const auto t = tableWithRules(rule(R"([{"path": {"value": "/"}, "method": "GET"}])", "a") + ","
                                  + rule(R"([{"path": {"value": "/x"}}])", "b"));
    EXPECT_EQ(target(*t, Request("GET", "/x")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/y")), "a");
    EXPECT_EQ(target(*t, Request("PUT", "/y")), "<no route>");
}

TEST(RouteTable, MoreHeaderMatchesWin)
{
    const auto t = tableWithRules(
        rule(R"([{"headers": [{"name": "x-a", "value": "1"}]}])", "a") + ","
        + rule(R"([{"headers": [{"name": "x-a", "value": "1"}, {"name": "X-B", "value": "2"}]}])", "b") + ","
        + rule(R"([{"method": "GET"}])", "c"));
    // Method outranks header count.
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {{"x-a", "1"}, {"x-b", "2"}})), "c");
    EXPECT_EQ(target(*t, Request("PUT", "/", "h", {{"X-A", "1"}, {"x-b", "2"}})), "b");
    EXPECT_EQ(target(*t, Request("PUT", "/", "h", {{"x-a", "1"}, {"x-b", "3"}})), "a");
    EXPECT_EQ(target(*t, Request("PUT", "/", "h", {{"x-a", "2"}})), "<no route>");
}

TEST(RouteTable, HeaderValuesMatchExactlyOrByRegex)
{
    const auto t = tableWithRules(
        rule(R"([{"headers": [{"type": "RegularExpression", "name": "user-agent", "value": "curl/[0-9.]+"}]}])", "a"));
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {{"User-Agent", "curl/8.1.2"}})), "a");
    // The regex must match the whole value.
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {{"User-Agent", "xcurl/8.1"}})), "<no route>");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {})), "<no route>");
    // Any occurrence of a repeated header may match.
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {{"user-agent", "x"}, {"user-agent", "curl/1"}})), "a");
}

TEST(RouteTable, MoreQueryParamMatchesWin)
{
    const auto t = tableWithRules(
        rule(R"([{"queryParams": [{"name": "a", "value": "1"}]}])", "a") + ","
        + rule(R"([{"queryParams": [{"name": "a", "value": "1"}, {"name": "b", "value": "x y"}]}])", "b") + ","
        + rule(R"([{"queryParams": [{"type": "RegularExpression", "name": "id", "value": "[0-9]+"}]}])", "c"));
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "a=1&b=x%20y")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "b=x+y&a=1")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "a=1&b=2")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "id=42")), "c");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "id=42x")), "<no route>");
    // Names are case-sensitive and the first occurrence decides.
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "A=1")), "<no route>");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "a=2&a=1")), "<no route>");
    EXPECT_EQ(target(*t, Request("GET", "/", "h", {}, "")), "<no route>");
}

TEST(RouteTable, RegexPathRanksBelowPrefixes)
{
    const auto t = tableWithRules(rule(R"([{"path": {"type": "RegularExpression", "value": "/v[0-9]+/.*"}}])", "a")
                                  + "," + rule(R"([{"path": {"value": "/v1"}}])", "b"));
    EXPECT_EQ(target(*t, Request("GET", "/v1/x")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/v2/x")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/x/v2/x")), "<no route>"); // anchored: the whole path must match
    const auto m = t->match(Request("GET", "/v2/x").info, 0);
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->matchedPrefix.isEmpty());
}

TEST(RouteTable, TiesGoToTheOldestRouteThenToNamespaceAndName)
{
    const QByteArray spec = routeSpec(rule(R"([{"path": {"value": "/x"}}])", "a"));
    const QByteArray specB = routeSpec(rule(R"([{"path": {"value": "/x"}}])", "b"));
    const auto t1 = RouteTable::build(configOf({defaultGateway(), backend("app", "a"), backend("app", "b"),
                                                route("app", "zz-old", specB, "2024-01-01T00:00:00Z"),
                                                route("app", "aa-new", spec, "2024-06-01T00:00:00Z")}));
    EXPECT_EQ(target(*t1, Request("GET", "/x")), "b");
    const auto t2 = RouteTable::build(configOf({defaultGateway(), backend("app", "a"), backend("app", "b"),
                                                route("app", "zz", specB, "2024-01-01T00:00:00Z"),
                                                route("app", "aa", spec, "2024-01-01T00:00:00Z")}));
    EXPECT_EQ(target(*t2, Request("GET", "/x")), "a");
}

TEST(RouteTable, FirstRuleWinsAmongEqualMatchesOfOneRoute)
{
    const auto t = tableWithRules(rule(R"([{"path": {"value": "/x"}}])", "a") + ","
                                  + rule(R"([{"path": {"value": "/x"}}])", "b"));
    EXPECT_EQ(target(*t, Request("GET", "/x")), "a");
}

TEST(RouteTable, MatchesExactAndWildcardHostnames)
{
    const auto t = RouteTable::build(configOf(
        {defaultGateway(), backend("app", "a"), backend("app", "b"), backend("app", "c"), backend("app", "d"),
         route("app", "exact", routeSpec(rule("[]", "a"), R"(["foo.example.com"])")),
         route("app", "wild", routeSpec(rule("[]", "b"), R"(["*.example.com"])")),
         route("app", "wilder", routeSpec(rule("[]", "c"), R"(["*.bar.example.com"])")),
         route("app", "any", routeSpec(rule(R"([{"path": {"value": "/any"}}])", "d")))}));
    EXPECT_EQ(target(*t, Request("GET", "/", "foo.example.com")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/", "x.example.com")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/", "x.y.example.com")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/", "x.bar.example.com")), "c");
    EXPECT_EQ(target(*t, Request("GET", "/", "example.com")), "<no route>");
    EXPECT_EQ(target(*t, Request("GET", "/any", "example.com")), "d");
    // A more specific hostname wins even over a longer path elsewhere; unmatched paths fall through to the next
    // hostname level.
    EXPECT_EQ(target(*t, Request("GET", "/any", "foo.example.com")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/", "other.org")), "<no route>");
}

// RequestInfo views the request where it lies: the host is a slice of a bigger buffer (as the canonical request's
// host is of the received target), neither NUL-terminated nor copied.
TEST(RouteTable, MatchesAHostThatIsASliceOfTheRequestBuffer)
{
    const auto t = RouteTable::build(configOf(
        {defaultGateway(), backend("app", "a"), backend("app", "b"), backend("app", "c"),
         route("app", "exact", routeSpec(rule("[]", "a"), R"(["foo.example.com"])")),
         route("app", "wild", routeSpec(rule("[]", "b"), R"(["*.example.com"])")),
         route("app", "idn", routeSpec(rule("[]", "c"), R"(["xn--bcher-kva.test"])"))}));
    const QByteArray target = "http://foo.example.com.evil/x?y";
    const QByteArray idn = "xn--bcher-kva.test:80";
    const HeaderList headers;
    RequestInfo r;
    r.gatewayNamespace = "gw";
    r.gatewayName = "gw";
    r.method = QByteArrayView(target).first(0); // empty: any method
    r.path = "/";
    r.headers = &headers;
    const auto backendOf = [&](QByteArrayView host) {
        r.host = host;
        const auto m = t->match(r, 0.0);
        return m ? (m->backend ? m->backend->name : QStringLiteral("<no backend>")) : QStringLiteral("<no route>");
    };
    EXPECT_EQ(backendOf(QByteArrayView(target).sliced(7, 15)), "a");      // "foo.example.com"
    EXPECT_EQ(backendOf(QByteArrayView(target).sliced(7, 20)), "<no route>"); // "foo.example.com.evil"
    EXPECT_EQ(backendOf(QByteArrayView(target).sliced(11, 11)), "<no route>"); // "example.com"
    EXPECT_EQ(backendOf(QByteArrayView(target).sliced(7, 14)), "<no route>"); // "foo.example.co"
    EXPECT_EQ(backendOf(QByteArrayView(idn).first(18)), "c");
}

TEST(RouteTable, IntersectsRouteHostnamesWithTheListenerHostname)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [
        {"name": "http", "protocol": "HTTP", "port": 8080, "hostname": "*.example.com"}]})");
    const auto t = RouteTable::build(configOf(
        {gw, backend("app", "a"), backend("app", "b"), backend("app", "c"),
         route("app", "inside", routeSpec(rule("[]", "a"), R"(["foo.example.com", "foo.other.org"])")),
         route("app", "nohost", routeSpec(rule(R"([{"path": {"value": "/n"}}])", "b"))),
         route("app", "broad", routeSpec(rule(R"([{"path": {"value": "/b"}}])", "c"), R"(["*.com"])"))}));
    EXPECT_EQ(target(*t, Request("GET", "/", "foo.example.com")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/", "foo.other.org")), "<no route>");
    // A route without hostnames inherits the listener's.
    EXPECT_EQ(target(*t, Request("GET", "/n", "x.example.com")), "b");
    EXPECT_EQ(target(*t, Request("GET", "/n", "x.org")), "<no route>");
    // "*.com" narrows to the listener's "*.example.com".
    EXPECT_EQ(target(*t, Request("GET", "/b", "x.example.com")), "c");
    EXPECT_EQ(target(*t, Request("GET", "/b", "x.com")), "<no route>");
}

TEST(RouteTable, SectionNameAttachesToOneListener)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [
        {"name": "http", "protocol": "HTTP", "port": 8080},
        {"name": "other", "protocol": "HTTP", "port": 8081}]})");
    const auto t = RouteTable::build(configOf(
        {gw, backend("app", "a"),
         route("app", "r", R"({"parentRefs": [{"name": "gw", "namespace": "gw", "sectionName": "other"}],
                                "rules": [{"backendRefs": [{"name": "a"}]}]})")}));
    ASSERT_EQ(t->listeners().size(), 2);
    Request r("GET", "/");
    EXPECT_FALSE(t->match(r.info, 0));
    r.info.listenerName = "other";
    ASSERT_TRUE(t->match(r.info, 0));
    EXPECT_EQ(t->match(r.info, 0)->backend->name, "a");
}

TEST(RouteTable, ParentRefPortSelectsListeners)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [
        {"name": "http", "protocol": "HTTP", "port": 8080},
        {"name": "other", "protocol": "HTTP", "port": 8081}]})");
    const auto t = RouteTable::build(configOf(
        {gw, backend("app", "a"),
         route("app", "r", R"({"parentRefs": [{"name": "gw", "namespace": "gw", "port": 8080}],
                                "rules": [{"backendRefs": [{"name": "a"}]}]})")}));
    Request r("GET", "/");
    EXPECT_TRUE(t->match(r.info, 0));
    r.info.listenerName = "other";
    EXPECT_FALSE(t->match(r.info, 0));
}

TEST(RouteTable, ParentRefNamespaceDefaultsToTheRoutes)
{
    const auto t = RouteTable::build(configOf(
        {defaultGateway(), backend("gw", "a"),
         route("gw", "r", R"({"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "a"}]}]})"),
         route("app", "r2", R"({"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "a"}]}]})")}));
    const auto m = t->match(Request("GET", "/").info, 0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->routeNamespace, "gw"); // app/r2 looked for app/gw, which does not exist
}

TEST(RouteTable, ResolvesCrossNamespaceBackendRefs)
{
    const auto t = RouteTable::build(configOf(
        {defaultGateway(), backend("shared", "a"),
         route("app", "r", routeSpec(R"({"backendRefs": [{"name": "a", "namespace": "shared"}]})")),
         route("app", "r2", routeSpec(R"({"matches": [{"path": {"value": "/local"}}],
                                          "backendRefs": [{"name": "a"}]})"))}));
    const auto m = t->match(Request("GET", "/").info, 0);
    ASSERT_TRUE(m && m->backend);
    EXPECT_EQ(m->backend->ns, "shared");
    EXPECT_EQ(target(*t, Request("GET", "/local")), "<no backend>"); // app/a does not exist
}

TEST(RouteTable, AllowedRoutesSameKeepsOtherNamespacesOut)
{
    const auto gw = gateway(R"({"gatewayClassName": "x", "listeners": [{"name": "http", "protocol": "HTTP",
        "port": 8080, "allowedRoutes": {"namespaces": {"from": "Same"}}}]})");
    const auto t = RouteTable::build(configOf({gw, backend("app", "a"), route("app", "r", routeSpec(rule("[]", "a")))}));
    EXPECT_EQ(target(*t, Request("GET", "/")), "<no route>");
}

TEST(RouteTable, PicksWeightedBackendsByTheRandomValue)
{
    const auto t = tableWithRules(R"({"backendRefs": [{"name": "a", "weight": 1}, {"name": "b", "weight": 0},
                                                       {"name": "c", "weight": 3}]})");
    EXPECT_EQ(target(*t, Request("GET", "/"), 0.0), "a");
    EXPECT_EQ(target(*t, Request("GET", "/"), 0.2499), "a");
    EXPECT_EQ(target(*t, Request("GET", "/"), 0.25), "c");
    EXPECT_EQ(target(*t, Request("GET", "/"), 0.9999), "c");
    EXPECT_EQ(target(*t, Request("GET", "/"), 1.0), "c"); // out of range is clamped
    QMap<QString, int> counts;
    for (int i = 0; i < 1000; ++i)
        ++counts[target(*t, Request("GET", "/"), i / 1000.0)];
    EXPECT_EQ(counts.value("a"), 250);
    EXPECT_EQ(counts.value("b"), 0);
    EXPECT_EQ(counts.value("c"), 750);
}

TEST(RouteTable, MissingBackendTakesItsShareAsNoBackend)
{
    const auto t = tableWithRules(R"({"backendRefs": [{"name": "a"}, {"name": "missing"}]})");
    EXPECT_EQ(target(*t, Request("GET", "/"), 0.1), "a");
    EXPECT_EQ(target(*t, Request("GET", "/"), 0.9), "<no backend>");
}

TEST(RouteTable, AllZeroWeightsOrNoBackendRefsMatchWithoutBackend)
{
    const auto t = tableWithRules(R"({"matches": [{"path": {"value": "/z"}}],
                                      "backendRefs": [{"name": "a", "weight": 0}]}, {"matches": []})");
    EXPECT_EQ(target(*t, Request("GET", "/z")), "<no backend>");
    EXPECT_EQ(target(*t, Request("GET", "/")), "<no backend>");
}

TEST(RouteTable, NonBackendKindIsNotResolved)
{
    const auto t = tableWithRules(R"({"backendRefs": [{"group": "", "kind": "Service", "name": "a"}]})");
    EXPECT_EQ(target(*t, Request("GET", "/")), "<no backend>");
}

TEST(RouteTable, CompilesFiltersAndTimeouts)
{
    const auto t = tableWithRules(R"({"matches": [{"path": {"value": "/api"}}],
        "filters": [
          {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-s", "value": "1"}],
              "add": [{"name": "x-a", "value": "2"}], "remove": ["x-r"]}},
          {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": [{"name": "x-resp", "value": "y"}]}},
          {"type": "URLRewrite", "urlRewrite": {"hostname": "internal.test",
              "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}}],
        "backendRefs": [{"name": "a"}],
        "timeouts": {"request": "1h30m", "backendRequest": "500ms"}},
       {"matches": [{"path": {"type": "Exact", "value": "/old"}}],
        "filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "hostname": "new.test",
            "port": 8443, "statusCode": 301, "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"}}}]})");
    const auto m = t->match(Request("GET", "/api/x").info, 0);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->backend->name, "a");
    EXPECT_EQ(m->requestHeaders.set, (HeaderList{{"x-s", "1"}}));
    EXPECT_EQ(m->requestHeaders.add, (HeaderList{{"x-a", "2"}}));
    EXPECT_EQ(m->requestHeaders.remove, (QList<QByteArray>{"x-r"}));
    EXPECT_EQ(m->responseHeaders.add, (HeaderList{{"x-resp", "y"}}));
    ASSERT_TRUE(m->rewrite);
    EXPECT_EQ(m->rewrite->hostname, "internal.test");
    EXPECT_EQ(m->rewrite->replacePrefixMatch, QString("/v2"));
    EXPECT_FALSE(m->rewrite->replaceFullPath);
    EXPECT_EQ(m->matchedPrefix, "/api");
    EXPECT_EQ(m->requestTimeoutMs, 5400000);
    EXPECT_EQ(m->backendRequestTimeoutMs, 500);

    const auto r = t->match(Request("GET", "/old").info, 0);
    ASSERT_TRUE(r && r->redirect);
    EXPECT_EQ(r->backend, nullptr);
    EXPECT_EQ(r->redirect->scheme, "https");
    EXPECT_EQ(r->redirect->hostname, "new.test");
    EXPECT_EQ(r->redirect->port, quint16(8443));
    EXPECT_EQ(r->redirect->statusCode, 301);
    EXPECT_EQ(r->redirect->path, "/new");
}

TEST(RouteTable, CompilesBackendExtensions)
{
    QList<config::Resource> res{
        defaultGateway(),
        backend("app", "a", R"({"dynamicForwardProxy": {}, "tls": {"sni": "sni.test", "insecureSkipVerify": true,
                                "caFile": "/ca.pem"}, "dns": {"lookupFamily": "V6Only"}, "engine": "qnam"})"),
        backend("app", "b", R"({"static": {"host": "127.0.0.1", "port": 9000}, "tls": true})"),
        route("app", "r", routeSpec(rule(R"([{"path": {"value": "/a"}}])", "a") + ","
                                    + rule(R"([{"path": {"value": "/b"}}])", "b")))};
    const auto t = RouteTable::build(configOf(res));
    const auto a = t->match(Request("GET", "/a").info, 0)->backend;
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, Backend::Type::DynamicForwardProxy);
    EXPECT_TRUE(a->tls);
    EXPECT_EQ(a->tlsSni, "sni.test");
    EXPECT_TRUE(a->tlsInsecureSkipVerify);
    EXPECT_EQ(a->tlsCaFile, "/ca.pem");
    EXPECT_EQ(a->lookupFamily, dns::LookupFamily::V6Only);
    EXPECT_EQ(a->engine, Backend::Engine::Qnam);
    const auto b = t->match(Request("GET", "/b").info, 0)->backend;
    ASSERT_TRUE(b);
    EXPECT_EQ(b->type, Backend::Type::Static);
    EXPECT_EQ(b->staticHost, "127.0.0.1");
    EXPECT_EQ(b->staticPort, 9000);
    EXPECT_TRUE(b->tls);
    EXPECT_FALSE(b->lookupFamily.has_value());
    EXPECT_EQ(b->engine, Backend::Engine::Native);
}

TEST(RouteTable, ListsOneListenerPerAddressWithExtensions)
{
    const auto gw = gateway(R"({"gatewayClassName": "x",
        "addresses": [{"type": "IPAddress", "value": "127.0.0.2"}, {"value": "::1"}],
        "listeners": [{"name": "https", "protocol": "HTTPS", "port": 8443, "hostname": "*.test",
                       "tls": {"certFile": "/c.pem", "keyFile": "/k.pem"}, "allowedConnectPorts": [443, 8443]}]})");
    const auto t = RouteTable::build(configOf({gw}));
    ASSERT_EQ(t->listeners().size(), 2);
    EXPECT_EQ(t->listeners()[0].address, QHostAddress("127.0.0.2"));
    EXPECT_EQ(t->listeners()[1].address, QHostAddress("::1"));
    const auto &l = t->listeners()[0];
    EXPECT_EQ(l.protocol, "HTTPS");
    EXPECT_EQ(l.hostname, "*.test");
    EXPECT_EQ(l.tlsCertFile, "/c.pem");
    EXPECT_EQ(l.tlsKeyFile, "/k.pem");
    EXPECT_EQ(l.connectPorts, (QList<quint16>{443, 8443}));
}

TEST(RouteTable, SkipsInvalidResources)
{
    const auto badGw = gateway(R"({"listeners": [{"name": "http", "protocol": "FTP", "port": 21}]})", "gw", "bad");
    const auto t = RouteTable::build(configOf(
        {defaultGateway(), badGw, backend("app", "a"),
         route("app", "bad", routeSpec(R"({"backendRefs": [{"name": "a", "weight": -1}]})")),
         route("app", "good", routeSpec(rule(R"([{"path": {"value": "/good"}}])", "a")))}));
    EXPECT_EQ(t->listeners().size(), 1);
    EXPECT_EQ(target(*t, Request("GET", "/good")), "a");
    EXPECT_EQ(target(*t, Request("GET", "/")), "<no route>");
}

TEST(RouteTable, RouteAttachedTwiceCountsOnce)
{
    const auto t = RouteTable::build(configOf(
        {defaultGateway(), backend("app", "a"),
         route("app", "r", R"({"parentRefs": [{"name": "gw", "namespace": "gw"},
                                              {"name": "gw", "namespace": "gw", "sectionName": "http"}],
                                "rules": [{"backendRefs": [{"name": "a"}]}]})")}));
    EXPECT_EQ(target(*t, Request("GET", "/")), "a");
}

TEST(RouteTable, ListenersCarryTheHostsTheirRoutesSendToABackendForThePacFile)
{
    QList<config::Resource> res{
        gateway(R"({"listeners": [{"name": "http", "protocol": "HTTP", "port": 8080},
                                  {"name": "corp", "protocol": "HTTP", "port": 8081, "hostname": "*.corp.example"}]})"),
        route("app", "web", routeSpec(rule("[]", "a"), R"(["www.example.com", "*.example.org"])")),
        route("app", "all", R"({"parentRefs": [{"name": "gw", "namespace": "gw", "sectionName": "corp"}],
                               "rules": [{"backendRefs": [{"name": "a"}]}]})"),
        // A redirect and a dangling backendRef send nothing to a backend: not in the PAC file.
        route("app", "redir", routeSpec(R"({"filters": [{"type": "RequestRedirect",
                                                       "requestRedirect": {"scheme": "https"}}]})",
                                        R"(["redirect.example"])")),
        route("app", "dangling", routeSpec(rule("[]", "missing"), R"(["dangling.example"])")),
        backend("app", "a")};
    const auto t = RouteTable::build(configOf(res));
    ASSERT_EQ(t->listeners().size(), 2);
    EXPECT_EQ(t->listeners()[0].pacHosts, QStringList({"*.example.org", "www.example.com"}));
    // A route without hostnames on a listener with a hostname serves that hostname; "web" does not attach there.
    EXPECT_EQ(t->listeners()[1].pacHosts, QStringList({"*.corp.example"}));
}

TEST(RouteTable, ListenersCarryTheirGatewaysPacSettings)
{
    config::Resource gw = defaultGateway();
    QJsonObject meta = gw.metadata();
    meta.insert("annotations", QJsonObject{{"dfproxy.dev/pac-fail-mode", "open"}, {"dfproxy.dev/pac-max-age", "9"}});
    gw.json().insert("metadata", meta);
    const auto t = RouteTable::build(configOf({gw, route("app", "r", routeSpec(rule("[]", "a"))), backend("app", "a")}));
    ASSERT_EQ(t->listeners().size(), 1);
    EXPECT_EQ(t->listeners()[0].pacSettings.failMode, pac::FailMode::Open);
    EXPECT_EQ(t->listeners()[0].pacSettings.maxAgeS, 9);
    EXPECT_EQ(t->listeners()[0].pacHosts, QStringList({"*"}));
}
