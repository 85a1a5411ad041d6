// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "config/config.h"
#include "policy/policy.h"

#include <QJsonDocument>

#include <gtest/gtest.h>

namespace dfproxy::policy::test {

inline QJsonObject json(const QByteArray &text)
{
    QJsonParseError e;
    const auto doc = QJsonDocument::fromJson(text, &e);
    EXPECT_EQ(e.error, QJsonParseError::NoError) << e.errorString().toStdString() << " in " << text.toStdString();
    return doc.object();
}

inline config::Resource makePolicy(const char *kind, const QString &ns, const QString &name, const QJsonObject &spec,
                               const QString &created = {})
{
    QJsonObject md{{"name", name}, {"namespace", ns}};
    if (!created.isEmpty())
        md.insert("creationTimestamp", created);
    return config::Resource(QJsonObject{{"apiVersion", "dfproxy.dev/v1alpha1"},
                                        {"kind", QString::fromLatin1(kind)},
                                        {"metadata", md},
                                        {"spec", spec}});
}

/// The default Gateway (agentgateway-system/agentgateway-proxy, listener "http" on 127.0.0.1:8080) and admin on
/// 127.0.0.1:15000, plus `resources`.
inline config::Config baseConfig(const QList<config::Resource> &resources = {}, const QJsonObject &proxy = {})
{
    config::Config c;
    c.admin = QJsonObject{{"address", "127.0.0.1"}, {"port", 15000}};
    c.proxy = proxy;
    c.resources.append(config::Resource(json(R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway",
        "metadata":{"name":"agentgateway-proxy","namespace":"agentgateway-system"},
        "spec":{"gatewayClassName":"agentgateway","listeners":[{"name":"http","protocol":"HTTP","port":8080}]}})")));
    c.resources += resources;
    return c;
}

/// A request through the seed scenario's route and backend.
struct Request
{
    HeaderList headers;
    RequestAttributes attrs;
    Request()
    {
        attrs.clientAddress = QHostAddress(QStringLiteral("127.0.0.1"));
        attrs.gatewayNamespace = "agentgateway-system";
        attrs.gatewayName = "agentgateway-proxy";
        attrs.listenerName = "http";
        attrs.routeNamespace = "httpbin";
        attrs.routeName = "dfp-httproute";
        attrs.backendNamespace = "httpbin";
        attrs.backendName = "dfp-backend";
        attrs.method = "GET";
        attrs.host = "httpbin.test";
        attrs.port = 80;
        attrs.path = "/get";
        attrs.headers = &headers;
    }
    Request &header(const QByteArray &name, const QByteArray &value)
    {
        headers.append({name, value});
        return *this;
    }
    const RequestAttributes &operator*() const { return attrs; }
};

inline QByteArray headerOf(const Decision &d, const QByteArray &name)
{
    for (const auto &h : d.responseHeaders) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return {};
}

} // namespace dfproxy::policy::test
