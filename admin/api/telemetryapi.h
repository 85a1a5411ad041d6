// SPDX-License-Identifier: Apache-2.0
#pragma once
// The telemetry endpoints of the admin API: /metrics, /api/v1/metrics, /api/v1/accesslog (and its stream).

namespace dfproxy::telemetry {
class AccessLogger;
class MetricsRegistry;
} // namespace dfproxy::telemetry

namespace dfproxy::admin {

class AdminServer;

/// Registers the telemetry endpoints on `server` (all need the bearer token):
///   GET /metrics                       Prometheus text exposition 0.0.4
///   GET /api/v1/metrics                the same figures as JSON (for the GUI)
///   GET /api/v1/accesslog?limit=N&after=SEQ   recent access-log records, oldest first (default limit 100)
///   GET /api/v1/accesslog/stream[?after=SEQ]  server-sent events: `id: <seq>` + `data: <JSON record>` per record,
///                                      a `: keep-alive` comment every 15 s; Last-Event-ID resumes too
/// Neither pointer is owned; both must outlive the server.
void registerTelemetryApi(AdminServer &server, telemetry::AccessLogger *logger, telemetry::MetricsRegistry *metrics);

} // namespace dfproxy::admin
