// SPDX-License-Identifier: Apache-2.0
#pragma once
// `export --for agentgateway`: a desktop config as objects an agentgateway cluster accepts. Gateway, HTTPRoute and
// AgentgatewayBackend keep their shape (dfproxy's own fields dropped); the dfproxy.dev policies become
// AgentgatewayPolicy objects (authorization rules as one CEL expression). What has no agentgateway equivalent is
// listed, object and field, never dropped silently; where dropping a condition would widen an authorization, the
// condition is exported as one that never matches an Allow rule (or always matches a Deny one), so the cluster
// refuses more, never less. docs/agentgateway.md describes the mapping.

#include "config/config.h"

#include <QJsonArray>
#include <QList>
#include <QString>

namespace dfproxy::admin {

/// One field that did not make it into the export as it is.
struct NotExported
{
    QString object; ///< "RateLimitPolicy httpbin/limits"
    QString field;  ///< "spec.limits[0].bytesPerSecond"
    QString reason; ///< "tunnel bandwidth limits have no agentgateway equivalent"
    QString toString() const { return object + ": " + field + ": " + reason; }
};

struct AgentgatewayExport
{
    QJsonArray items; ///< manifests, without server-managed fields
    QList<NotExported> notExported;
};

/// Converts `resources` (all of one config: policies are checked against each other, a policy that is not in effect
/// because an older one has its target is not exported). Pure; thread-safe.
AgentgatewayExport exportForAgentgateway(const config::Config &config);

} // namespace dfproxy::admin
