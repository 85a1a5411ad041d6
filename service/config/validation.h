// SPDX-License-Identifier: Apache-2.0
#pragma once
// Validation entry points for one resource and for a whole config, used by the store before anything is accepted.

#include "config/config.h"
#include "config/model.h"

namespace dfproxy::config {

/// Validates one resource completely: the envelope (Resource::validateEnvelope) and the spec of its kind.
/// Returns every problem found, each naming its field path ("spec.rules[0].backendRefs[0].name").
/// An empty list means the resource may be stored. References to other objects are not errors here
/// (they show in the route's status instead), as in Kubernetes.
QList<FieldError> validateResource(const Resource &resource);

/// Validates the global blocks of a config (admin, dns, proxy, logging) and every resource. proxy.ssrf is this
/// layer's own block: when `ssrf` is given it receives the parsed settings (the store keeps them in
/// Config::parsed for the policy engine, so the block is parsed once per version).
QList<FieldError> validateConfig(const Config &config, SsrfSettings *ssrf = nullptr);

} // namespace dfproxy::config
