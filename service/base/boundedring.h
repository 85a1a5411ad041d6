// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace dfproxy {

/// The newest `capacity` items, oldest first, in one block: it grows up to the capacity and then overwrites the
/// oldest slot in place. A std::deque of large items allocates a block per item (libstdc++ packs 512 bytes per
/// block); this allocates only while growing. The capacity may change between pushes (it is a setting): a smaller
/// one drops the oldest items, a larger one lets the ring grow again. Not thread-safe.
template <typename T>
class BoundedRing
{
public:
    /// Appends `item`, dropping the oldest one when `capacity` items are already kept. Capacity 0 keeps nothing.
    void push(T &&item, size_t capacity)
    {
        fit(capacity);
        if (capacity == 0)
            return;
        if (m_items.size() < capacity) {
            m_items.push_back(std::move(item)); // growing: m_head stays 0 (fit() saw to that)
            return;
        }
        m_items[m_head] = std::move(item);
        m_head = (m_head + 1) % m_items.size();
    }

    /// Applies a new capacity now: drops the oldest items beyond it.
    void fit(size_t capacity)
    {
        if (capacity == 0) {
            clear();
            return;
        }
        if (m_items.size() > capacity || (m_items.size() < capacity && m_head != 0)) {
            // Oldest first again, then cut from the front.
            std::rotate(m_items.begin(), m_items.begin() + std::ptrdiff_t(m_head), m_items.end());
            m_head = 0;
            if (m_items.size() > capacity)
                m_items.erase(m_items.begin(), m_items.begin() + std::ptrdiff_t(m_items.size() - capacity));
        }
    }

    void clear()
    {
        m_items.clear();
        m_head = 0;
    }

    size_t size() const { return m_items.size(); }
    bool empty() const { return m_items.empty(); }
    /// The i-th oldest item (0 = the oldest), i < size().
    const T &at(size_t i) const { return m_items[(m_head + i) % m_items.size()]; }

    /// The index of the first item for which `pred` is true, given that it is false for all items before it and
    /// true for all after (a sorted ring); size() when none.
    template <typename Pred>
    size_t partitionPoint(Pred pred) const
    {
        size_t lo = 0;
        size_t hi = size();
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (pred(at(mid)))
                hi = mid;
            else
                lo = mid + 1;
        }
        return lo;
    }

private:
    std::vector<T> m_items;
    size_t m_head = 0; ///< the oldest item's slot once the ring is full
};

} // namespace dfproxy
