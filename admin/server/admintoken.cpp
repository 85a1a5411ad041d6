// SPDX-License-Identifier: Apache-2.0
#include "server/admintoken.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>

namespace dfproxy::admin {

namespace {
constexpr QFileDevice::Permissions kOwnerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
constexpr int kMinTokenLength = 16;
} // namespace

QByteArray loadOrCreateAdminToken(const QString &tokenPath, QString *error)
{
    QFile f(tokenPath);
    if (f.exists()) {
        if (!f.open(QIODevice::ReadOnly)) {
            *error = QStringLiteral("cannot read %1: %2").arg(tokenPath, f.errorString());
            return {};
        }
        const QByteArray token = f.readAll().trimmed();
        f.close();
        if (token.size() >= kMinTokenLength) {
            if ((f.permissions() & ~(kOwnerOnly | QFileDevice::ReadUser | QFileDevice::WriteUser)).toInt() != 0)
                f.setPermissions(kOwnerOnly);
            return token;
        }
        // Too short to be a token we made: replace it.
        if (!f.remove()) {
            *error = QStringLiteral("cannot replace %1: %2").arg(tokenPath, f.errorString());
            return {};
        }
    }
    if (!QDir().mkpath(QFileInfo(tokenPath).absolutePath())) {
        *error = QStringLiteral("cannot create directory %1").arg(QFileInfo(tokenPath).absolutePath());
        return {};
    }
    quint32 words[8];
    QRandomGenerator::system()->fillRange(words);
    const QByteArray token = QByteArray(reinterpret_cast<const char *>(words), sizeof(words))
                                 .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    // Created with 0600 so the secret is never readable by others, not even briefly.
    if (!f.open(QIODevice::WriteOnly | QIODevice::NewOnly, kOwnerOnly)) {
        *error = QStringLiteral("cannot create %1: %2").arg(tokenPath, f.errorString());
        return {};
    }
    f.setPermissions(kOwnerOnly);
    if (f.write(token + "\n") != token.size() + 1 || !f.flush()) {
        *error = QStringLiteral("cannot write %1: %2").arg(tokenPath, f.errorString());
        f.close();
        f.remove();
        return {};
    }
    f.close();
    return token;
}

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    const qsizetype n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (qsizetype i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

} // namespace dfproxy::admin
