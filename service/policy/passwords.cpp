// SPDX-License-Identifier: Apache-2.0
#include "policy/passwords.h"

#include "platform/passwordcrypt.h"

#include <QCryptographicHash>
#include <QList>

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace dfproxy::policy {

namespace {

std::optional<QByteArray> decodeBase64Loose(QByteArray text)
{
    text.replace('.', '+'); // passlib's adapted base64
    const auto r = QByteArray::fromBase64Encoding(text, QByteArray::AbortOnBase64DecodingErrors);
    if (!r)
        return std::nullopt;
    return *r;
}

} // namespace

QByteArray sha256(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256);
}

QByteArray sha256Hex(const QByteArray &data)
{
    return sha256(data).toHex();
}

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    return CRYPTO_memcmp(a.constData(), b.constData(), size_t(a.size())) == 0;
}

std::optional<bool> verifyPbkdf2Sha256(const QByteArray &password, const QByteArray &encoded)
{
    QByteArray body = encoded;
    if (body.startsWith('$'))
        body = body.mid(1);
    const QList<QByteArray> parts = body.split('$');
    if (parts.size() != 4 || parts[0] != "pbkdf2-sha256")
        return std::nullopt;
    bool ok = false;
    const int iterations = parts[1].toInt(&ok);
    if (!ok || iterations < 1 || iterations > 10000000)
        return std::nullopt;
    const auto salt = decodeBase64Loose(parts[2]);
    const auto expected = decodeBase64Loose(parts[3]);
    if (!salt || !expected || expected->size() < 16 || expected->size() > 64)
        return std::nullopt;
    QByteArray derived(expected->size(), '\0');
    if (PKCS5_PBKDF2_HMAC(password.constData(), int(password.size()),
                          reinterpret_cast<const unsigned char *>(salt->constData()), int(salt->size()), iterations,
                          EVP_sha256(), int(derived.size()), reinterpret_cast<unsigned char *>(derived.data()))
        != 1)
        return std::nullopt;
    return constantTimeEquals(derived, *expected);
}

QByteArray hashPbkdf2Sha256(const QByteArray &password, const QByteArray &salt, int iterations)
{
    QByteArray derived(32, '\0');
    PKCS5_PBKDF2_HMAC(password.constData(), int(password.size()),
                      reinterpret_cast<const unsigned char *>(salt.constData()), int(salt.size()), iterations,
                      EVP_sha256(), int(derived.size()), reinterpret_cast<unsigned char *>(derived.data()));
    const auto b64 = [](const QByteArray &b) {
        return b.toBase64(QByteArray::OmitTrailingEquals);
    };
    return "pbkdf2-sha256$" + QByteArray::number(iterations) + '$' + b64(salt) + '$' + b64(derived);
}

std::optional<bool> verifyPasswordHash(const QByteArray &password, const QByteArray &hash)
{
    if (hash.startsWith("pbkdf2-sha256$") || hash.startsWith("$pbkdf2-sha256$"))
        return verifyPbkdf2Sha256(password, hash);
    return platform::cryptVerify(password, hash);
}

QHash<QString, QByteArray> parseHtpasswd(const QByteArray &text, QStringList *problems)
{
    QHash<QString, QByteArray> users;
    const QList<QByteArray> lines = text.split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const QByteArray line = lines[i].trimmed();
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0) {
            if (problems)
                problems->append(QStringLiteral("line %1: expected user:hash").arg(i + 1));
            continue;
        }
        users.insert(QString::fromUtf8(line.left(colon)), line.mid(colon + 1));
    }
    return users;
}

VerificationCache::VerificationCache(qsizetype capacity, qint64 ttlMs, const Clock *clock)
    : m_capacity(capacity), m_ttlMs(ttlMs), m_clock(clock ? clock : &SystemClock::instance())
{
}

QByteArray VerificationCache::keyOf(const QString &user, const QByteArray &hash, const QByteArray &password)
{
    // Length-prefixed, so no (user, password) pair can be spelled as another.
    QByteArray material = user.toUtf8();
    material.prepend(QByteArray::number(material.size()) + ':');
    material += QByteArray::number(hash.size()) + ':' + hash + password;
    return sha256(material);
}

bool VerificationCache::contains(const QString &user, const QByteArray &hash, const QByteArray &password)
{
    const QByteArray key = keyOf(user, hash, password);
    const qint64 now = m_clock->nowMs();
    std::lock_guard lock(m_mutex);
    const auto it = m_index.find(key);
    if (it == m_index.end())
        return false;
    if (now - it.value()->usedMs >= m_ttlMs) {
        m_lru.erase(it.value());
        m_index.erase(it);
        return false;
    }
    // Sliding: a credential in use stays known. Hashing it again could only give the same answer (the key holds
    // the stored hash), and would queue a busy client's request behind whatever flood fills the pool then.
    it.value()->usedMs = now;
    m_lru.splice(m_lru.begin(), m_lru, it.value());
    return true;
}

void VerificationCache::insert(const QString &user, const QByteArray &hash, const QByteArray &password)
{
    if (m_capacity <= 0 || m_ttlMs <= 0)
        return;
    const QByteArray key = keyOf(user, hash, password);
    const qint64 now = m_clock->nowMs();
    std::lock_guard lock(m_mutex);
    if (const auto it = m_index.find(key); it != m_index.end()) {
        it.value()->usedMs = now;
        m_lru.splice(m_lru.begin(), m_lru, it.value());
        return;
    }
    if (qsizetype(m_lru.size()) >= m_capacity) {
        m_index.remove(m_lru.back().key);
        m_lru.pop_back();
    }
    m_lru.push_front(Entry{key, now});
    m_index.insert(key, m_lru.begin());
}

qsizetype VerificationCache::size() const
{
    std::lock_guard lock(m_mutex);
    return qsizetype(m_lru.size());
}

} // namespace dfproxy::policy
