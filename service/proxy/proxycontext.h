// SPDX-License-Identifier: Apache-2.0
#pragma once
// State shared by the ProxyServer (main thread) and its workers; every field is safe to read from any thread.

#include "proxy/accesslog.h"
#include "proxy/clientapplication.h"
#include "proxy/connectionlimiter.h"
#include "proxy/proxyoptions.h"
#include "proxy/proxystats.h"
#include "proxy/router.h"

#include "policy/policy.h"

#include <atomic>
#include <memory>

namespace dfproxy::dns {
class HostCache;
}

namespace dfproxy::proxy {

struct ProxyContext
{
    ProxyOptions options;
    std::atomic<std::shared_ptr<const Router>> router;
    std::atomic<dns::HostCache *> hostCache{nullptr};
    std::atomic<std::shared_ptr<const policy::PolicyEngine>> policy; ///< null = allow everything
    std::atomic<AccessLogSink *> accessLog{nullptr};
    std::atomic<bool> draining{false};
    ProxyStats stats;
    ConnectionLimiter limiter; ///< proxy.maxConnections / maxConnectionsPerClient, updated live
    ClientApplications applications; ///< the program behind each local client connection (proxy.applicationLookup)
};

} // namespace dfproxy::proxy
