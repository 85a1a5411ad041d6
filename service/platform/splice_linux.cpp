// SPDX-License-Identifier: Apache-2.0
#include "platform/splice.h"

#include "platform/socket.h"

#ifdef Q_OS_LINUX

#include <cerrno>
#include <csignal>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dfproxy::platform {
namespace {

/// Empty pipes kept per thread: a transfer usually empties its pipe in the same call, so one or two serve a
/// worker; more only while clients read slowly.
constexpr size_t kSparePipes = 4;
/// As readSocket(): a bulk move asks for an immediate ACK.
constexpr qint64 kQuickAckBytes = 16 * 1024;

std::vector<std::unique_ptr<SplicePipe>> &sparePipes()
{
    thread_local std::vector<std::unique_ptr<SplicePipe>> spares;
    return spares;
}

} // namespace

bool SplicePipe::supported()
{
    return true;
}

std::unique_ptr<SplicePipe> SplicePipe::take()
{
    auto &spares = sparePipes();
    if (!spares.empty()) {
        std::unique_ptr<SplicePipe> pipe = std::move(spares.back());
        spares.pop_back();
        return pipe;
    }
    static const bool sigpipeIgnored = [] {
        // splice() into a socket whose peer is gone raises SIGPIPE (there is no MSG_NOSIGNAL for it).
        ::signal(SIGPIPE, SIG_IGN);
        return true;
    }();
    Q_UNUSED(sigpipeIgnored);
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return nullptr;
    return std::unique_ptr<SplicePipe>(new SplicePipe(fds[0], fds[1]));
}

void SplicePipe::giveBack(std::unique_ptr<SplicePipe> pipe)
{
    if (!pipe || pipe->m_size != 0)
        return; // closed, with whatever it held
    auto &spares = sparePipes();
    if (spares.size() < kSparePipes)
        spares.push_back(std::move(pipe));
}

SplicePipe::~SplicePipe()
{
    ::close(m_read);
    ::close(m_write);
}

qint64 SplicePipe::fillFrom(qintptr fd, qint64 max)
{
    for (;;) {
        const ssize_t n = ::splice(int(fd), nullptr, m_write, nullptr, size_t(max), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            m_size += n;
            if (n >= kQuickAckBytes) {
                int one = 1;
                ::setsockopt(int(fd), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
            }
            return n;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? WouldBlock : SocketFailed;
    }
}

qint64 SplicePipe::drainTo(qintptr fd)
{
    qint64 moved = 0;
    while (m_size > 0) {
        const ssize_t n = ::splice(m_read, nullptr, int(fd), nullptr, size_t(m_size), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            m_size -= n;
            moved += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return moved > 0 ? moved : WouldBlock;
        return SocketFailed;
    }
    return moved;
}

QByteArray SplicePipe::takeAll()
{
    QByteArray out;
    out.resize(m_size);
    qint64 got = 0;
    while (got < m_size) {
        const ssize_t n = ::read(m_read, out.data() + got, size_t(m_size - got));
        if (n > 0) {
            got += n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break; // cannot happen for bytes the pipe holds; keep what was read
    }
    out.resize(got);
    m_size -= got; // not 0 only if a read failed: giveBack() then closes the pipe instead of reusing it
    return out;
}

} // namespace dfproxy::platform

#else

namespace dfproxy::platform {

// Windows and macOS have no splice(): streams copy through user space.
bool SplicePipe::supported()
{
    return false;
}

std::unique_ptr<SplicePipe> SplicePipe::take()
{
    return nullptr;
}

void SplicePipe::giveBack(std::unique_ptr<SplicePipe>) {}

SplicePipe::~SplicePipe() = default;

qint64 SplicePipe::fillFrom(qintptr, qint64)
{
    return SocketFailed;
}

qint64 SplicePipe::drainTo(qintptr)
{
    return SocketFailed;
}

QByteArray SplicePipe::takeAll()
{
    return {};
}

} // namespace dfproxy::platform

#endif
