// SPDX-License-Identifier: Apache-2.0
#include "config/config.h"

#include <gtest/gtest.h>

using namespace dfproxy::config;

TEST(Resource, ValidatesEnvelopeWithFieldPaths)
{
    Resource r(QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                           {"kind", "AgentgatewayBackend"},
                           {"metadata", QJsonObject{{"name", "Bad_Name"}, {"namespace", "httpbin"}}},
                           {"spec", QJsonObject{{"dynamicForwardProxy", QJsonObject{}}}}});
    const auto errors = r.validateEnvelope();
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "metadata.name");
}

TEST(Resource, FindsKindsByAlias)
{
    EXPECT_EQ(findKind("agentgatewaybackend")->kind, "AgentgatewayBackend");
    EXPECT_EQ(findKind("HTTPRoute")->plural, "httproutes");
    EXPECT_EQ(findKind("gw")->kind, "Gateway");
    EXPECT_FALSE(findKind("service").has_value());
}

TEST(Config, RejectsDuplicateResources)
{
    const QJsonObject gw{{"apiVersion", "gateway.networking.k8s.io/v1"},
                         {"kind", "Gateway"},
                         {"metadata", QJsonObject{{"name", "gw"}}},
                         {"spec", QJsonObject{}}};
    QList<FieldError> errors;
    const auto c = Config::fromJson(QJsonObject{{"resources", QJsonArray{gw, gw}}}, &errors);
    EXPECT_EQ(c.resources.size(), 1);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "resources[1]");
}
