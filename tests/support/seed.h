// SPDX-License-Identifier: Apache-2.0
#pragma once
// The seed guide's two manifests (agentgateway's Dynamic Forward Proxy guide), verbatim, from
// resources/examples/seed/ — the same files the docs tell users to apply.

#include <QByteArray>

namespace dfproxy::test {

/// resources/examples/seed/dfp-backend.yaml: the AgentgatewayBackend with spec.dynamicForwardProxy.
QByteArray seedBackendYaml();
/// resources/examples/seed/dfp-httproute.yaml: the HTTPRoute from agentgateway-proxy to dfp-backend.
QByteArray seedRouteYaml();
/// Both, as one multi-document YAML stream (backend first).
QByteArray seedManifests();

} // namespace dfproxy::test
