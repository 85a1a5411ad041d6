// SPDX-License-Identifier: Apache-2.0
// The OpenAPI document (resources/openapi.json) and the routes the server registers must agree both ways.
#include "api/applicationsapi.h"
#include "api/dnsapi.h"
#include "api/systemproxyapi.h"
#include "api/telemetryapi.h"
#include "config/resource.h"
#include "dns/dnshostcache.h"
#include "server/adminserver.h"
#include "support/binaries.h"
#include "telemetry/accesslogger.h"
#include "telemetry/applicationstats.h"
#include "telemetry/metrics.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
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
    admin::registerSystemProxyApi(server, &store, nullptr); // its handlers are not called here
    telemetry::ApplicationStats applications;
    admin::registerApplicationsApi(server, &applications, &logger);

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

namespace {

// Every `enum` under a parameter named `name` anywhere in the document, with where it is.
void collectParameterEnums(const QJsonValue &v, const QString &name, const QString &where,
                           QList<QPair<QString, QStringList>> *out)
{
    if (v.isArray()) {
        const QJsonArray a = v.toArray();
        for (int i = 0; i < a.size(); ++i)
            collectParameterEnums(a[i], name, QStringLiteral("%1[%2]").arg(where).arg(i), out);
        return;
    }
    if (!v.isObject())
        return;
    const QJsonObject o = v.toObject();
    if (o.value("name").toString() == name && o.value("in").toString() == "path") {
        QStringList values;
        for (const auto &e : o.value("schema").toObject().value("enum").toArray())
            values.append(e.toString());
        out->append({where, values});
    }
    for (auto it = o.begin(); it != o.end(); ++it)
        collectParameterEnums(it.value(), name, where + "." + it.key(), out);
}

QJsonObject openApiDocument()
{
    QFile f(QStringLiteral(":/dfproxy/openapi.json"));
    return f.open(QIODevice::ReadOnly) ? QJsonDocument::fromJson(f.readAll()).object() : QJsonObject{};
}

} // namespace

// The {plural} of the resource routes takes every name the kind registry answers to (config::findKind): each
// plural and each short name, nothing else. The document used to list only gateways, httproutes and backends.
TEST(OpenApi, ThePluralParameterListsEveryNameOfEveryKind)
{
    QStringList accepted;
    for (const auto &k : config::knownKinds()) {
        accepted.append(k.plural);
        for (const auto &alias : k.aliases) {
            if (!accepted.contains(alias))
                accepted.append(alias);
        }
    }
    QList<QPair<QString, QStringList>> enums;
    collectParameterEnums(openApiDocument().value("paths"), "plural", "paths", &enums);
    ASSERT_EQ(enums.size(), 3) << "one {plural} parameter per resource path";
    for (const auto &[where, values] : enums) {
        EXPECT_EQ(values.join(", ").toStdString(), accepted.join(", ").toStdString()) << where.toStdString();
        for (const auto &v : values)
            EXPECT_TRUE(config::findKind(v).has_value()) << where.toStdString() << ": " << v.toStdString();
    }
}

// The Object schema's kind enum is the registry's kinds.
TEST(OpenApi, TheObjectSchemaListsEveryKind)
{
    QStringList kinds;
    for (const auto &k : config::knownKinds())
        kinds.append(k.kind);
    QStringList documented;
    const QJsonObject object =
        openApiDocument().value("components").toObject().value("schemas").toObject().value("Object").toObject();
    for (const auto &v : object.value("properties").toObject().value("kind").toObject().value("enum").toArray())
        documented.append(v.toString());
    EXPECT_EQ(documented.join(", ").toStdString(), kinds.join(", ").toStdString());
}

namespace {

QString readSourceFile(const QString &relative)
{
    QFile f(test::sourceDir() + "/" + relative);
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

// The routes of an admin server with every API dfproxy's main() registers.
QSet<QString> registeredRoutes()
{
    QTemporaryDir dir;
    config::ConfigStore store;
    store.load(dir.filePath("config.json"));
    admin::AdminServer server(&store);
    dns::DnsHostCache cache(dns::DnsHostCache::Options{});
    admin::registerDnsApi(server, &cache);
    telemetry::AccessLogger logger;
    telemetry::MetricsRegistry metrics;
    admin::registerTelemetryApi(server, &logger, &metrics);
    admin::registerSystemProxyApi(server, &store, nullptr); // its handlers are not called here
    static telemetry::ApplicationStats applications;
    admin::registerApplicationsApi(server, &applications, &logger);
    QSet<QString> out;
    for (const auto &[method, pattern] : server.routes())
        out.insert(QString::fromLatin1(method) + " " + pattern);
    return out;
}

} // namespace

// docs/admin-api.md's "Routes" table ("| `GET` | `/path` | ...") lists exactly the registered routes, and the page
// names every kind's plural and short name. It used to omit five routes and the policy plurals.
TEST(AdminApiDoc, ListsEveryRouteAndEveryKindName)
{
    const QString page = readSourceFile("docs/admin-api.md");
    ASSERT_FALSE(page.isEmpty()) << "cannot read docs/admin-api.md under " << test::sourceDir().toStdString();
    static const QRegularExpression row(QStringLiteral("^\\| `([A-Z]+)` \\| `([^`]+)` \\|"),
                                        QRegularExpression::MultilineOption);
    QSet<QString> documented;
    for (auto it = row.globalMatch(page); it.hasNext();) {
        const auto m = it.next();
        documented.insert(m.captured(1) + " " + m.captured(2));
    }
    const QSet<QString> registered = registeredRoutes();
    QStringList undocumented(registered.cbegin(), registered.cend()), stale(documented.cbegin(), documented.cend());
    undocumented.removeIf([&](const QString &r) { return documented.contains(r); });
    stale.removeIf([&](const QString &r) { return registered.contains(r); });
    undocumented.sort();
    stale.sort();
    EXPECT_TRUE(undocumented.isEmpty()) << "registered but not in docs/admin-api.md's Routes table: "
                                        << undocumented.join(", ").toStdString();
    EXPECT_TRUE(stale.isEmpty()) << "in docs/admin-api.md's Routes table but not registered: "
                                 << stale.join(", ").toStdString();
    for (const auto &k : config::knownKinds()) {
        for (const QString &name : QStringList{k.plural} + k.aliases)
            EXPECT_TRUE(page.contains("`" + name + "`"))
                << "docs/admin-api.md does not name `" << name.toStdString() << "` (" << k.kind.toStdString() << ")";
    }
}
