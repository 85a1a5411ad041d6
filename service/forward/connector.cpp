// SPDX-License-Identifier: Apache-2.0
#include "forward/connector.h"

#include "dns/hostcache.h"

#include <QPointer>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimerEvent>

namespace dfproxy::forward {

namespace {

bool isTlsFailure(QAbstractSocket::SocketError e)
{
    return e == QAbstractSocket::SslHandshakeFailedError || e == QAbstractSocket::SslInternalError
        || e == QAbstractSocket::SslInvalidUserDataError;
}

} // namespace

Connector::Connector(Upstream upstream, Options options, Connected connected, Failed failed, QObject *parent)
    : QObject(parent)
    , m_upstream(std::move(upstream))
    , m_options(std::move(options))
    , m_connected(std::move(connected))
    , m_failed(std::move(failed))
{
}

Connector::~Connector()
{
    dropSocket();
}

void Connector::start()
{
    if (m_upstream.addresses.isEmpty()) {
        QMetaObject::invokeMethod(
            this, [this] { m_failed(ForwardError::ConnectRefused, QStringLiteral("no addresses to connect to")); },
            Qt::QueuedConnection);
        return;
    }
    dial();
}

void Connector::dial()
{
    const QHostAddress &address = m_upstream.addresses.at(m_index);
    QTcpSocket *s = nullptr;
    if (m_upstream.tls) {
        auto *ssl = new QSslSocket;
        QSslConfiguration conf = ssl->sslConfiguration();
        if (!m_upstream.tlsCaFile.isEmpty())
            conf.setCaCertificates(m_options.caCertificates
                                       ? m_options.caCertificates(m_upstream.tlsCaFile)
                                       : QSslCertificate::fromPath(m_upstream.tlsCaFile, QSsl::Pem));
        if (m_upstream.tlsInsecureSkipVerify) {
            conf.setPeerVerifyMode(QSslSocket::VerifyNone);
            connect(ssl, &QSslSocket::sslErrors, this, [ssl](const QList<QSslError> &errors) {
                ssl->ignoreSslErrors(errors);
            });
        }
        ssl->setSslConfiguration(conf);
        connect(ssl, &QSslSocket::encrypted, this, [this] { onSocketConnected(); });
        s = ssl;
    } else {
        s = new QTcpSocket;
        connect(s, &QAbstractSocket::connected, this, [this] { onSocketConnected(); });
    }
    m_socket = s;
    s->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    connect(s, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError e) { onSocketError(e); });
    m_dialling = true;
    if (m_upstream.tls) {
        const QString name = m_upstream.sni.isEmpty() ? m_upstream.host : m_upstream.sni;
        auto *ssl = static_cast<QSslSocket *>(s);
        ssl->setPeerVerifyName(name);
        ssl->connectToHostEncrypted(address.toString(), m_upstream.port, name);
    } else {
        s->connectToHost(address, m_upstream.port);
    }
    m_dialling = false;
    if (m_socket == s && m_options.timeoutMs > 0)
        m_timer.start(this, m_options.timeoutMs);
}

void Connector::onSocketConnected()
{
    if (m_dialling) {
        // Qt connected inside connectToHost(): report from the event loop.
        QMetaObject::invokeMethod(this, [this, s = QPointer<QTcpSocket>(m_socket)] {
            if (s && s == m_socket)
                onSocketConnected();
        }, Qt::QueuedConnection);
        return;
    }
    m_timer.stop();
    QTcpSocket *s = std::exchange(m_socket, nullptr);
    QObject::disconnect(s, nullptr, this, nullptr);
    const QHostAddress address = m_upstream.addresses.at(m_index); // a copy: the callback may delete this
    m_connected(s, address);
}

void Connector::onSocketError(QAbstractSocket::SocketError error)
{
    if (!m_socket)
        return;
    if (m_dialling) {
        QMetaObject::invokeMethod(this, [this, error, s = QPointer<QTcpSocket>(m_socket)] {
            if (s && s == m_socket)
                onSocketError(error);
        }, Qt::QueuedConnection);
        return;
    }
    const QString detail = m_socket->errorString();
    addressFailed(isTlsFailure(error) ? ForwardError::TlsError : ForwardError::ConnectRefused, detail);
}

void Connector::timerEvent(QTimerEvent *ev)
{
    if (m_timer.fired(this, ev) && m_socket)
        addressFailed(ForwardError::ConnectTimeout,
                      QStringLiteral("connect timed out after %1 ms").arg(m_options.timeoutMs));
}

void Connector::addressFailed(ForwardError error, const QString &detail)
{
    m_timer.stop();
    dropSocket();
    ++m_failures;
    if (error == ForwardError::TlsError) {
        // The address answered; its certificate is the problem, and the other addresses serve the same one.
        m_failed(error, QStringLiteral("TLS to %1 port %2 failed: %3").arg(m_upstream.host).arg(m_upstream.port)
                            .arg(detail));
        return;
    }
    if (m_options.hostCache)
        m_options.hostCache->reportConnectFailure(m_upstream.host, m_upstream.port, m_upstream.addresses.at(m_index));
    if (error == ForwardError::ConnectTimeout)
        ++m_timeouts;
    m_lastError = error;
    m_lastDetail = detail;
    if (++m_index < m_upstream.addresses.size()) {
        dial();
        return;
    }
    // Every address timed out: 504; every one refused or was unreachable: 502; a mix: the last one's.
    const ForwardError result = m_timeouts == m_failures ? ForwardError::ConnectTimeout
        : m_timeouts == 0                              ? ForwardError::ConnectRefused
                                                       : m_lastError;
    m_failed(result, QStringLiteral("connecting to %1 port %2 failed: %3")
                         .arg(m_upstream.host)
                         .arg(m_upstream.port)
                         .arg(m_lastDetail));
}

void Connector::dropSocket()
{
    if (!m_socket)
        return;
    QTcpSocket *s = std::exchange(m_socket, nullptr);
    QObject::disconnect(s, nullptr, this, nullptr);
    s->abort();
    s->deleteLater(); // possibly inside one of its own signals
}

} // namespace dfproxy::forward
