// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QHostAddress>

namespace dfproxy::test {

/// A listener whose accept queue is full: it never accepts, and once one connection waits in its queue (a backlog
/// of 0 holds one) the kernel drops every further SYN, so a connect to it hangs until the dialler gives up. That is
/// what a blackholed address does, here on loopback without a network namespace. Linux only: start() is false
/// elsewhere (tests then skip).
class Blackhole
{
public:
    Blackhole() = default;
    Blackhole(const Blackhole &) = delete;
    Blackhole &operator=(const Blackhole &) = delete;
    ~Blackhole();

    /// Listens on address:port (IPv4; port 0 picks one) and fills the queue. True when a probe's connect then
    /// goes unanswered.
    bool start(const QHostAddress &address, quint16 port = 0);
    quint16 port() const { return m_port; }

private:
    int m_listener = -1;
    int m_filler = -1;
    quint16 m_port = 0;
};

} // namespace dfproxy::test
