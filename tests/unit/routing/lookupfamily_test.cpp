// SPDX-License-Identifier: Apache-2.0
// The global dns.lookupFamily (dns layer) and a backend's spec.dns.lookupFamily (config layer) read the same field
// with one parser: a spelling accepted in one place and refused in the other would make a rule's meaning depend on
// where it is written. The routing tests link both layers, so the comparison lives here.
#include "config/model.h"
#include "dns/dnshostcache.h"
#include "routingtestutil.h"

#include <gtest/gtest.h>

#include <QJsonArray>
#include <QJsonDocument>

#include <optional>

using namespace dfproxy;
using namespace dfproxy::routing::testutil;

namespace {

struct Case
{
    QJsonValue value;
    std::optional<LookupFamily> expected; ///< none: refused
};

std::optional<LookupFamily> globalFamily(const QJsonValue &v, QList<config::FieldError> *errors)
{
    const auto o = dns::DnsHostCache::optionsFromJson(QJsonObject{{"lookupFamily", v}}, errors);
    return errors->isEmpty() ? std::optional<LookupFamily>(o.lookupFamily) : std::nullopt;
}

std::optional<LookupFamily> backendFamily(const QJsonValue &v, QList<config::FieldError> *errors)
{
    const QJsonObject spec{{"dynamicForwardProxy", QJsonObject{}}, {"dns", QJsonObject{{"lookupFamily", v}}}};
    const config::Resource r(QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                                         {"kind", "AgentgatewayBackend"},
                                         {"metadata", QJsonObject{{"name", "b"}, {"namespace", "app"}}},
                                         {"spec", spec}});
    const auto b = config::parseBackendSpec(r, errors);
    return errors->isEmpty() ? b.lookupFamily : std::nullopt;
}

} // namespace

TEST(DnsLookupFamily, GlobalAndBackendFieldsAcceptExactlyTheSameSpellings)
{
    using F = LookupFamily;
    const Case cases[] = {
        // agentgateway's names and Envoy's, in any letter case
        {"V4Only", F::V4Only}, {"v4only", F::V4Only}, {"V4ONLY", F::V4Only}, {"V4_ONLY", F::V4Only},
        {"v4_only", F::V4Only}, {"V6Only", F::V6Only}, {"V6_ONLY", F::V6Only}, {"Auto", F::Auto},
        {"AUTO", F::Auto}, {"auto", F::Auto}, {"V4Preferred", F::V4Preferred}, {"V4_PREFERRED", F::V4Preferred},
        {"v4_Preferred", F::V4Preferred}, {"All", F::All}, {"ALL", F::All}, {"all", F::All},
        // anything else is refused, in both places
        {"V4-ONLY", {}}, {"v4-only", {}}, {"V_4ONLY", {}}, {"V4__ONLY", {}}, {"_V4ONLY", {}}, {" V4Only", {}},
        {"V4Only ", {}}, {"V4Only\n", {}}, {"V4\u200bOnly", {}}, {"\uff364Only", {}}, {"", {}}, {"v4", {}},
        {"V5", {}}, {"Any", {}}, {"Both", {}}, {4, {}}, {true, {}}, {QJsonArray{"V4Only"}, {}},
    };
    for (const Case &c : cases) {
        const std::string label = QJsonDocument(QJsonArray{c.value}).toJson(QJsonDocument::Compact).toStdString();
        QList<config::FieldError> globalErrors;
        QList<config::FieldError> backendErrors;
        EXPECT_EQ(globalFamily(c.value, &globalErrors), c.expected) << "dns.lookupFamily " << label;
        EXPECT_EQ(backendFamily(c.value, &backendErrors), c.expected) << "spec.dns.lookupFamily " << label;
        if (c.expected)
            continue;
        ASSERT_EQ(globalErrors.size(), 1) << label;
        ASSERT_EQ(backendErrors.size(), 1) << label;
        EXPECT_EQ(globalErrors[0].path, "dns.lookupFamily");
        EXPECT_EQ(backendErrors[0].path, "spec.dns.lookupFamily");
    }
}

TEST(DnsLookupFamily, BothFieldsRefuseWithTheSameMessage)
{
    QList<config::FieldError> globalErrors;
    QList<config::FieldError> backendErrors;
    globalFamily(QStringLiteral("V5"), &globalErrors);
    backendFamily(QStringLiteral("V5"), &backendErrors);
    ASSERT_EQ(globalErrors.size(), 1);
    ASSERT_EQ(backendErrors.size(), 1);
    EXPECT_EQ(globalErrors[0].message, lookupFamilyChoicesError(QStringLiteral("V5")));
    EXPECT_EQ(backendErrors[0].message, globalErrors[0].message);
}

TEST(DnsLookupFamily, EverySpellingOfAFamilyShowsAsTheCanonicalName)
{
    for (auto f : {LookupFamily::V4Only, LookupFamily::V6Only, LookupFamily::Auto, LookupFamily::V4Preferred,
                   LookupFamily::All})
        EXPECT_EQ(lookupFamilyFromString(toString(f)), f);
    EXPECT_EQ(toString(LookupFamily::V4Preferred), "V4Preferred");
    QList<config::FieldError> errors;
    const auto o = dns::DnsHostCache::optionsFromJson(QJsonObject{{"lookupFamily", "v4_only"}}, &errors);
    EXPECT_EQ(o.toJson().value("lookupFamily").toString(), "V4Only");
}

TEST(DnsLookupFamily, TheRouteTableCarriesTheBackendsParsedFamily)
{
    QList<config::Resource> res{defaultGateway(),
                                backend("app", "a", R"({"dynamicForwardProxy": {},
                                                        "dns": {"lookupFamily": "v6_only"}})"),
                                route("app", "r", routeSpec(rule(R"([{"path": {"value": "/a"}}])", "a")))};
    const auto t = routing::RouteTable::build(configOf(res));
    const auto a = t->match(Request("GET", "/a").info, 0)->backend;
    ASSERT_TRUE(a);
    EXPECT_EQ(a->lookupFamily, LookupFamily::V6Only);
}
