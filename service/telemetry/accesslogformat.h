// SPDX-License-Identifier: Apache-2.0
#pragma once
// The access-log line formats (json, envoy, combined): one function per format, no state.

#include "telemetry/accesslogentry.h"

#include <optional>

namespace dfproxy::telemetry {

enum class AccessLogFormat { Json, Envoy, Combined };

/// "json", "envoy", "combined" (case-sensitive, as in the config); std::nullopt for anything else.
std::optional<AccessLogFormat> accessLogFormatFromString(const QString &name);
QString toString(AccessLogFormat format);

/// One line, terminated by '\n', in `format`:
///  - Json: the compact JSON object of AccessLogEntry::toJson().
///  - Envoy: Envoy's default access-log format string
///    `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
///    %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
///    "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"`;
///    values the record does not carry are "-", RESPONSE_FLAGS is the dfproxy error reason; then
///    `%DYNAMIC_METADATA(dfproxy.application)%`: {"pid","process","processPath","processUser"} as compact JSON, or "-";
///    then, on gRPC responses only, the status as a number (`%GRPC_STATUS(NUMBER)%`).
///  - Combined: Apache's `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"` (%u is the identity), then
///    `"process" "processPath" pid "processUser"` ("-" when unknown), then ` grpc-status=N` on gRPC responses only.
/// Pure and thread-safe.
QByteArray formatAccessLogLine(const AccessLogEntry &entry, AccessLogFormat format);
/// The same line appended to `out` (the writer formats a whole batch into one reused buffer). Json is written
/// directly, byte for byte what QJsonDocument writes for AccessLogEntry::toJson(), without building the object.
void appendAccessLogLine(QByteArray &out, const AccessLogEntry &entry, AccessLogFormat format);

} // namespace dfproxy::telemetry
