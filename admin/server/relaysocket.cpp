// SPDX-License-Identifier: Apache-2.0
#include "server/relaysocket.h"

#include <QMetaObject>

#include <cstring>

namespace dfproxy::admin {

RelaySocket::RelaySocket(QTcpSocket *client, QObject *parent) : QTcpSocket(parent), m_client(client)
{
    setPeerAddress(client->peerAddress());
    setPeerPort(client->peerPort());
    setLocalAddress(client->localAddress());
    setLocalPort(client->localPort());
    setSocketState(ConnectedState);
    QIODevice::open(QIODevice::ReadWrite);
}

RelaySocket::~RelaySocket()
{
    // QAbstractSocket's destructor would abort() through a socket engine this stand-in never had.
    setSocketState(UnconnectedState);
}

void RelaySocket::deliverHead(const QByteArray &head, std::optional<ApiResponse> verdict)
{
    if (state() != ConnectedState)
        return;
    m_verdicts.enqueue(std::move(verdict));
    deliverBody(head.constData(), head.size());
}

void RelaySocket::deliverBody(const char *data, qsizetype size)
{
    if (state() != ConnectedState || size <= 0)
        return;
    if (m_inPos == m_in.size()) {
        m_in.clear();
        m_inPos = 0;
    }
    m_in.append(data, size);
    announce();
}

std::optional<ApiResponse> RelaySocket::takeVerdict()
{
    return m_verdicts.isEmpty() ? std::nullopt : m_verdicts.dequeue();
}

// readyRead is queued: QHttpServer answers from inside it, and the gate must not be re-entered while it feeds.
void RelaySocket::announce()
{
    if (m_readyReadQueued)
        return;
    m_readyReadQueued = true;
    QMetaObject::invokeMethod(
        this,
        [this] {
            m_readyReadQueued = false;
            if (state() == ConnectedState && bytesAvailable() > 0)
                Q_EMIT readyRead();
        },
        Qt::QueuedConnection);
}

qint64 RelaySocket::bytesAvailable() const
{
    return qint64(m_in.size() - m_inPos) + QIODevice::bytesAvailable();
}

qint64 RelaySocket::bytesToWrite() const
{
    return m_client ? m_client->bytesToWrite() : 0;
}

bool RelaySocket::canReadLine() const
{
    return QIODevice::canReadLine() || m_in.indexOf('\n', m_inPos) >= 0;
}

qint64 RelaySocket::readData(char *data, qint64 maxSize)
{
    const qint64 n = std::min<qint64>(maxSize, m_in.size() - m_inPos);
    if (n <= 0)
        return state() == ConnectedState ? 0 : -1;
    std::memcpy(data, m_in.constData() + m_inPos, size_t(n));
    m_inPos += qsizetype(n);
    if (m_inPos == m_in.size()) {
        m_in.clear();
        m_inPos = 0;
    }
    return n;
}

qint64 RelaySocket::writeData(const char *data, qint64 size)
{
    if (state() != ConnectedState)
        return -1;
    Q_EMIT outgoing(QByteArray(data, qsizetype(size)));
    return size;
}

void RelaySocket::close()
{
    disconnectFromHost();
}

void RelaySocket::disconnectFromHost()
{
    if (state() == UnconnectedState)
        return;
    setSocketState(UnconnectedState);
    m_in.clear();
    m_inPos = 0;
    QIODevice::close();
    Q_EMIT stateChanged(UnconnectedState);
    Q_EMIT disconnected();
}

} // namespace dfproxy::admin
