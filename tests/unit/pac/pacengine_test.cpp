// SPDX-License-Identifier: Apache-2.0
// The PAC engine (QJSEngine with the standard helpers): results compared with an independent implementation,
// pacparser (Debian's python3-pacparser, SpiderMonkey with Mozilla's helpers), on the same PAC files and URLs; the
// time limit per call; result parsing. Names resolve from a table (pacparser's own resolver sees only IP literals
// and localhost, so the compared cases use those).
#include "pac/pacengine.h"

#include "support/origin.h"
#include "support/tempdir.h"
#include "support/wait.h"

#include <gtest/gtest.h>

#include <QFileInfo>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

#include <chrono>
#include <future>
#include <thread>

using namespace dfproxy;
using pac::PacEngine;
using pac::PacHop;

namespace {

const QString kPython = QStringLiteral("/usr/bin/python3");

// A corporate-style PAC file that uses every helper whose answer does not depend on the clock or the network.
const QString kCorporatePac = QStringLiteral(R"JS(
function FindProxyForURL(url, host) {
    if (isPlainHostName(host))
        return "DIRECT";
    if (dnsDomainIs(host, ".corp.example") || localHostOrDomainIs(host, "intranet.corp.example"))
        return "DIRECT";
    if (shExpMatch(url, "http://*.cdn.example/*") || shExpMatch(host, "?.short.example"))
        return "PROXY cdn-proxy.example:8080";
    if (isInNet(host, "10.0.0.0", "255.0.0.0") || isInNet(host, "172.16.0.0", "255.240.0.0"))
        return "DIRECT";
    if (isInNet(dnsResolve(host) || "0.0.0.0", "127.0.0.0", "255.0.0.0"))
        return "PROXY loopback-proxy:3128";
    if (dnsDomainLevels(host) >= 3)
        return "PROXY deep-proxy.example:3128; DIRECT";
    if (isInNet(myIpAddress(), "192.168.1.0", "255.255.255.0"))
        return "PROXY office-proxy:3128; PROXY backup-proxy:3128; DIRECT";
    if (weekdayRange("SUN", "SAT") && timeRange(0, 24) && dateRange("JAN", "DEC") && !dateRange(1990, 2000))
        return "PROXY main-proxy.example:3128; DIRECT";
    return "PROXY never:1";
}
)JS");

const QList<QPair<QString, QString>> kCases = {
    {QStringLiteral("http://printer/status"), QStringLiteral("printer")},
    {QStringLiteral("http://a.corp.example/"), QStringLiteral("a.corp.example")},
    {QStringLiteral("http://intranet/"), QStringLiteral("intranet")},
    {QStringLiteral("https://intranet.corp.example/x"), QStringLiteral("intranet.corp.example")},
    {QStringLiteral("http://img.cdn.example/a.png"), QStringLiteral("img.cdn.example")},
    {QStringLiteral("https://img.cdn.example/a.png"), QStringLiteral("img.cdn.example")},
    {QStringLiteral("http://x.short.example/"), QStringLiteral("x.short.example")},
    {QStringLiteral("http://xy.short.example/"), QStringLiteral("xy.short.example")},
    {QStringLiteral("http://10.1.2.3/"), QStringLiteral("10.1.2.3")},
    {QStringLiteral("http://172.20.0.1/"), QStringLiteral("172.20.0.1")},
    {QStringLiteral("http://172.32.0.1/"), QStringLiteral("172.32.0.1")},
    {QStringLiteral("http://127.0.0.1:8080/"), QStringLiteral("127.0.0.1")},
    {QStringLiteral("http://a.b.c.example/"), QStringLiteral("a.b.c.example")},
    {QStringLiteral("http://www.example/"), QStringLiteral("www.example")},
    {QStringLiteral("http://evilcorp.example/"), QStringLiteral("evilcorp.example")},
};

/// pacparser's answers for `cases` on `pacFile`, one per case; empty when pacparser is not installed.
QStringList pacparserResults(const QString &pacFile, const QString &myIp, const QList<QPair<QString, QString>> &cases)
{
    QProcess p;
    const QString script = QStringLiteral(
        "import sys, pacparser\n"
        "pacparser.init()\n"
        "pacparser.setmyip(sys.argv[2])\n"
        "pacparser.parse_pac_file(sys.argv[1])\n"
        "for line in sys.stdin:\n"
        "    url, host = line.rstrip('\\n').split(' ')\n"
        "    print(pacparser.find_proxy(url, host))\n");
    p.start(kPython, {QStringLiteral("-c"), script, pacFile, myIp});
    if (!p.waitForStarted(10000))
        return {};
    for (const auto &c : cases)
        p.write((c.first + QLatin1Char(' ') + c.second + QLatin1Char('\n')).toUtf8());
    p.closeWriteChannel();
    p.waitForFinished(30000);
    return QString::fromUtf8(p.readAllStandardOutput()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
}

bool pacparserAvailable()
{
    if (!QFileInfo(kPython).isExecutable())
        return false;
    return QProcess::execute(kPython, {QStringLiteral("-c"), QStringLiteral("import pacparser")}) == 0;
}

PacEngine::Options localOptions(const QString &myIp)
{
    PacEngine::Options o;
    o.myIpAddress = QHostAddress(myIp);
    o.resolve = [](const QString &host) -> QList<QHostAddress> {
        if (host == QLatin1String("localhost"))
            return {QHostAddress(QHostAddress::LocalHost)};
        return {};
    };
    return o;
}

/// Runs `op` on `engine` from another thread and waits at most 20 s for it. A PAC thread that never comes back
/// (what a script outside the time limit does) gives nullopt, and the engine is leaked: its destructor would wait
/// for that thread for ever.
template<typename T>
std::optional<T> within(std::unique_ptr<PacEngine> &engine, std::function<T(PacEngine &)> op)
{
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> answer = promise->get_future();
    std::thread([promise, e = engine.get(), op] { promise->set_value(op(*e)); }).detach();
    if (answer.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        (void)engine.release();
        return std::nullopt;
    }
    return answer.get();
}

} // namespace

TEST(PacEngine, AgreesWithPacparserOnTheSameFile)
{
    if (!pacparserAvailable())
        GTEST_SKIP() << "pacparser is not installed (Debian package python3-pacparser)";
    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("proxy.pac"), kCorporatePac.toUtf8()));
    for (const QString &myIp : {QStringLiteral("192.168.1.20"), QStringLiteral("10.9.8.7")}) {
        const QStringList expected = pacparserResults(dir.filePath(QStringLiteral("proxy.pac")), myIp, kCases);
        ASSERT_EQ(expected.size(), kCases.size()) << expected.join(QLatin1Char('|')).toStdString();
        PacEngine engine(localOptions(myIp));
        ASSERT_EQ(engine.load(kCorporatePac), QString());
        for (qsizetype i = 0; i < kCases.size(); ++i) {
            const PacEngine::Result r = engine.evaluate(kCases[i].first, kCases[i].second);
            EXPECT_EQ(r.error, QString());
            EXPECT_EQ(r.value, expected[i]) << kCases[i].first.toStdString() << " from " << myIp.toStdString();
        }
    }
}

TEST(PacEngine, HelpersAnswerAsTheStandardSays)
{
    PacEngine engine(localOptions(QStringLiteral("10.0.0.5")));
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(url, host) { return String(eval(url)); }")),
              QString());
    auto js = [&](const char *expr) { return engine.evaluate(QString::fromLatin1(expr), QString()).value; };
    EXPECT_EQ(js("isPlainHostName('www')"), QStringLiteral("true"));
    EXPECT_EQ(js("isPlainHostName('www.example')"), QStringLiteral("false"));
    EXPECT_EQ(js("dnsDomainIs('www.example.org', '.example.org')"), QStringLiteral("true"));
    EXPECT_EQ(js("dnsDomainIs('www', '.example.org')"), QStringLiteral("false"));
    EXPECT_EQ(js("localHostOrDomainIs('www', 'www.example.org')"), QStringLiteral("true"));
    EXPECT_EQ(js("localHostOrDomainIs('www.other.org', 'www.example.org')"), QStringLiteral("false"));
    EXPECT_EQ(js("dnsDomainLevels('a.b.c')"), QStringLiteral("2"));
    EXPECT_EQ(js("shExpMatch('http://x/a.b', '*/a.b')"), QStringLiteral("true"));
    EXPECT_EQ(js("shExpMatch('http://x/aXb', '*/a.b')"), QStringLiteral("false")); // '.' is literal
    EXPECT_EQ(js("dnsResolve('localhost')"), QStringLiteral("127.0.0.1"));
    EXPECT_EQ(js("dnsResolve('nowhere.test')"), QStringLiteral("null"));
    EXPECT_EQ(js("isResolvable('nowhere.test')"), QStringLiteral("false"));
    EXPECT_EQ(js("isInNet('localhost', '127.0.0.0', '255.0.0.0')"), QStringLiteral("true"));
    EXPECT_EQ(js("isInNet('200.1.1.1', '128.0.0.0', '128.0.0.0')"), QStringLiteral("true")); // high bit set
    EXPECT_EQ(js("myIpAddress()"), QStringLiteral("10.0.0.5"));
    EXPECT_EQ(js("weekdayRange('SUN', 'SAT')"), QStringLiteral("true"));
    EXPECT_EQ(js("timeRange(0, 24, 'GMT')"), QStringLiteral("true"));
    EXPECT_EQ(js("dateRange(1990, 2000)"), QStringLiteral("false"));
}

TEST(PacEngine, ACallOverItsTimeLimitIsInterruptedAndTheEngineStaysUsable)
{
    PacEngine::Options o = localOptions(QStringLiteral("10.0.0.5"));
    o.callTimeoutMs = 200;
    PacEngine engine(o);
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(url, host) {"
                                         "  if (host == 'loop') for (;;) {} return 'DIRECT'; }")),
              QString());
    const PacEngine::Result r = engine.evaluate(QStringLiteral("http://loop/"), QStringLiteral("loop"));
    EXPECT_TRUE(r.error.contains(QLatin1String("longer than 200 ms"))) << r.error.toStdString();
    EXPECT_EQ(engine.evaluate(QStringLiteral("http://ok/"), QStringLiteral("ok")).value, QStringLiteral("DIRECT"));
}

// Top-level code runs when the script is loaded, outside any FindProxyForURL call: it has a time limit too, or one
// `for (;;) {}` in a fetched PAC file would hold the PAC thread (and every request asking it) for ever.
TEST(PacEngine, TopLevelCodeOverItsTimeLimitIsInterruptedAndTheLastGoodScriptStays)
{
    PacEngine::Options o = localOptions(QStringLiteral("10.0.0.5"));
    o.loadTimeoutMs = 200;
    auto engine = std::make_unique<PacEngine>(o);
    ASSERT_EQ(engine->load(QStringLiteral("function FindProxyForURL(u, h) { return 'PROXY good:1'; }")), QString());
    for (const QString &script :
         {QStringLiteral("function FindProxyForURL(u, h) { return 'DIRECT'; } for (;;) {}"),
          // a thrown object whose toString never ends: reading the error runs it
          QStringLiteral("throw {toString: function () { for (;;) {} }, lineNumber: 1};")}) {
        SCOPED_TRACE(script.toStdString());
        const auto error = within<QString>(engine, [script](PacEngine &e) { return e.load(script); });
        ASSERT_TRUE(error) << "the PAC thread never came back from loading the script";
        EXPECT_TRUE(error->contains(QLatin1String("longer than 200 ms"))) << error->toStdString();
        const auto r = within<PacEngine::Result>(
            engine, [](PacEngine &e) { return e.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")); });
        ASSERT_TRUE(r);
        EXPECT_EQ(r->value, QStringLiteral("PROXY good:1")) << r->error.toStdString();
    }
    // A getter on the global object: reading the function's name runs the script's code again.
    auto fresh = std::make_unique<PacEngine>(o);
    const auto error = within<QString>(fresh, [](PacEngine &e) {
        return e.load(
            QStringLiteral("Object.defineProperty(this, 'FindProxyForURL', {get: function () { for (;;) {} }});"));
    });
    ASSERT_TRUE(error) << "the PAC thread never came back from reading FindProxyForURL";
    EXPECT_TRUE(error->contains(QLatin1String("longer than 200 ms"))) << error->toStdString();
}

// What FindProxyForURL returns or throws is read as a string inside the time limit: an object whose toString never
// ends is a call over the limit, not a PAC thread lost for good.
TEST(PacEngine, AnAnswerWhoseToStringNeverEndsIsInterrupted)
{
    PacEngine::Options o = localOptions(QStringLiteral("10.0.0.5"));
    o.callTimeoutMs = 200;
    auto engine = std::make_unique<PacEngine>(o);
    ASSERT_EQ(engine->load(QStringLiteral("var spin = {toString: function () { for (;;) {} }};"
                                          "function FindProxyForURL(u, h) {"
                                          "  if (h == 'returns') return spin;"
                                          "  if (h == 'throws') throw spin;"
                                          "  return 'DIRECT'; }")),
              QString());
    for (const QString &host : {QStringLiteral("returns"), QStringLiteral("throws")}) {
        SCOPED_TRACE(host.toStdString());
        const auto r = within<PacEngine::Result>(
            engine, [host](PacEngine &e) { return e.evaluate(QStringLiteral("http://x/"), host); });
        ASSERT_TRUE(r) << "the PAC thread never came back from reading the answer";
        EXPECT_TRUE(r->error.contains(QLatin1String("longer than 200 ms"))) << r->error.toStdString();
        EXPECT_TRUE(r->value.isEmpty());
    }
    const auto ok = within<PacEngine::Result>(
        engine, [](PacEngine &e) { return e.evaluate(QStringLiteral("http://ok/"), QStringLiteral("ok")); });
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->value, QStringLiteral("DIRECT"));
}

// Real PAC files are a few KiB. A server that answers with far more (a length announced, or chunks without end) is
// refused at 4 MiB instead of being held whole in the service's memory; so is a file of that size.
TEST(PacEngine, APacFileLargerThanFourMiBIsRefusedNotHeldInMemory)
{
    test::OriginProcess origin;
    ASSERT_TRUE(origin.start()) << origin.errorString().toStdString();
    PacEngine engine(localOptions(QStringLiteral("10.0.0.5")));
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(u, h) { return 'PROXY good:1'; }")), QString());
    for (const QString &query : {QString(), QStringLiteral("?chunked=1")}) {
        SCOPED_TRACE(query.toStdString());
        const QString url =
            QStringLiteral("http://127.0.0.1:%1/bytes/%2%3").arg(origin.port()).arg(256 << 20).arg(query);
        const QString error = engine.loadUrl(url, 60000);
        EXPECT_TRUE(error.contains(QLatin1String("larger than 4194304 bytes"))) << error.toStdString();
        EXPECT_EQ(engine.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).value,
                  QStringLiteral("PROXY good:1"));
    }
    test::TempDir dir;
    ASSERT_TRUE(dir.writeFile(QStringLiteral("big.pac"), "// " + QByteArray(4 * 1024 * 1024, 'x') + "\n"
                              "function FindProxyForURL(u, h) { return 'PROXY big:1'; }\n"));
    const QString error = engine.loadUrl(QUrl::fromLocalFile(dir.filePath(QStringLiteral("big.pac"))).toString());
    EXPECT_TRUE(error.contains(QLatin1String("larger than 4194304 bytes"))) << error.toStdString();
}

// One thread runs every call: when calls pile up (requests for ever new names, each slow) the ones beyond the limit
// fail at once, so their requests take the fallback instead of waiting for every call queued before them.
TEST(PacEngine, CallsBeyondTheWaitingLimitFailAtOnceAsBusy)
{
    PacEngine::Options o = localOptions(QStringLiteral("10.0.0.5"));
    o.maxWaitingCalls = 2;
    PacEngine engine(o);
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(u, h) {"
                                         "  var end = Date.now() + 100; while (Date.now() < end) {}"
                                         "  return 'DIRECT'; }")),
              QString());
    QObject context;
    QList<PacEngine::Result> results;
    constexpr int kCalls = 10;
    for (int i = 0; i < kCalls; ++i)
        engine.evaluateAsync(QStringLiteral("http://h%1/").arg(i), QStringLiteral("h%1").arg(i), &context,
                             [&results](const PacEngine::Result &r) { results.append(r); });
    ASSERT_TRUE(test::waitUntil([&] { return results.size() == kCalls; }, 30000)) << results.size();
    int busy = 0;
    for (const auto &r : results) {
        if (r.error.contains(QLatin1String("busy")))
            ++busy;
        else
            EXPECT_EQ(r.value, QStringLiteral("DIRECT")) << r.error.toStdString();
    }
    // At most the running call and the two waiting ones were made.
    EXPECT_GE(busy, kCalls - 3);
}

TEST(PacEngine, BadScriptsAreRefusedAndTheLastGoodOneStays)
{
    PacEngine engine(localOptions(QStringLiteral("10.0.0.5")));
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(u, h) { return 'PROXY a:1'; }")), QString());
    EXPECT_FALSE(engine.load(QStringLiteral("function FindProxyForURL(u, h) { return ")).isEmpty());
    EXPECT_EQ(engine.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).value, QStringLiteral("PROXY a:1"));
    PacEngine empty(localOptions(QStringLiteral("10.0.0.5")));
    EXPECT_FALSE(empty.load(QStringLiteral("var x = 1;")).isEmpty());
    EXPECT_FALSE(empty.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).error.isEmpty());
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(u, h) { throw new Error('boom'); }")), QString());
    EXPECT_TRUE(engine.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).error.contains(QLatin1String("boom")));
}

TEST(PacResult, ParsesFallbackOrderAndSkipsWhatItCannotUse)
{
    QStringList skipped;
    const QList<PacHop> hops = pac::parsePacResult(
        QStringLiteral(" PROXY Dead:1;PROXY tinyproxy:8888 ; SOCKS s:1080; HTTPS [::1]:443; PROXY noport; DIRECT"),
        &skipped);
    ASSERT_EQ(hops.size(), 4);
    EXPECT_EQ(hops[0], (PacHop{PacHop::Kind::Proxy, QStringLiteral("dead"), 1}));
    EXPECT_EQ(hops[1], (PacHop{PacHop::Kind::Proxy, QStringLiteral("tinyproxy"), 8888}));
    EXPECT_EQ(hops[2], (PacHop{PacHop::Kind::Https, QStringLiteral("::1"), 443}));
    EXPECT_EQ(hops[3], PacHop{});
    EXPECT_EQ(skipped, (QStringList{QStringLiteral("SOCKS s:1080"), QStringLiteral("PROXY noport")}));
    EXPECT_EQ(pac::parsePacResult(QString()), QList<PacHop>{PacHop{}});
    EXPECT_EQ(pac::parsePacResult(QStringLiteral(" ; ;")), QList<PacHop>{PacHop{}});
    // Entries that are all unusable asked for a proxy: no hop, and the caller does not take it for DIRECT.
    EXPECT_TRUE(pac::parsePacResult(QStringLiteral("SOCKS s:1080; PROXY noport")).isEmpty());
}

TEST(PacEngine, MyIpAddressIsTheAddressOfTheDefaultRoutesInterface)
{
    // The route to a loopback address leaves by lo.
    EXPECT_EQ(pac::defaultRouteAddress(QHostAddress(QStringLiteral("127.0.0.1"))),
              QHostAddress(QHostAddress::LocalHost));
    // What the kernel says independently: `ip route get` (no route, as in a namespace with only lo: 127.0.0.1).
    QString expected = QStringLiteral("127.0.0.1");
    QProcess ip;
    ip.start(QStringLiteral("ip"), {QStringLiteral("-4"), QStringLiteral("route"), QStringLiteral("get"),
                                    QStringLiteral("8.8.8.8")});
    if (!ip.waitForFinished(10000))
        GTEST_SKIP() << "ip (Debian package iproute2) is not installed";
    const QStringList words = QString::fromUtf8(ip.readAllStandardOutput()).simplified().split(u' ');
    if (ip.exitCode() == 0 && words.indexOf(QStringLiteral("src")) >= 0)
        expected = words.value(words.indexOf(QStringLiteral("src")) + 1);
    PacEngine engine(PacEngine::Options{}); // myIpAddress not set: the route's
    ASSERT_EQ(engine.load(QStringLiteral("function FindProxyForURL(url, host) { return myIpAddress(); }")), QString());
    EXPECT_EQ(engine.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).value, expected);
}

namespace {

/// Answers every request with `answer` (the whole HTTP response) and closes.
void serveWith(QTcpServer &server, const std::function<QByteArray(const QByteArray &requestLine)> &answer)
{
    QObject::connect(&server, &QTcpServer::newConnection, &server, [&server, answer] {
        while (QTcpSocket *c = server.nextPendingConnection()) {
            QObject::connect(c, &QTcpSocket::readyRead, c, [c, answer] {
                if (!c->canReadLine())
                    return;
                c->write(answer(c->readLine()));
                c->disconnectFromHost();
            });
            QObject::connect(c, &QTcpSocket::disconnected, c, &QObject::deleteLater);
        }
    });
}

QByteArray httpAnswer(const QByteArray &status, const QByteArray &headers, const QByteArray &body = {})
{
    return "HTTP/1.1 " + status + "\r\n" + headers + "Content-Length: " + QByteArray::number(body.size())
        + "\r\nConnection: close\r\n\r\n" + body;
}

} // namespace

// The PAC URL is the administrator's, but where its server redirects is not: a redirect on the same host is followed,
// one to another host (here 127.0.0.2, standing in for 169.254.169.254 or an attacker's server) is refused, and the
// script from there never loaded.
TEST(PacEngine, APacRedirectIsFollowedOnTheSameHostOnly)
{
    QTcpServer other;
    ASSERT_TRUE(other.listen(QHostAddress(QStringLiteral("127.0.0.2")), 0));
    int otherRequests = 0;
    serveWith(other, [&otherRequests](const QByteArray &) {
        ++otherRequests;
        return httpAnswer("200 OK", "", "function FindProxyForURL(u, h) { return 'PROXY evil:1'; }");
    });
    QTcpServer pacServer;
    ASSERT_TRUE(pacServer.listen(QHostAddress::LocalHost, 0));
    const QByteArray elsewhere = "http://127.0.0.2:" + QByteArray::number(other.serverPort()) + "/wpad.dat";
    serveWith(pacServer, [elsewhere](const QByteArray &line) {
        if (line.startsWith("GET /moved "))
            return httpAnswer("302 Found", "Location: /wpad.dat\r\n");
        if (line.startsWith("GET /elsewhere "))
            return httpAnswer("302 Found", "Location: " + elsewhere + "\r\n");
        return httpAnswer("200 OK", "", "function FindProxyForURL(u, h) { return 'PROXY good:1'; }");
    });
    PacEngine engine(localOptions(QStringLiteral("10.0.0.5")));
    const auto load = [&engine](const QString &url) {
        std::optional<QString> error;
        engine.loadUrlAsync(url, 10000, [&error](const QString &e) { error = e; });
        EXPECT_TRUE(test::waitUntil([&error] { return error.has_value(); }, 20000));
        return error.value_or(QStringLiteral("no answer"));
    };
    const QString base = QStringLiteral("http://127.0.0.1:%1").arg(pacServer.serverPort());
    EXPECT_EQ(load(base + QStringLiteral("/moved")), QString());
    EXPECT_EQ(engine.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).value, QStringLiteral("PROXY good:1"));
    const QString error = load(base + QStringLiteral("/elsewhere"));
    EXPECT_TRUE(error.contains(QStringLiteral("redirected to %1 on another host").arg(QLatin1String(elsewhere))))
        << error.toStdString();
    EXPECT_EQ(otherRequests, 0);
    EXPECT_EQ(engine.evaluate(QStringLiteral("http://x/"), QStringLiteral("x")).value, QStringLiteral("PROXY good:1"));
}
