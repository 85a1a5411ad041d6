// SPDX-License-Identifier: Apache-2.0
#include "forward/tlslayer.h"

#include "base/logcategories.h"

#include <QCryptographicHash>
#include <QHash>
#include <QHostAddress>
#include <QMutex>
#include <QPointer>
#include <QSslConfiguration>
#include <QSslSocket>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>

namespace dfproxy::forward {

namespace {

struct CtxFree
{
    void operator()(SSL_CTX *ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::shared_ptr<SSL_CTX>;

QString opensslError()
{
    QStringList errors;
    while (const unsigned long e = ERR_get_error()) {
        char text[256];
        ERR_error_string_n(e, text, sizeof text);
        errors.append(QString::fromLatin1(text));
    }
    return errors.isEmpty() ? QStringLiteral("the TLS handshake failed") : errors.join(QStringLiteral("; "));
}

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
/// origin's next ticket replaces it. Shared by every thread.
struct SessionCache
{
    ~SessionCache()
    {
        for (SSL_SESSION *s : std::as_const(sessions)) // at exit: LeakSanitizer would count them
            SSL_SESSION_free(s);
    }
    QMutex mutex;
    QHash<QByteArray, SSL_SESSION *> sessions;
};

SessionCache &sessionCache()
{
    static SessionCache cache;
    return cache;
}

/// The SSL ex_data slot holding a connection's session key (a QByteArray owned by TlsLayerSocket::Session).
int sessionKeyIndex()
{
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

/// OpenSSL's new-session callback: keeps the session (1: the reference is ours now).
int keepSession(SSL *ssl, SSL_SESSION *session)
{
    const auto *key = static_cast<const QByteArray *>(SSL_get_ex_data(ssl, sessionKeyIndex()));
    if (!key || !SSL_SESSION_is_resumable(session))
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
    return 1;
}

/// The cached session for `key`, taken out of the cache (the caller frees it); null when there is none.
SSL_SESSION *takeSession(const QByteArray &key)
{
    SessionCache &cache = sessionCache();
    QMutexLocker lock(&cache.mutex);
    return cache.sessions.take(key);
}

/// The part of a session key that names the CA set.
QByteArray caKey(const TlsLayerSocket::Options &o)
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

/// One SSL_CTX per set of trusted CAs (the system's, or one backend's CA file), made on first use and shared by
/// every thread (SSL_new on a shared context is thread-safe): loading the system store costs milliseconds, a
/// connection should not pay for it.
CtxPtr contextFor(const TlsLayerSocket::Options &o)
{
    const QByteArray key = caKey(o);
    static QMutex mutex;
    static QHash<QByteArray, CtxPtr> cache;
    QMutexLocker lock(&mutex);
    if (CtxPtr ctx = cache.value(key))
        return ctx;
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()), CtxFree());
    if (!ctx)
        return nullptr;
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION); // what Qt's SecureProtocols allow on the direct path
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx.get(), keepSession);
    if (o.systemCaCertificates) {
        // The store QSslSocket verifies against by default: OpenSSL's (SSL_CERT_FILE / SSL_CERT_DIR or the
        // distribution's bundle) on Unix, plus what the application made Qt's default.
        SSL_CTX_set_default_verify_paths(ctx.get());
        addCertificates(ctx.get(), QSslConfiguration::defaultConfiguration().caCertificates());
#if defined(Q_OS_WIN) || defined(Q_OS_MACOS)
        // OpenSSL's default paths mean nothing there: the system store comes through Qt.
        addCertificates(ctx.get(), QSslConfiguration::systemCaCertificates());
#endif
    } else {
        addCertificates(ctx.get(), o.caCertificates);
    }
    if (cache.size() >= 64) // a handful of CA files in practice; never grows without bound
        cache.clear();
    cache.insert(key, ctx);
    return ctx;
}

} // namespace

struct TlsLayerSocket::Session
{
    ~Session()
    {
        if (ssl)
            SSL_free(ssl); // frees both BIOs too
    }
    CtxPtr ctx;
    QByteArray sessionKey; ///< what keepSession() files this connection's sessions under; outlives `ssl`
    SSL *ssl = nullptr;
    BIO *in = nullptr;  ///< ciphertext from the tunnel, for OpenSSL to read
    BIO *out = nullptr; ///< ciphertext OpenSSL wrote, for the tunnel
};

TlsLayerSocket::TlsLayerSocket(QTcpSocket *outer, Options options, QObject *parent)
    : QTcpSocket(parent)
    , m_outer(outer)
    , m_options(std::move(options))
{
    m_outer->setParent(this);
    setPeerAddress(m_outer->peerAddress());
    setPeerPort(m_outer->peerPort());
    setLocalAddress(m_outer->localAddress());
    setLocalPort(m_outer->localPort());
    setPeerName(m_options.peerName);
    setSocketState(QAbstractSocket::ConnectedState);
    QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
    connect(m_outer, &QIODevice::readyRead, this, [this] { onOuterReadable(); });
    connect(m_outer, &QIODevice::bytesWritten, this, [this](qint64 n) {
        if (m_established)
            Q_EMIT bytesWritten(n);
    });
    connect(m_outer, &QAbstractSocket::disconnected, this, [this] { onOuterDisconnected(); });
    connect(m_outer, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) {
        if (e == QAbstractSocket::RemoteHostClosedError)
            return; // disconnected() follows
        if (!m_established) {
            fail(QAbstractSocket::SslHandshakeFailedError,
                 QStringLiteral("the tunnel broke during the TLS handshake: %1").arg(m_outer->errorString()));
            return;
        }
        setSocketError(e);
        setErrorString(m_outer->errorString());
        Q_EMIT errorOccurred(e);
    });
}

TlsLayerSocket::~TlsLayerSocket()
{
    // Unconnected before QAbstractSocket's destructor runs: it would abort() through its own close().
    if (m_outer)
        QObject::disconnect(m_outer, nullptr, this, nullptr);
    setSocketState(QAbstractSocket::UnconnectedState);
}

void TlsLayerSocket::startClientEncryption()
{
    if (m_started)
        return;
    m_started = true;
    auto session = std::make_unique<Session>();
    session->ctx = contextFor(m_options);
    if (session->ctx)
        session->ssl = SSL_new(session->ctx.get());
    if (!session->ssl) {
        const QString why = opensslError();
        QMetaObject::invokeMethod(this, [this, why] { fail(QAbstractSocket::SslInternalError, why); },
                                  Qt::QueuedConnection);
        return;
    }
    session->in = BIO_new(BIO_s_mem());
    session->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(session->in, -1); // empty means "more later", not the end
    SSL_set_bio(session->ssl, session->in, session->out);
    SSL_set_connect_state(session->ssl);
    SSL *ssl = session->ssl;
    session->sessionKey = caKey(m_options) + '\0' + m_options.peerName.toUtf8() + '\0'
        + (m_options.verifyPeer ? "verified" : "unverified") + '\0' + m_options.alpn.join(',');
    SSL_set_ex_data(ssl, sessionKeyIndex(), &session->sessionKey);
    if (SSL_SESSION *resumable = takeSession(session->sessionKey)) {
        SSL_set_session(ssl, resumable); // the origin may still decline it: then a full, verified handshake
        SSL_SESSION_free(resumable);
    }
    const QByteArray name = m_options.peerName.toUtf8();
    QHostAddress literal;
    const bool isLiteral = literal.setAddress(m_options.peerName);
    if (!isLiteral && !name.isEmpty())
        SSL_set_tlsext_host_name(ssl, name.constData()); // no SNI for an IP address (RFC 6066)
    if (m_options.verifyPeer) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
        if (isLiteral) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.constData());
        } else {
            SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS); // "*.example" only, as QSslSocket
            SSL_set1_host(ssl, name.constData());
        }
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);
    }
    if (!m_options.alpn.isEmpty()) {
        QByteArray wire;
        for (const QByteArray &p : m_options.alpn) {
            wire += char(p.size());
            wire += p;
        }
        SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char *>(wire.constData()), unsigned(wire.size()));
    }
    m_session = std::move(session);
    continueHandshake();
    // What the tunnel already holds (nothing, usually: the origin waits for the ClientHello).
    if (m_outer->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, [this] { onOuterReadable(); }, Qt::QueuedConnection);
}

bool TlsLayerSocket::isResumed() const
{
    return m_session && m_established && SSL_session_reused(m_session->ssl) == 1;
}

QByteArray TlsLayerSocket::negotiatedProtocol() const
{
    if (!m_session || !m_established)
        return {};
    const unsigned char *p = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(m_session->ssl, &p, &size);
    return QByteArray(reinterpret_cast<const char *>(p), int(size));
}

void TlsLayerSocket::continueHandshake()
{
    ERR_clear_error();
    const int r = SSL_do_handshake(m_session->ssl);
    sendPending();
    if (r == 1) {
        m_established = true;
        qCDebug(lcForward).noquote() << "TLS to" << m_options.peerName << "inside the tunnel:"
                                     << SSL_get_version(m_session->ssl) << SSL_get_cipher(m_session->ssl)
                                     << (isResumed() ? "(resumed)" : "");
        Q_EMIT encrypted();
        return;
    }
    const int e = SSL_get_error(m_session->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    const long verify = SSL_get_verify_result(m_session->ssl);
    if (m_options.verifyPeer && verify != X509_V_OK) {
        ERR_clear_error();
        fail(QAbstractSocket::SslHandshakeFailedError,
             QStringLiteral("the certificate of %1 does not verify: %2")
                 .arg(m_options.peerName, QString::fromLatin1(X509_verify_cert_error_string(verify))));
        return;
    }
    fail(QAbstractSocket::SslHandshakeFailedError, opensslError());
}

void TlsLayerSocket::onOuterReadable()
{
    if (!m_session || m_failed)
        return;
    const QByteArray cipher = m_outer->readAll();
    if (!cipher.isEmpty())
        BIO_write(m_session->in, cipher.constData(), int(cipher.size()));
    if (!m_established) {
        QPointer<TlsLayerSocket> alive(this);
        continueHandshake(); // encrypted()'s receiver may delete this, or write
        if (!alive || !m_established || m_failed)
            return;
    }
    const qsizetype before = m_plain.size();
    bool closed = false;
    for (;;) {
        char buf[16 * 1024];
        ERR_clear_error();
        const int n = SSL_read(m_session->ssl, buf, int(sizeof buf));
        if (n > 0) {
            m_plain.append(buf, n);
            continue;
        }
        const int e = SSL_get_error(m_session->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) { // the origin's close_notify
            closed = true;
            break;
        }
        sendPending();
        const QString why = opensslError();
        QPointer<TlsLayerSocket> self(this);
        if (m_plain.size() > before)
            Q_EMIT readyRead();
        if (self)
            fail(QAbstractSocket::SslInternalError, QStringLiteral("TLS error from the origin: %1").arg(why));
        return;
    }
    sendPending(); // key updates, session tickets' answers
    QPointer<TlsLayerSocket> self(this);
    if (m_plain.size() > before)
        Q_EMIT readyRead();
    if (self && closed && state() == QAbstractSocket::ConnectedState)
        disconnectFromHost();
}

void TlsLayerSocket::onOuterDisconnected()
{
    if (!m_established) {
        fail(QAbstractSocket::SslHandshakeFailedError,
             QStringLiteral("the tunnel closed during the TLS handshake (the origin or the proxy ended it)"));
        return;
    }
    finish();
}

void TlsLayerSocket::finish()
{
    if (state() == QAbstractSocket::UnconnectedState)
        return;
    setSocketState(QAbstractSocket::UnconnectedState);
    Q_EMIT stateChanged(QAbstractSocket::UnconnectedState);
    QPointer<TlsLayerSocket> self(this);
    Q_EMIT readChannelFinished();
    if (self)
        Q_EMIT disconnected();
}

void TlsLayerSocket::sendPending()
{
    if (!m_session)
        return;
    while (const size_t pending = BIO_ctrl_pending(m_session->out)) {
        QByteArray chunk(qsizetype(pending), Qt::Uninitialized);
        const int n = BIO_read(m_session->out, chunk.data(), int(chunk.size()));
        if (n <= 0)
            break;
        m_outer->write(chunk.constData(), n);
    }
}

void TlsLayerSocket::fail(QAbstractSocket::SocketError error, const QString &message)
{
    if (m_failed)
        return;
    m_failed = true;
    setSocketError(error);
    setErrorString(message);
    QObject::disconnect(m_outer, nullptr, this, nullptr);
    m_outer->abort();
    QPointer<TlsLayerSocket> self(this);
    Q_EMIT errorOccurred(error);
    if (self && m_established)
        finish();
}

qint64 TlsLayerSocket::bytesAvailable() const
{
    return QIODevice::bytesAvailable() + m_plain.size();
}

qint64 TlsLayerSocket::bytesToWrite() const
{
    return m_outer ? m_outer->bytesToWrite() : 0;
}

bool TlsLayerSocket::canReadLine() const
{
    return QIODevice::canReadLine() || m_plain.contains('\n');
}

qint64 TlsLayerSocket::readData(char *data, qint64 maxlen)
{
    const qint64 n = qMin<qint64>(maxlen, m_plain.size());
    if (n == 0)
        return state() == QAbstractSocket::UnconnectedState ? -1 : 0;
    std::memcpy(data, m_plain.constData(), size_t(n));
    m_plain.remove(0, n);
    return n;
}

qint64 TlsLayerSocket::readLineData(char *data, qint64 maxlen)
{
    const qsizetype nl = m_plain.indexOf('\n');
    const qint64 n = qMin<qint64>(maxlen, nl >= 0 ? nl + 1 : m_plain.size());
    return readData(data, n);
}

qint64 TlsLayerSocket::skipData(qint64 maxSize)
{
    const qint64 n = qMin<qint64>(maxSize, m_plain.size());
    m_plain.remove(0, n);
    return n;
}

qint64 TlsLayerSocket::writeData(const char *data, qint64 len)
{
    if (!m_established || m_failed || state() != QAbstractSocket::ConnectedState)
        return -1;
    qint64 done = 0;
    while (done < len) {
        ERR_clear_error();
        const int chunk = int(qMin<qint64>(len - done, 1 << 20));
        const int n = SSL_write(m_session->ssl, data + done, chunk);
        if (n <= 0) {
            const QString why = opensslError();
            sendPending();
            QMetaObject::invokeMethod(
                this, [this, why] { fail(QAbstractSocket::SslInternalError, why); }, Qt::QueuedConnection);
            return done > 0 ? done : -1;
        }
        done += n;
    }
    sendPending();
    return done;
}

void TlsLayerSocket::disconnectFromHost()
{
    if (state() != QAbstractSocket::ConnectedState)
        return;
    setSocketState(QAbstractSocket::ClosingState);
    if (m_established && !m_failed) {
        ERR_clear_error();
        SSL_shutdown(m_session->ssl); // close_notify; the origin's answer is not waited for
        sendPending();
    }
    m_outer->disconnectFromHost(); // disconnected() once its queue is out (at once when it is empty)
    if (m_outer->state() == QAbstractSocket::UnconnectedState)
        finish();
}

void TlsLayerSocket::close()
{
    if (m_outer) {
        QObject::disconnect(m_outer, nullptr, this, nullptr);
        m_outer->abort();
    }
    m_failed = true;
    m_plain.clear();
    setSocketState(QAbstractSocket::UnconnectedState);
    QIODevice::close();
}

bool tlsNegotiatedProtocol(const QTcpSocket *socket, QByteArray *alpn)
{
    if (const auto *ssl = qobject_cast<const QSslSocket *>(socket); ssl && ssl->isEncrypted()) {
        if (alpn)
            *alpn = ssl->sslConfiguration().nextNegotiatedProtocol();
        return true;
    }
    if (const auto *inner = qobject_cast<const TlsLayerSocket *>(socket); inner && inner->isEncrypted()) {
        if (alpn)
            *alpn = inner->negotiatedProtocol();
        return true;
    }
    return false;
}

} // namespace dfproxy::forward
