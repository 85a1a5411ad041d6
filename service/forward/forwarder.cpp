// SPDX-License-Identifier: Apache-2.0
#include "forward/forwarder.h"

namespace dfproxy::forward {

QByteArray reasonString(ForwardError e)
{
    switch (e) {
    case ForwardError::None:
        return QByteArrayLiteral("none");
    case ForwardError::ConnectRefused:
        return QByteArrayLiteral("upstream_connect_refused");
    case ForwardError::ConnectTimeout:
        return QByteArrayLiteral("upstream_connect_timeout");
    case ForwardError::ResponseTimeout:
        return QByteArrayLiteral("upstream_response_timeout");
    case ForwardError::Reset:
        return QByteArrayLiteral("upstream_reset");
    case ForwardError::BadResponse:
        return QByteArrayLiteral("upstream_bad_response");
    case ForwardError::TlsError:
        return QByteArrayLiteral("upstream_tls_error");
    case ForwardError::ProxyUnreachable:
        return QByteArrayLiteral("upstream_proxy_unreachable");
    case ForwardError::ProxyAuthFailed:
        return QByteArrayLiteral("upstream_proxy_auth_failed");
    case ForwardError::ProxyRefused:
        return QByteArrayLiteral("upstream_proxy_connect_failed");
    case ForwardError::ProxyUnsupported:
        return QByteArrayLiteral("upstream_proxy_unsupported");
    case ForwardError::ProxyDenied:
        return QByteArrayLiteral("upstream_proxy_denied");
    }
    return QByteArrayLiteral("upstream_error");
}

int statusFor(ForwardError e)
{
    switch (e) {
    case ForwardError::ConnectTimeout:
    case ForwardError::ResponseTimeout:
        return 504;
    default:
        return 502;
    }
}

int grpcStatusOf(const http::HeaderList &fields, int fallback)
{
    const QByteArray *v = http::findHeader(fields, "grpc-status");
    if (!v)
        return fallback;
    bool ok = false;
    const int n = v->trimmed().toInt(&ok);
    return ok && n >= 0 && n < 1000 ? n : fallback;
}

} // namespace dfproxy::forward
