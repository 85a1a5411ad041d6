// SPDX-License-Identifier: Apache-2.0
#pragma once
// The seed guide's setup as a test fixture: dnsmasq on loopback answering httpbin.test (and any extra names) with
// 127.0.0.1, a test origin there, and dfproxy resolving through that dnsmasq with the seed manifests applied.

#include "support/dfproxyprocess.h"
#include "support/dnsmasq.h"
#include "support/origin.h"
#include "support/seed.h"

#include <QHostAddress>
#include <QList>
#include <QPair>

#include <gtest/gtest.h>

#include <memory>

namespace dfproxy::test {

class SeedStackTest : public ::testing::Test
{
protected:
    /// Skips without dnsmasq; fails the test when a part does not start. A derived SetUp() calls it first and
    /// returns when IsSkipped() || HasFatalFailure().
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
        dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
        ASSERT_TRUE(dns->setHost(QStringLiteral("httpbin.test"), {QHostAddress("127.0.0.1")}));
        for (const auto &[name, address] : extraHosts)
            ASSERT_TRUE(dns->setHost(name, {address})) << name.toStdString();
        origin = std::make_unique<OriginProcess>();
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
        DfproxyProcess::Options p;
        p.dnsServers = {dns->address().toString()};
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        const auto r = proxy->ctl({"apply", "-f", "-"}, seedManifests());
        ASSERT_EQ(r.exitCode, 0) << r.err.toStdString() << r.out.toStdString();
    }

    /// More names for dnsmasq, set by a derived fixture before SeedStackTest::SetUp() runs.
    QList<QPair<QString, QHostAddress>> extraHosts;
    std::unique_ptr<Dnsmasq> dns;
    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

} // namespace dfproxy::test
