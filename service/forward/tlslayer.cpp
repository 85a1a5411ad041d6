// SPDX-License-Identifier: Apache-2.0
#include "forward/tlslayer.h"

#include "forward/tlsclient.h"

#include <QPointer>
#include <QSslConfiguration>
#include <QSslSocket>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace dfproxy::forward {

struct TlsLayerSocket::Session
{
    ~Session()
    {
        if (ssl)
            SSL_free(ssl); // frees both BIOs too
    }
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
    QString why;
    session->ssl = tlsclient::newClientSsl(m_options, &why);
    if (!session->ssl) {
        QMetaObject::invokeMethod(this, [this, why] { fail(QAbstractSocket::SslInternalError, why); },
                                  Qt::QueuedConnection);
        return;
    }
    session->in = BIO_new(BIO_s_mem());
    session->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(session->in, -1); // empty means "more later", not the end
    SSL_set_bio(session->ssl, session->in, session->out);
    m_session = std::move(session);
    continueHandshake();
    // What the tunnel already holds (nothing, usually: the origin waits for the ClientHello).
    if (m_outer->bytesAvailable() > 0)
        QMetaObject::invokeMethod(this, [this] { onOuterReadable(); }, Qt::QueuedConnection);
}

bool TlsLayerSocket::isResumed() const
{
    return m_session && m_established && tlsclient::isResumed(m_session->ssl);
}

QByteArray TlsLayerSocket::negotiatedProtocol() const
{
    return m_session && m_established ? tlsclient::negotiatedProtocol(m_session->ssl) : QByteArray();
}

void TlsLayerSocket::continueHandshake()
{
    ERR_clear_error();
    const int r = SSL_do_handshake(m_session->ssl);
    sendPending();
    if (r == 1) {
        m_established = true;
        tlsclient::handshakeDone(m_session->ssl, m_options.peerName, QStringLiteral("inside the tunnel:"));
        Q_EMIT encrypted();
        return;
    }
    const int e = SSL_get_error(m_session->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    fail(QAbstractSocket::SslHandshakeFailedError, tlsclient::handshakeError(m_session->ssl, m_options));
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
        const QString why = tlsclient::errorQueue();
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
            const QString why = tlsclient::errorQueue();
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
