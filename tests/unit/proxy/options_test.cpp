// SPDX-License-Identifier: Apache-2.0
#include "proxy/proxyoptions.h"

#include <QJsonDocument>

#include <gtest/gtest.h>

using namespace dfproxy;

TEST(ProxyOptions, ConfigBlockSetsTimeoutsBuffersAndHeaders)
{
    const QJsonObject block = QJsonDocument::fromJson(R"({"workers": 3, "connectTimeoutMs": 1500,
        "responseTimeoutMs": 0, "upstreamIdleTimeoutMs": 9000, "clientIdleTimeoutMs": 7000, "drainTimeoutMs": 100,
        "tunnelIdleTimeoutMs": 45000, "bufferLimitBytes": 65536, "maxHeaderBytes": 32768, "maxUriBytes": 4096, "addXForwardedFor": true,
        "addXForwardedProto": true, "maxConnections": 50, "maxConnectionsPerClient": 5, "ssrf": {}})").object();
    QList<config::FieldError> errors;
    const proxy::ProxyOptions o = proxy::optionsFromJson(block, &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(o.workerThreads, 3);
    EXPECT_EQ(o.connectTimeoutMs, 1500);
    EXPECT_EQ(o.responseTimeoutMs, 0);
    EXPECT_EQ(o.upstreamIdleTimeoutMs, 9000);
    EXPECT_EQ(o.clientIdleTimeoutMs, 7000);
    EXPECT_EQ(o.tunnelIdleTimeoutMs, 45000);
    EXPECT_EQ(o.drainTimeoutMs, 100);
    EXPECT_EQ(o.bufferLimit, 65536);
    EXPECT_EQ(o.limits.maxHeaderBytes, 32768);
    EXPECT_EQ(o.limits.maxUriBytes, 4096);
    EXPECT_TRUE(o.addXForwardedFor);
    EXPECT_TRUE(o.addXForwardedProto);
    EXPECT_EQ(o.maxConnections, 50);
    EXPECT_EQ(o.maxConnectionsPerClient, 5);
}

TEST(ProxyOptions, ConnectionLimitsDefaultToTenThousandAndNoPerClientLimit)
{
    const proxy::ProxyOptions o = proxy::optionsFromJson(QJsonObject{});
    EXPECT_EQ(o.maxConnections, 10000);
    EXPECT_EQ(o.maxConnectionsPerClient, 0);
    QList<config::FieldError> errors;
    proxy::optionsFromJson(QJsonObject{{"maxConnections", -1}, {"maxConnectionsPerClient", 2.5}}, &errors);
    ASSERT_EQ(errors.size(), 2);
    EXPECT_EQ(errors[0].path, QStringLiteral("proxy.maxConnections"));
    EXPECT_EQ(errors[1].path, QStringLiteral("proxy.maxConnectionsPerClient"));
}

TEST(ProxyOptions, BadValuesAreReportedWithTheirPathAndKeepDefaults)
{
    const QJsonObject block = QJsonDocument::fromJson(
        R"({"workers": -1, "connectTimeoutMs": "5s", "bufferLimitBytes": 1.5, "addXForwardedFor": "yes"})").object();
    QList<config::FieldError> errors;
    const proxy::ProxyOptions o = proxy::optionsFromJson(block, &errors);
    ASSERT_EQ(errors.size(), 4);
    EXPECT_EQ(errors[0].path, QStringLiteral("proxy.workers"));
    EXPECT_EQ(errors[1].path, QStringLiteral("proxy.connectTimeoutMs"));
    EXPECT_EQ(errors[2].path, QStringLiteral("proxy.bufferLimitBytes"));
    EXPECT_EQ(errors[3].path, QStringLiteral("proxy.addXForwardedFor"));
    EXPECT_EQ(o.connectTimeoutMs, proxy::ProxyOptions().connectTimeoutMs);
    EXPECT_FALSE(o.addXForwardedFor);
}

TEST(ProxyOptions, UnknownFieldsAreRefusedWithTheirPath)
{
    QList<config::FieldError> errors;
    proxy::optionsFromJson(QJsonObject{{"connectTimeoutMS", 100}, {"ssrf", QJsonObject()}}, &errors);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, QStringLiteral("proxy.connectTimeoutMS"));
}

TEST(ProxyOptions, PathsSetHowRequestPathsAreCanonicalised)
{
    QList<config::FieldError> errors;
    const auto o = proxy::optionsFromJson(
        QJsonObject{{"paths", QJsonObject{{"mergeSlashes", false}, {"escapedSlashes", "unescape"}}}}, &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_FALSE(o.paths.mergeSlashes);
    EXPECT_EQ(o.paths.escapedSlashes, http::PathOptions::EscapedSlashes::Unescape);
    EXPECT_TRUE(proxy::ProxyOptions().paths.mergeSlashes);
    EXPECT_EQ(proxy::ProxyOptions().paths.escapedSlashes, http::PathOptions::EscapedSlashes::Reject);

    errors.clear();
    proxy::optionsFromJson(QJsonObject{{"paths", QJsonObject{{"escapedSlashes", "decode"}, {"normalize", true}}}},
                           &errors);
    ASSERT_EQ(errors.size(), 2);
    EXPECT_EQ(errors[0].path, QStringLiteral("proxy.paths.normalize"));
    EXPECT_EQ(errors[1].path, QStringLiteral("proxy.paths.escapedSlashes"));
}

TEST(ProxyOptions, ParsingIsStrictUnlessSetToLenient)
{
    EXPECT_FALSE(proxy::optionsFromJson(QJsonObject()).limits.lenientLineEndings);
    QList<config::FieldError> errors;
    EXPECT_TRUE(proxy::optionsFromJson(QJsonObject{{"parsing", "lenient"}}, &errors).limits.lenientLineEndings);
    EXPECT_FALSE(proxy::optionsFromJson(QJsonObject{{"parsing", "strict"}}, &errors).limits.lenientLineEndings);
    EXPECT_TRUE(errors.isEmpty());
    for (const QJsonValue &bad : {QJsonValue("loose"), QJsonValue(true), QJsonValue(1)}) {
        errors.clear();
        EXPECT_FALSE(proxy::optionsFromJson(QJsonObject{{"parsing", bad}}, &errors).limits.lenientLineEndings);
        ASSERT_EQ(errors.size(), 1);
        EXPECT_EQ(errors[0].path, QStringLiteral("proxy.parsing"));
    }
}

TEST(ProxyOptions, ApplicationLookupIsOnByDefaultAndTakesOnOffOrABoolean)
{
    EXPECT_TRUE(proxy::optionsFromJson({}).applicationLookup);
    QList<config::FieldError> errors;
    EXPECT_FALSE(proxy::optionsFromJson(QJsonObject{{"applicationLookup", "off"}}, &errors).applicationLookup);
    EXPECT_TRUE(proxy::optionsFromJson(QJsonObject{{"applicationLookup", "on"}}, &errors).applicationLookup);
    EXPECT_FALSE(proxy::optionsFromJson(QJsonObject{{"applicationLookup", false}}, &errors).applicationLookup);
    EXPECT_TRUE(errors.isEmpty());
    const auto o = proxy::optionsFromJson(QJsonObject{{"applicationLookup", "maybe"}}, &errors);
    EXPECT_TRUE(o.applicationLookup);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, QStringLiteral("proxy.applicationLookup"));
}

TEST(ProxyOptions, Http2MaxConcurrentStreamsIsBounded)
{
    EXPECT_EQ(proxy::optionsFromJson(QJsonObject{}).http2MaxConcurrentStreams, 100);
    QList<config::FieldError> errors;
    EXPECT_EQ(proxy::optionsFromJson(QJsonObject{{"http2MaxConcurrentStreams", 16}}, &errors).http2MaxConcurrentStreams,
              16);
    EXPECT_TRUE(errors.isEmpty());
    const proxy::ProxyOptions o = proxy::optionsFromJson(QJsonObject{{"http2MaxConcurrentStreams", 0}}, &errors);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, QStringLiteral("proxy.http2MaxConcurrentStreams"));
    EXPECT_EQ(o.http2MaxConcurrentStreams, 100);
}
