// SPDX-License-Identifier: Apache-2.0
#include "proxy/connectionlimiter.h"

namespace dfproxy::proxy {

void ConnectionLimiter::setLimits(int maxConnections, int maxConnectionsPerClient)
{
    m_max.store(std::max(0, maxConnections), std::memory_order_relaxed);
    m_maxPerClient.store(std::max(0, maxConnectionsPerClient), std::memory_order_relaxed);
}

QHostAddress ConnectionLimiter::normalized(const QHostAddress &a)
{
    bool mapped = false;
    const quint32 v4 = a.toIPv4Address(&mapped);
    return mapped && a.protocol() == QAbstractSocket::IPv6Protocol ? QHostAddress(v4) : a;
}

ConnectionLimiter::Admission ConnectionLimiter::admit(const QHostAddress &client)
{
    const QHostAddress key = normalized(client);
    const int max = maxConnections();
    const int perClient = maxConnectionsPerClient();
    std::lock_guard lock(m_mutex);
    if (max > 0 && m_open >= max)
        return Admission::GlobalLimit;
    if (perClient > 0 && m_perClient.value(key) >= perClient)
        return Admission::ClientLimit;
    int &mine = m_perClient[key];
    ++mine;
    ++m_open;
    return Admission::Admitted;
}

void ConnectionLimiter::release(const QHostAddress &client)
{
    const QHostAddress key = normalized(client);
    std::lock_guard lock(m_mutex);
    auto it = m_perClient.find(key);
    if (it == m_perClient.end())
        return;
    --m_open;
    if (--it.value() <= 0)
        m_perClient.erase(it);
}

int ConnectionLimiter::open() const
{
    std::lock_guard lock(m_mutex);
    return m_open;
}

int ConnectionLimiter::openFrom(const QHostAddress &client) const
{
    std::lock_guard lock(m_mutex);
    return m_perClient.value(normalized(client));
}

} // namespace dfproxy::proxy
