// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API's bearer token: created once (0600) and read back by the service, dfproxyctl and the console.

#include <QByteArray>
#include <QString>

namespace dfproxy::admin {

/// Reads the admin API token from `tokenPath`, or creates it there: 32 random bytes from
/// QRandomGenerator::system(), base64url without padding, file mode 0600 from the moment it exists. A file that
/// is readable by others is tightened to 0600. Returns an empty token and sets `error` on failure.
QByteArray loadOrCreateAdminToken(const QString &tokenPath, QString *error);

/// Compares two secrets in time that depends only on their lengths, not on where they differ.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b);

} // namespace dfproxy::admin
