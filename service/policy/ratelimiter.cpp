// SPDX-License-Identifier: Apache-2.0
#include "policy/ratelimiter.h"

#include <algorithm>

namespace dfproxy::policy {

TokenBucketLimiter::TokenBucketLimiter(qint64 tokensPerFill, qint64 fillIntervalMs, qint64 capacity, qint64 maxKeys,
                                       const Clock *clock)
    : m_tokensPerFill(std::max<qint64>(1, tokensPerFill)),
      m_fillIntervalMs(std::max<qint64>(1, fillIntervalMs)),
      m_capacity(std::max<qint64>(1, capacity)),
      m_capacityUnits(m_capacity * m_fillIntervalMs),
      m_clock(clock ? clock : &SystemClock::instance())
{
    const qint64 keys = std::max<qint64>(1, maxKeys);
    const qint64 stripes = std::min<qint64>(16, keys);
    m_perStripe = keys / stripes; // rounding down keeps the total at or under maxKeys
    for (qint64 i = 0; i < stripes; ++i)
        m_stripes.push_back(std::make_unique<Stripe>());
}

TokenBucketLimiter::Stripe &TokenBucketLimiter::stripeFor(const QByteArray &key)
{
    return *m_stripes[qHash(key) % m_stripes.size()];
}

void TokenBucketLimiter::refill(Entry &e, qint64 now) const
{
    const qint64 elapsed = now - e.lastMs;
    if (elapsed <= 0)
        return;
    // Clamping first keeps elapsed * tokensPerFill from overflowing after long idle periods.
    const qint64 added = std::min(elapsed, m_capacityUnits) * m_tokensPerFill;
    e.level = std::min(m_capacityUnits, e.level + added);
    e.lastMs = now;
}

RateLimitResult TokenBucketLimiter::take(const QByteArray &key)
{
    const qint64 now = m_clock->nowMs();
    Stripe &s = stripeFor(key);
    std::lock_guard lock(s.mutex);
    auto it = s.index.find(key);
    std::list<Entry>::iterator e;
    if (it == s.index.end()) {
        if (qint64(s.lru.size()) >= m_perStripe) {
            s.index.remove(s.lru.back().key);
            s.lru.pop_back();
        }
        s.lru.push_front(Entry{key, m_capacityUnits, now});
        e = s.lru.begin();
        s.index.insert(key, e);
    } else {
        e = it.value();
        s.lru.splice(s.lru.begin(), s.lru, e);
        refill(*e, now);
    }
    RateLimitResult r;
    r.limit = m_capacity;
    const auto ceilDiv = [](qint64 a, qint64 b) { return (a + b - 1) / b; };
    if (e->level >= m_fillIntervalMs) {
        e->level -= m_fillIntervalMs;
        r.allowed = true;
    } else {
        r.allowed = false;
        r.retryAfterMs = ceilDiv(m_fillIntervalMs - e->level, m_tokensPerFill);
    }
    r.remaining = e->level / m_fillIntervalMs;
    r.resetMs = ceilDiv(m_capacityUnits - e->level, m_tokensPerFill);
    return r;
}

void TokenBucketLimiter::refund(const QByteArray &key)
{
    Stripe &s = stripeFor(key);
    std::lock_guard lock(s.mutex);
    const auto it = s.index.find(key);
    if (it != s.index.end())
        it.value()->level = std::min(m_capacityUnits, it.value()->level + m_fillIntervalMs);
}

qint64 TokenBucketLimiter::keyCount() const
{
    qint64 n = 0;
    for (const auto &s : m_stripes) {
        std::lock_guard lock(s->mutex);
        n += qint64(s->lru.size());
    }
    return n;
}

} // namespace dfproxy::policy
