// SPDX-License-Identifier: Apache-2.0
#include "app/telemetrysink.h"

#include "telemetry/accesslogger.h"
#include "telemetry/applicationstats.h"
#include "telemetry/proxymetrics.h"

namespace dfproxy::app {

TelemetrySink::TelemetrySink(telemetry::AccessLogger *logger, telemetry::ProxyMetrics *metrics,
                             telemetry::ApplicationStats *applications)
    : m_logger(logger), m_metrics(metrics), m_applications(applications)
{
    // Metrics are fed from the access logger's writer thread, batch by batch, not on the worker's request path.
    if (m_logger && (m_metrics || m_applications))
        m_logger->setObserver([metrics, applications](const telemetry::AccessLogEntry &e) {
            if (metrics)
                metrics->observe(e);
            if (applications)
                applications->observe(e);
        });
}

TelemetrySink::~TelemetrySink()
{
    if (m_logger && (m_metrics || m_applications))
        m_logger->setObserver({});
}

void TelemetrySink::write(telemetry::AccessLogEntry &&record)
{
    if (m_logger)
        m_logger->submit(std::move(record)); // the logger's observer feeds m_metrics
    else {
        if (m_metrics)
            m_metrics->observe(record);
        if (m_applications)
            m_applications->observe(record);
    }
}

} // namespace dfproxy::app
