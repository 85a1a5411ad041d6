// SPDX-License-Identifier: Apache-2.0
#pragma once
// Many sends, to many sockets, in one kernel call (io_uring on Linux).
//
// Why: a proxy's poll batch ends with a burst of sends, one per connection it served, and each send wakes the peer
// that waits for it. Sent one call at a time, the first wake-up of a peer on this core preempts the thread when that
// call returns, and the rest of the burst waits until the thread runs again (measured in docs/benchmarks.md: almost
// every preemption of a busy worker was on the way out of send()). Submitted together, every peer has its bytes
// before the thread can be preempted.

#include <QtGlobal>

namespace dfproxy::platform {

class SendBatch
{
public:
    /// This thread's batch sender, created on first use (and gone with the thread); nullptr where the platform has
    /// none, where the kernel refuses it (an old kernel, a sandbox's seccomp filter), or after
    /// setAllowedOnThisThread(false). Callers then send one call at a time.
    static SendBatch *forThisThread();
    /// Lets this thread use (true, the default) or not use a batch sender: both paths are tested.
    static void setAllowedOnThisThread(bool allowed);
    /// False in a process started with DFPROXY_BATCH_SEND=0 (for measuring one path against the other).
    static bool enabledInProcess();
    /// Whether this process's threads get a batch sender (probed once, with a ring of its own).
    static bool available();

    virtual ~SendBatch() = default;

    struct Send
    {
        qintptr fd;
        const char *data;
        qint64 size;
        qint64 result; ///< out: bytes sent (>= 0), or WouldBlock / SocketFailed as platform::writeSocket
    };
    /// Sends each entry's bytes without blocking, all in (about) one kernel call, as writeSocket would one by one
    /// (no SIGPIPE for a closed peer). Every entry gets a result.
    virtual void send(Send *sends, int count) = 0;
};

} // namespace dfproxy::platform
