// SPDX-License-Identifier: Apache-2.0
#pragma once
// Moving bytes from one socket to another without copying them through user space: a kernel pipe between the
// two and splice() into and out of it (Linux). net/stream.cpp uses it for response bodies of known length between
// plain TCP connections, where a 64 KiB body would otherwise be copied out of the kernel and back in. Where the
// platform has no splice(), take() returns null and the bytes go through read and write as before.

#include <QByteArray>
#include <QtGlobal>

#include <memory>

namespace dfproxy::platform {

class SplicePipe
{
public:
    /// One of this thread's spare pipes, or a new one; null where the platform cannot splice or no pipe could be
    /// made. The first pipe of the process makes it ignore SIGPIPE (splice() has no MSG_NOSIGNAL), as the service
    /// does anyway.
    static std::unique_ptr<SplicePipe> take();
    /// Gives a pipe back: an empty one is kept for the next take() on this thread (a few at most), one still
    /// holding bytes is closed with them.
    static void giveBack(std::unique_ptr<SplicePipe> pipe);
    /// Whether this platform has splice() at all.
    static bool supported();

    ~SplicePipe();
    SplicePipe(const SplicePipe &) = delete;
    SplicePipe &operator=(const SplicePipe &) = delete;

    /// Moves up to `max` bytes from the socket `fd` into the pipe (call it only while the pipe is empty, so that a
    /// full pipe cannot be mistaken for an empty socket): > 0 moved, 0 = end of stream, WouldBlock (nothing to
    /// read), SocketFailed (reset or other error). Like readSocket(), a move of 16 KiB or more asks for an
    /// immediate ACK.
    qint64 fillFrom(qintptr fd, qint64 max);
    /// Moves what the pipe holds to the socket `fd`: >= 0 moved, WouldBlock, SocketFailed (peer gone or other
    /// error).
    qint64 drainTo(qintptr fd);
    /// Bytes the pipe holds.
    qint64 size() const { return m_size; }
    /// Reads out and returns what the pipe holds (for code that cannot splice); the pipe is empty afterwards.
    QByteArray takeAll();

private:
    SplicePipe(int readEnd, int writeEnd) : m_read(readEnd), m_write(writeEnd) {}

    int m_read;
    int m_write;
    qint64 m_size = 0;
};

} // namespace dfproxy::platform
