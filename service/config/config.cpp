// SPDX-License-Identifier: Apache-2.0
#include "config/config.h"

#include <QJsonDocument>
#include <QJsonParseError>

namespace dfproxy::config {

QJsonObject Config::toJson() const
{
    QJsonObject doc{{"apiVersion", "dfproxy.dev/v1"}, {"kind", "Config"}};
    if (!admin.isEmpty())
        doc.insert("admin", admin);
    if (!dns.isEmpty())
        doc.insert("dns", dns);
    if (!proxy.isEmpty())
        doc.insert("proxy", proxy);
    if (!logging.isEmpty())
        doc.insert("logging", logging);
    QJsonArray arr;
    for (const auto &r : resources)
        arr.append(r.json());
    doc.insert("resources", arr);
    return doc;
}

Config Config::fromJson(const QJsonObject &doc, QList<FieldError> *errors)
{
    Config c;
    auto block = [&](const char *name, QJsonObject &out) {
        const auto v = doc.value(QLatin1String(name));
        if (v.isUndefined() || v.isNull())
            return;
        if (!v.isObject()) {
            if (errors)
                errors->append(FieldError{QLatin1String(name), "must be an object"});
            return;
        }
        out = v.toObject();
    };
    block("admin", c.admin);
    block("dns", c.dns);
    block("proxy", c.proxy);
    block("logging", c.logging);
    const auto res = doc.value("resources");
    if (!res.isUndefined() && !res.isArray()) {
        if (errors)
            errors->append(FieldError{"resources", "must be an array"});
        return c;
    }
    const auto arr = res.toArray();
    for (int i = 0; i < arr.size(); ++i) {
        const QString prefix = QStringLiteral("resources[%1]").arg(i);
        if (!arr[i].isObject()) {
            if (errors)
                errors->append(FieldError{prefix, "must be an object"});
            continue;
        }
        Resource r(arr[i].toObject());
        const auto envErrors = r.validateEnvelope();
        if (!envErrors.isEmpty()) {
            if (errors) {
                for (const auto &e : envErrors)
                    errors->append(FieldError{prefix + "." + e.path, e.message});
            }
            continue;
        }
        if (c.find(r.key())) {
            if (errors)
                errors->append(FieldError{prefix, QStringLiteral("duplicate %1").arg(r.key().toString())});
            continue;
        }
        c.resources.append(std::move(r));
    }
    return c;
}

Config Config::fromJsonText(const QByteArray &text, QList<FieldError> *errors)
{
    QJsonParseError pe;
    const auto doc = QJsonDocument::fromJson(text, &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject()) {
        if (errors)
            errors->append(FieldError{"", pe.error != QJsonParseError::NoError
                                    ? QStringLiteral("invalid JSON at offset %1: %2").arg(pe.offset).arg(pe.errorString())
                                    : QStringLiteral("the document must be a JSON object")});
        return {};
    }
    return fromJson(doc.object(), errors);
}

const Resource *Config::find(const ResourceKey &key) const
{
    for (const auto &r : resources) {
        if (r.key() == key)
            return &r;
    }
    return nullptr;
}

QList<const Resource *> Config::ofKind(const QString &kind) const
{
    QList<const Resource *> out;
    for (const auto &r : resources) {
        if (r.kind() == kind)
            out.append(&r);
    }
    return out;
}

} // namespace dfproxy::config
