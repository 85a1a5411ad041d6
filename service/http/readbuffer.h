// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QIODevice>

#include <algorithm>
#include <cstring>
#include <vector>

namespace dfproxy::http {

/// A reusable input buffer: reads from a device in big chunks and hands out the unconsumed bytes without copying.
class ReadBuffer
{
public:
    explicit ReadBuffer(qsizetype chunk = 64 * 1024) : m_chunk(chunk) {}
    const char *data() const { return m_buf.constData() + m_pos; }
    qsizetype size() const { return m_end - m_pos; }
    bool isEmpty() const { return m_end == m_pos; }
    void consume(qsizetype n)
    {
        m_pos += n;
        if (m_pos >= m_end)
            m_pos = m_end = 0;
    }
    void clear() { m_pos = m_end = 0; }
    /// Appends bytes (for data handed over from elsewhere).
    void append(const char *data, qsizetype n)
    {
        reserveTail(n);
        memcpy(m_buf.data() + m_end, data, size_t(n));
        m_end += n;
    }
    /// Reads what the source has (up to the free space, at least one chunk): anything with
    /// `qint64 read(char *, qint64)` (a QIODevice, a net::Stream). Returns bytes read, 0 when nothing, -1 on error.
    /// `limit` > 0 reads at most that much.
    template<typename Source>
    qint64 fill(Source *dev, qint64 limit = 0)
    {
        reserveTail(m_chunk);
        qint64 room = m_buf.size() - m_end;
        if (limit > 0 && limit < room)
            room = limit;
        const qint64 n = dev->read(m_buf.data() + m_end, room);
        if (n > 0)
            m_end += n;
        return n;
    }
    /// When empty, hands the memory to this thread's spare buffers (so idle connections hold none), where the next fill() of any ReadBuffer on
    /// the thread takes it back. With many connections that keeps one or two buffers busy (and in the CPU cache)
    /// instead of touching a different 64 KiB block per connection and request.
    void recycle()
    {
        if (!isEmpty() || m_buf.isNull())
            return;
        auto &spares = spareBuffers();
        if (spares.size() < kMaxSpares && m_buf.isDetached())
            spares.push_back(std::move(m_buf));
        m_buf = QByteArray();
        m_pos = m_end = 0;
    }

private:
    static constexpr size_t kMaxSpares = 8;
    static std::vector<QByteArray> &spareBuffers()
    {
        thread_local std::vector<QByteArray> spares;
        return spares;
    }

    void reserveTail(qsizetype n)
    {
        if (m_buf.size() - m_end >= n)
            return;
        if (m_buf.isNull()) {
            auto &spares = spareBuffers();
            if (!spares.empty() && spares.back().size() >= n) {
                m_buf = std::move(spares.back());
                spares.pop_back();
                m_pos = m_end = 0;
                return;
            }
        }
        if (m_pos > 0) {
            memmove(m_buf.data(), m_buf.constData() + m_pos, size_t(m_end - m_pos));
            m_end -= m_pos;
            m_pos = 0;
        }
        if (m_buf.size() - m_end < n)
            m_buf.resize(m_end + std::max(n, m_chunk));
    }
    QByteArray m_buf;
    qsizetype m_pos = 0;
    qsizetype m_end = 0;
    qsizetype m_chunk;
};

} // namespace dfproxy::http
