// SPDX-License-Identifier: Apache-2.0
#pragma once
// Tolerant readers for JSON that other versions of the service may shape differently.

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QStringList>

#include <optional>

namespace dfproxy::gui {

/// The value at a dotted path ("proxy.responsesByClass.5xx"), undefined when any step is missing.
QJsonValue valueAt(const QJsonObject &root, const QString &dottedPath);
/// The first number found at any of `paths`; nullopt when none is a number.
std::optional<double> numberAt(const QJsonObject &root, const QStringList &paths);
/// The first of `keys` present in `o` (for records whose field names differ between versions).
QJsonValue firstOf(const QJsonObject &o, const QStringList &keys);
/// Human-friendly duration: "3 d 4 h", "5 min 2 s", "850 ms".
QString formatDuration(qint64 ms);
/// "1.2 MB", "512 B".
QString formatBytes(qint64 bytes);
/// A one-line text of any JSON value (arrays joined with ", ").
QString jsonText(const QJsonValue &v);

} // namespace dfproxy::gui
