// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QString>

#include <list>
#include <mutex>
#include <optional>

namespace dfproxy::policy {

/// Lower-case hex SHA-256 (API keys are stored this way).
QByteArray sha256Hex(const QByteArray &data);
/// Raw SHA-256.
QByteArray sha256(const QByteArray &data);
/// Constant-time equality for secrets and digests.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b);

/// Verifies "pbkdf2-sha256$ITERATIONS$SALT$HASH" (also passlib's "$pbkdf2-sha256$..."): SALT and HASH in base64,
/// standard or passlib's "./" alphabet, padding optional. nullopt when the string is not of that form.
std::optional<bool> verifyPbkdf2Sha256(const QByteArray &password, const QByteArray &encoded);
/// Produces a "pbkdf2-sha256$ITERATIONS$SALT$HASH" string (for docs and tests).
QByteArray hashPbkdf2Sha256(const QByteArray &password, const QByteArray &salt, int iterations);

/// Verifies a password against any supported hash: pbkdf2-sha256 (everywhere) or crypt(3) ("$2b$", "$2y$", "$6$",
/// "$5$"; Unix only). nullopt = unsupported or malformed hash. Thread-safe.
std::optional<bool> verifyPasswordHash(const QByteArray &password, const QByteArray &hash);

/// Parses an htpasswd file ("user:hash" lines; '#' comments and blank lines skipped). Lines without ':' are
/// reported in `problems` (1-based line numbers) and skipped.
QHash<QString, QByteArray> parseHtpasswd(const QByteArray &text, QStringList *problems);

/// Remembers successful slow-hash verifications for a short time, keyed by SHA-256 of (user, password, stored hash),
/// so a client re-sending the same correct credentials costs a lookup, not a bcrypt. Bounded (least recently used
/// forgotten) and each entry forgotten `ttlMs` after it was last used; thread-safe. Only successes are stored, and
/// the key includes the stored hash, so a changed password or hash never matches a stale entry.
class VerificationCache
{
public:
    explicit VerificationCache(qsizetype capacity = 1024, qint64 ttlMs = 60000, const Clock *clock = nullptr);
    bool contains(const QString &user, const QByteArray &hash, const QByteArray &password);
    void insert(const QString &user, const QByteArray &hash, const QByteArray &password);
    qsizetype size() const;

private:
    struct Entry
    {
        QByteArray key;
        qint64 usedMs = 0;
    };
    static QByteArray keyOf(const QString &user, const QByteArray &hash, const QByteArray &password);
    mutable std::mutex m_mutex;
    qsizetype m_capacity;
    qint64 m_ttlMs;
    const Clock *m_clock;
    std::list<Entry> m_lru; ///< most recently used first
    QHash<QByteArray, std::list<Entry>::iterator> m_index;
};

} // namespace dfproxy::policy
