// SPDX-License-Identifier: Apache-2.0
#include "config/validation.h"

#include <QJsonDocument>

#include <gtest/gtest.h>

using namespace dfproxy::config;

namespace {

QJsonObject parse(const QByteArray &text)
{
    QJsonParseError e;
    const auto doc = QJsonDocument::fromJson(text, &e);
    EXPECT_EQ(e.error, QJsonParseError::NoError) << e.errorString().toStdString() << " in " << text.toStdString();
    return doc.object();
}

Resource make(const char *kind, const QByteArray &spec)
{
    const QString k = QString::fromLatin1(kind);
    const QString api = k == "AgentgatewayBackend" ? "agentgateway.dev/v1alpha1" : "gateway.networking.k8s.io/v1";
    return Resource(QJsonObject{{"apiVersion", api},
                                {"kind", k},
                                {"metadata", QJsonObject{{"name", "x"}, {"namespace", "ns"}}},
                                {"spec", parse(spec)}});
}

// Joined, so gtest prints a readable diff.
std::string paths(const QList<FieldError> &errors, bool sorted = false)
{
    QStringList out;
    for (const auto &e : errors)
        out.append(e.path);
    if (sorted)
        out.sort();
    return out.join(", ").toStdString();
}

std::string joined(QStringList list, bool sorted = false)
{
    if (sorted)
        list.sort();
    return list.join(", ").toStdString();
}

std::string describe(const QList<FieldError> &errors)
{
    QString s;
    for (const auto &e : errors)
        s += e.path + ": " + e.message + "\n";
    return s.toStdString();
}

struct Case
{
    const char *kind;
    const char *spec;
    QStringList expectedPaths;
};

} // namespace

TEST(Validation, AcceptsValidResources)
{
    const Case cases[] = {
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}})", {}},
        {"AgentgatewayBackend", R"({"static": {"host": "api.test", "port": 443}, "tls": {"sni": "x.test"},
                                    "dns": {"lookupFamily": "V4Preferred"}, "engine": "qnam"})", {}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "tls": false})", {}},
        {"HTTPRoute", R"({"parentRefs": [{"name": "gw"}], "hostnames": ["a.test", "*.b.test"],
            "rules": [{"matches": [{"path": {"type": "Exact", "value": "/a"}, "method": "GET",
                                     "headers": [{"name": "x-a", "value": "1"}],
                                     "queryParams": [{"type": "RegularExpression", "name": "q", "value": "^a.*"}]}],
                       "backendRefs": [{"name": "b", "weight": 0}], "timeouts": {"request": "10s"}}]})", {}},
        {"Gateway", R"({"gatewayClassName": "c", "listeners": [{"name": "https", "protocol": "HTTPS", "port": 443,
            "hostname": "*.test", "tls": {"mode": "Terminate", "certFile": "c", "keyFile": "k"}}]})", {}},
    };
    for (const auto &c : cases) {
        const auto errors = validateResource(make(c.kind, c.spec));
        EXPECT_TRUE(errors.isEmpty()) << c.spec << "\n" << describe(errors);
    }
}

TEST(Validation, ReportsEveryBadFieldWithItsPath)
{
    const Case cases[] = {
        // Backends.
        {"AgentgatewayBackend", R"({})", {"spec"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "static": {"host": "a", "port": 1}})", {"spec"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {"x": 1}})", {"spec.dynamicForwardProxy.x"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxi": {}})", {"spec.dynamicForwardProxi", "spec"}},
        {"AgentgatewayBackend", R"({"static": {"host": "bad host", "port": 0}})",
         {"spec.static.host", "spec.static.port"}},
        {"AgentgatewayBackend", R"({"static": {}})", {"spec.static.host", "spec.static.port"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "tls": {"insecureSkipVerify": "yes", "sny": "a"}})",
         {"spec.tls.sny", "spec.tls.insecureSkipVerify"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "tls": "on"})", {"spec.tls"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "dns": {"lookupFamily": "v4"}})",
         {"spec.dns.lookupFamily"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "engine": "curl"})", {"spec.engine"}},
        // Routes.
        {"HTTPRoute", R"({"parentRef": []})", {"spec.parentRef"}},
        {"HTTPRoute", R"({"parentRefs": [{"namespace": "Bad_NS"}, "x"]})",
         {"spec.parentRefs[0].namespace", "spec.parentRefs[0].name", "spec.parentRefs[1]"}},
        {"HTTPRoute", R"({"parentRefs": [{"name": "gw", "port": 70000}]})", {"spec.parentRefs[0].port"}},
        {"HTTPRoute", R"({"hostnames": ["ok.test", "Bad.test", "a.*.test", 3]})",
         {"spec.hostnames[1]", "spec.hostnames[2]", "spec.hostnames[3]"}},
        {"HTTPRoute", R"({"rules": [{"backendRefs": [{"name": ""}]}]})", {"spec.rules[0].backendRefs[0].name"}},
        {"HTTPRoute", R"({"rules": [{}, {"backendRefs": [{"weight": -1, "nme": "a"}]}]})",
         {"spec.rules[1].backendRefs[0].nme", "spec.rules[1].backendRefs[0].name",
          "spec.rules[1].backendRefs[0].weight"}},
        {"HTTPRoute", R"({"rules": [{"backendRefs": [{"name": "a", "port": "80", "weight": 1.5}]}]})",
         {"spec.rules[0].backendRefs[0].port", "spec.rules[0].backendRefs[0].weight"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{"path": {"type": "Prefix", "value": "/"}}]}]})",
         {"spec.rules[0].matches[0].path.type"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{}, {"path": {"type": "Exact", "value": "a"}}]}]})",
         {"spec.rules[0].matches[1].path.value"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{"path": {"type": "RegularExpression", "value": "(["}}]}]})",
         {"spec.rules[0].matches[0].path.value"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{"method": "get"}]}]})", {"spec.rules[0].matches[0].method"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{"headers": [{"name": "bad name", "value": "1"},
                                                               {"name": "x", "value": "a\nb"},
                                                               {"name": "X", "value": "2"},
                                                               {"name": "y"}]}]}]})",
         {"spec.rules[0].matches[0].headers[0].name", "spec.rules[0].matches[0].headers[1].value",
          "spec.rules[0].matches[0].headers[2].name", "spec.rules[0].matches[0].headers[3].value"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{"queryParams": [{"type": "Regex", "name": "a", "value": "1"}]}]}]})",
         {"spec.rules[0].matches[0].queryParams[0].type"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "RequestMirror"}]}]})", {"spec.rules[0].filters[0].type"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "RequestHeaderModifier"}]}]})",
         {"spec.rules[0].filters[0].requestHeaderModifier"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "RequestHeaderModifier",
            "requestHeaderModifier": {"set": [{"name": "x"}], "remove": ["ok", "bad header"]},
            "urlRewrite": {}}]}]})",
         {"spec.rules[0].filters[0].urlRewrite", "spec.rules[0].filters[0].requestHeaderModifier.set[0].value",
          "spec.rules[0].filters[0].requestHeaderModifier.remove[1]"}},
        {"HTTPRoute", R"({"rules": [{"filters": [
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath", "replaceFullPath": "x"}}},
            {"type": "RequestRedirect", "requestRedirect": {"statusCode": 304, "scheme": "ftp"}}]}]})",
         {"spec.rules[0].filters[0].urlRewrite.path.replaceFullPath",
          "spec.rules[0].filters[1].requestRedirect.scheme", "spec.rules[0].filters[1].requestRedirect.statusCode",
          "spec.rules[0].filters"}},
        {"HTTPRoute", R"({"rules": [{"matches": [{"path": {"type": "Exact", "value": "/a"}}], "filters": [
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch",
                                                            "replacePrefixMatch": "/b"}}}]}]})",
         {"spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch"}},
        {"HTTPRoute", R"({"rules": [{"filters": [
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {}},
            {"type": "ResponseHeaderModifier", "responseHeaderModifier": {}}]}]})",
         {"spec.rules[0].filters[1].type"}},
        {"HTTPRoute", R"({"rules": [{"timeouts": {"request": "10", "backendRequest": "1m", "idle": "1s"}}]})",
         {"spec.rules[0].timeouts.idle", "spec.rules[0].timeouts.request"}},
        {"HTTPRoute", R"({"rules": [{"timeouts": {"request": "1s", "backendRequest": "2s"}}]})",
         {"spec.rules[0].timeouts.backendRequest"}},
        {"HTTPRoute", R"({"rules": [{"bakendRefs": []}]})", {"spec.rules[0].bakendRefs"}},
        {"HTTPRoute", R"({"rules": {}})", {"spec.rules"}},
        // Gateways.
        {"Gateway", R"({"gatewayClassName": "c"})", {"spec.listeners"}},
        {"Gateway", R"({"listeners": []})", {"spec.listeners"}},
        {"Gateway", R"({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP"},
                                      {"name": "a", "port": 0, "protocol": "TCP"}]})",
         {"spec.listeners[1].name", "spec.listeners[1].port", "spec.listeners[1].protocol"}},
        {"Gateway", R"({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP"},
                                      {"name": "b", "port": 80, "protocol": "HTTP"}]})",
         {"spec.listeners[1].port"}},
        {"Gateway", R"({"listeners": [{"name": "a", "port": 443, "protocol": "HTTPS"}]})",
         {"spec.listeners[0].tls.certFile", "spec.listeners[0].tls.keyFile"}},
        {"Gateway", R"({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP", "hostname": "*",
                                       "allowedConnectPorts": [443, 0, "x"], "tls": {}, "portt": 1}]})",
         {"spec.listeners[0].portt", "spec.listeners[0].hostname", "spec.listeners[0].tls",
          "spec.listeners[0].allowedConnectPorts[1]", "spec.listeners[0].allowedConnectPorts[2]"}},
        {"Gateway", R"({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP",
                                       "allowedRoutes": {"namespaces": {"from": "Selector"}}}]})",
         {"spec.listeners[0].allowedRoutes.namespaces.from"}},
        {"Gateway", R"({"addresses": [{"type": "Hostname", "value": "localhost"}, {"value": "::1"},
                                      {"value": "0:0::1"}],
                        "listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]})",
         {"spec.addresses[0].type", "spec.addresses[0].value", "spec.addresses[2].value"}},
        {"Gateway", R"({"gatewayClass": "c", "listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]})",
         {"spec.gatewayClass"}},
    };
    for (const auto &c : cases) {
        const auto errors = validateResource(make(c.kind, c.spec));
        EXPECT_EQ(paths(errors, true), joined(c.expectedPaths, true)) << c.kind << " " << c.spec << "\n" << describe(errors);
    }
}

TEST(Validation, ErrorMessagesSayWhatIsWrong)
{
    const auto errors = validateResource(make("HTTPRoute", R"({"rules": [{"backendRefs": [{"name": "a",
        "weight": 2000000}]}], "hostnamez": []})"));
    ASSERT_EQ(errors.size(), 2) << describe(errors);
    for (const auto &e : errors) {
        if (e.path == "spec.hostnamez")
            EXPECT_EQ(e.message, "unknown field");
        else
            EXPECT_EQ(e.message, "must be between 0 and 1000000");
    }
}

TEST(Validation, CombinesEnvelopeAndSpecErrors)
{
    auto r = make("HTTPRoute", R"({"rules": [{"matches": [{"method": "FETCH"}]}]})");
    r.json().insert("metadata", QJsonObject{{"name", "Bad"}});
    const auto errors = validateResource(r);
    EXPECT_EQ(paths(errors), joined({"metadata.name", "spec.rules[0].matches[0].method"})) << describe(errors);
}

TEST(Validation, AcceptsStatusAndIgnoresIt)
{
    auto r = make("AgentgatewayBackend", R"({"dynamicForwardProxy": {}})");
    r.json().insert("status", QJsonObject{{"anything", 1}});
    EXPECT_TRUE(validateResource(r).isEmpty());
}

TEST(ValidationConfig, PrefixesResourceErrorsWithTheirIndex)
{
    Config c;
    c.resources.append(make("AgentgatewayBackend", R"({"dynamicForwardProxy": {}})"));
    c.resources.append(make("AgentgatewayBackend", R"({"engine": "x", "dynamicForwardProxy": {}})"));
    const auto errors = validateConfig(c);
    EXPECT_EQ(paths(errors), "resources[1].spec.engine") << describe(errors);
}

TEST(ValidationConfig, RejectsTwoListenersOnTheSameAddressAndPort)
{
    auto gw = [](const char *name, const QByteArray &spec) {
        Resource r = make("Gateway", spec);
        r.json().insert("metadata", QJsonObject{{"name", name}, {"namespace", "ns"}});
        return r;
    };
    Config c;
    c.resources.append(gw("a", R"({"listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]})"));
    // Default address 127.0.0.1 clashes; a different address or port does not.
    c.resources.append(gw("b", R"({"listeners": [{"name": "h1", "port": 8081, "protocol": "HTTP"},
                                                 {"name": "h2", "port": 8080, "protocol": "HTTP"}]})"));
    c.resources.append(gw("c", R"({"addresses": [{"value": "127.0.0.2"}],
                                   "listeners": [{"name": "h", "port": 8080, "protocol": "HTTP"}]})"));
    // The wildcard address clashes with every IPv4 address on the port.
    c.resources.append(gw("d", R"({"addresses": [{"value": "0.0.0.0"}],
                                   "listeners": [{"name": "h", "port": 8081, "protocol": "HTTP"}]})"));
    c.resources.append(gw("e", R"({"addresses": [{"value": "::1"}],
                                   "listeners": [{"name": "h", "port": 8080, "protocol": "HTTP"}]})"));
    const auto errors = validateConfig(c);
    EXPECT_EQ(paths(errors), joined({"resources[1].spec.listeners[1].port", "resources[3].spec.listeners[0].port"}))
        << describe(errors);
    ASSERT_FALSE(errors.isEmpty());
    EXPECT_TRUE(errors[0].message.contains("127.0.0.1:8080")) << errors[0].message.toStdString();
    EXPECT_TRUE(errors[0].message.contains("ns/a")) << errors[0].message.toStdString();
}

// Strings that reach the wire must not carry CR, LF, NUL or another control character: CR LF in a redirect path
// put headers into dfproxy's own 302, in a rewrite path it split the upstream request.
TEST(Validation, RefusesControlCharactersInWireStrings)
{
    const Case cases[] = {
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect":
            {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/a\r\nSet-Cookie: x=1"}}}]}]})",
         {"spec.rules[0].filters[0].requestRedirect.path.replaceFullPath"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "URLRewrite", "urlRewrite":
            {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/a HTTP/1.1\r\nHost: evil\r\n\r\nGET /"}}}]}]})",
         {"spec.rules[0].filters[0].urlRewrite.path.replaceFullPath"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "URLRewrite", "urlRewrite":
            {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/a\u0000"}}}]}]})",
         {"spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "URLRewrite", "urlRewrite":
            {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/a b"}}}]}]})",
         {"spec.rules[0].filters[0].urlRewrite.path.replaceFullPath"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier":
            {"set": [{"name": "x-a", "value": "1\u000b"}], "add": [{"name": "x-b", "value": "a\rb"}]}}]}]})",
         {"spec.rules[0].filters[0].requestHeaderModifier.set[0].value",
          "spec.rules[0].filters[0].requestHeaderModifier.add[0].value"}},
        {"HTTPRoute", R"({"rules": [{"filters": [{"type": "ResponseHeaderModifier", "responseHeaderModifier":
            {"set": [{"name": "x-a", "value": "1\u007f"}]}}]}]})",
         {"spec.rules[0].filters[0].responseHeaderModifier.set[0].value"}},
        {"HTTPRoute", R"({"parentRefs": [{"name": "gw", "sectionName": "a\nb"}]})",
         {"spec.parentRefs[0].sectionName"}},
        {"HTTPRoute", R"({"rules": [{"name": "r\n1"}]})", {"spec.rules[0].name"}},
        {"AgentgatewayBackend", R"({"static": {"host": "fe80::1%eth0\r\nx", "port": 80}})", {"spec.static.host"}},
        {"AgentgatewayBackend", R"({"dynamicForwardProxy": {}, "tls": {"caFile": "/a\n"}})", {"spec.tls.caFile"}},
    };
    for (const auto &c : cases) {
        const auto errors = validateResource(make(c.kind, c.spec));
        EXPECT_EQ(paths(errors, true), joined(c.expectedPaths, true)) << c.spec << "\n" << describe(errors);
        for (const auto &e : errors)
            EXPECT_TRUE(e.message.contains("control characters")) << describe(errors);
    }

    // Policies: realm and identities go into headers and logs.
    Resource policy(parse(R"({"apiVersion": "dfproxy.dev/v1alpha1", "kind": "AuthenticationPolicy",
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"targetRefs": [{"kind": "Gateway", "name": "gw"}],
                 "basic": {"realm": "r\r\nx: y", "users": [{"name": "a\tb", "passwordHash": "$2b$x"}]}}})"));
    const auto errors = validateResource(policy);
    EXPECT_EQ(paths(errors, true), "spec.basic.realm, spec.basic.users[0].name") << describe(errors);

    // A control character in a global block, or in a label, is refused as well.
    Config c;
    c.logging = parse(R"({"accessLog": {"path": "/tmp/a\nb"}})");
    c.dns = parse(R"({"hostsFilePath": "/etc/hosts\u0000"})");
    Resource labelled = make("AgentgatewayBackend", R"({"dynamicForwardProxy": {}})");
    labelled.json().insert("metadata", parse(R"({"name": "x", "namespace": "ns", "labels": {"a": "b\r"}})"));
    c.resources.append(labelled);
    EXPECT_EQ(paths(validateConfig(c), true),
              "dns.hostsFilePath, logging.accessLog.path, resources[0].metadata.labels.a")
        << describe(validateConfig(c));
}

TEST(Validation, AllowsTabInHeaderValuesAndFreeTextInAnnotations)
{
    Resource route = make("HTTPRoute", R"({"rules": [{"matches": [{"headers": [{"name": "x-a", "value": "a\tb"}]}],
        "filters": [{"type": "RequestHeaderModifier",
                     "requestHeaderModifier": {"set": [{"name": "x-a", "value": "a\tb"}]}},
                    {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplaceFullPath",
                                                                   "replaceFullPath": "/a/%20b;c=d@e"}}}]}]})");
    route.json().insert("metadata", parse(R"({"name": "x", "namespace": "ns",
                                              "annotations": {"description": "line one\nline two"}})"));
    const auto errors = validateResource(route);
    EXPECT_TRUE(errors.isEmpty()) << describe(errors);
}

TEST(Validation, RefusesBadPacAnnotationsOfAGatewayWithTheAnnotationPath)
{
    Resource gw = make("Gateway", R"({"listeners": [{"name": "a", "port": 80, "protocol": "HTTP"}]})");
    gw.json().insert("metadata", parse(R"({"name": "x", "namespace": "ns", "annotations": {
        "dfproxy.dev/pac-fail-mode": "Closed", "dfproxy.dev/pac-bypass": "localhost, 10.1/8",
        "dfproxy.dev/pac-max-age": "-1"}})"));
    const auto errors = validateResource(gw);
    EXPECT_EQ(paths(errors, true), "metadata.annotations[dfproxy.dev/pac-bypass], "
                                   "metadata.annotations[dfproxy.dev/pac-fail-mode], "
                                   "metadata.annotations[dfproxy.dev/pac-max-age]")
        << describe(errors);

    gw.json().insert("metadata", parse(R"({"name": "x", "namespace": "ns", "annotations": {
        "dfproxy.dev/pac-fail-mode": "open", "dfproxy.dev/pac-bypass": "<local>, *.corp.example, 10.0.0.0/8",
        "dfproxy.dev/pac-max-age": "60"}})"));
    EXPECT_TRUE(validateResource(gw).isEmpty()) << describe(validateResource(gw));
}

// Only the native engine speaks to upstream proxies: a tunnel policy on a qnam backend is refused at apply time.
TEST(ValidationConfig, RefusesAnUpstreamProxyOnAQnamBackend)
{
    Config c;
    c.resources.append(make("AgentgatewayBackend", R"({"engine": "qnam", "dynamicForwardProxy": {}})"));
    c.resources.append(Resource(QJsonObject{
        {"apiVersion", "agentgateway.dev/v1alpha1"},
        {"kind", "AgentgatewayPolicy"},
        {"metadata", QJsonObject{{"name", "corp"}, {"namespace", "ns"}}},
        {"spec", parse(R"({"targetRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "x"}],
                          "backend": {"tunnel": {"url": "http://proxy.corp.example:3128"}}})")}}));
    auto errors = validateConfig(c);
    EXPECT_EQ(paths(errors), "resources[1].spec.backend.tunnel") << describe(errors);
    ASSERT_FALSE(errors.isEmpty());
    EXPECT_TRUE(errors[0].message.contains("engine: qnam")) << errors[0].message.toStdString();
    c.resources[0] = make("AgentgatewayBackend", R"({"dynamicForwardProxy": {}})");
    errors = validateConfig(c);
    EXPECT_TRUE(errors.isEmpty()) << describe(errors);
}
