// SPDX-License-Identifier: Apache-2.0
#pragma once
// Readiness of many descriptors through one kernel object (epoll on Linux), for a thread's socket streams:
// the thread's Qt event loop then watches a single descriptor instead of two notifiers per connection, and one
// wake-up hands over every ready connection (net/stream.cpp). Level-triggered, like QSocketNotifier.

#include <QtGlobal>

#include <memory>

namespace dfproxy::platform {

class Poller
{
public:
    /// A poller, or nullptr where the platform has none (callers then use a QSocketNotifier per descriptor).
    static std::unique_ptr<Poller> create();
    /// Whether create() gives a poller here (probed once).
    static bool available();
    virtual ~Poller() = default;

    /// Readable whenever a watched descriptor is ready: what the event loop watches.
    virtual qintptr descriptor() const = 0;

    /// Watches `fd` for reading and/or writing, reporting it with `token`; both false stops watching it (a
    /// descriptor watched for nothing is not reported either, not even for errors). Call it again whenever the
    /// interest changes; before closing `fd`, call it with false, false. False on failure.
    virtual bool watch(qintptr fd, quint64 token, bool read, bool write) = 0;

    struct Event
    {
        quint64 token;
        bool readable; ///< data, end of stream, or an error waits (a read will tell which)
        bool writable; ///< room to write, or an error
    };
    /// Ready descriptors, without blocking: at most `max` events; 0 when none.
    virtual int poll(Event *events, int max) = 0;
};

} // namespace dfproxy::platform
