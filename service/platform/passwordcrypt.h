// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>

#include <optional>

namespace dfproxy::platform {

/// Checks `password` against a crypt(3) hash ("$2b$"/"$2y$" bcrypt, "$6$" SHA-512-crypt, "$5$" SHA-256-crypt).
/// Returns nullopt when this system's crypt(3) cannot handle the hash (malformed, unknown scheme, or no crypt(3)
/// at all, as on Windows); otherwise whether the password matches (constant-time comparison). Thread-safe; slow by
/// design for bcrypt (tens of milliseconds), so callers cache successes.
std::optional<bool> cryptVerify(const QByteArray &password, const QByteArray &hash);

/// True when cryptVerify() is backed by a real crypt(3).
bool cryptAvailable();

} // namespace dfproxy::platform
