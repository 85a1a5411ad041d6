// SPDX-License-Identifier: Apache-2.0
#pragma once
// YAML to JSON for config files and `kubectl`-style manifests (yaml-cpp), with line/column errors.

#include <QByteArray>
#include <QJsonArray>
#include <QJsonValue>
#include <QString>

#include <optional>

namespace dfproxy::config {

/// Where and why YAML text could not be read. Line and column are 1-based (0 when unknown).
struct YamlError
{
    int line = 0;
    int column = 0;
    QString message;
    /// "line 3, column 7: <message>"
    QString toString() const;
};

/// Parses YAML text holding one or more documents (separated by `---`) into JSON values, one per document.
/// Documents that are empty (or only `~`/null) are skipped. Plain scalars are typed as the YAML 1.2 core schema
/// does (null, true/false, integers incl. 0x/0o, floats incl. .inf/.nan); quoted scalars stay strings; explicit
/// !!str/!!int/!!float/!!bool/!!null tags are honoured. Mapping keys must be scalars and unique.
/// Returns std::nullopt and fills `error` on failure. Safe from any thread.
std::optional<QJsonArray> parseYamlDocuments(const QByteArray &text, YamlError *error);

/// Renders one JSON value as a YAML document (block style, no leading `---`). Object keys come in a stable order:
/// apiVersion, kind, metadata, name, namespace, spec, status first, then the rest alphabetically. Strings that
/// would read back as another type ("true", "1.0", "null", "") are quoted, so the text round-trips.
QByteArray toYaml(const QJsonValue &value);

/// Renders several documents, separated by `---` lines.
QByteArray toYamlDocuments(const QJsonArray &documents);

/// True when `text` is JSON rather than YAML at a glance (first non-blank character is `{` or `[`).
bool looksLikeJson(const QByteArray &text);

} // namespace dfproxy::config
