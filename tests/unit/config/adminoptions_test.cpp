// SPDX-License-Identifier: Apache-2.0
// The admin block is parsed once (config::AdminOptions): the service's validator reports its errors and the admin
// server and the SSRF guard take the typed result.
#include "config/adminoptions.h"

#include <gtest/gtest.h>

using namespace dfproxy::config;

namespace {

QStringList describe(const QList<FieldError> &errors)
{
    QStringList out;
    for (const auto &e : errors)
        out << e.path + ": " + e.message;
    return out;
}

} // namespace

TEST(AdminOptions, DefaultsAreLoopbackPort15000AndTheGatesLimits)
{
    QList<FieldError> errors;
    const AdminOptions o = AdminOptions::fromJson({}, &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(o.address, "127.0.0.1");
    EXPECT_EQ(o.port, 15000);
    EXPECT_EQ(o.headTimeoutMs, 0);
    EXPECT_EQ(o.idleTimeoutMs, 0);
    EXPECT_EQ(o.maxConnections, 0);
}

TEST(AdminOptions, ReadsEveryField)
{
    QList<FieldError> errors;
    const AdminOptions o = AdminOptions::fromJson(QJsonObject{{"address", "localhost"},
                                                              {"port", 0},
                                                              {"headTimeoutMs", 3000},
                                                              {"idleTimeoutMs", 5000},
                                                              {"maxConnections", 3}},
                                                  &errors);
    EXPECT_TRUE(errors.isEmpty()) << describe(errors).join('\n').toStdString();
    EXPECT_EQ(o.address, "localhost");
    EXPECT_EQ(AdminOptions::hostAddress(o.address), QHostAddress(QHostAddress::LocalHost));
    EXPECT_EQ(o.port, 0);
    EXPECT_EQ(o.headTimeoutMs, 3000);
    EXPECT_EQ(o.idleTimeoutMs, 5000);
    EXPECT_EQ(o.maxConnections, 3);
    EXPECT_EQ(AdminOptions::hostAddress("::1"), QHostAddress(QHostAddress::LocalHostIPv6));
    EXPECT_TRUE(AdminOptions::hostAddress("admin.test").isNull());
}

TEST(AdminOptions, EveryBadFieldIsNamedAndKeepsItsDefault)
{
    QList<FieldError> errors;
    const AdminOptions o = AdminOptions::fromJson(QJsonObject{{"address", "admin.test"},
                                                              {"port", 65536},
                                                              {"headTimeoutMs", 0},
                                                              {"idleTimeoutMs", "60s"},
                                                              {"maxConnections", 1.5}},
                                                  &errors);
    EXPECT_EQ(describe(errors), QStringList({"admin.address: must be an IP address or \"localhost\"",
                                             "admin.port: must be an integer from 0 to 65535",
                                             "admin.headTimeoutMs: must be an integer from 1 to 3600000",
                                             "admin.idleTimeoutMs: must be an integer from 1 to 86400000",
                                             "admin.maxConnections: must be an integer from 1 to 10000"}));
    EXPECT_EQ(o, AdminOptions{});
    EXPECT_EQ(AdminOptions::fromJson(QJsonObject{{"port", 15001}}, nullptr).port, 15001); // errors may be ignored
}
