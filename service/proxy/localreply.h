// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one shape of a response dfproxy makes itself (errors, policy denials, redirects, connection-limit refusals)
// and the one function that turns it into HTTP/1 bytes.

#include "policy/policy.h"

#include <QByteArray>

namespace dfproxy::proxy {

struct LocalReply
{
    int status = 0;
    QByteArray reason;            ///< x-dfproxy-error (empty for redirects)
    QByteArray body;              ///< text/plain
    QByteArray location;          ///< redirects
    policy::HeaderList headers;   ///< extra headers (WWW-Authenticate, Retry-After, x-dfproxy-error-detail, ...)
};

/// Appends `reply` as an HTTP/1.`clientMinor` response: status line, Location, x-dfproxy-error, the extra headers
/// that are valid, Content-Type (text/plain unless the extra headers set one), Content-Length (not for 304),
/// Connection (close, or keep-alive for HTTP/1.0 clients), and the body unless `withBody` is false (HEAD).
void appendLocalReply(QByteArray &out, const LocalReply &reply, int clientMinor, bool keepAlive, bool withBody);

} // namespace dfproxy::proxy
