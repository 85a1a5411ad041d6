// SPDX-License-Identifier: Apache-2.0
#include "proxy/bytebucket.h"

#include <algorithm>

namespace dfproxy::proxy {

ByteBucket::ByteBucket(qint64 bytesPerSecond, qint64 burstBytes, const Clock *clock)
    : m_rate(std::max<qint64>(1, bytesPerSecond))
    , m_capacity(std::max<qint64>(1, burstBytes))
    , m_clock(clock)
    , m_level(m_capacity * 1000)
    , m_lastMs(clock->nowMs())
{
}

void ByteBucket::refill()
{
    const qint64 now = m_clock->nowMs();
    if (now <= m_lastMs)
        return;
    const qint64 room = m_capacity * 1000 - m_level;
    // Clamping the elapsed time first keeps elapsed x rate from overflowing after a long idle period.
    const qint64 elapsed = std::min(now - m_lastMs, room / m_rate + 1);
    m_level = std::min(m_capacity * 1000, m_level + elapsed * m_rate);
    m_lastMs = now;
}

qint64 ByteBucket::available()
{
    refill();
    return m_level / 1000;
}

void ByteBucket::consume(qint64 bytes)
{
    refill();
    m_level = std::max<qint64>(0, m_level - bytes * 1000);
}

qint64 ByteBucket::msUntil(qint64 bytes)
{
    refill();
    const qint64 missing = std::min(bytes, m_capacity) * 1000 - m_level;
    if (missing <= 0)
        return 0;
    return (missing + m_rate - 1) / m_rate;
}

} // namespace dfproxy::proxy
