// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bridge from the proxy's access-log records to telemetry (log, metrics, per-application figures).

#include "proxy/accesslog.h"
#include "telemetry/accesslogentry.h"

namespace dfproxy::telemetry {
class AccessLogger;
class ApplicationStats;
class ProxyMetrics;
} // namespace dfproxy::telemetry

namespace dfproxy::app {

/// The proxy's access-log sink: converts each record (worker threads) into a telemetry entry, counts it in the
/// request metrics (and the per-application figures) and queues it for the access logger. Never blocks. No pointer
/// is owned.
class TelemetrySink final : public proxy::AccessLogSink
{
public:
    TelemetrySink(telemetry::AccessLogger *logger, telemetry::ProxyMetrics *metrics,
                  telemetry::ApplicationStats *applications = nullptr);
    ~TelemetrySink() override;
    void write(const proxy::AccessLogRecord &record) override;

    static telemetry::AccessLogEntry toEntry(const proxy::AccessLogRecord &record);

private:
    telemetry::AccessLogger *m_logger;
    telemetry::ProxyMetrics *m_metrics;
    telemetry::ApplicationStats *m_applications;
};

} // namespace dfproxy::app
