// SPDX-License-Identifier: Apache-2.0
// The egress policies: the request check (authentication, authorization, rate limits, in that order inside the
// policy engine) after routing and before DNS, and the SSRF guard on the addresses DNS gave.
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

namespace {

/// The request as the policies see it, built once for the request check and reused by the destination check:
/// views over the listener, the route match, the parsed head and the canonical request, which stay as they are
/// until the next request begins (Transaction::begin drops these views first).
policy::RequestAttributes attributes(const Transaction &tx)
{
    policy::RequestAttributes a;
    a.clientAddress = tx.rec.clientAddress;
    a.gatewayNamespace = tx.listener->gatewayNamespace;
    a.gatewayName = tx.listener->gatewayName;
    a.listenerName = tx.listener->name;
    a.routeNamespace = tx.match->routeNamespace;
    a.routeName = tx.match->routeName;
    if (tx.match->backend) {
        a.backendNamespace = tx.match->backend->ns;
        a.backendName = tx.match->backend->name;
    }
    a.method = tx.head->method;
    a.host = tx.canon.host;
    a.port = tx.rec.port;
    if (!tx.head->isConnect())
        a.path = tx.canon.path;
    a.headers = &tx.head->headers;
    a.explicitProxy = tx.canon.form == CanonicalRequest::Form::Absolute || tx.head->isConnect();
    a.application = tx.application.get();
    return a;
}

StageResult verdict(Transaction &tx, policy::Decision &d)
{
    tx.rec.identity = d.identity;
    tx.rec.decision = d.summary;
    if (!d.allowed)
        return tx.deny(d, "policy_denied");
    tx.tunnelBytesPerSecond = d.tunnelBytesPerSecond;
    tx.tunnelBurstBytes = d.tunnelBurstBytes;
    tx.stripHeaders = std::move(d.stripRequestHeaders);
    return StageResult::Continue;
}

} // namespace

/// The verdict may come later (a password hash runs off the worker thread); meanwhile the connection reads
/// nothing more of the client, and whatever drops the request drops tx.policyCheck, which cancels the callback.
StageResult policy(Transaction &tx)
{
    tx.policy = tx.ctx->policy.load();
    tx.tunnelBytesPerSecond = tx.tunnelBurstBytes = 0;
    tx.stripHeaders.clear();
    if (!tx.policy)
        return StageResult::Continue;
    const int port = tx.canon.port;
    tx.rec.port = quint16(port > 0 ? port
                                   : (tx.canon.httpsScheme || (tx.match->backend && tx.match->backend->tls) ? 443
                                                                                                            : 80));
    tx.policyAttributes = attributes(tx);
    policy::RequestCheck check = tx.policy->startCheckRequest(
        tx.policyAttributes, tx.host->callbackContext(), [&tx](policy::Decision d) {
            tx.resumeWith(verdict(tx, d));
            tx.host->readMore(); // the body or the next request the client sent meanwhile
        });
    if (check.pending) {
        tx.policyCheck = std::move(check.pending);
        return StageResult::Wait;
    }
    return verdict(tx, check.decision);
}

/// The SSRF guard: connect only to what it lets through, in its order.
StageResult destination(Transaction &tx)
{
    if (!tx.policy || tx.dnsLeftToProxy) // the guard checks what resolves here; the proxy resolves the rest
        return StageResult::Continue;
    policy::Decision d = tx.policy->checkResolved(tx.policyAttributes, tx.forward.upstream.addresses);
    if (!d.identity.isEmpty())
        tx.rec.identity = d.identity;
    if (!d.summary.isEmpty())
        tx.rec.decision = d.summary;
    if (!d.allowed || d.allowedAddresses.isEmpty())
        return tx.deny(d, "destination_not_allowed");
    tx.forward.upstream.addresses = std::move(d.allowedAddresses);
    return StageResult::Continue;
}

} // namespace dfproxy::proxy::stages
