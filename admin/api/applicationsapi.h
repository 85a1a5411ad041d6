// SPDX-License-Identifier: Apache-2.0
#pragma once
// GET /api/v1/applications: the programs seen behind local clients (docs/applications.md).

namespace dfproxy::telemetry {
class AccessLogger;
class ApplicationStats;
} // namespace dfproxy::telemetry

namespace dfproxy::admin {

class AdminServer;

/// Registers (bearer token required):
///   GET /api/v1/applications   every program seen behind local clients with the hosts it reached
///                              (telemetry::ApplicationStats::toJson(); docs/applications.md)
/// Neither pointer is owned; both must outlive the server (`logger` may be null).
void registerApplicationsApi(AdminServer &server, telemetry::ApplicationStats *applications,
                             telemetry::AccessLogger *logger);

} // namespace dfproxy::admin
