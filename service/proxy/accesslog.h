// SPDX-License-Identifier: Apache-2.0
#pragma once
// CONTRACT with telemetry: one record per proxied request (or tunnel), emitted when it ends. The record is
// telemetry's own type (telemetry/accesslogentry.h), filled by the transaction: the sink reads it as it is.

#include "telemetry/accesslogentry.h"

namespace dfproxy::proxy {

/// Receives access-log records. write() is called from worker threads concurrently: implementations must be
/// thread-safe and must never block (queue and return). The record is handed over: the transaction does not read
/// it again (its next request starts a new one).
class AccessLogSink
{
public:
    virtual ~AccessLogSink() = default;
    virtual void write(telemetry::AccessLogEntry &&record) = 0;
};

} // namespace dfproxy::proxy
