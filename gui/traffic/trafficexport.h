// SPDX-License-Identifier: Apache-2.0
#pragma once
// Saving live-traffic records for other tools: HAR 1.2 (browsers' devtools, Fiddler, Proxyman open it) and JSON
// Lines (one access-log record per line, as GET /api/v1/accesslog serves it, for jq and scripts).

#include <QByteArray>
#include <QJsonObject>
#include <QList>

namespace dfproxy::gui {

/// A HAR 1.2 document with one entry per record (oldest first). Each entry carries the request as logged (method,
/// URL, Host header), the status and reason, sizes, the timings the log has (dns, connect, wait) and the whole
/// record under "_dfproxy". Separator rows are skipped.
QByteArray toHar(const QList<QJsonObject> &records, const QString &creatorVersion);
/// One compact JSON object per line, '\n' after each; separator rows are skipped.
QByteArray toJsonLines(const QList<QJsonObject> &records);

} // namespace dfproxy::gui
