// SPDX-License-Identifier: Apache-2.0
// A real browser that follows the desktop's proxy settings (issue #23 item 5): Debian's Chromium, started with no
// proxy flags inside a private GNOME session (XDG_CURRENT_DESKTOP=GNOME, so it reads GSettings), goes through
// dfproxy after `dfproxyctl system-proxy on`; with failMode closed and dfproxy stopped, the page does not load.
// Chromium makes background requests of its own: the file runs in a network namespace with only loopback up
// (tests/netns-run), so nothing can leave the machine. Label `browser`; skips when chromium is not installed.
#include "integration/proxyitutil.h"
#include "support/gnomesession.h"
#include "support/testsupport.h"

#include <QProcess>
#include <QStandardPaths>

#include <csignal>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

struct PageLoad
{
    bool finished = false;
    QString dom;
    QString err;
};

// One bounded headless run that prints the page's DOM. --no-sandbox: the tests run as root in CI.
PageLoad loadPage(const QString &chromium, const QString &profile, const QString &url)
{
    QProcess p;
    p.start(chromium, {"--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                       "--disable-background-networking", "--user-data-dir=" + profile, "--dump-dom", url});
    PageLoad r;
    r.finished = p.waitForFinished(60000);
    if (!r.finished) {
        p.kill();
        p.waitForFinished(5000);
    }
    r.dom = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError()).right(2000);
    return r;
}

} // namespace

TEST(ChromiumSystemProxy, FollowsGnomeSettingsThroughDfproxyAndFailsClosedWhenItStops)
{
    if (qEnvironmentVariable("DFPROXY_NETNS") != "isolated")
        GTEST_SKIP() << "needs a network namespace of its own (tests/netns-run)";
    const QString chromium = QStandardPaths::findExecutable("chromium");
    if (chromium.isEmpty())
        GTEST_SKIP() << "chromium is not installed (scripts/deps.sh test packages: chromium)";
    if (const QString missing = GnomeSession::missingTools(); !missing.isEmpty())
        GTEST_SKIP() << missing.toStdString();
    if (!Dnsmasq::available())
        GTEST_SKIP() << "dnsmasq is not available";

    OriginProcess origin;
    ASSERT_TRUE(origin.start()) << origin.errorString().toStdString();
    Dnsmasq dns(Dnsmasq::Options{.fixedAddresses = {{"page.test", QHostAddress(QHostAddress::LocalHost)}}});
    ASSERT_TRUE(dns.start()) << dns.errorString().toStdString();
    GnomeSession session;
    ASSERT_TRUE(session.start()) << session.errorString().toStdString();
    DfproxyProcess::Options options;
    options.dnsServers = {dns.address().toString()};
    options.extraResources = {proxyit::dfpBackend("dfp"), proxyit::route("all", {}, "dfp")};
    DfproxyProcess dfproxy(options);
    ASSERT_TRUE(dfproxy.start()) << dfproxy.errorString().toStdString();

    const auto on = dfproxy.ctl({"system-proxy", "on"});
    ASSERT_EQ(on.exitCode, 0) << on.err.toStdString();
    TempDir profile;
    const QString url = QStringLiteral("http://page.test:%1/").arg(origin.port());
    const PageLoad loaded = loadPage(chromium, profile.filePath("profile"), url);
    ASSERT_TRUE(loaded.finished) << "chromium did not finish in 60 s: " << loaded.err.toStdString();
    EXPECT_TRUE(loaded.dom.contains("/headers")) << loaded.dom.toStdString() << loaded.err.toStdString();
    EXPECT_TRUE(waitUntil([&] { return dfproxy.apiGet("/api/v1/accesslog?after=0").body.contains("page.test"); },
                          10000))
        << "the access log does not show the browser's request";

    // failMode closed: with dfproxy gone the settings stay, and the browser reaches nothing.
    ASSERT_TRUE(dfproxy.process()->sendSignal(SIGKILL));
    ASSERT_TRUE(dfproxy.process()->waitForExit(10000));
    const PageLoad blocked = loadPage(chromium, profile.filePath("profile2"), url);
    EXPECT_FALSE(blocked.dom.contains("/headers")) << blocked.dom.toStdString();
}
