// SPDX-License-Identifier: Apache-2.0
// The OpenAPI document (resources/openapi.json) and the routes the server registers must agree both ways.
#include "api/dnsapi.h"
#include "api/telemetryapi.h"
#include "dns/dnshostcache.h"
#include "server/adminserver.h"
#include "telemetry/accesslogger.h"
#include "telemetry/metrics.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace dfproxy;

namespace {

QSet<QString> documentedRoutes(const QJsonObject &doc)
{
    static const QStringList methods{"get", "put", "post", "patch", "delete", "head", "options"};
    QSet<QString> out;
    const QJsonObject paths = doc.value("paths").toObject();
    for (auto it = paths.begin(); it != paths.end(); ++it) {
        const QJsonObject item = it.value().toObject();
        for (const auto &m : methods) {
            if (item.contains(m))
                out.insert(m.toUpper() + " " + it.key());
        }
    }
    return out;
}

} // namespace

TEST(OpenApi, DocumentsExactlyTheRegisteredRoutes)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    config::ConfigStore store;
    store.load(dir.filePath("config.json"));
    admin::AdminServer server(&store);
    dns::DnsHostCache cache(dns::DnsHostCache::Options{});
    admin::registerDnsApi(server, &cache);
    telemetry::AccessLogger logger;
    telemetry::MetricsRegistry metrics;
    admin::registerTelemetryApi(server, &logger, &metrics);

    QFile f(QStringLiteral(":/dfproxy/openapi.json"));
    ASSERT_TRUE(f.open(QIODevice::ReadOnly)) << "the OpenAPI document is not compiled in";
    QJsonParseError pe;
    const auto doc = QJsonDocument::fromJson(f.readAll(), &pe);
    ASSERT_EQ(pe.error, QJsonParseError::NoError) << pe.errorString().toStdString();
    EXPECT_TRUE(doc.object().value("openapi").toString().startsWith("3."));

    const QSet<QString> documented = documentedRoutes(doc.object());
    QSet<QString> registered;
    for (const auto &[method, pattern] : server.routes())
        registered.insert(QString::fromLatin1(method) + " " + pattern);

    QStringList undocumented, missing;
    for (const auto &r : registered) {
        if (!documented.contains(r))
            undocumented.append(r);
    }
    for (const auto &d : documented) {
        if (!registered.contains(d))
            missing.append(d);
    }
    undocumented.sort();
    missing.sort();
    EXPECT_TRUE(undocumented.isEmpty()) << "registered but not documented in resources/openapi.json: "
                                        << undocumented.join(", ").toStdString();
    EXPECT_TRUE(missing.isEmpty()) << "documented in resources/openapi.json but not registered: "
                                   << missing.join(", ").toStdString();
}

TEST(OpenApi, EveryOperationHasASummaryAndResponses)
{
    config::ConfigStore store;
    admin::AdminServer server(&store); // registers the resources
    QFile f(QStringLiteral(":/dfproxy/openapi.json"));
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    const QJsonObject paths = QJsonDocument::fromJson(f.readAll()).object().value("paths").toObject();
    for (auto it = paths.begin(); it != paths.end(); ++it) {
        const QJsonObject item = it.value().toObject();
        for (auto op = item.begin(); op != item.end(); ++op) {
            if (op.key() == "parameters")
                continue;
            const QJsonObject o = op.value().toObject();
            EXPECT_FALSE(o.value("summary").toString().isEmpty()) << op.key().toStdString() << " " << it.key().toStdString();
            EXPECT_FALSE(o.value("responses").toObject().isEmpty()) << op.key().toStdString() << " " << it.key().toStdString();
        }
    }
}
