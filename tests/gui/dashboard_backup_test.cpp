// SPDX-License-Identifier: Apache-2.0
// The dashboard says when the service started on config.json.bak because config.json was bad (issue #27 item 2).
#include "consolefixture.h"
#include "dashboard/dashboardpage.h"

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

TEST_F(Console, DashboardSaysWhenTheServiceRunsOnTheBackupConfig)
{
    DashboardPage *d = window->dashboard();
    ASSERT_TRUE(waitUntil([&] { return d->cardText("state") == "Running"; }, 10000)) << d->cardText("state");
    applySeed(); // a write: the config as it was is now config.json.bak
    service->process()->stop();
    ASSERT_TRUE(service->dir().writeFile("config.json", "{ not json"));
    ASSERT_TRUE(service->restart()) << service->describe();
    EXPECT_TRUE(waitUntil([&] { return d->cardText("state") == "Running on config.json.bak"; }, 20000))
        << d->cardText("state").toStdString();
}
