// SPDX-License-Identifier: Apache-2.0
#include "policy/verificationpool.h"

#include "platform/threadpriority.h"

#include <algorithm>

namespace dfproxy::policy {

VerificationPool::VerificationPool(int threads, qsizetype maxQueued) : m_maxQueued(maxQueued)
{
    for (int i = 0; i < std::max(1, threads); ++i)
        m_threads.emplace_back([this] { run(); });
}

VerificationPool::~VerificationPool()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        m_queue.clear();
    }
    m_wake.notify_all();
    for (auto &t : m_threads)
        t.join();
}

bool VerificationPool::submit(std::function<void()> job)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping || qsizetype(m_queue.size()) >= m_maxQueued)
            return false;
        m_queue.push_back(std::move(job));
    }
    m_wake.notify_one();
    return true;
}

qsizetype VerificationPool::queued() const
{
    std::lock_guard lock(m_mutex);
    return qsizetype(m_queue.size());
}

int VerificationPool::defaultThreadCount()
{
    const int cores = int(std::thread::hardware_concurrency());
    return std::clamp(cores / 2, 2, 4);
}

void VerificationPool::run()
{
    // Hashes take what the proxy workers leave: a flood of wrong passwords must not slow other clients down.
    platform::useLeftoverCpuOnCurrentThread();
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_stopping)
                return;
            job = std::move(m_queue.front());
            m_queue.pop_front();
        }
        job();
    }
}

} // namespace dfproxy::policy
