// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"
#include "base/lazytimer.h"
#include "net/stream.h"
#include "proxy/bytebucket.h"

#include <QByteArray>
#include <QObject>

#include <atomic>
#include <functional>
#include <optional>

class QTimer;

namespace dfproxy::proxy {

/// Relays bytes both ways between two connected streams (CONNECT, websocket): the client's, from the
/// DownstreamConnection, and the upstream's, from the Connector or the forwarder that saw the 101. Between two plain
/// TCP streams on Linux the bytes move by splice() (net::Stream::spliceTo), elsewhere by read and write.
///
/// - Backpressure: a direction is not read while the side it writes to has `limit` bytes or more waiting.
/// - Half-close: one side's end of stream becomes a FIN to the other once its bytes are out (shutdownWrite), and
///   the other direction flows on until it ends too; then both connections close. A TLS side cannot half-close:
///   its end closes it, the other side gets what it sent and then a FIN.
/// - A reset ends both at once, and so does the idle timeout (setIdleTimeout) when no byte moved either way.
///
/// Owns both streams; lives on their thread; calls `done` once, from one of their callbacks, when both directions
/// are over (or abort()). It may be deleted inside `done` only by deleteLater (its own callback is running).
class Tunnel final : public QObject
{
public:
    using Done = std::function<void(qint64 clientToUpstream, qint64 upstreamToClient)>;
    /// `toClient` / `toUpstream` are bytes to send first (the 101's leftover, what the client sent after its head).
    Tunnel(net::Stream *client, net::Stream *upstream, const QByteArray &toClient, const QByteArray &toUpstream,
           qint64 limit, Done done, QObject *parent = nullptr);
    ~Tunnel() override;

    /// Ends the tunnel at once (both connections closed; `done` is called).
    void abort();
    /// Throttles each direction on its own to `bytesPerSecond` with a bucket of `burstBytes` (starts full): a
    /// direction whose bucket is empty is not read until a QTimer says enough is back. Call right after the
    /// constructor, before the event loop runs. `pauses` (may be null, must outlive the tunnel) counts every pause.
    void setBandwidthLimit(qint64 bytesPerSecond, qint64 burstBytes, std::atomic<quint64> *pauses,
                           const Clock *clock = &SystemClock::instance());
    /// Ends the tunnel (both connections closed, `done`) when no byte has moved either way for `ms`; 0 = never.
    void setIdleTimeout(qint64 ms);
    /// Whether the idle timeout ended it.
    bool timedOut() const { return m_timedOut; }

protected:
    void timerEvent(QTimerEvent *ev) override;

private:
    /// One end of the tunnel: its stream, and what has ended there.
    struct Side final : net::StreamListener
    {
        Tunnel *tunnel = nullptr;
        Side *other = nullptr;
        net::Stream *stream = nullptr;
        bool isClient = false;
        bool readEnded = false; ///< its input is over (end of stream, or the connection is gone)
        bool writeShut = false; ///< a FIN went (or will go once its queue is out) to it, or it is gone
        bool gone = false;      ///< the connection is closed
        bool repump = false;    ///< a relay from this side is queued (fairness: see Tunnel::relay)

        void onStreamReadable() override { tunnel->relay(*this); }
        void onStreamWritten() override { tunnel->relay(*other); }
        void onStreamClosed(QAbstractSocket::SocketError error) override { tunnel->onClosed(*this, error); }
    };
    struct Throttle
    {
        ByteBucket bucket;
        QTimer *resume = nullptr;
    };

    /// Moves what `from` has to its other side, as far as backpressure and the bandwidth limit let it.
    void relay(Side &from);
    void onClosed(Side &side, QAbstractSocket::SocketError error);
    /// `from` has nothing more to send: the other side gets a FIN once its queue is out.
    void endWrite(Side &from);
    void checkDone();
    void finish();

    qint64 allowance(bool clientToUpstream);
    void pauseUntilRefilled(bool clientToUpstream);
    bool isPaused(bool clientToUpstream) const;

    Side m_client;
    Side m_upstream;
    qint64 m_limit;
    Done m_done;
    qint64 m_up = 0;
    qint64 m_down = 0;
    bool m_finished = false;
    bool m_timedOut = false;
    qint64 m_idleTimeoutMs = 0;
    LazyTimer m_idleTimer; ///< re-armed by each relay that moved bytes (cheap: see base/lazytimer.h)
    std::optional<Throttle> m_throttle[2]; ///< [0] upstream -> client, [1] client -> upstream
    std::atomic<quint64> *m_pauses = nullptr;
};

} // namespace dfproxy::proxy
