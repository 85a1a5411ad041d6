// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QObject>

#include <functional>

class QTcpSocket;

namespace dfproxy::proxy {

/// Relays bytes both ways between two connected sockets (CONNECT, websocket) with backpressure: a side is not
/// read while the other side has more than `limit` bytes waiting to be written. When one side ends, what it sent
/// is flushed to the other, whose write side is then closed. Owns both sockets; lives on their thread.
class Tunnel final : public QObject
{
public:
    using Done = std::function<void(qint64 clientToUpstream, qint64 upstreamToClient)>;
    Tunnel(QTcpSocket *client, QTcpSocket *upstream, qint64 limit, Done done, QObject *parent = nullptr);
    ~Tunnel() override;
    /// Ends the tunnel at once.
    void abort();

private:
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

} // namespace dfproxy::proxy
