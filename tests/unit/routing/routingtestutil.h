// SPDX-License-Identifier: Apache-2.0
#pragma once
// Compact builders for routing tests: resources from JSON text, requests for the gateway "gw/gw".

#include "config/config.h"
#include "routing/routetable.h"

#include <QJsonDocument>

#include <gtest/gtest.h>

namespace dfproxy::routing::testutil {

inline QJsonObject parse(const QByteArray &text)
{
    QJsonParseError e;
    const auto doc = QJsonDocument::fromJson(text, &e);
    EXPECT_EQ(e.error, QJsonParseError::NoError) << e.errorString().toStdString() << " in " << text.toStdString();
    return doc.object();
}

inline config::Resource gateway(const QByteArray &specJson, const QString &ns = "gw", const QString &name = "gw")
{
    return config::Resource(QJsonObject{{"apiVersion", "gateway.networking.k8s.io/v1"},
                                        {"kind", "Gateway"},
                                        {"metadata", QJsonObject{{"name", name}, {"namespace", ns}}},
                                        {"spec", parse(specJson)}});
}

/// A Gateway gw/gw with one HTTP listener "http" on 8080 (any hostname).
inline config::Resource defaultGateway()
{
    return gateway(R"({"gatewayClassName": "agentgateway",
                       "listeners": [{"name": "http", "protocol": "HTTP", "port": 8080}]})");
}

inline config::Resource route(const QString &ns, const QString &name, const QByteArray &specJson,
                              const QString &creationTimestamp = {})
{
    QJsonObject meta{{"name", name}, {"namespace", ns}};
    if (!creationTimestamp.isEmpty())
        meta.insert("creationTimestamp", creationTimestamp);
    return config::Resource(QJsonObject{{"apiVersion", "gateway.networking.k8s.io/v1"},
                                        {"kind", "HTTPRoute"},
                                        {"metadata", meta},
                                        {"spec", parse(specJson)}});
}

inline config::Resource backend(const QString &ns, const QString &name, const QByteArray &specJson =
                                                                            R"({"dynamicForwardProxy": {}})")
{
    return config::Resource(QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                                        {"kind", "AgentgatewayBackend"},
                                        {"metadata", QJsonObject{{"name", name}, {"namespace", ns}}},
                                        {"spec", parse(specJson)}});
}

inline config::Config configOf(const QList<config::Resource> &resources)
{
    config::Config c;
    c.resources = resources;
    return c;
}

/// A rule sending everything matching `matchesJson` (a JSON array, may be "[]") to backend `backendName` in the
/// route's namespace.
inline QByteArray rule(const QByteArray &matchesJson, const QByteArray &backendName)
{
    return R"({"matches": )" + matchesJson + R"(, "backendRefs": [{"name": ")" + backendName + R"("}]})";
}

/// A route spec attached to gw/gw with the given rules (JSON objects joined by commas) and hostnames.
inline QByteArray routeSpec(const QByteArray &rules, const QByteArray &hostnames = "[]")
{
    return R"({"parentRefs": [{"name": "gw", "namespace": "gw"}], "hostnames": )" + hostnames + R"(, "rules": [)"
           + rules + "]}";
}

struct Request
{
    // RequestInfo only views a request: these hold what it points at.
    QByteArray method, path, query, host;
    HeaderList headers;
    RequestInfo info;
    Request(const Request &) = delete;
    Request(const QByteArray &m, const QByteArray &p, const QString &h = "example.com", const HeaderList &hs = {},
            const QByteArray &q = {})
        : method(m), path(p), query(q), host(h.toUtf8()), headers(hs)
    {
        info.gatewayNamespace = "gw";
        info.gatewayName = "gw";
        info.listenerName = "http";
        info.method = method;
        info.path = path;
        info.query = query;
        info.host = host;
        info.headers = &headers;
    }
};

/// The backend name the request reaches, "<no route>" or "<no backend>".
inline QString target(const RouteTable &table, const Request &r, double random = 0.0)
{
    const auto m = table.match(r.info, random);
    if (!m)
        return "<no route>";
    if (!m->backend)
        return "<no backend>";
    return m->backend->name;
}

} // namespace dfproxy::routing::testutil
