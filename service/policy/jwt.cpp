// SPDX-License-Identifier: Apache-2.0
#include "policy/jwt.h"

#include "policy/passwords.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <cmath>

namespace dfproxy::policy {

struct JwtVerifier::Key
{
    QString kid;
    QString alg;            ///< "RS256", "ES256" or "HS256"
    QByteArray secret;      ///< HS256
    EVP_PKEY *pkey = nullptr;
    ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

std::optional<QByteArray> b64url(const QByteArray &text)
{
    const auto r = QByteArray::fromBase64Encoding(text, QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals
                                                            | QByteArray::AbortOnBase64DecodingErrors);
    if (!r)
        return std::nullopt;
    return *r;
}

std::optional<QByteArray> b64urlField(const QJsonObject &o, const char *key)
{
    const QString v = o.value(QLatin1String(key)).toString();
    if (v.isEmpty())
        return std::nullopt;
    return b64url(v.toLatin1());
}

EVP_PKEY *fromData(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY *pkey = nullptr;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

EVP_PKEY *rsaKey(const QByteArray &n, const QByteArray &e)
{
    BIGNUM *bn = BN_bin2bn(reinterpret_cast<const unsigned char *>(n.constData()), int(n.size()), nullptr);
    BIGNUM *be = BN_bin2bn(reinterpret_cast<const unsigned char *>(e.constData()), int(e.size()), nullptr);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = nullptr;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
        pkey = fromData("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

EVP_PKEY *p256Key(const QByteArray &x, const QByteArray &y)
{
    if (x.size() != 32 || y.size() != 32)
        return nullptr;
    const QByteArray point = QByteArray(1, '\x04') + x + y;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = nullptr;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1
        && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.constData(), size_t(point.size()))
               == 1)
        pkey = fromData("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

bool verifyDigestSignature(EVP_PKEY *pkey, const QByteArray &input, const QByteArray &signature)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1
              && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char *>(signature.constData()),
                                  size_t(signature.size()), reinterpret_cast<const unsigned char *>(input.constData()),
                                  size_t(input.size()))
                     == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

// JWS ES256 signatures are r||s (32 bytes each); OpenSSL verifies DER.
std::optional<QByteArray> es256ToDer(const QByteArray &raw)
{
    if (raw.size() != 64)
        return std::nullopt;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(reinterpret_cast<const unsigned char *>(raw.constData()), 32, nullptr);
    BIGNUM *s = BN_bin2bn(reinterpret_cast<const unsigned char *>(raw.constData()) + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return std::nullopt;
    }
    unsigned char *der = nullptr;
    const int len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0)
        return std::nullopt;
    QByteArray out(reinterpret_cast<const char *>(der), len);
    OPENSSL_free(der);
    return out;
}

std::optional<qint64> numericDate(const QJsonObject &claims, const char *key, bool *present, QString *error)
{
    const auto v = claims.value(QLatin1String(key));
    *present = !v.isUndefined();
    if (!*present)
        return std::nullopt;
    if (!v.isDouble() || !std::isfinite(v.toDouble())) {
        *error = QStringLiteral("claim %1 is not a number").arg(QLatin1String(key));
        return std::nullopt;
    }
    return static_cast<qint64>(std::floor(v.toDouble()));
}

} // namespace

QByteArray base64UrlEncode(const QByteArray &data)
{
    return data.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

JwtVerifier::JwtVerifier(const QJsonObject &jwks, Settings settings) : m_settings(std::move(settings))
{
    const QJsonArray keys = jwks.value("keys").toArray();
    for (qsizetype i = 0; i < keys.size(); ++i) {
        const QJsonObject k = keys[i].toObject();
        auto key = std::make_shared<Key>();
        key->kid = k.value("kid").toString();
        const QString kty = k.value("kty").toString();
        const QString use = k.value("use").toString();
        const QString where = QStringLiteral("keys[%1]").arg(i);
        if (!use.isEmpty() && use != QLatin1String("sig")) {
            m_problems.append(where + QStringLiteral(": use is not \"sig\""));
            continue;
        }
        if (kty == QLatin1String("RSA")) {
            const auto n = b64urlField(k, "n");
            const auto e = b64urlField(k, "e");
            key->alg = QStringLiteral("RS256");
            if (n && e && n->size() >= 256)
                key->pkey = rsaKey(*n, *e);
            if (!key->pkey) {
                m_problems.append(where + QStringLiteral(": not a usable RSA key (2048 bits or more)"));
                continue;
            }
        } else if (kty == QLatin1String("EC")) {
            key->alg = QStringLiteral("ES256");
            const auto x = b64urlField(k, "x");
            const auto y = b64urlField(k, "y");
            if (k.value("crv").toString() == QLatin1String("P-256") && x && y)
                key->pkey = p256Key(*x, *y);
            if (!key->pkey) {
                m_problems.append(where + QStringLiteral(": not a usable P-256 key"));
                continue;
            }
        } else if (kty == QLatin1String("oct")) {
            key->alg = QStringLiteral("HS256");
            const auto secret = b64urlField(k, "k");
            if (!secret || secret->size() < 32) {
                m_problems.append(where + QStringLiteral(": HS256 secret missing or shorter than 256 bits"));
                continue;
            }
            key->secret = *secret;
        } else {
            m_problems.append(where + QStringLiteral(": unsupported kty \"%1\"").arg(kty));
            continue;
        }
        const QString alg = k.value("alg").toString();
        if (!alg.isEmpty() && alg != key->alg) {
            m_problems.append(where + QStringLiteral(": alg %1 is not supported for kty %2").arg(alg, kty));
            continue;
        }
        m_keys.append(key);
    }
    if (m_keys.isEmpty())
        m_problems.append(QStringLiteral("no usable key in the JWKS: every token is refused"));
}

JwtVerifier::~JwtVerifier() = default;

int JwtVerifier::keyCount() const
{
    return int(m_keys.size());
}

JwtVerifier::Result JwtVerifier::verify(const QByteArray &token, qint64 now) const
{
    Result res;
    const QList<QByteArray> parts = token.trimmed().split('.');
    if (parts.size() != 3) {
        res.error = QStringLiteral("not a JWS compact token");
        return res;
    }
    const auto headerJson = b64url(parts[0]);
    const auto payloadJson = b64url(parts[1]);
    const auto signature = b64url(parts[2]);
    if (!headerJson || !payloadJson || !signature) {
        res.error = QStringLiteral("bad base64url");
        return res;
    }
    QJsonParseError pe;
    const QJsonDocument header = QJsonDocument::fromJson(*headerJson, &pe);
    if (pe.error != QJsonParseError::NoError || !header.isObject()) {
        res.error = QStringLiteral("bad header");
        return res;
    }
    const QJsonDocument payload = QJsonDocument::fromJson(*payloadJson, &pe);
    if (pe.error != QJsonParseError::NoError || !payload.isObject()) {
        res.error = QStringLiteral("bad payload");
        return res;
    }
    const QString alg = header.object().value("alg").toString();
    const QString kid = header.object().value("kid").toString();
    if (alg != QLatin1String("RS256") && alg != QLatin1String("ES256") && alg != QLatin1String("HS256")) {
        res.error = QStringLiteral("unsupported alg \"%1\"").arg(alg);
        return res;
    }
    if (header.object().contains("crit")) {
        res.error = QStringLiteral("crit header not supported");
        return res;
    }
    const QByteArray input = parts[0] + '.' + parts[1];
    bool verified = false;
    bool candidate = false;
    for (const auto &key : m_keys) {
        // The key decides the algorithm; a token cannot pick HS256 with an RSA key's public bytes as the secret.
        if (key->alg != alg || (!kid.isEmpty() && !key->kid.isEmpty() && key->kid != kid))
            continue;
        candidate = true;
        if (alg == QLatin1String("HS256")) {
            unsigned int len = 0;
            unsigned char mac[EVP_MAX_MD_SIZE];
            HMAC(EVP_sha256(), key->secret.constData(), int(key->secret.size()),
                 reinterpret_cast<const unsigned char *>(input.constData()), size_t(input.size()), mac, &len);
            verified = constantTimeEquals(QByteArray(reinterpret_cast<const char *>(mac), int(len)), *signature);
        } else if (alg == QLatin1String("ES256")) {
            const auto der = es256ToDer(*signature);
            verified = der && verifyDigestSignature(key->pkey, input, *der);
        } else {
            verified = verifyDigestSignature(key->pkey, input, *signature);
        }
        if (verified)
            break;
    }
    if (!verified) {
        res.error = candidate ? QStringLiteral("bad signature") : QStringLiteral("no key for alg %1 kid \"%2\"").arg(alg, kid);
        return res;
    }
    const QJsonObject claims = payload.object();
    const qint64 skew = m_settings.clockSkewMs / 1000;
    bool present = false;
    const auto exp = numericDate(claims, "exp", &present, &res.error);
    if (!res.error.isEmpty())
        return res;
    if (exp && now >= *exp + skew) {
        res.error = QStringLiteral("token expired");
        return res;
    }
    if (!exp && (m_settings.requireExpiration || m_settings.maxLifetimeSecs > 0)) {
        res.error = QStringLiteral("token has no exp");
        return res;
    }
    const auto iat = numericDate(claims, "iat", &present, &res.error);
    if (!res.error.isEmpty())
        return res;
    if (exp && m_settings.maxLifetimeSecs > 0 && *exp - (iat ? *iat : now) > m_settings.maxLifetimeSecs) {
        // A leaked long-lived token stays refused however the issuer was configured.
        res.error = QStringLiteral("token lifetime exceeds maxLifetime");
        return res;
    }
    const auto nbf = numericDate(claims, "nbf", &present, &res.error);
    if (!res.error.isEmpty())
        return res;
    if (nbf && now + skew < *nbf) {
        res.error = QStringLiteral("token not yet valid (nbf)");
        return res;
    }
    if (!m_settings.issuer.isEmpty() && claims.value("iss").toString() != m_settings.issuer) {
        res.error = QStringLiteral("wrong issuer");
        return res;
    }
    if (!m_settings.audiences.isEmpty()) {
        QStringList aud;
        const auto a = claims.value("aud");
        if (a.isString())
            aud.append(a.toString());
        for (const auto &v : a.toArray())
            aud.append(v.toString());
        bool match = false;
        for (const auto &want : m_settings.audiences)
            match = match || aud.contains(want);
        if (!match) {
            res.error = QStringLiteral("wrong audience");
            return res;
        }
    }
    res.ok = true;
    res.claims = claims;
    return res;
}

} // namespace dfproxy::policy
