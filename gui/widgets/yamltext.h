// SPDX-License-Identifier: Apache-2.0
#pragma once
// YAML text for the editors' YAML tab. The console may not link the service's config code, so this is a small
// yaml-cpp wrapper of its own: one object <-> one YAML document, and where a field path sits in the text (so a
// validation error for spec.rules[0].backendRefs[0].name can be marked on its line).

#include <QJsonObject>
#include <QString>

#include <optional>

namespace dfproxy::gui {

/// Why YAML text did not read as one object. `line` is 1-based (0 when unknown).
struct YamlTextError
{
    int line = 0;
    int column = 0;
    QString message;
    /// "line 3, column 7: <message>"
    QString toString() const;
};

/// The object as a block-style YAML document. Keys come in manifest order (apiVersion, kind, metadata, spec, status
/// at the top; name and namespace first in nested maps; the rest alphabetically); strings that would read back as
/// another type are quoted, so yamlToObject(objectToYaml(o)) == o.
QString objectToYaml(const QJsonObject &object);

/// Parses one YAML (or JSON, a subset of it) document holding a mapping. Plain scalars are typed as YAML 1.2's core
/// schema does (null, booleans, numbers); quoted ones stay strings. nullopt and `error` filled otherwise.
std::optional<QJsonObject> yamlToObject(const QString &text, YamlTextError *error = nullptr);

/// The 1-based line of a field path ("spec.rules[0].backendRefs[0].name", "metadata.name") in YAML text: the line
/// of its key or list item, or of the deepest part of the path that exists. 0 when the text does not parse or not
/// even the first step is there.
int yamlLineOf(const QString &text, const QString &path);

} // namespace dfproxy::gui
