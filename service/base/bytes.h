// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>

#include <cstring>

namespace dfproxy {

// Appending to a QByteArray without QByteArray::append: in Qt 6.4 every append goes through the general
// insert(pos, view) (aliasing checks, a position, an out-of-line call). Under callgrind that was a fifth of the
// user-space instructions per proxied request (docs/benchmarks.md). These helpers grow the array once per call
// (geometrically, as resize() does) and copy with memcpy.

/// Makes `out` n bytes longer and returns where the new (uninitialised) bytes start.
inline char *growBy(QByteArray &out, qsizetype n)
{
    const qsizetype old = out.size();
    out.resize(old + n);
    return out.data() + old;
}

/// Appends n bytes from p (what QByteArray::append(p, n) does, without its insert path).
inline void appendRaw(QByteArray &out, const char *p, qsizetype n)
{
    std::memcpy(growBy(out, n), p, size_t(n));
}

/// Word-at-a-time byte tests (SWAR): whether any of the eight bytes of `w` is below `n` (n <= 128), or equal to
/// `c`. Exact as a yes/no for the whole word; callers re-check a flagged word byte by byte.
constexpr quint64 kEveryByte = 0x0101010101010101ULL;
constexpr bool anyByteBelow(quint64 w, unsigned n)
{
    return ((w - kEveryByte * n) & ~w & (kEveryByte * 0x80)) != 0;
}
constexpr bool anyByteEquals(quint64 w, unsigned char c)
{
    const quint64 x = w ^ (kEveryByte * c);
    return ((x - kEveryByte) & ~x & (kEveryByte * 0x80)) != 0;
}
inline quint64 loadWord(const char *p)
{
    quint64 w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

/// Many small appends to one QByteArray: writes through a raw pointer into spare room and sets the final size
/// when done (finish() or the destructor). `out` must not be touched by anything else meanwhile.
class ByteWriter
{
public:
    explicit ByteWriter(QByteArray &out, qsizetype expected = 256)
        : m_out(out)
        , m_len(out.size())
    {
        reserveMore(expected);
    }
    ~ByteWriter() { finish(); }
    ByteWriter(const ByteWriter &) = delete;
    ByteWriter &operator=(const ByteWriter &) = delete;

    void put(char c)
    {
        if (m_len == m_cap)
            reserveMore(1);
        m_data[m_len++] = c;
    }
    /// Room for n more bytes, written directly; commit() says how many were used (up to n).
    char *claim(qsizetype n)
    {
        if (m_cap - m_len < n)
            reserveMore(n);
        return m_data + m_len;
    }
    void commit(qsizetype n) { m_len += n; }
    void put(const char *p, qsizetype n)
    {
        std::memcpy(claim(n), p, size_t(n));
        commit(n);
    }
    template <qsizetype N>
    void literal(const char (&s)[N]) { put(s, N - 1); }

    qsizetype size() const { return m_len; }
    /// The bytes written so far (valid until the next write).
    const char *data() const { return m_data; }
    /// Forgets what was written after `size` (a size() taken earlier).
    void truncate(qsizetype size) { m_len = qMin(m_len, size); }
    /// Sets `out` to what was written; the writer may go on afterwards.
    void finish()
    {
        if (m_out.size() != m_len)
            m_out.resize(m_len);
        m_cap = m_len;
    }

private:
    void reserveMore(qsizetype n)
    {
        // resize() grows the capacity geometrically; the spare bytes are size() until finish().
        m_out.resize(qMax(m_len + n, m_len + m_len / 2 + 64));
        m_data = m_out.data();
        m_cap = m_out.size();
    }

    QByteArray &m_out;
    char *m_data = nullptr;
    qsizetype m_len = 0;
    qsizetype m_cap = 0;
};

} // namespace dfproxy
