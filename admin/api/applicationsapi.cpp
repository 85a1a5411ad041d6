// SPDX-License-Identifier: Apache-2.0
#include "api/applicationsapi.h"

#include "server/adminserver.h"
#include "telemetry/accesslogger.h"
#include "telemetry/applicationstats.h"

namespace dfproxy::admin {

void registerApplicationsApi(AdminServer &server, telemetry::ApplicationStats *applications,
                             telemetry::AccessLogger *logger)
{
    server.addJsonRoute("GET", "/api/v1/applications", [applications, logger](const ApiRequest &) {
        // The figures are fed as the access logger writes its batches: count what is queued first.
        if (logger)
            logger->processPending();
        return ApiResponse::json(applications->toJson());
    });
}

} // namespace dfproxy::admin
