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

namespace {

/// QHostAddress::toString per record costs an allocation and a formatting pass on the worker thread, for what is
/// nearly always the address of the record before (one client, one origin): remember the last one per thread.
struct AddressText
{
    QHostAddress address;
    QString text;
    QString of(const QHostAddress &a)
    {
        if (a.isNull())
            return QString();
        if (a != address || text.isEmpty()) {
            address = a;
            text = a.toString();
        }
        return text;
    }
};
thread_local AddressText t_clientText;
thread_local AddressText t_resolvedText;

} // namespace

telemetry::AccessLogEntry TelemetrySink::toEntry(const proxy::AccessLogRecord &r)
{
    telemetry::AccessLogEntry e;
    e.time = r.time;
    e.clientAddress = t_clientText.of(r.clientAddress);
    e.clientPort = r.clientPort;
    e.method = r.method;
    e.host = r.host;
    e.port = r.port;
    e.path = r.path;
    e.protocol = r.protocol;
    e.resolvedAddress = t_resolvedText.of(r.resolvedAddress);
    e.dnsCacheHit = r.dnsCacheHit;
    e.status = r.status;
    e.reason = r.reason;
    e.bytesIn = r.bytesIn;
    e.bytesOut = r.bytesOut;
    e.totalMs = r.totalUs / 1000;
    e.totalUs = r.totalUs;
    e.dnsMs = r.dnsUs / 1000;
    e.dnsWaitUs = r.dnsWaited ? r.dnsUs : -1;
    e.connectMs = r.connectUs / 1000;
    e.connectUs = r.connectUs;
    e.upstreamMs = r.upstreamUs / 1000;
    e.gateway = r.gateway;
    e.route = r.route;
    e.backend = r.backend;
    e.upstreamReused = r.upstreamReused;
    e.tunnel = r.tunnel;
    e.upstreamProxy = r.upstreamProxy;
    e.upstreamProxyReason = r.upstreamProxyReason;
    e.grpcStatus = r.grpcStatus;
    e.trailersDropped = r.trailersDropped;
    e.identity = r.identity;
    if (const platform::ProcessInfo *app = r.application.get()) { // QStrings shared, not copied
        e.process = app->name;
        e.processPath = app->path;
        e.pid = app->pid;
        e.processUser = app->user;
    }
    if (r.decision == "allow")
        e.decision = QStringLiteral("allow"); // nearly every record: static text, no allocation
    else if (!r.decision.isEmpty())
        e.decision = QString::fromLatin1(r.decision);
    return e;
}

void TelemetrySink::write(const proxy::AccessLogRecord &record)
{
    telemetry::AccessLogEntry e = toEntry(record);
    if (m_logger)
        m_logger->submit(std::move(e)); // the logger's observer feeds m_metrics
    else {
        if (m_metrics)
            m_metrics->observe(e);
        if (m_applications)
            m_applications->observe(e);
    }
}

} // namespace dfproxy::app
