// SPDX-License-Identifier: Apache-2.0
// A real browser follows dfproxy's PAC file (docs/pac.md): headless Chromium started with only
// --proxy-pac-url=http://127.0.0.1:<port>/proxy.pac loads a page whose subresources come from several .test hosts,
// and dfproxy's access log shows each of them, and a host no route names (failMode closed) refused by dfproxy rather
// than fetched direct. Chromium makes background requests of its own, so this runs in a network namespace with only
// loopback up (tests/netns-run): nothing can leave the machine. Label `browser`; skipped without Chromium.
#include "integration/proxyitutil.h"
#include "support/scriptedorigin.h"
#include "support/testsupport.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <gtest/gtest.h>

using namespace dfproxy::test;
using namespace dfproxy::test::proxyit;

namespace {

QString chromiumBinary()
{
    for (const char *p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
        if (QFile::exists(QString::fromLatin1(p)))
            return QString::fromLatin1(p);
    }
    return {};
}

QByteArray response(const QByteArray &type, const QByteArray &body)
{
    return "HTTP/1.1 200 OK\r\nContent-Type: " + type + "\r\nContent-Length: " + QByteArray::number(body.size()) +
           "\r\nCache-Control: no-store\r\n\r\n" + body;
}

} // namespace

TEST(BrowserPac, ChromiumLoadsEverySubresourceThroughDfproxyAsThePacFileSays)
{
    if (qgetenv("DFPROXY_NETNS") != "isolated")
        GTEST_SKIP() << "not inside a network namespace of its own (ctest runs this binary through tests/netns-run)";
    const QString chromium = chromiumBinary();
    if (chromium.isEmpty())
        GTEST_SKIP() << "chromium is not installed (scripts/deps.sh installs it)";
    if (!Dnsmasq::available())
        GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";

    ScriptedOrigin origin;
    ASSERT_TRUE(origin.start());
    const QByteArray port = QByteArray::number(origin.port());
    Dnsmasq dns;
    ASSERT_TRUE(dns.start()) << dns.describe().toStdString();
    const QStringList hosts{"page.test", "a.assets.test", "b.assets.test", "c.assets.test", "unrouted.test"};
    for (const QString &h : hosts)
        ASSERT_TRUE(dns.setHost(h, {QHostAddress("127.0.0.1")}));

    auto at = [&](const char *host, const char *path) { return "http://" + QByteArray(host) + ':' + port + path; };
    origin.script("/page",
                  response("text/html", "<!doctype html><html><head><title>pac page</title>"
                                        "<link rel=\"stylesheet\" href=\"" +
                                            at("a.assets.test", "/a.css") + "\"><script src=\"" +
                                            at("b.assets.test", "/b.js") + "\"></script></head><body><img src=\"" +
                                            at("c.assets.test", "/c.svg") + "\"><img src=\"" +
                                            at("unrouted.test", "/u.svg") + "\"><p id=\"p\">page</p>" +
                                            "</body></html>"),
                  false);
    origin.script("/a.css", response("text/css", "p { color: green; }"), false);
    origin.script("/b.js",
                  response("text/javascript", "document.addEventListener('DOMContentLoaded', function () {"
                                              " document.getElementById('p').textContent = 'script ran'; });"),
                  false);
    origin.script("/c.svg",
                  response("image/svg+xml", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\" "
                                            "height=\"1\"/>"),
                  false);

    DfproxyProcess::Options p;
    p.dnsServers = {dns.address().toString()};
    p.extraResources = {dfpBackend("dfp"), route("web", {"page.test", "*.assets.test"}, "dfp")};
    DfproxyProcess proxy(p);
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();

    TempDir profile;
    QProcess browser;
    browser.setProcessChannelMode(QProcess::SeparateChannels);
    browser.start(chromium, {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                             "--no-first-run", "--disable-background-networking", "--disable-extensions",
                             "--user-data-dir=" + profile.path(), "--proxy-pac-url=" + proxy.proxyUrl("/proxy.pac"),
                             "--dump-dom", QString::fromLatin1(at("page.test", "/page"))});
    ASSERT_TRUE(browser.waitForStarted(10000)) << browser.errorString().toStdString();
    // A bound, not an expectation: Chromium normally finishes in a few seconds.
    const bool finished = waitUntil([&] { return browser.state() == QProcess::NotRunning; }, 60000);
    if (!finished) {
        browser.kill();
        browser.waitForFinished(5000);
    }
    const QByteArray dom = browser.readAllStandardOutput();
    ASSERT_TRUE(finished) << "chromium did not finish within 60 s\n" << browser.readAllStandardError().toStdString();
    EXPECT_TRUE(dom.contains("script ran")) << dom.toStdString() << "\n"
                                            << browser.readAllStandardError().toStdString();

    // Each host went through dfproxy: the routed ones answered by the origin, the unrouted one refused (failMode
    // closed sends it to dfproxy, not direct).
    const QList<QPair<QString, int>> expected{{at("page.test", "/page"), 200},
                                              {at("a.assets.test", "/a.css"), 200},
                                              {at("b.assets.test", "/b.js"), 200},
                                              {at("c.assets.test", "/c.svg"), 200},
                                              {at("unrouted.test", "/u.svg"), 404}};
    QHash<QString, QJsonObject> records; // the URL (the log's path of an absolute-form request) -> its record
    const bool logged = waitUntil(
        [&] {
            const auto items = QJsonDocument::fromJson(adminGet(proxy, "/api/v1/accesslog?after=0").body)
                                   .object()
                                   .value("items")
                                   .toArray();
            for (const auto &i : items) {
                const QJsonObject r = i.toObject();
                records.insert(r.value("path").toString(), r);
            }
            for (const auto &e : expected) {
                if (!records.contains(e.first))
                    return false;
            }
            return true;
        },
        10000);
    EXPECT_TRUE(logged) << "in the access log: " << QStringList(records.keys()).join(", ").toStdString();
    for (const auto &[what, status] : expected)
        EXPECT_EQ(records.value(what).value("status").toInt(), status) << what.toStdString();
    EXPECT_EQ(records.value(at("unrouted.test", "/u.svg")).value("reason").toString(), "route_not_found");
    EXPECT_GE(origin.requests(), 4);
    // The browser fetched the PAC file itself from the listener.
    EXPECT_EQ(records.value("/proxy.pac").value("status").toInt(), 200);
}
