// SPDX-License-Identifier: Apache-2.0
#pragma once
// The bridge from the proxy's access-log records to telemetry (log, metrics, per-application figures).

#include "proxy/accesslog.h"

namespace dfproxy::telemetry {
class AccessLogger;
class ApplicationStats;
class ProxyMetrics;
} // namespace dfproxy::telemetry

namespace dfproxy::app {

/// The proxy's access-log sink: queues each record (worker threads) for the access logger as it is, whose writer
/// thread formats it and counts it in the request metrics (and the per-application figures). Never blocks. No
/// pointer is owned.
class TelemetrySink final : public proxy::AccessLogSink
{
public:
    TelemetrySink(telemetry::AccessLogger *logger, telemetry::ProxyMetrics *metrics,
                  telemetry::ApplicationStats *applications = nullptr);
    ~TelemetrySink() override;
    void write(telemetry::AccessLogEntry &&record) override;

private:
    telemetry::AccessLogger *m_logger;
    telemetry::ProxyMetrics *m_metrics;
    telemetry::ApplicationStats *m_applications;
};

} // namespace dfproxy::app
