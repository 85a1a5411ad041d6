// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QHash>
#include <QHostAddress>

#include <atomic>
#include <mutex>

namespace dfproxy::proxy {

/// Admission control for client connections: at most `maxConnections` open at once (0 = no limit) and at most
/// `maxConnectionsPerClient` from one client IP address (0 = no limit). Thread-safe: workers admit and release
/// concurrently; limits may change at any time (already open connections are never closed by a lower limit).
class ConnectionLimiter
{
public:
    enum class Admission { Admitted, GlobalLimit, ClientLimit };

    void setLimits(int maxConnections, int maxConnectionsPerClient);
    int maxConnections() const { return m_max.load(std::memory_order_relaxed); }
    int maxConnectionsPerClient() const { return m_maxPerClient.load(std::memory_order_relaxed); }

    /// Counts a new connection from `client` unless that would exceed a limit.
    Admission admit(const QHostAddress &client);
    /// Forgets a connection admitted for `client`.
    void release(const QHostAddress &client);

    int open() const;
    int openFrom(const QHostAddress &client) const;

    /// IPv4-mapped IPv6 addresses count as their IPv4 address.
    static QHostAddress normalized(const QHostAddress &a);

private:
    std::atomic<int> m_max{0};
    std::atomic<int> m_maxPerClient{0};
    mutable std::mutex m_mutex;
    int m_open = 0;
    QHash<QHostAddress, int> m_perClient;
};

/// One admitted connection; releases its slot when destroyed.
class ConnectionSlot
{
public:
    ConnectionSlot() = default;
    ConnectionSlot(ConnectionLimiter *limiter, QHostAddress client) : m_limiter(limiter), m_client(std::move(client)) {}
    ConnectionSlot(const ConnectionSlot &) = delete;
    ConnectionSlot &operator=(const ConnectionSlot &) = delete;
    ConnectionSlot(ConnectionSlot &&o) noexcept : m_limiter(std::exchange(o.m_limiter, nullptr)), m_client(o.m_client) {}
    ConnectionSlot &operator=(ConnectionSlot &&o) noexcept
    {
        if (this != &o) {
            reset();
            m_limiter = std::exchange(o.m_limiter, nullptr);
            m_client = o.m_client;
        }
        return *this;
    }
    ~ConnectionSlot() { reset(); }
    void reset()
    {
        if (m_limiter)
            std::exchange(m_limiter, nullptr)->release(m_client);
    }

private:
    ConnectionLimiter *m_limiter = nullptr;
    QHostAddress m_client;
};

} // namespace dfproxy::proxy
