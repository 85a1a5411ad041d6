// SPDX-License-Identifier: Apache-2.0
#include "proxy/tunnel.h"

#include "platform/socket.h"

#include <QSocketNotifier>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <algorithm>
#include <limits>

namespace dfproxy::proxy {

namespace {
constexpr qint64 kChunk = 64 * 1024;
}

void Tunnel::setBandwidthLimit(qint64 bytesPerSecond, qint64 burstBytes, std::atomic<quint64> *pauses,
                               const Clock *clock)
{
    m_pauses = pauses;
    const qint64 burst = burstBytes > 0 ? burstBytes : bytesPerSecond;
    for (int i = 0; i < 2; ++i) {
        m_throttle[i].reset();
        if (bytesPerSecond > 0)
            m_throttle[i].emplace(Throttle{ByteBucket(bytesPerSecond, burst, clock)});
    }
}

qint64 Tunnel::allowance(bool clientToUpstream)
{
    auto &t = m_throttle[clientToUpstream];
    return t ? t->bucket.available() : std::numeric_limits<qint64>::max();
}

void Tunnel::consumed(bool clientToUpstream, qint64 bytes)
{
    if (auto &t = m_throttle[clientToUpstream])
        t->bucket.consume(bytes);
}

bool Tunnel::isPaused(bool clientToUpstream) const
{
    const auto &t = m_throttle[clientToUpstream];
    return t && t->resume && t->resume->isActive();
}

void Tunnel::pauseUntilRefilled(bool clientToUpstream)
{
    auto &t = m_throttle[clientToUpstream];
    if (!t || isPaused(clientToUpstream))
        return;
    if (!t->resume) {
        t->resume = new QTimer(this);
        t->resume->setSingleShot(true);
        t->resume->setTimerType(Qt::PreciseTimer);
        connect(t->resume, &QTimer::timeout, this, [this, clientToUpstream] { resumeReading(clientToUpstream); });
    }
    // Waiting for ~50 ms worth (at most one read chunk) rather than a single byte keeps wake-ups few.
    const qint64 want = std::clamp<qint64>(t->bucket.capacity() / 20, 1, std::min(kChunk, t->bucket.capacity()));
    t->resume->start(int(std::clamp<qint64>(t->bucket.msUntil(want), 1, 60000)));
    if (m_pauses)
        m_pauses->fetch_add(1, std::memory_order_relaxed);
}

Tunnel *Tunnel::create(QTcpSocket *client, QTcpSocket *upstream, const QByteArray &toClient,
                       const QByteArray &toUpstream, qint64 limit, Done done, QObject *parent)
{
    const bool tls = qobject_cast<QSslSocket *>(client) || qobject_cast<QSslSocket *>(upstream);
    if (!tls)
        return new RawSocketTunnel(client, upstream, toClient, toUpstream, limit, std::move(done), parent);
    if (!toClient.isEmpty())
        client->write(toClient);
    if (!toUpstream.isEmpty())
        upstream->write(toUpstream);
    return new QtSocketTunnel(client, upstream, limit, std::move(done), parent);
}

QtSocketTunnel::QtSocketTunnel(QTcpSocket *client, QTcpSocket *upstream, qint64 limit, Done done, QObject *parent)
    : Tunnel(parent)
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

QtSocketTunnel::~QtSocketTunnel()
{
    QObject::disconnect(m_client, nullptr, this, nullptr);
    QObject::disconnect(m_upstream, nullptr, this, nullptr);
    m_client->abort();
    m_upstream->abort();
}

void QtSocketTunnel::abort()
{
    m_client->abort();
    m_upstream->abort();
    checkDone();
}

void QtSocketTunnel::relay(QTcpSocket *from, QTcpSocket *to, qint64 &counter)
{
    if (to->state() != QAbstractSocket::ConnectedState && to->state() != QAbstractSocket::ClosingState)
        return;
    const bool up = from == m_client;
    char buf[64 * 1024];
    while (from->bytesAvailable() > 0 && to->bytesToWrite() < m_limit && !isPaused(up)) {
        const qint64 want = std::min<qint64>(sizeof buf, allowance(up));
        if (want <= 0) {
            pauseUntilRefilled(up);
            break;
        }
        const qint64 n = from->read(buf, want);
        if (n <= 0)
            break;
        consumed(up, n);
        to->write(buf, n);
        counter += n;
    }
    const bool fromEnded = from == m_client ? m_clientEnded : m_upstreamEnded;
    if (fromEnded && from->bytesAvailable() == 0)
        to->disconnectFromHost(); // flushes what is queued, then closes
    checkDone();
}

void QtSocketTunnel::resumeReading(bool clientToUpstream)
{
    if (m_finished)
        return;
    if (clientToUpstream)
        relay(m_client, m_upstream, m_up);
    else
        relay(m_upstream, m_client, m_down);
}

void QtSocketTunnel::onEnded(QTcpSocket *side)
{
    bool &ended = side == m_client ? m_clientEnded : m_upstreamEnded;
    ended = true;
    QTcpSocket *other = side == m_client ? m_upstream : m_client;
    relay(side, other, side == m_client ? m_up : m_down);
}

void QtSocketTunnel::checkDone()
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

namespace dfproxy::proxy {

RawSocketTunnel::RawSocketTunnel(QTcpSocket *client, QTcpSocket *upstream, const QByteArray &toClient,
                                 const QByteArray &toUpstream, qint64 limit, Done done, QObject *parent)
    : Tunnel(parent)
    , m_limit(limit)
    , m_done(std::move(done))
{
    m_client.qt = client;
    m_upstream.qt = upstream;
    m_client.pending = toClient;
    m_upstream.pending = toUpstream;
    for (QTcpSocket *s : {client, upstream}) {
        s->setParent(this);
        QObject::disconnect(s, nullptr, nullptr, nullptr);
        // What the sockets still have to write must leave through them before the descriptors take over.
        connect(s, &QIODevice::bytesWritten, this, [this] { tryTakeOver(); });
        connect(s, &QAbstractSocket::stateChanged, this, [this] { tryTakeOver(); });
    }
    QMetaObject::invokeMethod(this, [this] { tryTakeOver(); }, Qt::QueuedConnection);
}

RawSocketTunnel::~RawSocketTunnel()
{
    closeAll();
}

void RawSocketTunnel::abort()
{
    closeAll();
    checkDone();
}

void RawSocketTunnel::tryTakeOver()
{
    if (m_raw || m_finished)
        return;
    const auto flushed = [](QTcpSocket *s) {
        return s->state() != QAbstractSocket::ConnectedState || s->bytesToWrite() == 0;
    };
    if (!flushed(m_client.qt) || !flushed(m_upstream.qt))
        return;
    m_raw = true;
    takeOver(m_client, m_upstream);
    takeOver(m_upstream, m_client);
    // Start: write what is pending, pass on ends already seen.
    onWritable(m_client, m_upstream);
    if (m_finished)
        return;
    onWritable(m_upstream, m_client);
    if (m_finished)
        return;
    updateNotifiers();
    checkDone();
}

void RawSocketTunnel::takeOver(Side &s, Side &other)
{
    QTcpSocket *q = std::exchange(s.qt, nullptr);
    QObject::disconnect(q, nullptr, this, nullptr);
    const QByteArray unread = q->readAll();
    other.pending.append(unread);
    (&s == &m_client ? m_up : m_down) += unread.size();
    if (q->state() == QAbstractSocket::ConnectedState)
        s.fd = platform::duplicateSocket(q->socketDescriptor());
    if (s.fd >= 0 && !platform::prepareSocket(s.fd)) {
        platform::closeSocket(s.fd);
        s.fd = -1;
    }
    q->abort(); // closes Qt's descriptor only: the duplicate keeps the connection
    q->deleteLater();
    if (s.fd < 0) {
        s.readEnded = s.writeShut = true; // gone before we got here
        return;
    }
    s.readNotifier = new QSocketNotifier(s.fd, QSocketNotifier::Read, this);
    s.writeNotifier = new QSocketNotifier(s.fd, QSocketNotifier::Write, this);
    s.writeNotifier->setEnabled(false);
    const bool isClient = &s == &m_client;
    connect(s.readNotifier, &QSocketNotifier::activated, this, [this, isClient] {
        if (isClient)
            onReadable(m_client, m_upstream, m_up);
        else
            onReadable(m_upstream, m_client, m_down);
    });
    connect(s.writeNotifier, &QSocketNotifier::activated, this, [this, isClient] {
        if (isClient)
            onWritable(m_client, m_upstream);
        else
            onWritable(m_upstream, m_client);
    });
}

void RawSocketTunnel::onReadable(Side &from, Side &to, qint64 &counter)
{
    if (m_finished || from.fd < 0 || from.readEnded)
        return;
    const bool up = &from == &m_client;
    char buf[kChunk];
    // A bounded number of reads per wake-up keeps one busy direction from starving the other.
    for (int round = 0; round < 8 && to.pending.size() < m_limit; ++round) {
        const qint64 want = std::min(kChunk, allowance(up));
        if (want <= 0) {
            pauseUntilRefilled(up);
            break;
        }
        const qint64 n = platform::readSocket(from.fd, buf, want);
        if (n == platform::WouldBlock)
            break;
        if (n == platform::SocketFailed) {
            fail();
            return;
        }
        if (n == 0) {
            from.readEnded = true;
            endWriteIfDone(to, from);
            break;
        }
        counter += n;
        consumed(up, n);
        if (to.fd < 0)
            continue; // nobody to deliver to; the tunnel ends once this side ends
        qint64 written = 0;
        if (to.pending.isEmpty()) {
            written = platform::writeSocket(to.fd, buf, n);
            if (written == platform::SocketFailed) {
                fail();
                return;
            }
            if (written < 0)
                written = 0;
        }
        if (written < n)
            to.pending.append(buf + written, n - written);
    }
    if (m_finished)
        return;
    updateNotifiers();
    checkDone();
}

void RawSocketTunnel::resumeReading(bool)
{
    if (m_finished || !m_raw)
        return;
    updateNotifiers();
}

void RawSocketTunnel::onWritable(Side &to, Side &from)
{
    if (m_finished)
        return;
    if (!flush(to))
        return;
    endWriteIfDone(to, from);
    if (m_finished)
        return;
    updateNotifiers();
    checkDone();
}

bool RawSocketTunnel::flush(Side &to)
{
    if (to.fd < 0) {
        to.pending.clear();
        return true;
    }
    while (!to.pending.isEmpty()) {
        const qint64 w = platform::writeSocket(to.fd, to.pending.constData(), to.pending.size());
        if (w == platform::SocketFailed) {
            fail();
            return false;
        }
        if (w <= 0)
            break;
        to.pending.remove(0, w);
    }
    return true;
}

void RawSocketTunnel::endWriteIfDone(Side &to, Side &from)
{
    if (!from.readEnded || !to.pending.isEmpty() || to.writeShut)
        return;
    to.writeShut = true;
    if (to.fd >= 0)
        platform::shutdownWrite(to.fd);
}

void RawSocketTunnel::updateNotifiers()
{
    const auto update = [this](Side &s, const Side &other) {
        if (s.readNotifier)
            s.readNotifier->setEnabled(!s.readEnded && other.pending.size() < m_limit && !isPaused(&s == &m_client));
        if (s.writeNotifier)
            s.writeNotifier->setEnabled(!s.pending.isEmpty());
    };
    update(m_client, m_upstream);
    update(m_upstream, m_client);
}

void RawSocketTunnel::fail()
{
    closeAll();
    checkDone();
}

void RawSocketTunnel::checkDone()
{
    if (m_finished)
        return;
    const auto over = [](const Side &s) { return s.readEnded && s.writeShut; };
    // A side that was already gone cannot take the other's bytes: the tunnel ends once its pending data left.
    const bool oneGone = m_raw
        && ((m_client.fd < 0 && m_upstream.writeShut) || (m_upstream.fd < 0 && m_client.writeShut));
    if (!(over(m_client) && over(m_upstream)) && !oneGone)
        return;
    m_finished = true;
    closeAll();
    if (m_done)
        m_done(m_up, m_down);
}

void RawSocketTunnel::closeAll()
{
    for (Side *s : {&m_client, &m_upstream}) {
        // Possibly inside the notifier's own signal: disable now, delete later.
        for (QSocketNotifier *n : {std::exchange(s->readNotifier, nullptr), std::exchange(s->writeNotifier, nullptr)}) {
            if (n) {
                n->setEnabled(false);
                n->deleteLater();
            }
        }
        if (s->fd >= 0)
            platform::closeSocket(std::exchange(s->fd, -1));
        if (s->qt) {
            QTcpSocket *q = std::exchange(s->qt, nullptr);
            QObject::disconnect(q, nullptr, this, nullptr);
            q->abort();
        }
        s->readEnded = s->writeShut = true;
    }
}

} // namespace dfproxy::proxy
