// SPDX-License-Identifier: Apache-2.0
#include "policy/failurethrottle.h"

#include <algorithm>

namespace dfproxy::policy {

FailureThrottle::FailureThrottle(Settings settings, const Clock *clock)
    : m_settings(settings), m_clock(clock ? clock : &SystemClock::instance())
{
}

qint64 FailureThrottle::begin(const QByteArray &client)
{
    const qint64 now = m_clock->nowMs();
    std::lock_guard lock(m_mutex);
    auto it = m_clients.find(client);
    if (it == m_clients.end()) {
        if (m_clients.size() >= m_settings.maxClients)
            makeRoom(now);
        it = m_clients.insert(client, Entry{now, 0, 0});
    } else if (now - it->windowStartMs >= m_settings.windowMs) {
        it->windowStartMs = now;
        it->failures = 0;
    }
    if (it->failures + it->inFlight >= m_settings.maxFailures)
        return std::max<qint64>(1, it->windowStartMs + m_settings.windowMs - now);
    ++it->inFlight;
    return 0;
}

void FailureThrottle::end(const QByteArray &client, Outcome outcome)
{
    const qint64 now = m_clock->nowMs();
    std::lock_guard lock(m_mutex);
    const auto it = m_clients.find(client);
    if (it == m_clients.end())
        return; // forgotten by makeRoom() meanwhile
    it->inFlight = std::max(0, it->inFlight - 1);
    if (outcome == Outcome::Failure) {
        if (now - it->windowStartMs >= m_settings.windowMs) {
            it->windowStartMs = now;
            it->failures = 0;
        }
        ++it->failures;
    }
    if (it->failures == 0 && it->inFlight == 0)
        m_clients.erase(it);
}

qsizetype FailureThrottle::size() const
{
    std::lock_guard lock(m_mutex);
    return m_clients.size();
}

// Full: forget the windows that ended, then (still full) the oldest one. Linear, but only when full.
void FailureThrottle::makeRoom(qint64 now)
{
    for (auto it = m_clients.begin(); it != m_clients.end();) {
        if (now - it->windowStartMs >= m_settings.windowMs && it->inFlight == 0)
            it = m_clients.erase(it);
        else
            ++it;
    }
    if (m_clients.size() < m_settings.maxClients || m_clients.isEmpty())
        return;
    auto oldest = m_clients.begin();
    for (auto it = m_clients.begin(); it != m_clients.end(); ++it) {
        if (it->windowStartMs < oldest->windowStartMs)
            oldest = it;
    }
    m_clients.erase(oldest);
}

} // namespace dfproxy::policy
