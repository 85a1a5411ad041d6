// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QByteArray>
#include <QIODevice>

#include <algorithm>
#include <cstring>

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
    template<typename Source>
    qint64 fill(Source *dev)
    {
        reserveTail(m_chunk);
        const qint64 n = dev->read(m_buf.data() + m_end, m_buf.size() - m_end);
        if (n > 0)
            m_end += n;
        return n;
    }
    /// Releases memory when idle (long-lived idle connections should not pin 64 KiB each).
    void squeeze()
    {
        if (isEmpty())
            m_buf = QByteArray();
    }

private:
    void reserveTail(qsizetype n)
    {
        if (m_buf.size() - m_end >= n)
            return;
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
