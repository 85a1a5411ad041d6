// SPDX-License-Identifier: Apache-2.0
#pragma once
// CONTRACT between the proxy engine (service/proxy) and the egress policies (service/policy): rate limiting,
// authentication, authorization and the SSRF guard. The proxy asks at two points of every request or tunnel:
//   1. startCheckRequest() (or checkRequest()): after routing, before DNS — authn, authz on
//      name/port/method/path/client/identity, rate limits. Deny: the proxy answers with the decision's status,
//      headers and body, and logs `reason`. The verdict may come later (a password hash off the event loop).
//   2. checkResolved(): after DNS, before connecting — the SSRF guard on the resolved addresses. The proxy
//      connects only to the addresses returned in `allowedAddresses` (in order); none left = the decision's deny.

#include <QAnyStringView>
#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>

#include "platform/nulladdress.h"
#include "platform/processlookup.h"

#include <functional>
#include <memory>

class QObject;

namespace dfproxy::policy {

using HeaderList = QList<QPair<QByteArray, QByteArray>>;

/// What a policy may look at: views over what the proxy already holds for the request (the listener, the route
/// match, the parsed head, the canonical request), built once per request and nothing copied. The viewed data must
/// stay valid and unchanged while the engine is asked (for startCheckRequest(): until its handle is gone). A policy
/// that keeps something past the call (a rate-limit key in its buckets) makes its own copy.
struct RequestAttributes
{
    QHostAddress clientAddress = platform::nullAddress();
    QAnyStringView gatewayNamespace, gatewayName, listenerName; // any string type: the listener's QStrings, or literals
    QAnyStringView routeNamespace, routeName;     ///< empty when no route matched (the proxy answers 404 first)
    QAnyStringView backendNamespace, backendName;
    QByteArrayView method;                 ///< "CONNECT" for tunnels
    QByteArrayView host;                   ///< target host, canonical (http/canonical.h): ASCII lower case, no port
    quint16 port = 0;                      ///< target port
    QByteArrayView path;                   ///< canonical path without query ("" for CONNECT)
    const HeaderList *headers = nullptr;   ///< request headers as received (credentials included)
    bool explicitProxy = false;            ///< absolute-form or CONNECT: answer 407/Proxy-Authenticate, not 401
    /// The program behind the client connection (AuthorizationPolicy applications, RateLimitPolicy key
    /// application); null when unknown: lookup off, another machine, or the process was gone.
    const platform::ProcessInfo *application = nullptr;
};

/// A policy outcome.
struct Decision
{
    bool allowed = true;
    int status = 0;              ///< when denied: 401, 403, 407, 429, ...
    QByteArray reason;           ///< when denied: x-dfproxy-error / access-log reason ("ratelimited", "authz_denied", ...)
    QByteArray body;             ///< when denied: a short text body
    HeaderList responseHeaders;  ///< when denied: WWW-Authenticate / Proxy-Authenticate / Retry-After / RateLimit-*
    QString identity;            ///< the authenticated user / key name / JWT subject, for logs ("" = anonymous)
    QList<QByteArray> stripRequestHeaders; ///< credentials the proxy must remove before forwarding
    QByteArray summary;          ///< short decision text for the access log ("allow", "deny:authz rule 2", ...)
    QList<QHostAddress> allowedAddresses; ///< checkResolved(): the addresses the proxy may connect to
    /// checkRequest() of a CONNECT or Upgrade request: when it becomes a tunnel, each direction of the tunnel is
    /// throttled to this many bytes per second with a bucket of tunnelBurstBytes (RateLimitPolicy bytesPerSecond;
    /// the smallest of the limits that apply). 0 = unlimited.
    qint64 tunnelBytesPerSecond = 0;
    qint64 tunnelBurstBytes = 0;
};

/// The compiled policies of one config snapshot. Immutable after build except for rate-limit state, which is
/// internally synchronised: both calls are thread-safe and cheap (no I/O, no blocking) and are called from the
/// worker threads for every request.
/// A startCheckRequest() verdict still being worked out. Destroying it cancels: the callback is then never called.
/// Destroy it on the thread that started the check.
class PendingDecision
{
public:
    virtual ~PendingDecision() = default;
};

/// What startCheckRequest() gives back: the verdict now, or a handle and the verdict later.
struct RequestCheck
{
    Decision decision;                        ///< the verdict, when `pending` is null
    std::unique_ptr<PendingDecision> pending; ///< not null: `done` gets the verdict later
};

class PolicyEngine
{
public:
    virtual ~PolicyEngine() = default;
    /// The verdict at once; a slow step (a password hash) runs on the calling thread.
    virtual Decision checkRequest(const RequestAttributes &request) const = 0;
    /// The same verdict as checkRequest(), for callers on an event loop: a slow step runs elsewhere and `done` is
    /// then called on `context`'s thread through its event loop, unless the returned handle is destroyed first.
    /// Until then `request` (and what it points at) must stay valid and unchanged, and the engine and `context`
    /// must outlive the handle. The default answers at once.
    virtual RequestCheck startCheckRequest(const RequestAttributes &request, QObject *context,
                                           std::function<void(Decision)> done) const
    {
        Q_UNUSED(context);
        Q_UNUSED(done);
        return RequestCheck{checkRequest(request), nullptr};
    }
    virtual Decision checkResolved(const RequestAttributes &request, const QList<QHostAddress> &addresses) const = 0;
    /// The SSRF guard's rules alone, on the addresses of an upstream proxy a PAC answer named (to `port`): the ones
    /// they allow, in order. Not a request's decision, so not counted as one. The default allows them all.
    virtual QList<QHostAddress> ssrfAllowedProxyAddresses(const QList<QHostAddress> &addresses, quint16 port) const
    {
        Q_UNUSED(port);
        return addresses;
    }
};

} // namespace dfproxy::policy
