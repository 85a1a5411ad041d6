// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"

#include <QByteArray>
#include <QHash>

#include <mutex>

namespace dfproxy::policy {

/// Slows down credential guessing from one client address: once `maxFailures` attempts from it failed within a
/// window of `windowMs` (the window starts at its first attempt), further attempts are refused until the window
/// ends. Attempts still being verified count against the limit too, so a burst of concurrent guesses cannot all
/// get through before the first failure is known. At most `maxClients` addresses are remembered (the oldest
/// windows are forgotten first). Thread-safe.
class FailureThrottle
{
public:
    struct Settings
    {
        int maxFailures = 10;
        qint64 windowMs = 60000;
        qsizetype maxClients = 10000;
    };
    enum class Outcome { Success, Failure, Abandoned };

    explicit FailureThrottle(Settings settings, const Clock *clock = nullptr);

    /// Before verifying credentials from `client`: 0 = go ahead (the attempt is now in flight and must be ended
    /// with end()), otherwise refused and the milliseconds until the client may try again.
    qint64 begin(const QByteArray &client);
    /// After the verification begin() allowed: a failure counts; Abandoned (never verified) does not.
    void end(const QByteArray &client, Outcome outcome);
    /// Addresses currently remembered.
    qsizetype size() const;
    const Settings &settings() const { return m_settings; }

private:
    struct Entry
    {
        qint64 windowStartMs = 0;
        int failures = 0;
        int inFlight = 0;
    };
    void makeRoom(qint64 now);

    const Settings m_settings;
    const Clock *m_clock;
    mutable std::mutex m_mutex;
    QHash<QByteArray, Entry> m_clients;
};

} // namespace dfproxy::policy
