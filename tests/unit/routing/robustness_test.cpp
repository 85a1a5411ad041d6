// SPDX-License-Identifier: Apache-2.0
// Bad input never crashes: every field of valid resources is replaced by values of every JSON type, and the result
// goes through validation, RouteTable::build, match and status.
#include "config/validation.h"
#include "routing/status.h"
#include "routingtestutil.h"

#include <QJsonArray>

#include <gtest/gtest.h>

#include <functional>

using namespace dfproxy;
using namespace dfproxy::routing;
using namespace dfproxy::routing::testutil;

namespace {

const QList<QJsonValue> kReplacements = {QJsonValue(), QJsonValue(0), QJsonValue(-1), QJsonValue(1e20),
                                         QJsonValue(0.5), QJsonValue(""), QJsonValue("x"), QJsonValue(true),
                                         QJsonArray{}, QJsonArray{1, "a"}, QJsonObject{},
                                         QJsonObject{{"zz", 1}}};

// Calls `visit` with a copy of `root` in which one value (found by walking objects and arrays) is replaced.
void forEachMutation(const QJsonValue &root, const std::function<void(const QJsonValue &)> &visit)
{
    for (const auto &r : kReplacements)
        visit(r);
    if (root.isObject()) {
        const QJsonObject o = root.toObject();
        for (auto it = o.begin(); it != o.end(); ++it) {
            forEachMutation(it.value(), [&](const QJsonValue &child) {
                QJsonObject copy = o;
                copy.insert(it.key(), child);
                visit(copy);
            });
        }
    } else if (root.isArray()) {
        const QJsonArray a = root.toArray();
        for (qsizetype i = 0; i < a.size(); ++i) {
            forEachMutation(a[i], [&](const QJsonValue &child) {
                QJsonArray copy = a;
                copy.replace(i, child);
                visit(copy);
            });
        }
    }
}

} // namespace

TEST(Robustness, MutatedResourcesNeverCrashAnyStage)
{
    const QList<config::Resource> valid = {
        gateway(R"({"gatewayClassName": "c", "addresses": [{"type": "IPAddress", "value": "127.0.0.1"}],
                    "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080, "hostname": "*.test",
                                   "allowedConnectPorts": [443], "allowedRoutes": {"namespaces": {"from": "All"}}},
                                  {"name": "https", "protocol": "HTTPS", "port": 8443,
                                   "tls": {"certFile": "c", "keyFile": "k"}}]})"),
        route("app", "r", R"({"parentRefs": [{"name": "gw", "namespace": "gw", "sectionName": "http", "port": 8080}],
            "hostnames": ["a.test"],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/a"}, "method": "GET",
                                     "headers": [{"type": "Exact", "name": "x", "value": "1"}],
                                     "queryParams": [{"type": "RegularExpression", "name": "q", "value": "a+"}]}],
                       "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {
                                        "set": [{"name": "a", "value": "b"}], "remove": ["c"]}},
                                   {"type": "URLRewrite", "urlRewrite": {"hostname": "h.test",
                                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/b"}}}],
                       "backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "b",
                                        "namespace": "app", "weight": 2}],
                       "timeouts": {"request": "10s", "backendRequest": "1s"}},
                      {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https",
                                        "port": 443, "statusCode": 301,
                                        "path": {"type": "ReplaceFullPath", "replaceFullPath": "/x"}}}]}]})"),
        backend("app", "b", R"({"static": {"host": "h.test", "port": 80}, "tls": {"sni": "s.test",
                                "insecureSkipVerify": false, "caFile": "f"}, "dns": {"lookupFamily": "All"},
                                "engine": "native"})"),
        config::Resource(parse(R"({"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayPolicy",
            "metadata": {"name": "p", "namespace": "gw", "annotations": {
                "dfproxy.dev/tunnel-bypass": "<local>, *.corp", "dfproxy.dev/tunnel-credentials-file": "/c"}},
            "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"}],
                     "traffic": {"rateLimit": {"local": [{"requests": 2, "unit": "Seconds", "burst": 1}]},
                                 "basicAuthentication": {"users": ["a:$6$x$y"], "mode": "Optional"},
                                 "jwtAuthentication": {"providers": [{"issuer": "i", "jwks": {"inline": "{\"keys\": []}"}}]},
                                 "authorization": {"action": "Deny", "policy": {"matchExpressions": [
                                     "request.headers['x'].matches('^a+$') || jwt.sub in ['a', 1]"]}},
                                 "timeouts": {"request": "1s"},
                                 "headerModifiers": {"request": {"set": [{"name": "a", "value": "b"}]}}},
                     "frontend": {"connect": {"mode": "Deny"}},
                     "backend": {"tunnel": {"url": "http://p.corp:3128"}, "tls": {"sni": "s.test"}}}})")),
    };
    for (const auto &e : config::validateConfig(configOf(valid)))
        ADD_FAILURE() << "the starting point must be valid: " << e.path.toStdString() << ": " << e.message.toStdString();
    int runs = 0;
    for (int i = 0; i < valid.size(); ++i) {
        forEachMutation(valid[i].json(), [&](const QJsonValue &mutated) {
            QList<config::Resource> resources = valid;
            resources[i] = config::Resource(mutated.toObject());
            const auto c = configOf(resources);
            config::validateConfig(c);
            const auto table = RouteTable::build(c);
            HeaderList headers{{"x", "1"}};
            RequestInfo req;
            req.gatewayNamespace = "gw";
            req.gatewayName = "gw";
            req.listenerName = "http";
            req.method = "GET";
            req.path = "/a/b";
            req.query = "q=aa&%zz=1&=&&";
            req.host = "a.test";
            req.headers = &headers;
            table->match(req, 0.5);
            for (const auto &r : resources)
                resourceStatus(c, r);
            ++runs;
        });
    }
    EXPECT_GT(runs, 1000);
}
