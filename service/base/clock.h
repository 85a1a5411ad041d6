// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QDateTime>
#include <QtGlobal>

#include <atomic>

namespace dfproxy {

/// Time source. Everything that expires, refreshes or backs off asks a Clock, so unit tests can move time by hand
/// instead of sleeping. Implementations must be safe to call from any thread.
class Clock
{
public:
    virtual ~Clock() = default;
    /// Monotonic milliseconds since an arbitrary origin; never goes backwards.
    virtual qint64 nowMs() const = 0;
    /// Wall-clock time, for display and logs only (never for durations).
    virtual QDateTime wallNow() const = 0;
};

/// The real clock: QDeadlineTimer's monotonic clock and the system's UTC time.
class SystemClock final : public Clock
{
public:
    qint64 nowMs() const override;
    QDateTime wallNow() const override { return QDateTime::currentDateTimeUtc(); }
    /// A process-wide instance, for code that is not handed a clock.
    static SystemClock &instance();
};

/// A clock that only moves when told to. For tests.
class ManualClock final : public Clock
{
public:
    qint64 nowMs() const override { return m_now.load(); }
    QDateTime wallNow() const override { return QDateTime::fromMSecsSinceEpoch(1'700'000'000'000 + m_now.load(), Qt::UTC); }
    void advance(qint64 ms) { m_now += ms; }

private:
    std::atomic<qint64> m_now{1'000'000};
};

} // namespace dfproxy
