// SPDX-License-Identifier: Apache-2.0
#include "dns/dnshostcache.h"
#include "dns/hostsfile.h"

#include <gtest/gtest.h>

#include <QJsonDocument>

using namespace dfproxy;
using namespace dfproxy::dns;

namespace {

QJsonObject json(const char *text)
{
    return QJsonDocument::fromJson(QByteArray(text)).object();
}

QString errorsText(const QList<config::FieldError> &errors)
{
    QStringList s;
    for (const auto &e : errors)
        s << e.path + QStringLiteral(": ") + e.message;
    return s.join(QLatin1Char('\n'));
}

const config::FieldError *findPath(const QList<config::FieldError> &errors, const QString &path)
{
    for (const auto &e : errors) {
        if (e.path == path)
            return &e;
    }
    return nullptr;
}

} // namespace

TEST(DnsTypes, LookupFamilyNamesRoundTrip)
{
    for (auto f : {LookupFamily::V4Only, LookupFamily::V6Only, LookupFamily::Auto, LookupFamily::V4Preferred,
                   LookupFamily::All})
        EXPECT_EQ(lookupFamilyFromString(toString(f)), f);
    EXPECT_EQ(lookupFamilyFromString(QStringLiteral("v4_only")), LookupFamily::V4Only);
    EXPECT_EQ(lookupFamilyFromString(QStringLiteral("V4Preferred")), LookupFamily::V4Preferred);
    EXPECT_FALSE(lookupFamilyFromString(QStringLiteral("v5")));
}

TEST(DnsTypes, ReasonStrings)
{
    EXPECT_EQ(reasonString(DnsError::NxDomain), QStringLiteral("dns_nxdomain"));
    EXPECT_EQ(reasonString(DnsError::NoData), QStringLiteral("dns_no_addresses"));
    EXPECT_EQ(reasonString(DnsError::Timeout), QStringLiteral("dns_resolution_timeout"));
    EXPECT_EQ(reasonString(DnsError::PendingOverflow), QStringLiteral("dns_pending_overflow"));
    EXPECT_EQ(reasonString(DnsError::Other), QStringLiteral("dns_resolution_failed"));
    EXPECT_TRUE(reasonString(DnsError::None).isEmpty());
}

TEST(DnsOptions, EmptyBlockGivesDefaults)
{
    QList<config::FieldError> errors;
    const auto o = DnsHostCache::optionsFromJson(QJsonObject(), &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(o.lookupFamily, LookupFamily::V4Preferred);
    EXPECT_EQ(o.queryTimeoutMs, 5000);
    EXPECT_EQ(o.minRefreshMs, 5000);
    EXPECT_EQ(o.maxTtlMs, 3'600'000);
    EXPECT_EQ(o.hostTtlMs, 300'000);
    EXPECT_EQ(o.maxHosts, 1024);
    EXPECT_EQ(o.maxPendingRequests, 1024);
    EXPECT_EQ(o.failureRefreshBaseMs, 2000);
    EXPECT_EQ(o.failureRefreshMaxMs, 30'000);
    EXPECT_EQ(o.staleWindowMs, 300'000);
}

TEST(DnsOptions, ReadsEveryField)
{
    QList<config::FieldError> errors;
    const auto o = DnsHostCache::optionsFromJson(
        json(R"({"servers":["127.0.53.1","10.0.0.1:53"],"lookupFamily":"ALL","queryTimeoutMs":300,
                 "minRefreshMs":1000,"maxTtlMs":60000,"hostTtlMs":10000,"maxHosts":5,"maxPendingRequests":7,
                 "failureRefreshBaseMs":100,"failureRefreshMaxMs":800,"staleWindowMs":0,
                 "preresolve":["a.test:80","[::1]:443"],"hostsFilePath":"/tmp/hosts"})"),
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    EXPECT_EQ(o.servers, (QList<QHostAddress>{QHostAddress(QStringLiteral("127.0.53.1")),
                                              QHostAddress(QStringLiteral("10.0.0.1"))}));
    EXPECT_EQ(o.lookupFamily, LookupFamily::All);
    EXPECT_EQ(o.queryTimeoutMs, 300);
    EXPECT_EQ(o.maxHosts, 5);
    EXPECT_EQ(o.staleWindowMs, 0);
    EXPECT_EQ(o.preresolve, (QStringList{QStringLiteral("a.test:80"), QStringLiteral("[::1]:443")}));
    EXPECT_EQ(o.hostsFilePath, QStringLiteral("/tmp/hosts"));

    QList<config::FieldError> again;
    DnsHostCache::optionsFromJson(o.toJson(), &again);
    EXPECT_TRUE(again.isEmpty()) << errorsText(again).toStdString();
}

TEST(DnsOptions, Ipv6NameserverIsRejectedWithReason)
{
    QList<config::FieldError> errors;
    DnsHostCache::optionsFromJson(json(R"({"servers":["127.0.0.1","::1"]})"), &errors);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, QStringLiteral("dns.servers[1]"));
    EXPECT_TRUE(errors[0].message.contains(QStringLiteral("IPv6"))) << errors[0].message.toStdString();
}

TEST(DnsOptions, EveryBadFieldIsReportedWithItsPath)
{
    QList<config::FieldError> errors;
    DnsHostCache::optionsFromJson(
        json(R"({"servers":"1.2.3.4","lookupFamily":"V5","queryTimeoutMs":"5s","minRefreshMs":1.5,
                 "maxHosts":0,"maxPendingRequests":-1,"staleWindowMs":true,"preresolve":["nohost","a.test:0",
                 "b_.test:99999",7],"hostsFilePath":3,"bogus":1})"),
        &errors);
    for (const char *p : {"dns.servers", "dns.lookupFamily", "dns.queryTimeoutMs", "dns.minRefreshMs", "dns.maxHosts",
                          "dns.maxPendingRequests", "dns.staleWindowMs", "dns.preresolve[0]", "dns.preresolve[1]",
                          "dns.preresolve[2]", "dns.preresolve[3]", "dns.hostsFilePath", "dns.bogus"})
        EXPECT_NE(findPath(errors, QString::fromLatin1(p)), nullptr) << p << "\n" << errorsText(errors).toStdString();
    EXPECT_EQ(errors.size(), 13) << errorsText(errors).toStdString();
}

TEST(DnsOptions, BadServersEach)
{
    QList<config::FieldError> errors;
    DnsHostCache::optionsFromJson(json(R"({"servers":["1.2.3","1.2.3.4:5353","[fd00::1]",42,"999.1.1.1"]})"),
                                  &errors);
    ASSERT_EQ(errors.size(), 5) << errorsText(errors).toStdString();
    EXPECT_EQ(errors[0].path, QStringLiteral("dns.servers[0]"));
    EXPECT_TRUE(errors[1].message.contains(QStringLiteral("53")));
    EXPECT_TRUE(errors[2].message.contains(QStringLiteral("IPv6")));
    EXPECT_EQ(errors[4].path, QStringLiteral("dns.servers[4]"));
}

TEST(DnsOptions, CrossFieldLimits)
{
    QList<config::FieldError> errors;
    DnsHostCache::optionsFromJson(
        json(R"({"minRefreshMs":10000,"maxTtlMs":5000,"failureRefreshBaseMs":5000,"failureRefreshMaxMs":100})"),
        &errors);
    EXPECT_NE(findPath(errors, QStringLiteral("dns.maxTtlMs")), nullptr) << errorsText(errors).toStdString();
    EXPECT_NE(findPath(errors, QStringLiteral("dns.failureRefreshMaxMs")), nullptr);
}

TEST(DnsOptions, BackendOverridesLookupFamilyOnly)
{
    DnsHostCache::Options base;
    QList<config::FieldError> errors;
    const auto o = base.applyOverrides(json(R"({"lookupFamily":"V6_ONLY"})"), &errors);
    EXPECT_TRUE(errors.isEmpty());
    EXPECT_EQ(o.lookupFamily, LookupFamily::V6Only);
    base.applyOverrides(json(R"({"lookupFamily":"x","maxHosts":3})"), &errors, QStringLiteral("spec.dns"));
    EXPECT_NE(findPath(errors, QStringLiteral("spec.dns.lookupFamily")), nullptr);
    EXPECT_NE(findPath(errors, QStringLiteral("spec.dns.maxHosts")), nullptr);
}

TEST(HostsFile, ParsesLinesAliasesAndComments)
{
    const auto m = HostsFile::parse("127.0.0.1\tlocalhost\n# x\n10.0.0.1 a.test B.test # trailing\n"
                                    "not-an-ip c.test\n::1 a.test\n\n10.0.0.2\n");
    EXPECT_EQ(m.value(QStringLiteral("a.test")),
              (QList<QHostAddress>{QHostAddress(QStringLiteral("10.0.0.1")), QHostAddress(QStringLiteral("::1"))}));
    EXPECT_EQ(m.value(QStringLiteral("b.test")), QList<QHostAddress>{QHostAddress(QStringLiteral("10.0.0.1"))});
    EXPECT_FALSE(m.contains(QStringLiteral("c.test")));
    EXPECT_FALSE(m.contains(QStringLiteral("#")));
}

TEST(HostsFile, MissingFileStillKnowsLocalhost)
{
    HostsFile h(QStringLiteral("/nonexistent/dfproxy/hosts"));
    EXPECT_EQ(h.size(), 0);
    ASSERT_TRUE(h.lookup(QStringLiteral("LOCALHOST.")));
    EXPECT_FALSE(h.lookup(QStringLiteral("example.test")));
}

TEST(HostsFile, DefaultPathIsThePlatformsHostsFile)
{
    EXPECT_TRUE(HostsFile::defaultPath().endsWith(QStringLiteral("hosts")));
}

TEST(DnsOptions, ParseHostPortChecksHostAndPort)
{
    QString host;
    quint16 port = 0;
    EXPECT_TRUE(DnsHostCache::parseHostPort(QStringLiteral("Example.COM:443"), &host, &port).isEmpty());
    EXPECT_EQ(host, QStringLiteral("example.com"));
    EXPECT_EQ(port, 443);
    EXPECT_TRUE(DnsHostCache::parseHostPort(QStringLiteral("[::1]:8080"), &host, &port).isEmpty());
    EXPECT_EQ(host, QStringLiteral("::1"));
    EXPECT_TRUE(DnsHostCache::parseHostPort(QStringLiteral("example.com"), &host, &port, 80).isEmpty());
    EXPECT_EQ(port, 80);
    EXPECT_TRUE(DnsHostCache::parseHostPort(QStringLiteral("::1"), &host, &port, 80).isEmpty());
    EXPECT_EQ(host, QStringLiteral("::1"));
    EXPECT_FALSE(DnsHostCache::parseHostPort(QStringLiteral("example.com"), &host, &port).isEmpty());
    EXPECT_FALSE(DnsHostCache::parseHostPort(QStringLiteral("not:a:hostport"), &host, &port, 80).isEmpty());
    EXPECT_FALSE(DnsHostCache::parseHostPort(QStringLiteral("bad_name!:80"), &host, &port).isEmpty());
    EXPECT_FALSE(DnsHostCache::parseHostPort(QStringLiteral("example.com:0"), &host, &port).isEmpty());
    EXPECT_FALSE(DnsHostCache::parseHostPort(QStringLiteral("example.com:65536"), &host, &port).isEmpty());
}

TEST(DnsOptions, ResolverChoiceIsReadCheckedAndDecided)
{
    QList<config::FieldError> errors;
    using Kind = DnsHostCache::ResolverKind;

    auto o = DnsHostCache::Options::fromJson(json(R"({})"), &errors);
    EXPECT_EQ(o.resolver, Kind::Auto);
    EXPECT_EQ(DnsHostCache::effectiveResolver(o), Kind::QDnsLookup) << "no servers: the system's settings";
    o = DnsHostCache::Options::fromJson(json(R"({"servers": ["127.0.0.53"]})"), &errors);
    EXPECT_EQ(DnsHostCache::effectiveResolver(o), Kind::Udp);
    o = DnsHostCache::Options::fromJson(json(R"({"servers": ["127.0.0.53"], "resolver": "qdnslookup"})"), &errors);
    EXPECT_EQ(DnsHostCache::effectiveResolver(o), Kind::QDnsLookup);
    o = DnsHostCache::Options::fromJson(json(R"({"servers": ["127.0.0.53"], "resolver": "udp"})"), &errors);
    EXPECT_EQ(DnsHostCache::effectiveResolver(o), Kind::Udp);
    EXPECT_EQ(o.toJson().value(QStringLiteral("resolver")).toString(), QStringLiteral("udp"));
    ASSERT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();

    DnsHostCache::Options::fromJson(json(R"({"resolver": "udp"})"), &errors);
    ASSERT_EQ(errors.size(), 1) << errorsText(errors).toStdString();
    EXPECT_EQ(errors[0].path, QStringLiteral("dns.resolver"));
    EXPECT_TRUE(errors[0].message.contains(QStringLiteral("dns.servers"))) << errors[0].message.toStdString();
    errors.clear();
    DnsHostCache::Options::fromJson(json(R"({"resolver": "getaddrinfo"})"), &errors);
    ASSERT_EQ(errors.size(), 1) << errorsText(errors).toStdString();
    EXPECT_TRUE(errors[0].message.contains(QStringLiteral("auto, udp, qdnslookup"))) << errors[0].message.toStdString();
    errors.clear();
    DnsHostCache::Options::fromJson(json(R"({"resolver": 1})"), &errors);
    EXPECT_EQ(errors.size(), 1) << errorsText(errors).toStdString();
}

TEST(DnsOptions, UdpWithoutServersIsAcceptedWhenTheyComeFromElsewhere)
{
    QList<config::FieldError> errors;
    const auto o = DnsHostCache::Options::fromJson(json(R"({"resolver": "udp"})"), &errors, QStringLiteral("dns"),
                                                   /*serversElsewhere=*/true);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    EXPECT_EQ(o.resolver, DnsHostCache::ResolverKind::Udp);
}
