// SPDX-License-Identifier: Apache-2.0
#pragma once
// The whole config document (global blocks and resources) and its JSON codec.

#include "config/resource.h"

#include <QByteArray>

namespace dfproxy::config {

/// The whole configuration, as stored in the config file:
///
///   { "apiVersion": "dfproxy.dev/v1", "kind": "Config",
///     "admin": {"address": "127.0.0.1", "port": 15000},
///     "dns":   {"servers": ["127.0.0.53"], ...},          // see docs/configuration.md
///     "proxy": {"workers": 0, ...},
///     "resources": [ {Gateway}, {HTTPRoute}, {AgentgatewayBackend}, ... ] }
///
/// Global blocks are kept as JSON and read by the area that owns them (dns/, proxy/, admin/).
struct Config
{
    QJsonObject admin;
    QJsonObject dns;
    QJsonObject proxy;
    QJsonObject logging;
    QList<Resource> resources;

    QJsonObject toJson() const;
    /// Parses a config document. Errors name the field ("resources[2].metadata.name").
    static Config fromJson(const QJsonObject &doc, QList<FieldError> *errors);
    /// Parses the UTF-8 JSON text of a config file.
    static Config fromJsonText(const QByteArray &text, QList<FieldError> *errors);

    const Resource *find(const ResourceKey &key) const;
    QList<const Resource *> ofKind(const QString &kind) const;
};

} // namespace dfproxy::config
