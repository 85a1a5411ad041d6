// SPDX-License-Identifier: Apache-2.0
#include "forward/proxyauth.h"

#include "config/tunnelcredentials.h"

#include "platform/filepermissions.h"
#include "platform/proxysecurity.h"

#include <QCryptographicHash>

#include <algorithm>
#include <QFile>
#include <QMutexLocker>
#include <QRandomGenerator>

namespace dfproxy::forward {

namespace {

bool isTokenChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
}

void skipSpaceAndCommas(const QByteArray &s, qsizetype &i)
{
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
        ++i;
}

QByteArray token(const QByteArray &s, qsizetype &i)
{
    const qsizetype start = i;
    while (i < s.size() && isTokenChar(s[i]))
        ++i;
    return s.mid(start, i - start);
}

/// A quoted-string (backslash escapes) or a token68/token value.
QByteArray value(const QByteArray &s, qsizetype &i)
{
    if (i < s.size() && s[i] == '"') {
        QByteArray out;
        for (++i; i < s.size() && s[i] != '"'; ++i) {
            if (s[i] == '\\' && i + 1 < s.size())
                ++i;
            out.append(s[i]);
        }
        if (i < s.size())
            ++i; // the closing quote
        return out;
    }
    const qsizetype start = i;
    while (i < s.size() && s[i] != ',' && s[i] != ' ' && s[i] != '\t')
        ++i;
    return s.mid(start, i - start);
}

QByteArray quoted(const QByteArray &v)
{
    QByteArray out = "\"";
    for (char c : v) {
        if (uchar(c) < 0x20 || c == 0x7f)
            continue; // never a line break into the request head, whatever the challenge or the file held
        if (c == '"' || c == '\\')
            out.append('\\');
        out.append(c);
    }
    return out.append('"');
}

} // namespace

QByteArray ProxyAuth::Challenge::param(const QByteArray &name) const
{
    for (const auto &p : params) {
        if (p.first == name)
            return p.second;
    }
    return {};
}

QList<ProxyAuth::Challenge> ProxyAuth::parseChallenges(const QList<QByteArray> &values)
{
    // challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]; several challenges may share one value, so a
    // token that is not followed by '=' starts the next challenge.
    QList<Challenge> out;
    for (const QByteArray &s : values) {
        qsizetype i = 0;
        for (;;) {
            skipSpaceAndCommas(s, i);
            if (i >= s.size())
                break;
            QByteArray scheme = token(s, i).toLower();
            if (scheme.isEmpty()) {
                ++i; // not a token: skip the byte
                continue;
            }
            Challenge c;
            c.scheme = scheme;
            for (;;) {
                qsizetype j = i;
                skipSpaceAndCommas(s, j);
                const qsizetype nameStart = j;
                const QByteArray name = token(s, j);
                while (j < s.size() && (s[j] == ' ' || s[j] == '\t'))
                    ++j;
                if (name.isEmpty() || j >= s.size() || s[j] != '=') {
                    i = nameStart; // the next challenge's scheme (or the end)
                    break;
                }
                i = j + 1;
                while (i < s.size() && (s[i] == ' ' || s[i] == '\t'))
                    ++i;
                c.params.append({name.toLower(), value(s, i)});
            }
            out.append(std::move(c));
            if (i >= s.size())
                break;
        }
    }
    return out;
}

std::shared_ptr<ProxyAuth> ProxyAuth::fromFile(const QString &path, QString *error)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read the upstream proxy credentials file %1: %2").arg(path, f.errorString());
        return nullptr;
    }
    if (platform::isAccessibleToOthers(path)) {
        *error = QStringLiteral("the upstream proxy credentials file %1 is readable by others (mode %2); "
                                "chmod 600 it")
                     .arg(path, platform::describeMode(path));
        return nullptr;
    }
    const auto c = config::parseTunnelCredentials(f.read(64 * 1024), path, error);
    if (!c)
        return nullptr;
    switch (c->kind) {
    case config::TunnelCredentials::Kind::Negotiate:
        return std::make_shared<ProxyAuth>(Scheme::Negotiate);
    case config::TunnelCredentials::Kind::Ntlm:
        return std::make_shared<ProxyAuth>(Scheme::Ntlm);
    case config::TunnelCredentials::Kind::Password:
        break;
    }
    return std::make_shared<ProxyAuth>(c->user, c->password);
}

ProxyAuth::ProxyAuth(QString user, QString password)
    : m_user(std::move(user))
    , m_password(std::move(password))
{
}

ProxyAuth::ProxyAuth(Scheme scheme)
    : m_scheme(scheme)
    , m_user(scheme == Scheme::Ntlm ? QStringLiteral("(ntlm: the service account)")
                                    : QStringLiteral("(negotiate: the service account)"))
{
}

QByteArray ProxyAuth::connectionScheme() const
{
    return m_scheme == Scheme::Ntlm ? QByteArrayLiteral("NTLM") : QByteArrayLiteral("Negotiate");
}

std::unique_ptr<platform::ProxySecurityContext> ProxyAuth::newContext(const QString &proxyHost, QString *error) const
{
    return platform::ProxySecurityContext::create(m_scheme == Scheme::Ntlm
                                                      ? platform::ProxySecurityContext::Mechanism::Ntlm
                                                      : platform::ProxySecurityContext::Mechanism::Negotiate,
                                                  proxyHost, error);
}

QByteArray ProxyAuth::connectionAnswer(platform::ProxySecurityContext &context, const QList<QByteArray> &values,
                                       QString *error) const
{
    const QByteArray scheme = connectionScheme();
    QStringList offered;
    for (const QByteArray &v : values) {
        const QByteArray t = v.trimmed();
        const qsizetype space = t.indexOf(' ');
        const QByteArray name = space < 0 ? t : t.left(space);
        offered.append(QString::fromLatin1(name));
        if (name.compare(scheme, Qt::CaseInsensitive) != 0)
            continue;
        const QByteArray input = space < 0 ? QByteArray() : QByteArray::fromBase64(t.mid(space + 1).trimmed());
        const QByteArray token = context.step(input, error);
        if (token.isEmpty())
            return {};
        return scheme + ' ' + token.toBase64();
    }
    *error = QStringLiteral("the upstream proxy does not offer %1 (it offers %2)")
                 .arg(QString::fromLatin1(scheme), offered.isEmpty() ? QStringLiteral("nothing") : offered.join(", "));
    return {};
}

QByteArray ProxyAuth::basic() const
{
    return "Basic " + (m_user.toUtf8() + ':' + m_password.toUtf8()).toBase64();
}

QByteArray ProxyAuth::preemptive(const QByteArray &method, const QByteArray &uri)
{
    if (isConnectionBased())
        return {};
    QMutexLocker lock(&m_mutex);
    if (m_haveDigest)
        return digestLocked(method, uri);
    return basic();
}

QByteArray ProxyAuth::answer(const QList<QByteArray> &values, const QByteArray &method, const QByteArray &uri,
                             QString *error)
{
    const QList<Challenge> challenges = parseChallenges(values);
    const Challenge *best = nullptr;
    int bestRank = 0;
    QStringList offered;
    for (const Challenge &c : challenges) {
        offered.append(QString::fromLatin1(c.scheme));
        int rank = 0;
        if (c.scheme == "digest") {
            const QByteArray alg = c.param("algorithm").toUpper();
            const QByteArray qop = c.param("qop");
            // qop absent (RFC 2069 compatibility) or offering "auth"; auth-int needs the body, which is not here.
            bool qopOk = qop.isEmpty();
            for (const QByteArray &q : qop.split(','))
                qopOk |= q.trimmed().toLower() == "auth";
            if (!c.param("nonce").isEmpty() && qopOk) {
                if (alg == "SHA-256" || alg == "SHA-256-SESS")
                    rank = 4;
                else if (alg.isEmpty() || alg == "MD5" || alg == "MD5-SESS")
                    rank = 3;
            }
        } else if (c.scheme == "basic") {
            rank = 1;
        }
        if (rank > bestRank) {
            best = &c;
            bestRank = rank;
        }
    }
    if (!best) {
        *error = offered.isEmpty()
            ? QStringLiteral("the upstream proxy answered 407 without a Proxy-Authenticate challenge")
            : QStringLiteral("the upstream proxy offers %1; dfproxy answers Basic and Digest (MD5, SHA-256, "
                             "qop=auth)")
                  .arg(offered.join(QStringLiteral(", ")));
        return {};
    }
    QMutexLocker lock(&m_mutex);
    if (best->scheme == "basic") {
        m_haveDigest = false;
        return basic();
    }
    m_haveDigest = true;
    m_realm = best->param("realm");
    m_nonce = best->param("nonce");
    m_opaque = best->param("opaque");
    m_algorithm = best->param("algorithm");
    m_qop.clear();
    for (const QByteArray &q : best->param("qop").split(',')) {
        if (q.trimmed().toLower() == "auth")
            m_qop = "auth";
    }
    m_nonceCount = 0;
    return digestLocked(method, uri);
}

QByteArray ProxyAuth::digestLocked(const QByteArray &method, const QByteArray &uri)
{
    const QByteArray alg = m_algorithm.toUpper();
    const auto hashAlg = alg.startsWith("SHA-256") ? QCryptographicHash::Sha256 : QCryptographicHash::Md5;
    auto H = [hashAlg](const QByteArray &s) { return QCryptographicHash::hash(s, hashAlg).toHex(); };
    const QByteArray cnonce = !m_fixedCnonce.isEmpty() ? m_fixedCnonce : QByteArray::number(QRandomGenerator::system()->generate64(), 16)
        + QByteArray::number(QRandomGenerator::system()->generate64(), 16);
    const QByteArray nc = QByteArray::number(++m_nonceCount, 16).rightJustified(8, '0');
    QByteArray ha1 = H(m_user.toUtf8() + ':' + m_realm + ':' + m_password.toUtf8());
    if (alg.endsWith("-SESS"))
        ha1 = H(ha1 + ':' + m_nonce + ':' + cnonce);
    const QByteArray ha2 = H(method + ':' + uri);
    const QByteArray response = m_qop.isEmpty() ? H(ha1 + ':' + m_nonce + ':' + ha2)
                                                : H(ha1 + ':' + m_nonce + ':' + nc + ':' + cnonce + ':' + m_qop
                                                    + ':' + ha2);
    QByteArray out = "Digest username=" + quoted(m_user.toUtf8()) + ", realm=" + quoted(m_realm)
        + ", nonce=" + quoted(m_nonce) + ", uri=" + quoted(uri) + ", response=" + quoted(response);
    if (!m_algorithm.isEmpty())
        out += ", algorithm=" + m_algorithm;
    if (!m_opaque.isEmpty())
        out += ", opaque=" + quoted(m_opaque);
    if (!m_qop.isEmpty())
        out += ", qop=" + m_qop + ", nc=" + nc + ", cnonce=" + quoted(cnonce);
    return out;
}

} // namespace dfproxy::forward
