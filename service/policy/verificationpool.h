// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QtGlobal>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dfproxy::policy {

/// A few threads for slow credential checks (bcrypt, PBKDF2), so they never run on a proxy worker's event loop,
/// with a bounded queue: a flood of guesses waits here (or is turned away) instead of stalling other clients.
/// Jobs must not own anything whose destruction would destroy the pool (it would join itself).
class VerificationPool
{
public:
    VerificationPool(int threads, qsizetype maxQueued);
    /// Finishes the jobs that are running; queued ones are dropped (whoever waited for them is gone too).
    ~VerificationPool();
    VerificationPool(const VerificationPool &) = delete;
    VerificationPool &operator=(const VerificationPool &) = delete;

    /// Queues `job`; false (and `job` is dropped) when maxQueued jobs are already waiting. Thread-safe.
    bool submit(std::function<void()> job);
    qsizetype queued() const;
    int threadCount() const { return int(m_threads.size()); }
    /// The size for this machine: half the cores, 2 to 4 threads.
    static int defaultThreadCount();

private:
    void run();

    const qsizetype m_maxQueued;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::function<void()>> m_queue;
    bool m_stopping = false;
    std::vector<std::thread> m_threads;
};

} // namespace dfproxy::policy
