// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <QString>

#include <optional>

namespace dfproxy {

/// Which address families a DNS lookup asks for, as Envoy's dns_lookup_family. It lives in base because both the
/// config layer (a backend's spec.dns.lookupFamily) and dns (the global dns.lookupFamily) read it, with one parser,
/// so no spelling is accepted in one place and refused in the other.
enum class LookupFamily {
    V4Only,      ///< A only
    V6Only,      ///< AAAA only
    Auto,        ///< AAAA, falling back to A when there is none (Envoy's AUTO)
    V4Preferred, ///< A, falling back to AAAA when there is none
    All,         ///< A and AAAA in parallel, all addresses kept (v6 first)
};

/// The canonical name, agentgateway's spelling: "V4Only", "V6Only", "Auto", "V4Preferred", "All". It is what the
/// admin API, the logs and the console show.
QString toString(LookupFamily f);

/// The one parser of every lookupFamily field. Accepts exactly the canonical names and Envoy's (V4_ONLY, V6_ONLY,
/// AUTO, V4_PREFERRED, ALL), in any letter case; nothing else (no spaces, no other separators).
std::optional<LookupFamily> lookupFamilyFromString(const QString &s);

/// The error text for a refused value, the same in every place that reads one: "must be one of ...".
QString lookupFamilyChoicesError();
/// The same, naming the refused string: "must be one of ..., not \"V5\"".
QString lookupFamilyChoicesError(const QString &refused);

} // namespace dfproxy
