// SPDX-License-Identifier: Apache-2.0
#include "base/lookupfamily.h"

#include <array>

namespace dfproxy {

namespace {

struct Spelling
{
    LookupFamily family;
    QLatin1StringView canonical; ///< agentgateway's
    QLatin1StringView envoy;     ///< Envoy's dns_lookup_family
};

// One table for both directions, so toString and the parser cannot drift apart.
constexpr std::array<Spelling, 5> kSpellings{{
    {LookupFamily::V4Only, QLatin1StringView("V4Only"), QLatin1StringView("V4_ONLY")},
    {LookupFamily::V6Only, QLatin1StringView("V6Only"), QLatin1StringView("V6_ONLY")},
    {LookupFamily::Auto, QLatin1StringView("Auto"), QLatin1StringView("AUTO")},
    {LookupFamily::V4Preferred, QLatin1StringView("V4Preferred"), QLatin1StringView("V4_PREFERRED")},
    {LookupFamily::All, QLatin1StringView("All"), QLatin1StringView("ALL")},
}};

} // namespace

QString toString(LookupFamily f)
{
    for (const auto &s : kSpellings) {
        if (s.family == f)
            return QString(s.canonical);
    }
    return QStringLiteral("V4Preferred");
}

std::optional<LookupFamily> lookupFamilyFromString(const QString &s)
{
    for (const auto &sp : kSpellings) {
        if (s.compare(sp.canonical, Qt::CaseInsensitive) == 0 || s.compare(sp.envoy, Qt::CaseInsensitive) == 0)
            return sp.family;
    }
    return std::nullopt;
}

QString lookupFamilyChoicesError()
{
    return QStringLiteral("must be one of V4Only, V6Only, Auto, V4Preferred, All (or Envoy's V4_ONLY, V6_ONLY, AUTO, "
                          "V4_PREFERRED, ALL), in any letter case");
}

QString lookupFamilyChoicesError(const QString &refused)
{
    return lookupFamilyChoicesError() + QStringLiteral(", not \"%1\"").arg(refused);
}

} // namespace dfproxy
