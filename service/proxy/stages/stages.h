// SPDX-License-Identifier: Apache-2.0
#pragma once
// The stage list: what happens to every request between its head and its response, in this order. Each stage is
// one function in its own file here (the contract is in proxy/transaction.h). Adding a stage is one new file and
// one line in kStages (with its declaration below); docs/architecture.md shows the same table.

#include "proxy/transaction.h"

namespace dfproxy::proxy::stages {

StageResult application(Transaction &tx);     ///< self.cpp: the program behind the client (once per connection)
StageResult canonical(Transaction &tx);       ///< canonical.cpp: the target in its one spelling (400s)
StageResult self(Transaction &tx);            ///< self.cpp: the listener's own PAC file (200, 304, 405)
StageResult connectPort(Transaction &tx);     ///< canonical.cpp: CONNECT only to the listener's ports (403)
StageResult route(Transaction &tx);           ///< route.cpp: listener -> HTTPRoute rule -> backend (404)
StageResult policy(Transaction &tx);          ///< policy.cpp: authentication, authorization, rate limit (waits)
StageResult redirect(Transaction &tx);        ///< redirect.cpp: RequestRedirect answers (3xx)
StageResult upstreamRequest(Transaction &tx); ///< upstreamrequest.cpp: backend, URLRewrite, headers to send
StageResult upstreamProxy(Transaction &tx);   ///< upstreamproxy.cpp: an upstream proxy or DIRECT (waits; 502)
StageResult resolve(Transaction &tx);         ///< resolve.cpp: the DNS host cache (waits; 503)
StageResult destination(Transaction &tx);     ///< policy.cpp: the SSRF guard on the resolved addresses (403)
StageResult connect(Transaction &tx);         ///< connect.cpp: CONNECT dials its upstream (waits; 502/504)
StageResult forward(Transaction &tx);         ///< forward.cpp: starts the exchange, or hands over the tunnel

// Helpers more than one stage uses.
/// The request path after a URLRewrite / RequestRedirect path filter (ReplaceFullPath or ReplacePrefixMatch).
QByteArray rewrittenPath(const Transaction &tx, const std::optional<QString> &fullPath,
                         const std::optional<QString> &prefix);
/// A RequestHeaderModifier / ResponseHeaderModifier applied to `headers`.
void applyHeaderModifier(http::HeaderList &headers, const routing::HeaderModifier &m);

/// In order. A stage before resolve that fills tx.forward.upstream.addresses makes resolve skip DNS.
inline constexpr Stage kStages[] = {
    {"application", application},
    {"canonical", canonical},
    {"self", self},
    {"connect_port", connectPort},
    {"route", route},
    {"policy", policy},
    {"redirect", redirect},
    {"upstream_request", upstreamRequest},
    {"upstream_proxy", upstreamProxy},
    {"resolve", resolve},
    {"destination", destination},
    {"connect", connect},
    {"forward", forward},
};

} // namespace dfproxy::proxy::stages
