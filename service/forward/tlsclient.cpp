// SPDX-License-Identifier: Apache-2.0
#include "forward/tlsclient.h"

#include "base/logcategories.h"

#include <QCryptographicHash>
#include <QHash>
#include <QHostAddress>
#include <QMutex>
#include <QSslConfiguration>
#include <QStringList>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <memory>
#include <utility>

namespace dfproxy::forward::tlsclient {

namespace {

struct CtxFree
{
    void operator()(SSL_CTX *ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;

std::atomic<quint64> g_handshakes{0};
std::atomic<quint64> g_resumed{0};

bool addCertificates(SSL_CTX *ctx, const QList<QSslCertificate> &certificates)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    bool any = false;
    for (const QSslCertificate &c : certificates) {
        const QByteArray der = c.toDer();
        const auto *p = reinterpret_cast<const unsigned char *>(der.constData());
        X509 *x = d2i_X509(nullptr, &p, long(der.size()));
        if (!x)
            continue;
        any |= X509_STORE_add_cert(store, x) == 1;
        X509_free(x);
    }
    ERR_clear_error(); // a certificate listed twice is not an error here
    return any;
}

/// Client sessions for resumption, one per origin name and verification (a key names the CA set, the name, whether
/// the peer was verified and the ALPN offered: a session is only resumed where a full handshake would have been
/// verified the same way). Single use, as TLS 1.3 tickets should be: taken out when a connection offers it; the
/// origin's next ticket replaces it. Shared by every thread, so a worker's new connection resumes another's session.
struct SessionCache
{
    QMutex mutex;
    QHash<QByteArray, SSL_SESSION *> sessions;
};

/// Never destroyed: a worker still finishing a handshake while the process exits would otherwise store its session
/// in a cache whose static destructor already ran (a use after destruction, and the sessions it kept were reported
/// as leaked in the asan stage). Its sessions stay reachable at exit.
SessionCache &sessionCache()
{
    static SessionCache *const cache = new SessionCache;
    return *cache;
}

void freeSessionKey(void *, void *ptr, CRYPTO_EX_DATA *, int, long, void *)
{
    delete static_cast<QByteArray *>(ptr);
}

/// The SSL ex_data slot holding a connection's session key (a QByteArray the SSL owns: freed with it).
int sessionKeyIndex()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freeSessionKey);
    return index;
}

/// OpenSSL's new-session callback: keeps a copy of the session. A copy: the connection goes on using the session
/// object itself, and OpenSSL marks it not resumable when the connection ends without a close_notify of ours (an
/// origin's "connection: close", a pooled connection dropped), which would make every cached session useless.
int keepSession(SSL *ssl, SSL_SESSION *offered)
{
    const auto *key = static_cast<const QByteArray *>(SSL_get_ex_data(ssl, sessionKeyIndex()));
    if (!key || !SSL_SESSION_is_resumable(offered))
        return 0;
    SSL_SESSION *session = SSL_SESSION_dup(offered);
    if (!session)
        return 0;
    SessionCache &cache = sessionCache();
    QMutexLocker lock(&cache.mutex);
    if (cache.sessions.size() >= 1024 && !cache.sessions.contains(*key)) { // bounded; a full handshake is the cost
        for (SSL_SESSION *s : std::as_const(cache.sessions))
            SSL_SESSION_free(s);
        cache.sessions.clear();
    }
    if (SSL_SESSION *old = cache.sessions.value(*key))
        SSL_SESSION_free(old);
    cache.sessions.insert(*key, session);
    return 0; // (the offered reference stays OpenSSL's)
}

/// The cached session for `key`, taken out of the cache (the caller frees it); null when there is none.
SSL_SESSION *takeSession(const QByteArray &key)
{
    SessionCache &cache = sessionCache();
    QMutexLocker lock(&cache.mutex);
    return cache.sessions.take(key);
}

/// The part of a key that names the CA set.
QByteArray caKey(const TlsClientOptions &o)
{
    QByteArray key = o.systemCaCertificates ? QByteArrayLiteral("system") : QByteArrayLiteral("own");
    if (!o.systemCaCertificates) {
        QCryptographicHash h(QCryptographicHash::Sha256);
        for (const QSslCertificate &c : o.caCertificates)
            h.addData(c.toDer());
        key += h.result();
    }
    return key;
}

QByteArray alpnWire(const QList<QByteArray> &protocols)
{
    QByteArray wire;
    for (const QByteArray &p : protocols) {
        wire += char(p.size());
        wire += p;
    }
    return wire;
}

/// This thread's SSL_CTX for `o`'s CA set, verification and ALPN (`key`), made on first use.
SSL_CTX *contextFor(const TlsClientOptions &o, const QByteArray &key)
{
    // Per thread: SSL_new, verification and the certificate store take the context's locks, which workers sharing
    // one would contend for. The contexts live as long as the thread; an SSL holds a reference of its own.
    thread_local QHash<QByteArray, std::shared_ptr<SSL_CTX>> t_contexts;
    if (const auto it = t_contexts.constFind(key); it != t_contexts.constEnd())
        return it->get();
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx)
        return nullptr;
    SSL_CTX *c = ctx.get();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION); // what Qt's SecureProtocols allow on the QSslSocket path
    SSL_CTX_set_mode(c, SSL_MODE_AUTO_RETRY | SSL_MODE_RELEASE_BUFFERS);
    // Read-ahead: one read per record (or more) instead of two (its header, then the rest). In OpenSSL's own
    // buffer of one record's size: a bigger one would be memmove'd down by what is left of it before each record.
    SSL_CTX_set_read_ahead(c, 1);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    // An origin that closes without close_notify ends the stream as a close does (what QSslSocket reports), rather
    // than as an error: HTTP/1 framing, not TLS, says whether a response was cut short.
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c, keepSession);
    if (o.systemCaCertificates) {
        // The store QSslSocket verifies against by default: OpenSSL's (SSL_CERT_FILE / SSL_CERT_DIR or the
        // distribution's bundle) on Unix, plus what the application made Qt's default.
        SSL_CTX_set_default_verify_paths(c);
        addCertificates(c, QSslConfiguration::defaultConfiguration().caCertificates());
#if defined(Q_OS_WIN) || defined(Q_OS_MACOS)
        // OpenSSL's default paths mean nothing there: the system store comes through Qt.
        addCertificates(c, QSslConfiguration::systemCaCertificates());
#endif
    } else {
        addCertificates(c, o.caCertificates);
    }
    SSL_CTX_set_verify(c, o.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    if (!o.alpn.isEmpty()) {
        const QByteArray wire = alpnWire(o.alpn);
        SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char *>(wire.constData()), unsigned(wire.size()));
    }
    if (t_contexts.size() >= 64) // a handful of CA files in practice; never grows without bound
        t_contexts.clear();
    t_contexts.insert(key, std::shared_ptr<SSL_CTX>(ctx.release(), CtxFree()));
    return c;
}

} // namespace

SSL *newClientSsl(const TlsClientOptions &o, QString *error)
{
    ERR_clear_error();
    const QByteArray policy = caKey(o) + '\0' + (o.verifyPeer ? "verified" : "unverified") + '\0' + o.alpn.join(',');
    SSL_CTX *ctx = contextFor(o, policy);
    SSL *ssl = ctx ? SSL_new(ctx) : nullptr;
    if (!ssl) {
        *error = errorQueue();
        return nullptr;
    }
    SSL_set_connect_state(ssl);
    const QByteArray name = o.peerName.toUtf8();
    // The session key: the context's policy and the origin's name.
    SSL_set_ex_data(ssl, sessionKeyIndex(), new QByteArray(policy + '\0' + name));
    if (SSL_SESSION *resumable = takeSession(policy + '\0' + name)) {
        SSL_set_session(ssl, resumable); // the origin may still decline it: then a full, verified handshake
        SSL_SESSION_free(resumable);
    }
    QHostAddress literal;
    const bool isLiteral = literal.setAddress(o.peerName);
    if (!isLiteral && !name.isEmpty())
        SSL_set_tlsext_host_name(ssl, name.constData()); // no SNI for an IP address (RFC 6066)
    if (o.verifyPeer) {
        bool identitySet = false;
        if (isLiteral) {
            // Qt's spelling of the address: Qt also takes "127.1" or "2130706433", which OpenSSL's parser refuses;
            // left unchecked, that refusal meant no identity check at all. No scope: certificates carry none.
            literal.setScopeId(QString());
            identitySet = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), literal.toString().toLatin1().constData())
                == 1;
        } else {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS); // "*.example" only, as QSslSocket
            identitySet = SSL_set1_host(ssl, name.constData()) == 1;
        }
        if (!identitySet) { // fail closed: a chain check without a name check accepts any trusted certificate
            SSL_free(ssl);
            ERR_clear_error();
            *error = QStringLiteral("cannot check the certificate of %1 against that name").arg(o.peerName);
            return nullptr;
        }
    }
    return ssl;
}

QString errorQueue()
{
    QStringList errors;
    while (const unsigned long e = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        errors.append(QString::fromLatin1(text));
    }
    return errors.isEmpty() ? QStringLiteral("the TLS handshake failed") : errors.join(QStringLiteral("; "));
}

QString handshakeError(SSL *ssl, const TlsClientOptions &options)
{
    const long verify = SSL_get_verify_result(ssl);
    if (options.verifyPeer && verify != X509_V_OK) {
        ERR_clear_error();
        return QStringLiteral("the certificate of %1 does not verify: %2")
            .arg(options.peerName, QString::fromLatin1(X509_verify_cert_error_string(verify)));
    }
    return errorQueue();
}

void handshakeDone(SSL *ssl, const QString &peerName, const QString &where)
{
    const bool resumed = isResumed(ssl);
    g_handshakes.fetch_add(1, std::memory_order_relaxed);
    if (resumed)
        g_resumed.fetch_add(1, std::memory_order_relaxed);
    qCDebug(lcForward).noquote() << "TLS to" << peerName << where << SSL_get_version(ssl) << SSL_get_cipher(ssl)
                                 << (resumed ? "(resumed)" : "(full handshake)");
}

bool isResumed(const SSL *ssl)
{
    return ssl && SSL_session_reused(const_cast<SSL *>(ssl)) == 1;
}

QByteArray negotiatedProtocol(const SSL *ssl)
{
    if (!ssl)
        return {};
    const unsigned char *p = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(ssl, &p, &size);
    return QByteArray(reinterpret_cast<const char *>(p), int(size));
}

quint64 handshakes()
{
    return g_handshakes.load(std::memory_order_relaxed);
}

quint64 resumedHandshakes()
{
    return g_resumed.load(std::memory_order_relaxed);
}

} // namespace dfproxy::forward::tlsclient
