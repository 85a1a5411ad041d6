// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace dfproxy {

/// "Was I destroyed while I called out?" for objects that live for one request. QPointer answers that too, but
/// allocates a shared block per object the first time it is used, which for an object per request is one more
/// malloc and free per request. Guards live on the stack and must nest (they do: one per stack frame).
///
///   Liveness::Guard alive(m_liveness);
///   m_sink->onResponseHead(head); // may delete this
///   if (!alive) return;
class Liveness
{
public:
    Liveness() = default;
    Liveness(const Liveness &) = delete;
    Liveness &operator=(const Liveness &) = delete;
    ~Liveness()
    {
        for (Guard *g = m_top; g; g = g->m_prev)
            g->m_alive = false;
    }

// GCC 12+ may see the guard's address stay in m_top after the guard is gone: only where the owner was destroyed
// meanwhile (m_top died with it), a path its -Wdangling-pointer cannot rule out once enough is inlined.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
    class Guard
    {
    public:
        explicit Guard(Liveness &owner) : m_owner(&owner), m_prev(owner.m_top) { owner.m_top = this; }
        ~Guard()
        {
            if (m_alive)
                m_owner->m_top = m_prev;
        }
        Guard(const Guard &) = delete;
        Guard &operator=(const Guard &) = delete;
        /// False once the owner was destroyed.
        explicit operator bool() const { return m_alive; }

    private:
        friend class Liveness;
        Liveness *m_owner;
        Guard *m_prev;
        bool m_alive = true;
    };
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

private:
    Guard *m_top = nullptr;
};

} // namespace dfproxy
