// SPDX-License-Identifier: Apache-2.0
#pragma once
// Keys made in the test with OpenSSL, their JWKs, and signed tokens: no key material is checked in.

#include "policy/jwt.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>

namespace dfproxy::policy::test {

class TestSigner
{
public:
    enum class Alg { RS256, ES256, HS256 };

    explicit TestSigner(Alg alg, QString kid = QStringLiteral("k1")) : m_alg(alg), m_kid(std::move(kid))
    {
        if (alg == Alg::RS256)
            m_key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t(2048));
        else if (alg == Alg::ES256)
            m_key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        else
        {
            m_secret.resize(32);
            for (auto &c : m_secret)
                c = char(QRandomGenerator::global()->bounded(256));
        }
    }
    ~TestSigner() { EVP_PKEY_free(m_key); }
    TestSigner(const TestSigner &) = delete;
    TestSigner &operator=(const TestSigner &) = delete;

    QJsonObject jwk() const
    {
        QJsonObject k{{"kid", m_kid}, {"use", "sig"}};
        if (m_alg == Alg::RS256) {
            k.insert("kty", "RSA");
            k.insert("n", QString::fromLatin1(base64UrlEncode(bnParam(OSSL_PKEY_PARAM_RSA_N))));
            k.insert("e", QString::fromLatin1(base64UrlEncode(bnParam(OSSL_PKEY_PARAM_RSA_E))));
        } else if (m_alg == Alg::ES256) {
            unsigned char buf[65];
            size_t len = 0;
            EVP_PKEY_get_octet_string_param(m_key, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len);
            const QByteArray pt(reinterpret_cast<const char *>(buf), int(len));
            k.insert("kty", "EC");
            k.insert("crv", "P-256");
            k.insert("x", QString::fromLatin1(base64UrlEncode(pt.mid(1, 32))));
            k.insert("y", QString::fromLatin1(base64UrlEncode(pt.mid(33, 32))));
        } else {
            k.insert("kty", "oct");
            k.insert("k", QString::fromLatin1(base64UrlEncode(m_secret)));
        }
        return k;
    }
    QJsonObject jwks() const { return QJsonObject{{"keys", QJsonArray{jwk()}}}; }

    QByteArray sign(const QJsonObject &claims, bool withKid = true) const
    {
        const char *alg = m_alg == Alg::RS256 ? "RS256" : m_alg == Alg::ES256 ? "ES256" : "HS256";
        QJsonObject header{{"alg", alg}, {"typ", "JWT"}};
        if (withKid)
            header.insert("kid", m_kid);
        const QByteArray input = base64UrlEncode(QJsonDocument(header).toJson(QJsonDocument::Compact)) + '.'
                                 + base64UrlEncode(QJsonDocument(claims).toJson(QJsonDocument::Compact));
        return input + '.' + base64UrlEncode(signature(input));
    }

private:
    QByteArray bnParam(const char *name) const
    {
        BIGNUM *bn = nullptr;
        EVP_PKEY_get_bn_param(m_key, name, &bn);
        QByteArray out(BN_num_bytes(bn), '\0');
        BN_bn2bin(bn, reinterpret_cast<unsigned char *>(out.data()));
        BN_free(bn);
        return out;
    }

    QByteArray signature(const QByteArray &input) const
    {
        if (m_alg == Alg::HS256) {
            unsigned char mac[EVP_MAX_MD_SIZE];
            unsigned int len = 0;
            HMAC(EVP_sha256(), m_secret.constData(), int(m_secret.size()),
                 reinterpret_cast<const unsigned char *>(input.constData()), size_t(input.size()), mac, &len);
            return QByteArray(reinterpret_cast<const char *>(mac), int(len));
        }
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        size_t len = 0;
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, m_key);
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char *>(input.constData()),
                       size_t(input.size()));
        QByteArray sig(int(len), '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char *>(sig.data()), &len,
                       reinterpret_cast<const unsigned char *>(input.constData()), size_t(input.size()));
        EVP_MD_CTX_free(ctx);
        sig.resize(int(len));
        if (m_alg == Alg::RS256)
            return sig;
        // DER ECDSA-Sig-Value -> JWS r||s
        const unsigned char *p = reinterpret_cast<const unsigned char *>(sig.constData());
        ECDSA_SIG *es = d2i_ECDSA_SIG(nullptr, &p, long(sig.size()));
        QByteArray raw(64, '\0');
        BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char *>(raw.data()), 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char *>(raw.data()) + 32, 32);
        ECDSA_SIG_free(es);
        return raw;
    }

    Alg m_alg;
    QString m_kid;
    EVP_PKEY *m_key = nullptr;
    QByteArray m_secret;
};

} // namespace dfproxy::policy::test
