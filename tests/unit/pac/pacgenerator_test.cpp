// SPDX-License-Identifier: Apache-2.0
// The text of the PAC file. What it decides for a table of URLs is checked by a real PAC engine in
// tests/integration/pac_test.cpp.
#include "pac/pacgenerator.h"
#include "support/binaries.h"

#include <QFile>

#include <gtest/gtest.h>

using namespace dfproxy::pac;

namespace {

PacInput input(QStringList hosts, FailMode mode = FailMode::Closed)
{
    PacInput in;
    in.proxy = QStringLiteral("127.0.0.1:3128");
    in.hosts = std::move(hosts);
    in.settings.failMode = mode;
    in.settings.bypass = defaultBypass();
    in.comment = QStringLiteral("Gateway default/egress, listener http");
    return in;
}

bool has(const QByteArray &text, const char *needle)
{
    return text.contains(needle);
}

} // namespace

TEST(PacGenerator, ExactHostsAreComparedAndWildcardsUseDnsDomainIs)
{
    const QByteArray pac = generatePac(input({"www.example.com", "*.example.org"}));
    EXPECT_TRUE(has(pac, "if (h == \"www.example.com\")\n        return proxy;")) << pac.toStdString();
    // "*.example.org" is every host under example.org, not example.org itself: a dotted suffix.
    EXPECT_TRUE(has(pac, "if (dnsDomainIs(h, \".example.org\"))\n        return proxy;")) << pac.toStdString();
    EXPECT_TRUE(has(pac, "function FindProxyForURL(url, host) {"));
}

TEST(PacGenerator, FailModeClosedNamesOnlyTheProxyAndSendsUnroutedHostsThere)
{
    const QByteArray pac = generatePac(input({"www.example.com"}, FailMode::Closed));
    EXPECT_TRUE(has(pac, "var proxy = \"PROXY 127.0.0.1:3128\";")) << pac.toStdString();
    EXPECT_FALSE(has(pac, "; DIRECT"));
    EXPECT_TRUE(pac.trimmed().endsWith("    return proxy;\n}")) << pac.toStdString();
}

TEST(PacGenerator, FailModeOpenFallsBackToDirectAndSendsUnroutedHostsDirect)
{
    const QByteArray pac = generatePac(input({"www.example.com"}, FailMode::Open));
    EXPECT_TRUE(has(pac, "var proxy = \"PROXY 127.0.0.1:3128; DIRECT\";")) << pac.toStdString();
    EXPECT_TRUE(pac.trimmed().endsWith("    return \"DIRECT\";\n}")) << pac.toStdString();
}

TEST(PacGenerator, ARouteWithoutHostnamesSendsEveryHostToTheProxy)
{
    const QByteArray pac = generatePac(input({"www.example.com", "*"}, FailMode::Open));
    EXPECT_TRUE(has(pac, "return proxy; // a route without hostnames: every host")) << pac.toStdString();
    EXPECT_FALSE(has(pac, "www.example.com")) << "a host clause is redundant next to every host";
    EXPECT_FALSE(has(pac, "return \"DIRECT\";\n}"));
}

TEST(PacGenerator, BypassComesFirstAndIpBlocksMatchLiteralsWithoutResolving)
{
    PacInput in = input({"*"});
    QList<PacSettingsError> errors;
    in.settings = parsePacSettings(
        QJsonObject{{"dfproxy.dev/pac-bypass", "<local>,printer.lan,*.corp.example,10.0.0.0/8,fe80::/10"}}, &errors);
    ASSERT_TRUE(errors.isEmpty());
    const QByteArray pac = generatePac(in);
    const qsizetype bypassAt = pac.indexOf("// Bypass");
    ASSERT_GE(bypassAt, 0);
    EXPECT_LT(bypassAt, pac.indexOf("return proxy;"));
    // Not isPlainHostName(): "::1" has no dot either, and must not go direct for that.
    EXPECT_TRUE(has(pac, "if (h.indexOf(\".\") < 0 && h.indexOf(\":\") < 0)\n        return \"DIRECT\"; // <local>"));
    EXPECT_TRUE(has(pac, "if (h == \"printer.lan\")\n        return \"DIRECT\";"));
    EXPECT_TRUE(has(pac, "if (dnsDomainIs(h, \".corp.example\"))\n        return \"DIRECT\";"));
    EXPECT_TRUE(has(pac, "if (dfpInNet(h, \"10.0.0.0\", 8))\n        return \"DIRECT\"; // 10.0.0.0/8"));
    EXPECT_TRUE(has(pac, "if (dfpInNet(h, \"fe80::\", 10))"));
    // Nothing that makes the browser resolve a name.
    EXPECT_FALSE(has(pac, "isInNet(")) << pac.toStdString();
    EXPECT_FALSE(has(pac, "dnsResolve("));
    EXPECT_FALSE(has(pac, "isResolvable("));
}

TEST(PacGenerator, AnEmptyBypassHasNoBypassClauses)
{
    PacInput in = input({"a.example"});
    in.settings.bypass.clear();
    const QByteArray pac = generatePac(in);
    EXPECT_FALSE(has(pac, "// Bypass"));
    EXPECT_FALSE(has(pac, "return \"DIRECT\""));
}

TEST(PacGenerator, NormalisesTheHostSpellingBeforeComparing)
{
    const QByteArray pac = generatePac(input({"a.example"}));
    EXPECT_TRUE(has(pac, "var h = String(host).toLowerCase();"));
    EXPECT_TRUE(has(pac, "while (h.charAt(h.length - 1) == \".\")"));
    EXPECT_TRUE(has(pac, "h = h.substring(1, h.length - 1);")) << "IPv6 brackets";
}

TEST(PacGenerator, OutputIsDeterministicSoTheEtagIsStable)
{
    const QByteArray a = generatePac(input({"b.example", "*.a.example", "c.example", "b.example"}));
    const QByteArray b = generatePac(input({"c.example", "b.example", "*.a.example"}));
    EXPECT_EQ(a, b);
    EXPECT_EQ(pacEtag(a), pacEtag(b));
    EXPECT_LT(a.indexOf("\".a.example\""), a.indexOf("\"b.example\""));
    EXPECT_LT(a.indexOf("\"b.example\""), a.indexOf("\"c.example\""));
    EXPECT_EQ(a.count("\"b.example\""), 1);
    // The tag changes with the text, and is a quoted strong validator.
    const QByteArray c = generatePac(input({"b.example"}, FailMode::Open));
    EXPECT_NE(pacEtag(a), pacEtag(c));
    EXPECT_TRUE(pacEtag(a).startsWith('"') && pacEtag(a).endsWith('"'));
    EXPECT_FALSE(pacEtag(a).startsWith("W/"));
}

TEST(PacGenerator, EscapesAnythingThatCouldEndAStringOrAComment)
{
    PacInput in = input({"a\"b.example", "x\\y"});
    in.comment = QStringLiteral("line\nfunction evil() {}");
    const QByteArray pac = generatePac(in);
    EXPECT_TRUE(has(pac, "\"a\\u0022b.example\"")) << pac.toStdString();
    EXPECT_TRUE(has(pac, "\"x\\u005cy\""));
    EXPECT_FALSE(has(pac, "\nfunction evil"));
}

TEST(PacGenerator, NamesAnIpv6ProxyInBrackets)
{
    PacInput in = input({"*"});
    in.proxy = QStringLiteral("[::1]:3128");
    EXPECT_TRUE(has(generatePac(in), "var proxy = \"PROXY [::1]:3128\";"));
}

// docs/pac.md shows the FindProxyForURL of this input; the page stays true to what dfproxy serves.
TEST(PacGenerator, TheSampleInTheDocsIsWhatItWrites)
{
    QFile page(dfproxy::test::sourceDir() + "/docs/pac.md");
    ASSERT_TRUE(page.open(QIODevice::ReadOnly)) << page.fileName().toStdString();
    const QString text = QString::fromUtf8(page.readAll());
    const QString sample = text.section("```js\n", 1).section("```", 0, 0);
    ASSERT_FALSE(sample.isEmpty()) << "docs/pac.md has no ```js sample";

    PacInput in;
    in.proxy = QStringLiteral("127.0.0.1:8080");
    in.hosts = {QStringLiteral("httpbin.org"), QStringLiteral("*.example.com")};
    in.settings = parsePacSettings({}, nullptr);
    in.comment = QStringLiteral("Gateway agentgateway-system/agentgateway-proxy, listener http");
    const QByteArray pac = generatePac(in);
    // The sample leaves the helper functions out ("..."): its head and its FindProxyForURL must match.
    const QString head = sample.section("\n...\n", 0, 0);
    const QString function = sample.section("\n...\n", 1);
    ASSERT_FALSE(function.isEmpty()) << "the sample has no \"...\" line between the head and FindProxyForURL";
    EXPECT_TRUE(pac.startsWith(head.toUtf8())) << pac.toStdString();
    EXPECT_TRUE(pac.endsWith(function.toUtf8())) << pac.toStdString();
}
