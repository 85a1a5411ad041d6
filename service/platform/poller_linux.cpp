// SPDX-License-Identifier: Apache-2.0
#include "platform/poller.h"

#ifdef Q_OS_LINUX

#include <cerrno>

#include <sys/epoll.h>
#include <unistd.h>

namespace dfproxy::platform {
namespace {

class EpollPoller final : public Poller
{
public:
    explicit EpollPoller(int epfd) : m_epfd(epfd) {}
    ~EpollPoller() override { ::close(m_epfd); }

    qintptr descriptor() const override { return m_epfd; }

    bool watch(qintptr fd, quint64 token, bool read, bool write) override
    {
        if (!read && !write) {
            // Removed, not set to no events: epoll reports errors and hang-ups even for those, which would make
            // a level-triggered loop spin on a connection nobody is reading.
            if (::epoll_ctl(m_epfd, EPOLL_CTL_DEL, int(fd), nullptr) == 0)
                return true;
            return errno == ENOENT;
        }
        epoll_event ev{};
        ev.events = (read ? EPOLLIN | EPOLLRDHUP : 0u) | (write ? EPOLLOUT : 0u);
        ev.data.u64 = token;
        if (::epoll_ctl(m_epfd, EPOLL_CTL_MOD, int(fd), &ev) == 0)
            return true;
        return errno == ENOENT && ::epoll_ctl(m_epfd, EPOLL_CTL_ADD, int(fd), &ev) == 0;
    }

    int poll(Event *events, int max) override
    {
        epoll_event ev[64];
        int n;
        do {
            n = ::epoll_wait(m_epfd, ev, qMin(max, 64), 0);
        } while (n < 0 && errno == EINTR);
        for (int i = 0; i < n; ++i) {
            const quint32 e = ev[i].events;
            events[i].token = ev[i].data.u64;
            // As Qt's poll() dispatcher: errors and hang-ups wake readers and writers, which then find out.
            events[i].readable = e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
            events[i].writable = e & (EPOLLOUT | EPOLLERR | EPOLLHUP);
        }
        return qMax(n, 0);
    }

private:
    int m_epfd;
};

} // namespace

std::unique_ptr<Poller> Poller::create()
{
    const int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return nullptr;
    return std::make_unique<EpollPoller>(epfd);
}

bool Poller::available()
{
    static const bool ok = create() != nullptr;
    return ok;
}

} // namespace dfproxy::platform

#else

namespace dfproxy::platform {

// Windows and macOS: no poller yet (kqueue would do on macOS); streams use a QSocketNotifier per descriptor.
std::unique_ptr<Poller> Poller::create()
{
    return nullptr;
}

bool Poller::available()
{
    return false;
}

} // namespace dfproxy::platform

#endif
