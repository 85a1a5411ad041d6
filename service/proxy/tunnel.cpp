// SPDX-License-Identifier: Apache-2.0
#include "proxy/tunnel.h"

#include <QTcpSocket>

namespace dfproxy::proxy {

Tunnel::Tunnel(QTcpSocket *client, QTcpSocket *upstream, qint64 limit, Done done, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_upstream(upstream)
    , m_limit(limit)
    , m_done(std::move(done))
{
    m_client->setParent(this);
    m_upstream->setParent(this);
    m_client->setReadBufferSize(limit);
    m_upstream->setReadBufferSize(limit);
    QObject::disconnect(m_client, nullptr, nullptr, nullptr);
    QObject::disconnect(m_upstream, nullptr, nullptr, nullptr);
    connect(m_client, &QIODevice::readyRead, this, [this] { relay(m_client, m_upstream, m_up); });
    connect(m_upstream, &QIODevice::readyRead, this, [this] { relay(m_upstream, m_client, m_down); });
    connect(m_client, &QIODevice::bytesWritten, this, [this] { relay(m_upstream, m_client, m_down); });
    connect(m_upstream, &QIODevice::bytesWritten, this, [this] { relay(m_client, m_upstream, m_up); });
    connect(m_client, &QAbstractSocket::disconnected, this, [this] { onEnded(m_client); });
    connect(m_upstream, &QAbstractSocket::disconnected, this, [this] { onEnded(m_upstream); });
    connect(m_client, &QAbstractSocket::errorOccurred, this, [this] { onEnded(m_client); });
    connect(m_upstream, &QAbstractSocket::errorOccurred, this, [this] { onEnded(m_upstream); });
    // Data may already be waiting on either side.
    QMetaObject::invokeMethod(this, [this] {
        relay(m_client, m_upstream, m_up);
        relay(m_upstream, m_client, m_down);
        if (m_client->state() == QAbstractSocket::UnconnectedState)
            onEnded(m_client);
        if (m_upstream->state() == QAbstractSocket::UnconnectedState)
            onEnded(m_upstream);
    }, Qt::QueuedConnection);
}

Tunnel::~Tunnel()
{
    QObject::disconnect(m_client, nullptr, this, nullptr);
    QObject::disconnect(m_upstream, nullptr, this, nullptr);
    m_client->abort();
    m_upstream->abort();
}

void Tunnel::abort()
{
    m_client->abort();
    m_upstream->abort();
    checkDone();
}

void Tunnel::relay(QTcpSocket *from, QTcpSocket *to, qint64 &counter)
{
    if (to->state() != QAbstractSocket::ConnectedState && to->state() != QAbstractSocket::ClosingState)
        return;
    char buf[64 * 1024];
    while (from->bytesAvailable() > 0 && to->bytesToWrite() < m_limit) {
        const qint64 n = from->read(buf, sizeof buf);
        if (n <= 0)
            break;
        to->write(buf, n);
        counter += n;
    }
    const bool fromEnded = from == m_client ? m_clientEnded : m_upstreamEnded;
    if (fromEnded && from->bytesAvailable() == 0)
        to->disconnectFromHost(); // flushes what is queued, then closes
    checkDone();
}

void Tunnel::onEnded(QTcpSocket *side)
{
    bool &ended = side == m_client ? m_clientEnded : m_upstreamEnded;
    ended = true;
    QTcpSocket *other = side == m_client ? m_upstream : m_client;
    relay(side, other, side == m_client ? m_up : m_down);
}

void Tunnel::checkDone()
{
    if (m_finished)
        return;
    const auto gone = [](QTcpSocket *s) {
        return s->state() == QAbstractSocket::UnconnectedState;
    };
    if (gone(m_client) && gone(m_upstream)) {
        m_finished = true;
        if (m_done)
            m_done(m_up, m_down);
    }
}

} // namespace dfproxy::proxy
