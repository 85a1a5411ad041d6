// SPDX-License-Identifier: Apache-2.0
#include "forward/tlsstream.h"

#include <QTimerEvent>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>
#include <utility>

namespace dfproxy::forward {

namespace {

/// An empty error queue before each SSL call (SSL_get_error reads it). ERR_clear_error itself costs hundreds of
/// instructions per call in OpenSSL 3 (it walks every slot); on the data path the queue is almost always empty.
void clearErrors()
{
    if (ERR_peek_error() != 0)
        ERR_clear_error();
}

} // namespace

TlsClientStream *TlsClientStream::connectTo(const QHostAddress &address, quint16 port, TlsClientOptions options,
                                            QString *error, QObject *parent)
{
    net::Stream *raw = net::Stream::connectTo(address, port, error);
    if (!raw)
        return nullptr;
    return new TlsClientStream(raw, std::move(options), parent);
}

TlsClientStream::TlsClientStream(net::Stream *raw, TlsClientOptions options, QObject *parent)
    : net::Stream(parent)
    , m_raw(raw)
    , m_options(std::move(options))
{
    m_raw->setParent(this);
    m_raw->setKeepOpenAtEnd(true); // its end of input is OpenSSL's EOF, not a close of its own
    m_raw->setListener(this);
    m_peerAddress = m_raw->peerAddress();
    m_peerPort = m_raw->peerPort();
    m_ssl = tlsclient::newClientSsl(m_options, &m_setupError);
    if (!m_ssl)
        return;
    BIO *bio = BIO_new(bioMethod());
    if (!bio) {
        m_setupError = tlsclient::errorQueue();
        SSL_free(std::exchange(m_ssl, nullptr));
        return;
    }
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(m_ssl, bio, bio); // one reference for both directions
}

TlsClientStream::~TlsClientStream()
{
    m_raw->setListener(nullptr); // (deleted with this, as a child)
    if (m_ssl) {
        BIO_set_data(SSL_get_rbio(m_ssl), nullptr);
        SSL_free(m_ssl);
    }
}

bool TlsClientStream::isResumed() const
{
    return m_state == State::Established && tlsclient::isResumed(m_ssl);
}

QByteArray TlsClientStream::negotiatedProtocol() const
{
    return m_state == State::Established ? tlsclient::negotiatedProtocol(m_ssl) : QByteArray();
}

// --- the raw stream's events

void TlsClientStream::onStreamConnected()
{
    if (m_state != State::Connecting || m_reported)
        return;
    if (!m_ssl) {
        fail(QAbstractSocket::SslInternalError, m_setupError, false);
        return;
    }
    m_state = State::Handshaking;
    continueHandshake();
}

void TlsClientStream::onStreamReadable()
{
    if (m_reported)
        return;
    if (m_closing)
        lingerIfFlushed(true);
    else if (m_state == State::Handshaking)
        continueHandshake();
    else if (m_state == State::Established)
        announceInput();
}

void TlsClientStream::onStreamWritten()
{
    if (m_state != State::Established || m_reported)
        return;
    if (m_closing) {
        lingerIfFlushed(true);
        return;
    }
    if (m_listener)
        m_listener->onStreamWritten();
}

void TlsClientStream::onStreamClosed(QAbstractSocket::SocketError error)
{
    if (m_reported)
        return;
    const QString why = m_raw->errorString();
    m_error = m_state == State::Handshaking
        ? QStringLiteral("the connection broke during the TLS handshake: %1").arg(why)
        : why;
    m_state = State::Closed;
    report(error, false);
}

// --- TLS

void TlsClientStream::continueHandshake()
{
    ERR_clear_error();
    const int r = SSL_do_handshake(m_ssl);
    if (r == 1) {
        m_state = State::Established;
        tlsclient::handshakeDone(m_ssl, m_options.peerName,
                                 QStringLiteral("at %1 port %2:").arg(m_peerAddress.toString()).arg(m_peerPort));
        // Records read ahead with the handshake's last flight announce nothing of their own.
        m_inputWaits = SSL_has_pending(m_ssl) == 1;
        writeEarly();
        Liveness::Guard alive(m_liveness);
        if (m_listener)
            m_listener->onStreamConnected();
        if (alive && m_inputWaits && m_state == State::Established)
            QMetaObject::invokeMethod(this, [this] { announceInput(); }, Qt::QueuedConnection);
        return;
    }
    const int e = SSL_get_error(m_ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    if (e == SSL_ERROR_SSL) {
        fail(QAbstractSocket::SslHandshakeFailedError, tlsclient::handshakeError(m_ssl, m_options), false);
        return;
    }
    // The TCP connection ended under the handshake: as QSslSocket reports it, a connection failure (the next
    // address is tried), not a TLS one.
    ERR_clear_error();
    if (!m_raw->isOpen()) {
        fail(QAbstractSocket::NetworkError,
             QStringLiteral("the connection broke during the TLS handshake: %1").arg(m_raw->errorString()), false);
        return;
    }
    fail(QAbstractSocket::RemoteHostClosedError,
         QStringLiteral("the origin closed the connection during the TLS handshake"), false);
}

void TlsClientStream::announceInput()
{
    if (m_state != State::Established || m_reported || m_readEnded || m_closing)
        return;
    // One byte peeked: OpenSSL reads and decrypts the record in its buffer, where read() then takes it from.
    char byte;
    clearErrors();
    const int n = SSL_peek(m_ssl, &byte, 1);
    if (n > 0) {
        if (m_listener)
            m_listener->onStreamReadable();
        return;
    }
    const int e = SSL_get_error(m_ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        m_inputWaits = false;
        return;
    }
    m_readEnded = true;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && m_raw->inputEnded())) {
        ERR_clear_error();
        endOfInput(false);
        return;
    }
    if (!m_raw->isOpen()) {
        ERR_clear_error();
        fail(QAbstractSocket::NetworkError, m_raw->errorString(), false);
        return;
    }
    fail(QAbstractSocket::SslInternalError,
         QStringLiteral("TLS error from the origin: %1").arg(tlsclient::errorQueue()), false);
}

qint64 TlsClientStream::read(char *data, qint64 max)
{
    if (!m_ssl || max <= 0 || m_readEnded || (m_state != State::Established && m_state != State::Closed))
        return 0;
    qint64 total = 0;
    clearErrors(); // (a successful SSL_read adds none)
    while (total < max) {
        const int n = SSL_read(m_ssl, data + total, int(std::min<qint64>(max - total, INT_MAX)));
        if (n > 0) {
            total += n;
            // On to the next record only where OpenSSL holds one already: with the kernel's queue empty, another
            // read would only find that out, and a caller that wants more reads again anyway.
            if (SSL_pending(m_ssl) <= 0 && SSL_has_pending(m_ssl) != 1) {
                m_inputWaits = false;
                return total;
            }
            continue;
        }
        const int e = SSL_get_error(m_ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            m_inputWaits = false;
            return total;
        }
        m_readEnded = true;
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && m_raw->inputEnded())) {
            ERR_clear_error();
            endOfInput(true);
        } else if (!m_raw->isOpen()) {
            ERR_clear_error(); // the raw stream reports its reset (or did)
            fail(QAbstractSocket::NetworkError, m_raw->errorString(), true);
        } else {
            fail(QAbstractSocket::SslInternalError,
                 QStringLiteral("TLS error from the origin: %1").arg(tlsclient::errorQueue()), true);
        }
        return total;
    }
    m_inputWaits = SSL_has_pending(m_ssl) == 1;
    return total;
}

bool TlsClientStream::hasPendingInput() const
{
    if (!m_ssl || m_readEnded || (m_state != State::Established && m_state != State::Closed))
        return false;
    return SSL_pending(m_ssl) > 0 || m_inputWaits || m_raw->hasPendingInput();
}

void TlsClientStream::write(const char *data, qint64 size)
{
    if (size <= 0 || m_reported || m_closing || m_state == State::Closed)
        return;
    if (m_state != State::Established) {
        m_early.append(data, size); // goes once the handshake is done
        return;
    }
    // The BIO never refuses (the raw stream queues what the kernel does not take): SSL_write encrypts it all now.
    clearErrors();
    while (size > 0) {
        const int n = SSL_write(m_ssl, data, int(std::min<qint64>(size, INT_MAX)));
        if (n <= 0) {
            if (!m_raw->isOpen()) {
                ERR_clear_error(); // the raw stream reports the failed write
                return;
            }
            fail(QAbstractSocket::SslInternalError,
                 QStringLiteral("TLS error towards the origin: %1").arg(tlsclient::errorQueue()), true);
            return;
        }
        data += n;
        size -= n;
    }
}

void TlsClientStream::writeEarly()
{
    if (m_early.isEmpty())
        return;
    const QByteArray early = std::exchange(m_early, QByteArray());
    write(early.constData(), early.size());
}

qint64 TlsClientStream::bytesToWrite() const
{
    return m_raw->bytesToWrite() + m_early.size();
}

void TlsClientStream::closeAfterFlush()
{
    if (m_reported || m_closing || m_state == State::Closed)
        return;
    if (m_state != State::Established) { // nothing to flush before the handshake is done
        abort();
        return;
    }
    m_closing = true;
    ERR_clear_error();
    SSL_shutdown(m_ssl); // close_notify, behind what is queued
    ERR_clear_error();
    // Then a FIN, and the descriptor is closed once the origin closed too (or after kLingerMs): closed while the
    // origin still sends (a session ticket, the rest of a response), it would answer with a reset, and the origin
    // could drop what it had not read of ours yet. What comes meanwhile is dropped.
    m_raw->shutdownWrite();
    lingerIfFlushed(false);
}

void TlsClientStream::lingerIfFlushed(bool tell)
{
    discardInput();
    if (m_raw->bytesToWrite() > 0)
        return; // onStreamWritten comes back
    if (m_raw->inputEnded() || !m_raw->isOpen()) {
        finishClose(tell);
        return;
    }
    if (!m_lingerTimer)
        m_lingerTimer = startTimer(kLingerMs);
}

void TlsClientStream::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_lingerTimer)
        return net::Stream::timerEvent(event);
    killTimer(std::exchange(m_lingerTimer, 0));
    finishClose(true);
}

void TlsClientStream::discardInput()
{
    char scratch[16 * 1024];
    while (m_raw->read(scratch, sizeof scratch) > 0) {
    }
}

void TlsClientStream::finishClose(bool tell)
{
    if (!tell)
        m_reported = true; // inside closeAfterFlush(): closed at once, the caller sees isOpen() == false
    m_state = State::Closed;
    m_readEnded = true;
    m_raw->abort();
    report(QAbstractSocket::RemoteHostClosedError, false);
}

void TlsClientStream::abort()
{
    m_reported = true;
    m_readEnded = true;
    m_state = State::Closed;
    m_early.clear();
    m_raw->abort();
}

bool TlsClientStream::isOpen() const
{
    return !m_reported && m_state != State::Closed && m_raw->isOpen();
}

bool TlsClientStream::localEndpoint(QHostAddress *address, quint16 *port) const
{
    return isOpen() && m_raw->localEndpoint(address, port);
}

void TlsClientStream::endOfInput(bool queued)
{
    if (m_state == State::Closed || m_reported)
        return;
    m_state = State::Closed;
    m_error = QStringLiteral("the origin closed the TLS connection");
    m_raw->closeAfterFlush(); // what was written still goes out
    report(QAbstractSocket::RemoteHostClosedError, queued);
}

void TlsClientStream::fail(QAbstractSocket::SocketError error, const QString &message, bool queued)
{
    if (m_reported)
        return;
    m_error = message;
    m_state = State::Closed;
    m_readEnded = true;
    m_early.clear();
    m_raw->abort();
    report(error, queued);
}

void TlsClientStream::report(QAbstractSocket::SocketError error, bool queued)
{
    if (m_reported)
        return;
    if (queued) { // inside a call of the listener's: it checks isOpen(), and hears of it from the event loop
        QMetaObject::invokeMethod(this, [this, error] { report(error, false); }, Qt::QueuedConnection);
        return;
    }
    m_reported = true;
    if (m_listener)
        m_listener->onStreamClosed(error);
}

// --- the BIO

BIO_METHOD *TlsClientStream::bioMethod()
{
    static BIO_METHOD *const method = [] {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "dfproxy net::Stream");
        if (m) {
            BIO_meth_set_read(m, &TlsClientStream::bioRead);
            BIO_meth_set_write(m, &TlsClientStream::bioWrite);
            BIO_meth_set_ctrl(m, &TlsClientStream::bioCtrl);
        }
        return m;
    }();
    return method;
}

int TlsClientStream::bioRead(BIO *bio, char *data, int size)
{
    BIO_clear_retry_flags(bio);
    auto *self = static_cast<TlsClientStream *>(BIO_get_data(bio));
    if (!self || size <= 0)
        return -1;
    const qint64 n = self->m_raw->read(data, size);
    if (n > 0)
        return int(n);
    if (self->m_raw->inputEnded())
        return 0; // the origin's end of stream
    if (!self->m_raw->isOpen())
        return -1; // broken: no retry
    BIO_set_retry_read(bio);
    return -1;
}

int TlsClientStream::bioWrite(BIO *bio, const char *data, int size)
{
    BIO_clear_retry_flags(bio);
    auto *self = static_cast<TlsClientStream *>(BIO_get_data(bio));
    if (!self || !self->m_raw->isOpen())
        return -1;
    self->m_raw->write(data, size); // to the kernel now, or queued for when it takes more
    return size;
}

long TlsClientStream::bioCtrl(BIO *bio, int cmd, long, void *)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH: // writes are never held in the BIO
        return 1;
    case BIO_CTRL_EOF: { // what makes a read of 0 the end of the stream for OpenSSL (SSL_OP_IGNORE_UNEXPECTED_EOF)
        const auto *self = static_cast<const TlsClientStream *>(BIO_get_data(bio));
        return self && self->m_raw->inputEnded() ? 1 : 0;
    }
    default:
        return 0;
    }
}

} // namespace dfproxy::forward
