// SPDX-License-Identifier: Apache-2.0
#include "platform/sendbatch.h"

#include "platform/socket.h"

#include <QString>

#include <memory>

#ifdef Q_OS_LINUX

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace dfproxy::platform {
namespace {

// Flags newer than some kernel headers: the values are the kernel's ABI.
#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1U << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif

constexpr unsigned kEntries = 64;

int uringSetup(unsigned entries, io_uring_params *params)
{
    return int(::syscall(__NR_io_uring_setup, entries, params));
}

int uringEnter(int fd, unsigned toSubmit, unsigned minComplete, unsigned flags)
{
    return int(::syscall(__NR_io_uring_enter, fd, toSubmit, minComplete, flags, nullptr, 0));
}

/// One io_uring per thread, used synchronously: every send carries MSG_DONTWAIT, so the kernel completes it while
/// submitting (a full socket answers -EAGAIN instead of a send parked in the ring), and the completions are reaped
/// before send() returns. Nothing stays in the ring between calls.
class UringSendBatch final : public SendBatch
{
public:
    static std::unique_ptr<UringSendBatch> create()
    {
        io_uring_params params{};
        // SUBMIT_ALL (5.18): an entry the kernel refuses does not stop the ones behind it, which this code relies on
        // (a ring must never keep entries that point at buffers of a past call); without it, no ring.
        params.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
        int fd = uringSetup(kEntries, &params);
        if (fd < 0 && errno == EINVAL) {
            params = io_uring_params{};
            params.flags = IORING_SETUP_SUBMIT_ALL; // COOP_TASKRUN is 5.19
            fd = uringSetup(kEntries, &params);
        }
        if (fd < 0)
            return nullptr; // ENOSYS, EPERM (seccomp, kernel.io_uring_disabled), EINVAL (older than 5.18)
        std::unique_ptr<UringSendBatch> ring(new UringSendBatch(fd));
        if (!ring->map(params))
            return nullptr;
        return ring;
    }

    ~UringSendBatch() override
    {
        if (m_sqes != MAP_FAILED)
            ::munmap(m_sqes, m_sqesSize);
        if (m_cqRing != MAP_FAILED && m_cqRing != m_sqRing)
            ::munmap(m_cqRing, m_cqRingSize);
        if (m_sqRing != MAP_FAILED)
            ::munmap(m_sqRing, m_sqRingSize);
        ::close(m_fd);
    }

    bool broken() const { return m_broken; }

    void send(Send *sends, int count) override
    {
        for (int done = 0; done < count;) {
            if (m_broken) {
                for (; done < count; ++done)
                    sends[done].result = writeSocket(sends[done].fd, sends[done].data, sends[done].size);
                return;
            }
            const int n = std::min<int>(count - done, int(m_sqEntries));
            sendSome(sends + done, n);
            done += n;
        }
    }

private:
    explicit UringSendBatch(int fd) : m_fd(fd) {}

    bool map(const io_uring_params &p)
    {
        m_sqRingSize = p.sq_off.array + p.sq_entries * sizeof(unsigned);
        m_cqRingSize = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
        const bool single = p.features & IORING_FEAT_SINGLE_MMAP;
        if (single)
            m_sqRingSize = m_cqRingSize = std::max(m_sqRingSize, m_cqRingSize);
        m_sqRing = ::mmap(nullptr, m_sqRingSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m_fd,
                          IORING_OFF_SQ_RING);
        if (m_sqRing == MAP_FAILED)
            return false;
        m_cqRing = single ? m_sqRing
                          : ::mmap(nullptr, m_cqRingSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m_fd,
                                   IORING_OFF_CQ_RING);
        if (m_cqRing == MAP_FAILED)
            return false;
        m_sqesSize = p.sq_entries * sizeof(io_uring_sqe);
        m_sqes = static_cast<io_uring_sqe *>(::mmap(nullptr, m_sqesSize, PROT_READ | PROT_WRITE,
                                                    MAP_SHARED | MAP_POPULATE, m_fd, IORING_OFF_SQES));
        if (m_sqes == MAP_FAILED)
            return false;
        auto *sq = static_cast<char *>(m_sqRing);
        auto *cq = static_cast<char *>(m_cqRing);
        m_sqHead = reinterpret_cast<unsigned *>(sq + p.sq_off.head);
        m_sqTail = reinterpret_cast<unsigned *>(sq + p.sq_off.tail);
        m_sqMask = *reinterpret_cast<unsigned *>(sq + p.sq_off.ring_mask);
        m_sqArray = reinterpret_cast<unsigned *>(sq + p.sq_off.array);
        m_sqEntries = p.sq_entries;
        m_cqHead = reinterpret_cast<unsigned *>(cq + p.cq_off.head);
        m_cqTail = reinterpret_cast<unsigned *>(cq + p.cq_off.tail);
        m_cqMask = *reinterpret_cast<unsigned *>(cq + p.cq_off.ring_mask);
        m_cqes = reinterpret_cast<io_uring_cqe *>(cq + p.cq_off.cqes);
        return true;
    }

    static constexpr qint64 kPending = LLONG_MIN;

    void sendSome(Send *sends, int n)
    {
        unsigned tail = *m_sqTail; // only this thread moves the tail
        for (int i = 0; i < n; ++i) {
            Send &s = sends[i];
            s.result = kPending;
            const unsigned index = tail & m_sqMask;
            io_uring_sqe *sqe = &m_sqes[index];
            std::memset(sqe, 0, sizeof(*sqe));
            sqe->opcode = IORING_OP_SEND;
            sqe->fd = int(s.fd);
            sqe->addr = reinterpret_cast<quint64>(s.data);
            sqe->len = unsigned(std::min<qint64>(s.size, INT_MAX));
            sqe->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
            sqe->user_data = quint64(i);
            m_sqArray[index] = index;
            ++tail;
        }
        __atomic_store_n(m_sqTail, tail, __ATOMIC_RELEASE);

        // Submit. The kernel takes entries in order from its head; after an interruption it is asked again for what
        // it has not taken (with SUBMIT_ALL it takes all of them or, on an error for the call itself, none).
        for (int busy = 0; __atomic_load_n(m_sqHead, __ATOMIC_ACQUIRE) != tail;) {
            const unsigned left = tail - __atomic_load_n(m_sqHead, __ATOMIC_ACQUIRE);
            if (uringEnter(m_fd, left, 0, 0) >= 0 || errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EBUSY) && ++busy < 100)
                continue; // no memory for the requests just now
            // The ring is unusable, and its untaken entries point at this call's buffers: it is never entered
            // again (and is closed, entries and all, when the thread next asks for it).
            m_broken = true;
            break;
        }
        const int submitted = n - int(tail - __atomic_load_n(m_sqHead, __ATOMIC_ACQUIRE));
        // Entries the kernel never took go out one by one, after the others (the order of the entries of one socket
        // is kept: the kernel takes a prefix).
        int reaped = reap(sends);
        // Completions posted after the submission returned (not expected for MSG_DONTWAIT sends, but io_uring may
        // do it): wait for them. They come: a send that cannot go on completes with -EAGAIN.
        while (reaped < submitted) {
            if (uringEnter(m_fd, 0, unsigned(submitted - reaped), IORING_ENTER_GETEVENTS) < 0 && errno != EINTR) {
                // Cannot wait on the ring any more. The stream finds out what became of its bytes with a send of its
                // own (this does not happen with a working kernel; the ring is not used again).
                m_broken = true;
                for (int i = 0; i < submitted; ++i) {
                    if (sends[i].result == kPending)
                        sends[i].result = SocketFailed;
                }
                break;
            }
            reaped += reap(sends);
        }
        for (int i = submitted; i < n; ++i)
            sends[i].result = writeSocket(sends[i].fd, sends[i].data, sends[i].size);
    }

    /// Takes the completions posted so far; returns how many.
    int reap(Send *sends)
    {
        unsigned head = *m_cqHead;
        const unsigned tail = __atomic_load_n(m_cqTail, __ATOMIC_ACQUIRE);
        int taken = 0;
        for (; head != tail; ++head, ++taken) {
            const io_uring_cqe &cqe = m_cqes[head & m_cqMask];
            Send &s = sends[cqe.user_data];
            if (cqe.res >= 0)
                s.result = cqe.res;
            else if (cqe.res == -EINTR)
                s.result = writeSocket(s.fd, s.data, s.size);
            else
                s.result = (cqe.res == -EAGAIN || cqe.res == -EWOULDBLOCK) ? WouldBlock : SocketFailed;
        }
        __atomic_store_n(m_cqHead, head, __ATOMIC_RELEASE);
        return taken;
    }

    int m_fd;
    bool m_broken = false;
    void *m_sqRing = MAP_FAILED;
    void *m_cqRing = MAP_FAILED;
    io_uring_sqe *m_sqes = static_cast<io_uring_sqe *>(MAP_FAILED);
    size_t m_sqRingSize = 0;
    size_t m_cqRingSize = 0;
    size_t m_sqesSize = 0;
    unsigned *m_sqHead = nullptr;
    unsigned *m_sqTail = nullptr;
    unsigned *m_sqArray = nullptr;
    unsigned m_sqMask = 0;
    unsigned m_sqEntries = 0;
    unsigned *m_cqHead = nullptr;
    unsigned *m_cqTail = nullptr;
    unsigned m_cqMask = 0;
    io_uring_cqe *m_cqes = nullptr;
};

thread_local std::unique_ptr<UringSendBatch> t_batch;
thread_local bool t_tried = false;
thread_local bool t_allowed = true;

} // namespace

SendBatch *SendBatch::forThisThread()
{
    if (!t_allowed)
        return nullptr;
    if (!t_tried) {
        t_tried = true;
        if (enabledInProcess())
            t_batch = UringSendBatch::create();
    }
    if (t_batch && t_batch->broken())
        t_batch.reset(); // and not created again on this thread
    return t_batch.get();
}

void SendBatch::setAllowedOnThisThread(bool allowed)
{
    t_allowed = allowed;
}

bool SendBatch::enabledInProcess()
{
    static const bool enabled = qEnvironmentVariable("DFPROXY_BATCH_SEND") != QLatin1String("0");
    return enabled;
}

bool SendBatch::available()
{
    static const bool ok = enabledInProcess() && UringSendBatch::create() != nullptr;
    return ok;
}

} // namespace dfproxy::platform

#else

namespace dfproxy::platform {

// Windows and macOS: no batch sender; each send is its own call.
SendBatch *SendBatch::forThisThread()
{
    return nullptr;
}

void SendBatch::setAllowedOnThisThread(bool) {}

bool SendBatch::enabledInProcess()
{
    return false;
}

bool SendBatch::available()
{
    return false;
}

} // namespace dfproxy::platform

#endif
