// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"
#include "proxy/bytebucket.h"

#include <QByteArray>
#include <QObject>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

class QTcpSocket;
class QSocketNotifier;
class QTimer;

namespace dfproxy::proxy {

/// Relays bytes both ways between two connected sockets (CONNECT, websocket) with backpressure: a side is not
/// read while the other side has more than `limit` bytes waiting to be written. Owns both sockets; lives on their
/// thread; reports once through `done` when both directions have ended.
class Tunnel : public QObject
{
public:
    using Done = std::function<void(qint64 clientToUpstream, qint64 upstreamToClient)>;
    /// Picks the implementation: plain TCP on both sides gets RawSocketTunnel (half-close carried both ways),
    /// anything with TLS gets QtSocketTunnel. `toClient` / `toUpstream` are bytes to send first.
    static Tunnel *create(QTcpSocket *client, QTcpSocket *upstream, const QByteArray &toClient,
                          const QByteArray &toUpstream, qint64 limit, Done done, QObject *parent);
    /// Ends the tunnel at once (both connections closed; `done` is called).
    virtual void abort() = 0;
    /// Throttles each direction on its own to `bytesPerSecond` with a bucket of `burstBytes` (starts full): a
    /// direction whose bucket is empty is not read until a QTimer says enough is back. Call right after create(),
    /// before the event loop runs. `pauses` (may be null, must outlive the tunnel) counts every such pause.
    void setBandwidthLimit(qint64 bytesPerSecond, qint64 burstBytes, std::atomic<quint64> *pauses,
                           const Clock *clock = &SystemClock::instance());

protected:
    using QObject::QObject;
    /// Bytes the direction may pass on now (effectively unbounded without a limit).
    qint64 allowance(bool clientToUpstream);
    void consumed(bool clientToUpstream, qint64 bytes);
    /// The direction's bucket is empty: stop reading it; resumeReading() follows once a useful amount is back.
    void pauseUntilRefilled(bool clientToUpstream);
    bool isPaused(bool clientToUpstream) const;
    /// Reading the direction may go on (called from the resume timer).
    virtual void resumeReading(bool clientToUpstream) = 0;

private:
    struct Throttle
    {
        ByteBucket bucket;
        QTimer *resume = nullptr;
    };
    std::optional<Throttle> m_throttle[2]; ///< [0] upstream -> client, [1] client -> upstream
    std::atomic<quint64> *m_pauses = nullptr;
};

/// QTcpSocket / QSslSocket on both sides. QAbstractSocket closes fully on end-of-stream, so when one side ends,
/// what it sent is flushed to the other, whose connection is then closed.
class QtSocketTunnel final : public Tunnel
{
public:
    QtSocketTunnel(QTcpSocket *client, QTcpSocket *upstream, qint64 limit, Done done, QObject *parent = nullptr);
    ~QtSocketTunnel() override;
    void abort() override;

private:
    void resumeReading(bool clientToUpstream) override;
    void relay(QTcpSocket *from, QTcpSocket *to, qint64 &counter);
    void onEnded(QTcpSocket *side);
    void checkDone();

    QTcpSocket *m_client;
    QTcpSocket *m_upstream;
    qint64 m_limit;
    Done m_done;
    qint64 m_up = 0;
    qint64 m_down = 0;
    bool m_clientEnded = false;
    bool m_upstreamEnded = false;
    bool m_finished = false;
};

/// Plain TCP on both sides, driven on duplicated descriptors (platform/socket.h) once the QTcpSockets have
/// flushed: end-of-stream from one side becomes shutdown(SHUT_WR) towards the other after its bytes are written,
/// and the other direction keeps flowing until it ends too. A reset or write failure ends both at once.
class RawSocketTunnel final : public Tunnel
{
public:
    RawSocketTunnel(QTcpSocket *client, QTcpSocket *upstream, const QByteArray &toClient,
                    const QByteArray &toUpstream, qint64 limit, Done done, QObject *parent = nullptr);
    ~RawSocketTunnel() override;
    void abort() override;

private:
    struct Side
    {
        QTcpSocket *qt = nullptr;      ///< until the descriptors take over
        qintptr fd = -1;
        QSocketNotifier *readNotifier = nullptr;
        QSocketNotifier *writeNotifier = nullptr;
        QByteArray pending;            ///< bytes to write to this side
        bool readEnded = false;        ///< this side sent FIN (or is gone)
        bool writeShut = false;        ///< FIN sent to this side (or it is gone)
    };
    void resumeReading(bool clientToUpstream) override;
    void tryTakeOver();
    void takeOver(Side &s, Side &other);
    void onReadable(Side &from, Side &to, qint64 &counter);
    void onWritable(Side &to, Side &from);
    bool flush(Side &to);
    void endWriteIfDone(Side &to, Side &from);
    void updateNotifiers();
    void fail();
    void checkDone();
    void closeAll();

    Side m_client;
    Side m_upstream;
    qint64 m_limit;
    Done m_done;
    qint64 m_up = 0;
    qint64 m_down = 0;
    bool m_raw = false;
    bool m_finished = false;
};

} // namespace dfproxy::proxy
