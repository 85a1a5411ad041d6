// SPDX-License-Identifier: Apache-2.0
#include "api/resourceapi.h"

#include "api/agentgatewayexport.h"

#include "config/yaml.h"

#include <QJsonArray>

namespace dfproxy::admin {

namespace {

using config::KindInfo;
using config::ResourceKey;

// The path names a kind by its plural ("backends") or, as kubectl users type them, an alias ("agentgatewaybackends").
std::optional<KindInfo> kindForPlural(const QString &plural)
{
    return config::findKind(plural);
}

ApiResponse unknownPlural(const QString &plural)
{
    QStringList plurals;
    for (const auto &k : config::knownKinds())
        plurals.append(k.plural);
    return ApiResponse::problem(
        404, QStringLiteral("unknown resource type \"%1\"; known: %2").arg(plural, plurals.join(", ")));
}

QString apiVersionOf(const KindInfo &k)
{
    return k.group + "/" + k.defaultVersion;
}

// Fills kind and apiVersion when the client left them out, and rejects a body that names another kind.
std::optional<ApiResponse> checkKind(QJsonObject &obj, const KindInfo &k)
{
    const QString kind = obj.value("kind").toString();
    if (kind.isEmpty())
        obj.insert("kind", k.kind);
    else if (kind != k.kind)
        return ApiResponse::problem(400, QStringLiteral("the body is a %1, but the path is for %2").arg(kind, k.plural));
    if (obj.value("apiVersion").toString().isEmpty())
        obj.insert("apiVersion", apiVersionOf(k));
    return std::nullopt;
}

QString stripQuotes(QByteArray v)
{
    v = v.trimmed();
    if (v.startsWith("W/"))
        v = v.mid(2);
    if (v.size() >= 2 && v.startsWith('"') && v.endsWith('"'))
        v = v.mid(1, v.size() - 2);
    return QString::fromLatin1(v);
}

config::WriteOptions writeOptions(const ApiRequest &req)
{
    config::WriteOptions o;
    o.dryRun = req.dryRun();
    o.ifMatch = stripQuotes(req.header("If-Match"));
    if (o.ifMatch == "*")
        o.ifMatch.clear();
    return o;
}

ApiResponse withEtag(ApiResponse r, const config::Resource &res)
{
    const QString rv = res.metadata().value("resourceVersion").toString();
    if (!rv.isEmpty())
        r.addHeader("ETag", "\"" + rv.toLatin1() + "\"");
    return r;
}

} // namespace

QJsonObject ResourceApi::present(const config::Resource &resource) const
{
    QJsonObject obj = resource.json();
    obj.remove("status");
    if (m_statusProvider) {
        const QJsonObject status = m_statusProvider(m_store->config(), resource);
        if (!status.isEmpty())
            obj.insert("status", status);
    }
    return obj;
}

void ResourceApi::registerRoutes(ApiRouter &router)
{
    const QString base = QStringLiteral("/api/v1");
    const QString item = base + "/namespaces/{namespace}/{plural}/{name}";
    router.add("GET", base + "/{plural}", [this](const ApiRequest &r) { return list(r, r.query.queryItemValue("namespace")); });
    router.add("POST", base + "/{plural}", [this](const ApiRequest &r) { return create(r, {}); });
    router.add("GET", base + "/namespaces/{namespace}/{plural}",
               [this](const ApiRequest &r) { return list(r, r.params.value("namespace")); });
    router.add("POST", base + "/namespaces/{namespace}/{plural}",
               [this](const ApiRequest &r) { return create(r, r.params.value("namespace")); });
    router.add("GET", item, [this](const ApiRequest &r) { return get(r); });
    router.add("PUT", item, [this](const ApiRequest &r) { return replace(r); });
    router.add("PATCH", item, [this](const ApiRequest &r) { return patch(r); });
    router.add("DELETE", item, [this](const ApiRequest &r) { return remove(r); });
    router.add("POST", base + "/apply", [this](const ApiRequest &r) { return apply(r); });
    router.add("GET", base + "/export", [this](const ApiRequest &r) { return exportAll(r); });
}

ApiResponse ResourceApi::list(const ApiRequest &req, const QString &ns)
{
    const auto kind = kindForPlural(req.params.value("plural"));
    if (!kind)
        return unknownPlural(req.params.value("plural"));
    auto result = m_store->list(kind->kind, ns, req.query.queryItemValue("labelSelector"));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    const QList<config::Resource> &all = *result.value;

    // Pagination: `continue` is the opaque position (index into the sorted list, tied to the resourceVersion).
    int start = 0;
    const QString cont = req.query.queryItemValue("continue");
    if (!cont.isEmpty()) {
        const QStringList parts = QString::fromLatin1(QByteArray::fromBase64(cont.toLatin1(), QByteArray::Base64UrlEncoding)).split(':');
        bool ok = parts.size() == 2;
        if (ok)
            start = parts[1].toInt(&ok);
        if (!ok || start < 0)
            return ApiResponse::problem(400, QStringLiteral("invalid continue token"));
        if (parts[0] != m_store->resourceVersion())
            return ApiResponse::problem(410,
                                        QStringLiteral("the list changed since the continue token was issued; list again"));
    }
    int limit = 0;
    if (const QString l = req.query.queryItemValue("limit"); !l.isEmpty()) {
        bool ok = false;
        limit = l.toInt(&ok);
        if (!ok || limit < 0)
            return ApiResponse::problem(400, QStringLiteral("limit must be a non-negative integer"));
    }
    QJsonArray items;
    int end = static_cast<int>(all.size());
    if (limit > 0)
        end = std::min(end, start + limit);
    for (int i = start; i < end; ++i)
        items.append(present(all[i]));
    QJsonObject md{{"resourceVersion", m_store->resourceVersion()}};
    if (end < all.size()) {
        md.insert("continue", QString::fromLatin1(QStringLiteral("%1:%2").arg(m_store->resourceVersion()).arg(end)
                                                      .toLatin1().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals)));
        md.insert("remainingItemCount", static_cast<int>(all.size()) - end);
    }
    return ApiResponse::json(QJsonObject{{"apiVersion", apiVersionOf(*kind)},
                                         {"kind", kind->kind + "List"},
                                         {"metadata", md},
                                         {"items", items}});
}

ApiResponse ResourceApi::get(const ApiRequest &req)
{
    const auto kind = kindForPlural(req.params.value("plural"));
    if (!kind)
        return unknownPlural(req.params.value("plural"));
    auto result = m_store->get({kind->kind, req.params.value("namespace"), req.params.value("name")});
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    const auto &res = *result.value;
    if (req.query.queryItemValue("format") == "yaml")
        return withEtag(ApiResponse::raw("application/yaml", config::toYaml(present(res))), res);
    return withEtag(ApiResponse::json(present(res)), res);
}

ApiResponse ResourceApi::create(const ApiRequest &req, const QString &pathNamespace)
{
    const auto kind = kindForPlural(req.params.value("plural"));
    if (!kind)
        return unknownPlural(req.params.value("plural"));
    ApiResponse error;
    auto obj = decodeObjectBody(req, &error);
    if (!obj)
        return error;
    if (auto e = checkKind(*obj, *kind))
        return *e;
    if (!pathNamespace.isEmpty()) {
        auto md = obj->value("metadata").toObject();
        const QString ns = md.value("namespace").toString();
        if (!ns.isEmpty() && ns != pathNamespace)
            return ApiResponse::problem(
                400, QStringLiteral("metadata.namespace \"%1\" does not match the path's namespace \"%2\"").arg(ns, pathNamespace));
        if (obj->value("metadata").isObject()) {
            md.insert("namespace", pathNamespace);
            obj->insert("metadata", md);
        }
    }
    auto result = m_store->create(*obj, writeOptions(req));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    return withEtag(ApiResponse::json(present(*result.value), 201), *result.value);
}

ApiResponse ResourceApi::replace(const ApiRequest &req)
{
    const auto kind = kindForPlural(req.params.value("plural"));
    if (!kind)
        return unknownPlural(req.params.value("plural"));
    ApiResponse error;
    auto obj = decodeObjectBody(req, &error);
    if (!obj)
        return error;
    if (auto e = checkKind(*obj, *kind))
        return *e;
    const ResourceKey key{kind->kind, req.params.value("namespace"), req.params.value("name")};
    auto result = m_store->replace(key, *obj, writeOptions(req));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    return withEtag(ApiResponse::json(present(*result.value)), *result.value);
}

ApiResponse ResourceApi::patch(const ApiRequest &req)
{
    const auto kind = kindForPlural(req.params.value("plural"));
    if (!kind)
        return unknownPlural(req.params.value("plural"));
    if (req.contentType == "application/json-patch+json" || req.contentType == "application/strategic-merge-patch+json")
        return ApiResponse::problem(
            415, QStringLiteral("only JSON merge patch (application/merge-patch+json) is supported"));
    ApiResponse error;
    auto obj = decodeObjectBody(req, &error);
    if (!obj)
        return error;
    const ResourceKey key{kind->kind, req.params.value("namespace"), req.params.value("name")};
    auto result = m_store->patch(key, *obj, writeOptions(req));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    return withEtag(ApiResponse::json(present(*result.value)), *result.value);
}

ApiResponse ResourceApi::remove(const ApiRequest &req)
{
    const auto kind = kindForPlural(req.params.value("plural"));
    if (!kind)
        return unknownPlural(req.params.value("plural"));
    const ResourceKey key{kind->kind, req.params.value("namespace"), req.params.value("name")};
    auto result = m_store->remove(key, writeOptions(req));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    QJsonObject obj = result.value->json();
    obj.remove("status");
    return ApiResponse::json(obj);
}

ApiResponse ResourceApi::apply(const ApiRequest &req)
{
    ApiResponse error;
    auto objects = decodeObjectsBody(req, &error);
    if (!objects)
        return error;
    auto result = m_store->apply(*objects, writeOptions(req));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    QJsonArray results;
    for (const auto &o : *result.value) {
        results.append(QJsonObject{{"apiVersion", o.resource.apiVersion()},
                                   {"kind", o.resource.kind()},
                                   {"namespace", o.resource.ns()},
                                   {"name", o.resource.name()},
                                   {"action", o.actionName()},
                                   {"resourceVersion", o.resource.metadata().value("resourceVersion")}});
    }
    return ApiResponse::json(QJsonObject{{"kind", "ApplyResult"},
                                         {"dryRun", req.dryRun()},
                                         {"resourceVersion", m_store->resourceVersion()},
                                         {"results", results}});
}

ApiResponse ResourceApi::exportAll(const ApiRequest &req)
{
    const QString target = req.query.queryItemValue("for");
    if (target == QLatin1String("agentgateway"))
        return exportForAgentgateway(req);
    if (!target.isEmpty())
        return ApiResponse::problem(400, QStringLiteral("for must be agentgateway (or absent for dfproxy's own "
                                                        "manifests)"));
    auto result = m_store->list({}, req.query.queryItemValue("namespace"), req.query.queryItemValue("labelSelector"));
    if (!result)
        return ApiResponse::fromStoreError(result.error);
    QJsonArray items;
    for (const auto &r : *result.value)
        items.append(config::ConfigStore::stripServerFields(r.json()));
    const QString format = req.query.queryItemValue("format");
    if (format == "yaml" || (format.isEmpty() && req.header("Accept").contains("yaml")))
        return ApiResponse::raw("application/yaml", config::toYamlDocuments(items));
    if (!format.isEmpty() && format != "json")
        return ApiResponse::problem(400, QStringLiteral("format must be json or yaml"));
    return ApiResponse::json(QJsonObject{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}});
}

// The objects an agentgateway cluster accepts (api/agentgatewayexport.h). JSON: a List with `notExported` (object,
// field, reason); YAML: the same list as comments before the documents, so the output still pipes into kubectl.
ApiResponse ResourceApi::exportForAgentgateway(const ApiRequest &req)
{
    const QString ns = req.query.queryItemValue("namespace");
    config::Config selected = m_store->config();
    if (!ns.isEmpty() || !req.query.queryItemValue("labelSelector").isEmpty()) {
        auto result = m_store->list({}, ns, req.query.queryItemValue("labelSelector"));
        if (!result)
            return ApiResponse::fromStoreError(result.error);
        QList<config::ResourceKey> keep;
        for (const auto &r : *result.value)
            keep.append(r.key());
        selected.resources.removeIf([&](const config::Resource &r) { return !keep.contains(r.key()); });
    }
    const AgentgatewayExport out = admin::exportForAgentgateway(selected);
    const QString format = req.query.queryItemValue("format");
    if (format == "yaml" || (format.isEmpty() && req.header("Accept").contains("yaml"))) {
        QByteArray text;
        for (const auto &n : out.notExported)
            text += "# not exported: " + n.toString().toUtf8().replace('\n', ' ') + '\n';
        return ApiResponse::raw("application/yaml", text + config::toYamlDocuments(out.items));
    }
    if (!format.isEmpty() && format != "json")
        return ApiResponse::problem(400, QStringLiteral("format must be json or yaml"));
    QJsonArray notExported;
    for (const auto &n : out.notExported)
        notExported.append(QJsonObject{{"object", n.object}, {"field", n.field}, {"reason", n.reason}});
    return ApiResponse::json(
        QJsonObject{{"apiVersion", "v1"}, {"kind", "List"}, {"items", out.items}, {"notExported", notExported}});
}

} // namespace dfproxy::admin
