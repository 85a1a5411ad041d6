// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/clock.h"

#include <QByteArray>
#include <QHash>

#include <list>
#include <memory>
#include <mutex>
#include <vector>

namespace dfproxy::policy {

/// The outcome of one TokenBucketLimiter::take().
struct RateLimitResult
{
    bool allowed = true;
    qint64 limit = 0;          ///< the bucket's capacity
    qint64 remaining = 0;      ///< whole tokens left after this request
    qint64 retryAfterMs = 0;   ///< denied: time until one token is back
    qint64 resetMs = 0;        ///< time until the bucket is full again
};

/// Local token buckets, one per key (client IP, host, identity, ...): `tokensPerFill` tokens are added every
/// `fillIntervalMs` (continuously, pro rata), up to `capacity`. At most `maxKeys` buckets are remembered: the least
/// recently used are forgotten (a forgotten key starts again with a full bucket), so memory stays bounded whatever
/// clients send. Thread-safe: the keys are spread over mutex-striped maps, so workers rarely contend.
class TokenBucketLimiter
{
public:
    TokenBucketLimiter(qint64 tokensPerFill, qint64 fillIntervalMs, qint64 capacity, qint64 maxKeys,
                       const Clock *clock);

    /// Takes one token from `key`'s bucket if there is one.
    RateLimitResult take(const QByteArray &key);
    /// Gives back a token taken by take() (when a later limit of the same request said no).
    void refund(const QByteArray &key);
    /// Buckets currently remembered.
    qint64 keyCount() const;
    qint64 capacity() const { return m_capacity; }
    qint64 tokensPerFill() const { return m_tokensPerFill; }
    qint64 fillIntervalMs() const { return m_fillIntervalMs; }

private:
    // Levels are in "units": one token = fillIntervalMs units, and every millisecond adds tokensPerFill units,
    // so refilling is exact integer arithmetic.
    struct Entry
    {
        QByteArray key;
        qint64 level = 0;
        qint64 lastMs = 0;
    };
    struct Stripe
    {
        mutable std::mutex mutex;
        std::list<Entry> lru; // most recently used first
        QHash<QByteArray, std::list<Entry>::iterator> index;
    };
    Stripe &stripeFor(const QByteArray &key);
    void refill(Entry &e, qint64 now) const;

    const qint64 m_tokensPerFill;
    const qint64 m_fillIntervalMs;
    const qint64 m_capacity;
    const qint64 m_capacityUnits;
    qint64 m_perStripe = 1;
    const Clock *m_clock;
    std::vector<std::unique_ptr<Stripe>> m_stripes;
};

} // namespace dfproxy::policy
