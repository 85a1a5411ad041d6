// SPDX-License-Identifier: Apache-2.0
// One parser for the log level: the config's logging.level and PUT /api/v1/logging both use it.
#include "base/logcategories.h"

#include <gtest/gtest.h>

using namespace dfproxy;

TEST(LogLevel, NamesRoundTripLowestFirst)
{
    EXPECT_EQ(logLevelNames(), QStringList({"debug", "info", "warning", "error", "critical"}));
    for (const QString &name : logLevelNames()) {
        const auto level = logLevelFromString(name);
        ASSERT_TRUE(level) << name.toStdString();
        EXPECT_EQ(toString(*level), name);
    }
    EXPECT_EQ(logLevelFromString("warning"), LogLevel::Warning);
}

TEST(LogLevel, OnlyTheExactNamesParse)
{
    for (const char *bad : {"", "Debug", "warn", "fatal", " info"})
        EXPECT_FALSE(logLevelFromString(QString::fromLatin1(bad))) << bad;
}
