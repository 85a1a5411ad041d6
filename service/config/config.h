// SPDX-License-Identifier: Apache-2.0
#pragma once
// The whole config document (global blocks and resources) and its JSON codec.

#include "config/parsedblocks.h"
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
/// Global blocks are kept as JSON (what is stored and served) and, once a version is validated, also in their typed
/// form (`parsed`): the areas that run them read that, never the JSON again.
struct Config
{
    QJsonObject admin;
    QJsonObject dns;
    QJsonObject proxy;
    QJsonObject logging;
    QList<Resource> resources;
    /// The global blocks parsed by the store's validator (ConfigStore::setConfigValidator) when this version was
    /// validated. Not part of the document (toJson()).
    ParsedBlocks parsed;

    QJsonObject toJson() const;
    /// Parses a config document. Errors name the field ("resources[2].metadata.name").
    static Config fromJson(const QJsonObject &doc, QList<FieldError> *errors);
    /// Parses the UTF-8 JSON text of a config file.
    static Config fromJsonText(const QByteArray &text, QList<FieldError> *errors);

    const Resource *find(const ResourceKey &key) const;
    QList<const Resource *> ofKind(const QString &kind) const;
};

} // namespace dfproxy::config
