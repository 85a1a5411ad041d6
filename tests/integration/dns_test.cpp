// SPDX-License-Identifier: Apache-2.0
// The DNS host cache through the real dfproxy binary: the seed route applied through the admin API, real origins
// on loopback, dnsmasq (real DNS, query log) or TestDnsServer (scripted misbehaviour) as the nameserver, curl as
// the client. Every wait is bounded; nothing asserts on timing.
#include "support/dnsserver.h"
#include "support/testsupport.h"

#include <gtest/gtest.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>

#include <memory>

#include <csignal>

using namespace dfproxy::test;

namespace {

/// The seed's backend (optionally with a spec.dns override) and route, as YAML for POST /api/v1/apply.
QByteArray seedYaml(const QString &lookupFamily = {}, bool tls = false, const QString &engine = {})
{
    QByteArray backend = "apiVersion: agentgateway.dev/v1alpha1\n"
                         "kind: AgentgatewayBackend\n"
                         "metadata:\n  name: dfp-backend\n  namespace: httpbin\n"
                         "spec:\n  dynamicForwardProxy: {}\n";
    if (!lookupFamily.isEmpty())
        backend += "  dns:\n    lookupFamily: " + lookupFamily.toUtf8() + "\n";
    if (tls)
        backend += "  tls:\n    insecureSkipVerify: true\n";
    if (!engine.isEmpty())
        backend += "  engine: " + engine.toUtf8() + "\n";
    return backend + "---\n"
                     "apiVersion: gateway.networking.k8s.io/v1\n"
                     "kind: HTTPRoute\n"
                     "metadata:\n  namespace: httpbin\n  name: dfp-httproute\n"
                     "spec:\n"
                     "  parentRefs:\n    - name: agentgateway-proxy\n      namespace: agentgateway-system\n"
                     "  rules:\n    - backendRefs:\n"
                     "        - name: dfp-backend\n          group: agentgateway.dev\n"
                     "          kind: AgentgatewayBackend\n";
}

/// Starts a TestDnsServer on a free 127.79.X.Y:53 (X from the process id, so parallel test runs do not collide).
bool startTestDns(TestDnsServer &server, QString *error)
{
    static int counter = 0;
    const int x = int(QCoreApplication::applicationPid() % 250) + 1;
    for (int tries = 0; tries < 50; ++tries) {
        const int y = (counter++ % 250) + 1;
        if (server.start(QHostAddress(QStringLiteral("127.79.%1.%2").arg(x).arg(y)), 53, error))
            return true;
    }
    return false;
}

/// Starts curls through the proxy at once and returns their HTTP statuses (0 = no response), in start order.
QList<int> parallelCurls(const QString &url, const QStringList &hosts, int timeoutMs = 20000)
{
    auto env = QProcessEnvironment::systemEnvironment();
    for (const char *v : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
        env.remove(QString::fromLatin1(v));
    std::vector<std::unique_ptr<QProcess>> procs;
    for (const QString &h : hosts) {
        auto p = std::make_unique<QProcess>();
        p->setProcessEnvironment(env);
        p->start(QStringLiteral("/usr/bin/curl"),
                 {"-q", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "host: " + h, url});
        procs.push_back(std::move(p));
    }
    QList<int> codes;
    for (auto &p : procs) {
        waitUntil([&] { return p->state() == QProcess::NotRunning; }, timeoutMs);
        if (p->state() != QProcess::NotRunning) {
            p->kill();
            p->waitForFinished(1000);
        }
        codes.append(p->readAllStandardOutput().trimmed().toInt());
    }
    return codes;
}

/// One dfproxy and helpers to drive it through its admin API.
class DnsTestBase : public ::testing::Test
{
protected:
    void startOrigin(const QString &title = QStringLiteral("origin"))
    {
        OriginProcess::Options o;
        o.title = title;
        origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(origin->start()) << origin->describe().toStdString();
    }

    void startProxy(const QStringList &servers, const QJsonObject &dnsBlock = {}, const QString &lookupFamily = {})
    {
        DfproxyProcess::Options p;
        p.dnsServers = servers;
        p.dnsBlock = dnsBlock;
        proxy = std::make_unique<DfproxyProcess>(p);
        ASSERT_TRUE(proxy->start()) << proxy->describe().toStdString();
        const auto r = api("POST", "/api/v1/apply", seedYaml(lookupFamily), "application/yaml");
        ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    }

    CurlResult api(const QString &method, const QString &path, const QByteArray &body = {},
                   const QString &contentType = QStringLiteral("application/json"))
    {
        return proxy->api(method, path, body, contentType);
    }

    QJsonObject apiJson(const QString &method, const QString &path, const QByteArray &body = {})
    {
        return QJsonDocument::fromJson(api(method, path, body).body).object();
    }

    /// The cache entry for host:port from GET /api/v1/dns/cache, empty if none.
    QJsonObject entry(const QString &host, quint16 port)
    {
        const QJsonArray items = apiJson("GET", "/api/v1/dns/cache").value("items").toArray();
        for (const auto &v : items) {
            const QJsonObject o = v.toObject();
            if (o.value("host").toString() == host && o.value("port").toInt() == port)
                return o;
        }
        return {};
    }

    qint64 stat(const QString &name) { return apiJson("GET", "/api/v1/dns/stats").value(name).toInteger(-1); }

    CurlResult get(const QString &host, const QString &path = QStringLiteral("/"), int timeoutMs = 30000)
    {
        return curl({"-H", "host: " + host, proxy->proxyUrl(path)}, timeoutMs);
    }
    QString at(const QString &name) const { return QStringLiteral("%1:%2").arg(name).arg(origin->port()); }

    std::unique_ptr<OriginProcess> origin;
    std::unique_ptr<DfproxyProcess> proxy;
};

// ---------------------------------------------------------------------------------------------- with dnsmasq --

class DnsWithDnsmasq : public DnsTestBase
{
protected:
    void SetUp() override
    {
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed (scripts/test installs it)";
    }

    void startDns(quint32 ttl = 300)
    {
        Dnsmasq::Options o;
        o.localTtl = ttl;
        dns = std::make_unique<Dnsmasq>(o);
        ASSERT_TRUE(dns->start()) << dns->describe().toStdString();
    }

    std::unique_ptr<Dnsmasq> dns;
};

TEST_F(DnsWithDnsmasq, ShortTtlExpiresAndAnAddressChangeIsPickedUp)
{
    startDns(2); // every answer lives 2 s
    startOrigin("first");
    OriginProcess::Options o;
    o.title = "second";
    o.listen = {QStringLiteral("127.0.0.2:%1").arg(origin->port())};
    OriginProcess second(o);
    ASSERT_TRUE(second.start()) << second.describe().toStdString();
    ASSERT_TRUE(dns->setHost("moving.test", {QHostAddress("127.0.0.1")}));
    startProxy({dns->address().toString()}, QJsonObject{{"minRefreshMs", 1000}});

    auto r = get(at("moving.test"));
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(r.header("x-origin-title"), "first");
    const QJsonObject e = entry("moving.test", origin->port());
    EXPECT_EQ(e.value("addresses").toArray(), QJsonArray{"127.0.0.1"});
    EXPECT_LE(e.value("ttlLeftMs").toInteger(), 2000); // the record's TTL, not a default

    ASSERT_TRUE(dns->setHost("moving.test", {QHostAddress("127.0.0.2")}));
    // Within a few TTLs the proxy asks again (background refresh of a hot entry or expiry) and goes to the new
    // address. The wait is bounded; how long it takes is not asserted.
    const bool moved = waitUntil([&] { return get(at("moving.test")).header("x-origin-title") == "second"; }, 15000);
    EXPECT_TRUE(moved) << dns->log().toStdString();
    EXPECT_GE(dns->queryCount("moving.test", "A"), 2);
    EXPECT_GE(stat("host_address_changed"), 1);
}

TEST_F(DnsWithDnsmasq, ParallelRequestsForANewNameShareOneQuery)
{
    startDns();
    startOrigin();
    ASSERT_TRUE(dns->setHost("burst.test", {QHostAddress("127.0.0.1")}));
    startProxy({dns->address().toString()});

    const QList<int> codes = parallelCurls(proxy->proxyUrl("/"), QStringList(16, at("burst.test")));
    EXPECT_EQ(codes, QList<int>(16, 200));
    ASSERT_TRUE(dns->waitForQueryCount("burst.test", 1, 5000)) << dns->log().toStdString();
    spinFor(300); // a second query would be logged by now
    EXPECT_EQ(dns->queryCount("burst.test", "A"), 1) << dns->log().toStdString();
    EXPECT_EQ(stat("dns_query_attempt"), 1);
}

TEST_F(DnsWithDnsmasq, FamilyAllAsksAAndAaaaOnceEachAndTriesIpv6First)
{
    startDns();
    startOrigin("v4");
    OriginProcess::Options o;
    o.title = "v6";
    o.listen = {QStringLiteral("[::1]:%1").arg(origin->port())};
    OriginProcess v6(o);
    if (!v6.start())
        GTEST_SKIP() << "no IPv6 loopback: " << v6.describe().toStdString();
    ASSERT_TRUE(dns->setHost("dual.test", {QHostAddress("127.0.0.1"), QHostAddress("::1")}));
    startProxy({dns->address().toString()}, QJsonObject{{"lookupFamily", "ALL"}});

    const QList<int> codes = parallelCurls(proxy->proxyUrl("/"), QStringList(8, at("dual.test")));
    EXPECT_EQ(codes, QList<int>(8, 200));
    EXPECT_EQ(entry("dual.test", origin->port()).value("addresses").toArray(), (QJsonArray{"::1", "127.0.0.1"}));
    EXPECT_EQ(get(at("dual.test")).header("x-origin-title"), "v6");
    spinFor(300);
    EXPECT_EQ(dns->queryCount("dual.test", "A"), 1) << dns->log().toStdString();
    EXPECT_EQ(dns->queryCount("dual.test", "AAAA"), 1) << dns->log().toStdString();
}

TEST_F(DnsWithDnsmasq, NxDomainIsA503AndIsNegativelyCached)
{
    startDns();
    startOrigin();
    startProxy({dns->address().toString()});

    auto r = get(at("nothing-here.test"));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("x-dfproxy-error"), "dns_nxdomain");
    EXPECT_TRUE(r.body.contains("nothing-here.test")) << r.body.constData();
    r = get(at("nothing-here.test"));
    EXPECT_EQ(r.header("x-dfproxy-error"), "dns_nxdomain");
    spinFor(200);
    EXPECT_EQ(dns->queryCount("nothing-here.test", "A"), 1) << dns->log().toStdString(); // second from the cache
    const QJsonObject e = entry("nothing-here.test", origin->port());
    EXPECT_EQ(e.value("state").toString(), "failed");
    EXPECT_EQ(e.value("lastError").toString(), "dns_nxdomain");
    EXPECT_EQ(stat("dns_query_failure"), 1);
}

TEST_F(DnsWithDnsmasq, AdminApiListsRemovesFlushesAndPreresolves)
{
    startDns();
    startOrigin();
    ASSERT_TRUE(dns->setHost("listed.test", {QHostAddress("127.0.0.1")}));
    ASSERT_TRUE(dns->setHost("warm.test", {QHostAddress("127.0.0.1")}));
    startProxy({dns->address().toString()});
    EXPECT_EQ(stat("num_hosts"), 0);

    ASSERT_EQ(get(at("listed.test")).status, 200);
    QJsonObject e = entry("listed.test", origin->port());
    ASSERT_FALSE(e.isEmpty());
    EXPECT_EQ(e.value("addresses").toArray(), QJsonArray{"127.0.0.1"});
    EXPECT_GT(e.value("ttlLeftMs").toInteger(), 0);
    EXPECT_EQ(e.value("state").toString(), "resolved");
    EXPECT_EQ(e.value("key").toString(), at("listed.test"));
    EXPECT_EQ(stat("cache_miss"), 1);
    EXPECT_EQ(stat("dns_query_success"), 1);
    EXPECT_EQ(stat("num_hosts"), 1);
    ASSERT_EQ(get(at("listed.test")).status, 200);
    EXPECT_EQ(stat("cache_hit"), 1);

    // The settings in effect: --dns-server chose dfproxy's own client, and the worker that missed asked itself.
    const QJsonObject settings = apiJson("GET", "/api/v1/dns/settings");
    EXPECT_EQ(settings.value("servers").toArray(), QJsonArray{dns->address().toString()});
    EXPECT_EQ(settings.value("resolver").toString(), "auto");
    EXPECT_EQ(settings.value("resolverInEffect").toString(), "udp");
    EXPECT_GE(settings.value("attachedThreads").toInt(), 1); // each worker attaches at its first request that needs DNS

    // Remove one: the next request asks DNS again.
    auto r = api("DELETE", "/api/v1/dns/cache/" + at("listed.test"));
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_TRUE(entry("listed.test", origin->port()).isEmpty());
    EXPECT_EQ(api("DELETE", "/api/v1/dns/cache/" + at("listed.test")).status, 404);
    EXPECT_EQ(api("DELETE", "/api/v1/dns/cache/not:a:hostport").status, 400);
    ASSERT_EQ(get(at("listed.test")).status, 200);
    EXPECT_TRUE(dns->waitForQueryCount("listed.test", 2, 5000)) << dns->log().toStdString();
    EXPECT_EQ(stat("host_removed"), 1);

    // Preresolve: the entry appears with its addresses without any request.
    const QByteArray body = QStringLiteral(R"({"host": "warm.test", "port": %1})").arg(origin->port()).toUtf8();
    r = api("POST", "/api/v1/dns/resolve", body);
    EXPECT_EQ(r.status, 202) << r.describe().toStdString();
    EXPECT_TRUE(waitUntil([&] { return !entry("warm.test", origin->port()).value("addresses").toArray().isEmpty(); },
                          5000));
    EXPECT_EQ(dns->queryCount("warm.test", "A"), 1);
    r = api("POST", "/api/v1/dns/resolve", R"({"port": 0, "lookupFamily": "V7"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_TRUE(r.body.contains("lookupFamily")) << r.body.constData();
    EXPECT_TRUE(r.body.contains("\"port\"")) << r.body.constData();
    EXPECT_TRUE(r.body.contains("\"host\"")) << r.body.constData();

    // Flush: everything goes.
    r = api("DELETE", "/api/v1/dns/cache");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(apiJson("GET", "/api/v1/dns/cache").value("items").toArray().isEmpty());
    EXPECT_EQ(stat("num_hosts"), 0);
}

TEST_F(DnsWithDnsmasq, DfproxyctlDnsCommandsDriveTheCache)
{
    startDns();
    startOrigin();
    ASSERT_TRUE(dns->setHost("cli.test", {QHostAddress("127.0.0.1")}));
    startProxy({dns->address().toString()});
    const QString hp = at("cli.test");
    auto r = proxy->ctl({"dns", "resolve", hp});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(waitUntil([&] { return proxy->ctl({"dns", "list"}).out.contains("127.0.0.1"); }, 5000));
    r = proxy->ctl({"dns", "list"});
    EXPECT_TRUE(r.out.contains(hp)) << r.out.toStdString();
    r = proxy->ctl({"dns", "rm", hp});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_FALSE(proxy->ctl({"dns", "list"}).out.contains(hp));
    EXPECT_NE(proxy->ctl({"dns", "rm", hp}).exitCode, 0); // not cached any more
    ASSERT_EQ(get(hp).status, 200);
    r = proxy->ctl({"dns", "flush"});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_FALSE(proxy->ctl({"dns", "list"}).out.contains(hp));
    EXPECT_EQ(dns->queryCount("cli.test", "A"), 2);

    r = proxy->ctl({"dns", "settings"});
    EXPECT_EQ(r.exitCode, 0) << r.err.toStdString();
    EXPECT_TRUE(r.out.contains("resolverInEffect: udp")) << r.out.toStdString();
    EXPECT_TRUE(r.out.contains(dns->address().toString())) << r.out.toStdString();
    r = proxy->ctl({"dns", "settings", "-o", "json"});
    EXPECT_EQ(QJsonDocument::fromJson(r.out.toUtf8()).object().value("resolverInEffect").toString(), "udp")
        << r.out.toStdString();
    r = proxy->ctl({"dns", "settings", "extra"});
    EXPECT_NE(r.exitCode, 0);
    EXPECT_TRUE(r.err.contains("takes no arguments")) << r.err.toStdString();
}

TEST_F(DnsWithDnsmasq, PreresolveListIsWarmedAtStart)
{
    startDns();
    startOrigin();
    ASSERT_TRUE(dns->setHost("early.test", {QHostAddress("127.0.0.1")}));
    startProxy({dns->address().toString()},
               QJsonObject{{"preresolve", QJsonArray{QStringLiteral("early.test:%1").arg(origin->port())}}});
    EXPECT_TRUE(waitUntil([&] { return !entry("early.test", origin->port()).value("addresses").toArray().isEmpty(); },
                          5000));
    EXPECT_EQ(dns->queryCount("early.test", "A"), 1);
    const auto r = get(at("early.test"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(stat("cache_hit"), 1); // the first request did not wait for DNS
    EXPECT_EQ(dns->queryCount("early.test", "A"), 1);
}

TEST_F(DnsWithDnsmasq, UnusedHostsAreEvictedAfterHostTtl)
{
    startDns();
    startOrigin();
    ASSERT_TRUE(dns->setHost("brief.test", {QHostAddress("127.0.0.1")}));
    startProxy({dns->address().toString()}, QJsonObject{{"hostTtlMs", 1000}});
    ASSERT_EQ(get(at("brief.test")).status, 200);
    EXPECT_TRUE(waitUntil([&] { return entry("brief.test", origin->port()).isEmpty(); }, 10000));
    EXPECT_EQ(stat("host_removed"), 1);
}

TEST_F(DnsWithDnsmasq, GlobalLookupFamilyAndPerBackendOverride)
{
    startDns();
    startOrigin();
    ASSERT_TRUE(dns->setHost("v4.test", {QHostAddress("127.0.0.1")}));
    // Global V6_ONLY, no override: only AAAA is asked, and there is none.
    startProxy({dns->address().toString()}, QJsonObject{{"lookupFamily", "V6_ONLY"}});
    auto r = get(at("v4.test"));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("x-dfproxy-error"), "dns_no_addresses");
    EXPECT_TRUE(dns->waitForQueryCount("v4.test", 1, 5000, "AAAA")) << dns->log().toStdString();
    EXPECT_EQ(dns->queryCount("v4.test", "A"), 0);

    // The backend overrides it with V4Only: the same name now works, asking only for A.
    const auto a = api("POST", "/api/v1/apply", seedYaml("V4Only"), "application/yaml");
    ASSERT_EQ(a.status, 200) << a.describe().toStdString();
    r = get(at("v4.test"));
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(dns->queryCount("v4.test", "A"), 1);

    // A bad override is refused by the admin API with the field's path.
    const auto bad = api("POST", "/api/v1/apply", seedYaml("V5Only"), "application/yaml");
    EXPECT_EQ(bad.status, 422) << bad.describe().toStdString();
    EXPECT_TRUE(bad.body.contains("spec.dns.lookupFamily")) << bad.body.constData();
}

// -------------------------------------------------------------------------------------- with TestDnsServer --

class DnsWithTestServer : public DnsTestBase
{
protected:
    void SetUp() override
    {
        QString error;
        if (!startTestDns(server, &error))
            GTEST_SKIP() << "cannot bind a DNS test server on 127.79.x.y:53 (needs root): " << error.toStdString();
        startOrigin();
        server.setAddresses("good.test", {QHostAddress("127.0.0.1")}, 300);
    }

    void start(const QJsonObject &dnsBlock = {}) { startProxy({server.address().toString()}, dnsBlock); }

    TestDnsServer server;
};

TEST_F(DnsWithTestServer, EachFailureHasItsOwnReasonAndTheServiceStaysHealthy)
{
    start(QJsonObject{{"queryTimeoutMs", 500}});
    struct Case
    {
        const char *name;
        TestDnsServer::Mode mode;
        const char *reason;
    };
    const Case cases[] = {
        {"silent.test", TestDnsServer::Mode::Silent, "dns_resolution_timeout"},
        {"servfail.test", TestDnsServer::Mode::ServFail, "dns_servfail"},
        {"refused.test", TestDnsServer::Mode::Refused, "dns_refused"},
        {"garbage.test", TestDnsServer::Mode::Garbage, "dns_bad_reply"},
        {"missing.test", TestDnsServer::Mode::NxDomain, "dns_nxdomain"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.name);
        server.setAddresses(c.name, {QHostAddress("127.0.0.1")});
        server.setMode(c.name, c.mode);
        // The silent server is given up on after queryTimeoutMs (500 ms), far inside curl's 10 s.
        const auto r = get(at(c.name), "/", 10000);
        EXPECT_FALSE(r.timedOut);
        EXPECT_EQ(r.status, 503) << r.describe().toStdString();
        EXPECT_EQ(r.header("x-dfproxy-error"), c.reason);
        EXPECT_TRUE(r.body.contains(c.reason)) << r.body.constData();
        EXPECT_EQ(entry(c.name, origin->port()).value("lastError").toString(), c.reason);
        const auto ok = get(at("good.test"));
        EXPECT_EQ(ok.status, 200) << ok.describe().toStdString();
    }
    EXPECT_EQ(stat("dns_query_timeout"), 1);
    EXPECT_EQ(stat("dns_query_failure"), 5);
}

TEST_F(DnsWithTestServer, SilentNamesDoNotStallOtherLookupsForLong)
{
    // Qt resolves on at most 5 threads; a silent server used to hold each for the C library's ~10 s retry schedule.
    if (qEnvironmentVariableIsSet("RES_OPTIONS"))
        GTEST_SKIP() << "RES_OPTIONS is set in the environment; dfproxy keeps the user's value";
    start(QJsonObject{{"queryTimeoutMs", 500}, {"failureRefreshBaseMs", 100}, {"failureRefreshMaxMs", 100}});
    QStringList hosts;
    for (int i = 0; i < 6; ++i) {
        const QString name = QStringLiteral("quiet%1.test").arg(i);
        server.setMode(name, TestDnsServer::Mode::Silent);
        hosts << at(name);
    }
    EXPECT_EQ(parallelCurls(proxy->proxyUrl("/"), hosts), QList<int>(6, 503));
    // Good names work again soon after (bounded wait; the exact time is not asserted).
    EXPECT_TRUE(waitUntil([&] { return get(at("good.test")).status == 200; }, 6000));
}

TEST_F(DnsWithTestServer, StopDoesNotWaitForAQdnslookupQueryGivenUpOn)
{
    // A QDnsLookup query to a silent server holds one of Qt's resolver threads in the C library for the whole
    // RES_OPTIONS schedule (here 21 s), and QCoreApplication's destructor waits for that thread: dfproxy used to take
    // that long to exit after SIGTERM although nothing was left to drain.
    if (qEnvironmentVariableIsSet("RES_OPTIONS"))
        GTEST_SKIP() << "RES_OPTIONS is set in the environment; dfproxy keeps the user's value";
    start(QJsonObject{{"resolver", "qdnslookup"}, {"queryTimeoutMs", 20000}});
    server.setMode("quiet.test", TestDnsServer::Mode::Silent);
    const auto r = get(at("quiet.test"), "/", 1000); // the client gives up; the query stays in flight
    EXPECT_TRUE(r.timedOut) << r.describe().toStdString();
    ASSERT_TRUE(waitUntil([&] { return server.queryCount("quiet.test", TestDnsServer::TypeA) >= 1; }, 5000));
    ASSERT_TRUE(proxy->process()->sendSignal(SIGTERM));
    EXPECT_TRUE(proxy->process()->waitForExit(8000)) << "still running 8 s after SIGTERM";
    EXPECT_EQ(proxy->process()->exitCode(), 0) << proxy->describe().toStdString();
}

TEST_F(DnsWithTestServer, IpLiteralsAndHostsFileNamesNeverQueryDns)
{
    TempDir hosts;
    ASSERT_TRUE(hosts.writeFile("hosts", "# a custom hosts file\n127.0.0.1 localhost\n"
                                         "127.0.0.1 intranet.example intranet\n"));
    start(QJsonObject{{"hostsFilePath", hosts.filePath("hosts")}});
    EXPECT_EQ(get(QStringLiteral("127.0.0.1:%1").arg(origin->port())).status, 200);
    EXPECT_EQ(get(at("intranet.example")).status, 200);
    EXPECT_EQ(get(at("localhost")).status, 200);
    spinFor(200);
    EXPECT_EQ(server.totalQueries(), 0);
    EXPECT_TRUE(apiJson("GET", "/api/v1/dns/cache").value("items").toArray().isEmpty());
}

TEST_F(DnsWithTestServer, MaxHostsOverflowIs503)
{
    server.setAddresses("second.test", {QHostAddress("127.0.0.1")});
    start(QJsonObject{{"maxHosts", 1}});
    EXPECT_EQ(get(at("good.test")).status, 200);
    const auto r = get(at("second.test"));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("x-dfproxy-error"), "dns_cache_overflow");
    EXPECT_TRUE(r.body.contains("DNS cache overflow")) << r.body.constData();
    EXPECT_EQ(server.queryCount("second.test"), 0);
    EXPECT_EQ(stat("host_overflow"), 1);
}

TEST_F(DnsWithTestServer, PendingOverflowIs503AndAClientThatLeftFreesItsSlot)
{
    server.setAddresses("slow.test", {QHostAddress("127.0.0.1")});
    server.setAddresses("slow2.test", {QHostAddress("127.0.0.1")});
    server.setAddresses("slow3.test", {QHostAddress("127.0.0.1")});
    server.setDelay("slow.test", 1500);
    server.setDelay("slow3.test", 3000);
    start(QJsonObject{{"maxPendingRequests", 1}});

    // One request waits for DNS; another name cannot wait too.
    QProcess waiting;
    waiting.start("/usr/bin/curl", {"-q", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                                    "host: " + at("slow.test"), proxy->proxyUrl("/")});
    ASSERT_TRUE(waitUntil([&] { return server.queryCount("slow.test") >= 1; }, 5000));
    auto r = get(at("slow2.test"));
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("x-dfproxy-error"), "dns_pending_overflow");
    EXPECT_TRUE(r.body.contains("pending request overflow")) << r.body.constData();
    EXPECT_EQ(server.queryCount("slow2.test"), 0);
    ASSERT_TRUE(waitUntil([&] { return waiting.state() == QProcess::NotRunning; }, 10000));
    EXPECT_EQ(waiting.readAllStandardOutput().trimmed(), "200");
    EXPECT_EQ(stat("dns_rq_pending_overflow"), 1);

    // A client that gives up while waiting no longer holds the only pending slot.
    r = curl({"--max-time", "0.5", "-H", "host: " + at("slow3.test"), proxy->proxyUrl("/")});
    EXPECT_NE(r.status, 200);
    spinFor(300); // the proxy notices the closed connection
    r = get(at("slow2.test"));
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
}

TEST_F(DnsWithTestServer, ConcurrentRequestsWhileAQueryIsInFlightShareIt)
{
    server.setAddresses("shared.test", {QHostAddress("127.0.0.1")});
    server.setDelay("shared.test", 1500);
    start();
    const QList<int> codes = parallelCurls(proxy->proxyUrl("/"), QStringList(8, at("shared.test")));
    EXPECT_EQ(codes, QList<int>(8, 200));
    EXPECT_EQ(server.queryCount("shared.test", TestDnsServer::TypeA), 1);
    EXPECT_EQ(stat("dns_query_attempt"), 1);
    EXPECT_GE(stat("cache_miss"), 2); // more than one request waited on the same query
}

TEST_F(DnsWithTestServer, ConnectFailureFallsBackToTheNextAddressAndDemotesTheBadOne)
{
    // Nothing listens on 127.0.0.3 (the origin binds 127.0.0.1 only): that address refuses.
    server.setAddresses("two.test", {QHostAddress("127.0.0.3"), QHostAddress("127.0.0.1")});
    start();
    const auto r = get(at("two.test"));
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    const QJsonArray addrs = entry("two.test", origin->port()).value("addresses").toArray();
    EXPECT_EQ(addrs, (QJsonArray{"127.0.0.1", "127.0.0.3"}));
    EXPECT_EQ(get(at("two.test")).status, 200);
}

TEST_F(DnsWithTestServer, ConnectFallbackWorksWithTheQnamEngineToo)
{
    server.setAddresses("two.test", {QHostAddress("127.0.0.3"), QHostAddress("127.0.0.1")});
    start();
    const auto a = api("POST", "/api/v1/apply", seedYaml({}, false, "qnam"), "application/yaml");
    ASSERT_EQ(a.status, 200) << a.describe().toStdString();
    const auto r = get(at("two.test"));
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    EXPECT_EQ(entry("two.test", origin->port()).value("addresses").toArray(), (QJsonArray{"127.0.0.1", "127.0.0.3"}));
}

TEST_F(DnsWithTestServer, FailingRefreshServesStaleAddressesWithinTheWindow)
{
    server.setAddresses("flaky.test", {QHostAddress("127.0.0.1")}, 1);
    start(QJsonObject{{"minRefreshMs", 1000}, {"failureRefreshBaseMs", 200}, {"staleWindowMs", 60000}});
    ASSERT_EQ(get(at("flaky.test")).status, 200);
    server.setMode("flaky.test", TestDnsServer::Mode::ServFail);
    // The record expires after 1 s and every refresh now fails: requests keep working on the old address.
    bool allOk = true;
    const bool stale = waitUntil(
        [&] {
            allOk = allOk && get(at("flaky.test")).status == 200;
            return stat("stale_served") >= 1;
        },
        10000);
    EXPECT_TRUE(stale);
    EXPECT_TRUE(allOk);
    const QJsonObject e = entry("flaky.test", origin->port());
    EXPECT_EQ(e.value("lastError").toString(), "dns_servfail");
    EXPECT_EQ(e.value("addresses").toArray(), QJsonArray{"127.0.0.1"});
    EXPECT_GE(stat("dns_query_failure"), 1);
}

TEST_F(DnsWithTestServer, SilentFirstNameserverFallsThroughToTheNext)
{
    TestDnsServer second;
    QString error;
    ASSERT_TRUE(startTestDns(second, &error)) << error.toStdString();
    server.setMode("good.test", TestDnsServer::Mode::Silent);
    second.setAddresses("good.test", {QHostAddress("127.0.0.1")});
    // 2 s for the whole resolution: 1 s per server.
    startProxy({server.address().toString(), second.address().toString()}, QJsonObject{{"queryTimeoutMs", 2000}});
    const auto r = get(at("good.test"));
    EXPECT_EQ(r.status, 200) << r.describe().toStdString();
    // The silent one was asked twice within its 1 s share (sent again halfway), the second once.
    EXPECT_EQ(server.queryCount("good.test", TestDnsServer::TypeA), 2);
    EXPECT_EQ(second.queryCount("good.test", TestDnsServer::TypeA), 1);
}

TEST_F(DnsWithTestServer, HostWithoutPortIsCachedAs80OrAs443ForTlsBackends)
{
    server.setAddresses("plain.test", {QHostAddress("127.0.0.1")});
    server.setAddresses("secure.test", {QHostAddress("127.0.0.1")});
    start();
    get("plain.test"); // whatever 127.0.0.1:80 answers: only the cache key matters here
    EXPECT_FALSE(entry("plain.test", 80).isEmpty());
    const auto a = api("POST", "/api/v1/apply", seedYaml({}, true), "application/yaml");
    ASSERT_EQ(a.status, 200) << a.describe().toStdString();
    get("secure.test");
    EXPECT_FALSE(entry("secure.test", 443).isEmpty());
    EXPECT_TRUE(entry("secure.test", 80).isEmpty());
}

// ------------------------------------------------------------------------------------------ config errors --

namespace {

/// dfproxy started on `dir`'s config.json (plus `extraArgs`) until it exits on its own or says it runs on an empty
/// configuration because the file was refused (then it is stopped): how it ended.
struct StartOutcome
{
    bool exited = false;
    int exitCode = -1;
    QString stderrText;
};

StartOutcome startOnConfig(const TempDir &dir, const QStringList &extraArgs = {})
{
    QProcess p;
    p.start(buildBinary("dfproxy"), QStringList{"--config", dir.filePath("config.json")} + extraArgs);
    StartOutcome o;
    QByteArray err;
    waitUntil(
        [&] {
            p.waitForReadyRead(50);
            err += p.readAllStandardError();
            return p.state() == QProcess::NotRunning || err.contains("starting with an empty configuration");
        },
        15000);
    o.exited = p.state() == QProcess::NotRunning;
    if (!o.exited) {
        p.kill();
        p.waitForFinished();
    }
    o.exitCode = p.exitCode();
    o.stderrText = QString::fromUtf8(err + p.readAllStandardError());
    return o;
}

} // namespace

// A refused file does not stop the service (docs/admin-api.md): it runs on an empty config and logs why.
TEST(DnsConfig, InvalidDnsBlockIsRefusedWithTheFieldPath)
{
    TempDir dir;
    const QByteArray config = R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
        "admin": {"address": "127.0.0.1", "port": 0},
        "dns": {"servers": ["::1"], "queryTimeoutMs": "fast", "lookupFamily": "V5"},
        "resources": []})";
    ASSERT_TRUE(dir.writeFile("config.json", config));
    const StartOutcome run = startOnConfig(dir);
    EXPECT_FALSE(run.exited) << run.stderrText.toStdString();
    const QString &err = run.stderrText;
    EXPECT_TRUE(err.contains("starting with an empty configuration")) << err.toStdString();
    EXPECT_TRUE(err.contains("dns.servers[0]")) << err.toStdString();
    EXPECT_TRUE(err.contains("IPv6")) << err.toStdString();
    EXPECT_TRUE(err.contains("dns.queryTimeoutMs")) << err.toStdString();
    EXPECT_TRUE(err.contains("dns.lookupFamily")) << err.toStdString();
}

TEST_F(DnsWithTestServer, EditedDnsBlockAppliesOnReloadAndABadOneIsRefused)
{
#ifdef Q_OS_UNIX
    server.setAddresses("one.test", {QHostAddress("127.0.0.1")});
    server.setAddresses("two.test", {QHostAddress("127.0.0.1")});
    start();
    ASSERT_EQ(get(at("good.test")).status, 200);
    QJsonObject config = QJsonDocument::fromJson(proxy->dir().readFile("config.json")).object();
    QJsonObject dns = config.value("dns").toObject();
    dns.insert("maxHosts", 0);
    config.insert("dns", dns);
    ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
    ASSERT_TRUE(proxy->process()->sendSignal(SIGHUP));
    EXPECT_TRUE(waitUntil([&] { return proxy->process()->stderrData().contains("dns.maxHosts"); }, 10000))
        << proxy->process()->stderrData().constData();
    EXPECT_EQ(get(at("one.test")).status, 200); // the running settings were kept

    dns.insert("maxHosts", 2);
    config.insert("dns", dns);
    ASSERT_TRUE(proxy->dir().writeFile("config.json", QJsonDocument(config).toJson()));
    ASSERT_TRUE(proxy->process()->sendSignal(SIGHUP));
    // Applied live: with two hosts cached, a third is refused.
    const bool applied = waitUntil(
        [&] { return get(at("two.test")).header("x-dfproxy-error") == "dns_cache_overflow"; }, 10000);
    EXPECT_TRUE(applied) << proxy->process()->stderrData().constData();
#else
    GTEST_SKIP() << "SIGHUP is Unix only";
#endif
}

TEST_F(DnsWithTestServer, DnsBlockWrittenThroughTheApiIsValidatedAndAppliedLive)
{
    TestDnsServer other;
    QString error;
    ASSERT_TRUE(startTestDns(other, &error)) << error.toStdString();
    other.setAddresses("elsewhere.test", {QHostAddress("127.0.0.1")}); // unknown to the first server
    start();
    EXPECT_EQ(get(at("elsewhere.test")).header("x-dfproxy-error"), "dns_nxdomain");

    QJsonObject config = apiJson("GET", "/api/v1/config");
    ASSERT_TRUE(config.contains("resources"));
    auto put = [&](const QJsonObject &dns) {
        QJsonObject c = config;
        c.insert("dns", dns);
        return proxy->api("PUT", "/api/v1/config", QJsonDocument(c).toJson(QJsonDocument::Compact),
                          "application/json", {"If-Match: *"});
    };
    auto r = put(QJsonObject{{"servers", QJsonArray{"::1"}}, {"lookupFamily", "V5"}, {"queryTimeoutMs", 1}});
    EXPECT_EQ(r.status, 422) << r.describe().toStdString();
    for (const char *path : {"dns.servers[0]", "dns.lookupFamily", "dns.queryTimeoutMs"})
        EXPECT_TRUE(r.body.contains(path)) << path << "\n" << r.body.constData();

    r = put(QJsonObject{{"servers", QJsonArray{other.address().toString()}}, {"failureRefreshBaseMs", 100}});
    ASSERT_EQ(r.status, 200) << r.describe().toStdString();
    // The new nameserver is used from now on (the old negative entry runs out after its short backoff).
    EXPECT_TRUE(api("DELETE", "/api/v1/dns/cache").status == 200);
    const bool switched = waitUntil([&] { return get(at("elsewhere.test")).status == 200; }, 10000);
    EXPECT_TRUE(switched) << proxy->process()->stderrData().constData();
    EXPECT_GE(other.queryCount("elsewhere.test", TestDnsServer::TypeA), 1);
}

TEST(DnsConfig, Ipv6DnsServerOnTheCommandLineIsRejected)
{
    TempDir dir;
    ASSERT_TRUE(dir.writeFile("config.json", R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
        "admin": {"address": "127.0.0.1", "port": 0}, "resources": []})"));
    const StartOutcome run = startOnConfig(dir, {"--dns-server", "::1"});
    ASSERT_TRUE(run.exited);
    EXPECT_NE(run.exitCode, 0);
    const QString &err = run.stderrText;
    EXPECT_TRUE(err.contains("dns.servers[0]")) << err.toStdString();
}

} // namespace

TEST(DnsConfig, UdpResolverNeedsServersFromTheFileOrTheCommandLine)
{
    TempDir dir;
    ASSERT_TRUE(dir.writeFile("config.json", R"({"apiVersion": "dfproxy.dev/v1", "kind": "Config",
        "admin": {"address": "127.0.0.1", "port": 0}, "dns": {"resolver": "udp"}, "resources": []})"));
    const StartOutcome run = startOnConfig(dir);
    EXPECT_FALSE(run.exited) << run.stderrText.toStdString(); // refused: it runs on an empty config
    const QString &err = run.stderrText;
    EXPECT_TRUE(err.contains("dns.resolver")) << err.toStdString();
    EXPECT_TRUE(err.contains("needs dns.servers")) << err.toStdString();

    // --dns-server gives it the servers: such a file is accepted and runs dfproxy's own client.
    DfproxyProcess::Options o;
    o.dnsBlock = QJsonObject{{"resolver", "udp"}}; // no servers in the file
    o.extraArgs = {"--dns-server", "127.0.0.1"};
    DfproxyProcess proxy(o);
    ASSERT_TRUE(proxy.start()) << proxy.errorString().toStdString();
    const QJsonObject settings = QJsonDocument::fromJson(proxy.apiGet("/api/v1/dns/settings").body).object();
    EXPECT_EQ(settings.value("resolver").toString(), "udp");
    EXPECT_EQ(settings.value("resolverInEffect").toString(), "udp");
    EXPECT_EQ(settings.value("servers").toArray(), QJsonArray{"127.0.0.1"});
}
