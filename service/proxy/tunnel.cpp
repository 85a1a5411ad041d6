// SPDX-License-Identifier: Apache-2.0
#include "proxy/tunnel.h"

#include <QTimer>
#include <QTimerEvent>

#include <algorithm>
#include <limits>

namespace dfproxy::proxy {

namespace {
constexpr qint64 kChunk = 64 * 1024;
/// Chunks one direction moves per wake-up: a busy direction must not starve the other one, or the thread's other
/// connections. The rest goes in a later turn of the event loop.
constexpr int kRounds = 8;
} // namespace

Tunnel::Tunnel(net::Stream *client, net::Stream *upstream, const QByteArray &toClient, const QByteArray &toUpstream,
               qint64 limit, Done done, QObject *parent)
    : QObject(parent)
    , m_limit(limit)
    , m_done(std::move(done))
{
    m_client.isClient = true;
    m_client.stream = client;
    m_upstream.stream = upstream;
    m_client.other = &m_upstream;
    m_upstream.other = &m_client;
    for (Side *s : {&m_client, &m_upstream}) {
        s->tunnel = this;
        s->stream->setParent(this);
        s->stream->setKeepOpenAtEnd(true);
        s->stream->setListener(s);
    }
    if (!toClient.isEmpty())
        client->write(toClient);
    if (!toUpstream.isEmpty())
        upstream->write(toUpstream);
    // Input may already wait on either side (nothing announces it again), or a side be gone; not from inside the
    // constructor, whose caller is not ready for `done`.
    QMetaObject::invokeMethod(this, [this] {
        for (Side *s : {&m_client, &m_upstream}) {
            if (!s->stream->isOpen())
                onClosed(*s, QAbstractSocket::RemoteHostClosedError);
            else
                relay(*s);
        }
    }, Qt::QueuedConnection);
}

Tunnel::~Tunnel()
{
    for (Side *s : {&m_client, &m_upstream}) {
        s->stream->setListener(nullptr);
        s->stream->abort();
    }
}

void Tunnel::abort()
{
    finish();
}

void Tunnel::relay(Side &from)
{
    from.repump = false;
    if (m_finished)
        return;
    Side &to = *from.other;
    const bool up = from.isClient;
    if (!from.readEnded && !to.gone && !to.writeShut) {
        qint64 &counter = up ? m_up : m_down;
        char buffer[kChunk];
        int round = 0;
        for (; round < kRounds; ++round) {
            if (to.stream->bytesToWrite() >= m_limit || isPaused(up))
                break; // to's onStreamWritten, or the resume timer, comes back here
            const qint64 want = std::min(kChunk, allowance(up));
            if (want <= 0) {
                pauseUntilRefilled(up);
                break;
            }
            qint64 n = from.stream->canSpliceTo(to.stream) ? from.stream->spliceTo(to.stream, want) : -1;
            if (n < 0) { // no splice here, or bytes already read into user space: copy them
                n = from.stream->read(buffer, want);
                if (n > 0)
                    to.stream->write(buffer, n);
            }
            if (n <= 0)
                break;
            counter += n;
            if (auto &t = m_throttle[up])
                t->bucket.consume(n);
        }
        if (round > 0 && m_idleTimeoutMs > 0)
            m_idleTimer.start(this, m_idleTimeoutMs);
        if (round == kRounds && !from.repump) {
            // A raw stream announces the rest again (level-triggered); a TLS one only when more arrives.
            from.repump = true;
            QMetaObject::invokeMethod(this, [this, side = &from] {
                if (side->repump)
                    relay(*side);
            }, Qt::QueuedConnection);
        }
    }
    if (!from.readEnded && from.stream->inputEnded()) {
        from.readEnded = true;
        endWrite(from);
    }
    checkDone();
}

void Tunnel::onClosed(Side &side, QAbstractSocket::SocketError error)
{
    if (m_finished || side.gone)
        return;
    side.gone = true;
    if (error != QAbstractSocket::RemoteHostClosedError) {
        finish(); // a reset ends both at once
        return;
    }
    // A TLS stream closes at its end of input (and any stream when a write to it failed): what it sent before
    // still goes to the other side, whatever the bounds, then a FIN.
    Side &to = *side.other;
    if (!side.readEnded && !to.gone && !to.writeShut) {
        qint64 &counter = side.isClient ? m_up : m_down;
        char buffer[kChunk];
        qint64 n;
        while ((n = side.stream->read(buffer, kChunk)) > 0) {
            to.stream->write(buffer, n);
            counter += n;
        }
    }
    side.readEnded = true;
    side.writeShut = true; // nothing reaches it any more
    endWrite(side);
    checkDone();
}

void Tunnel::endWrite(Side &from)
{
    Side &to = *from.other;
    if (to.writeShut)
        return;
    to.writeShut = true;
    if (to.gone)
        return;
    to.stream->shutdownWrite();
    if (!to.stream->isOpen()) // a TLS stream closes instead of half-closing, at once when nothing was queued
        onClosed(to, QAbstractSocket::RemoteHostClosedError);
}

void Tunnel::checkDone()
{
    if (m_finished)
        return;
    const auto flushed = [](const Side &s) { return s.gone || s.stream->bytesToWrite() == 0; };
    const auto over = [&](const Side &s) { return s.readEnded && s.writeShut && flushed(s); };
    // A side that is gone cannot take the other's bytes: the tunnel ends once its last bytes left the other way.
    const auto goneAndDelivered = [&](const Side &s) { return s.gone && s.other->writeShut && flushed(*s.other); };
    if ((over(m_client) && over(m_upstream)) || goneAndDelivered(m_client) || goneAndDelivered(m_upstream))
        finish();
}

void Tunnel::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    m_client.repump = m_upstream.repump = false;
    m_idleTimer.stop();
    for (Side *s : {&m_client, &m_upstream}) {
        s->stream->setListener(nullptr);
        s->stream->abort(); // both ends have had their FIN by now (or a reset): nothing is lost
        s->gone = true;
    }
    for (auto &t : m_throttle) {
        if (t && t->resume)
            t->resume->stop();
    }
    if (m_done)
        m_done(m_up, m_down);
}

void Tunnel::setIdleTimeout(qint64 ms)
{
    m_idleTimeoutMs = ms;
    if (ms > 0)
        m_idleTimer.start(this, ms);
    else
        m_idleTimer.stop();
}

void Tunnel::timerEvent(QTimerEvent *ev)
{
    if (!m_idleTimer.fired(this, ev) || m_finished)
        return;
    m_timedOut = true;
    finish();
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
        connect(t->resume, &QTimer::timeout, this, [this, clientToUpstream] {
            relay(clientToUpstream ? m_client : m_upstream);
        });
    }
    // Waiting for ~50 ms worth (at most one read chunk) rather than a single byte keeps wake-ups few.
    const qint64 want = std::clamp<qint64>(t->bucket.capacity() / 20, 1, std::min(kChunk, t->bucket.capacity()));
    t->resume->start(int(std::clamp<qint64>(t->bucket.msUntil(want), 1, 60000)));
    if (m_pauses)
        m_pauses->fetch_add(1, std::memory_order_relaxed);
}

} // namespace dfproxy::proxy
