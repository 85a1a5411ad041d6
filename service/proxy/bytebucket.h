// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"

#include <QtGlobal>

namespace dfproxy::proxy {

/// A token bucket of bytes for one direction of a throttled tunnel: `bytesPerSecond` are added continuously (pro
/// rata per millisecond) up to `burstBytes`; it starts full. Single-threaded (lives with its tunnel).
class ByteBucket
{
public:
    ByteBucket(qint64 bytesPerSecond, qint64 burstBytes, const Clock *clock);

    /// Whole bytes that may be passed on now.
    qint64 available();
    /// Records `bytes` passed on (at most available()).
    void consume(qint64 bytes);
    /// Milliseconds until at least `bytes` (capped at the capacity) are available; 0 when they already are.
    qint64 msUntil(qint64 bytes);
    qint64 capacity() const { return m_capacity; }

private:
    void refill();

    // Levels are in milli-bytes: every millisecond adds bytesPerSecond of them, so refilling is exact.
    const qint64 m_rate;
    const qint64 m_capacity;
    const Clock *m_clock;
    qint64 m_level;
    qint64 m_lastMs;
};

} // namespace dfproxy::proxy
