// SPDX-License-Identifier: Apache-2.0
#include "pac/pacsettings.h"

#include <gtest/gtest.h>

using namespace dfproxy::pac;

namespace {

std::string messages(const QList<PacSettingsError> &errors)
{
    QString s;
    for (const auto &e : errors)
        s += e.annotation + ": " + e.message + "\n";
    return s.toStdString();
}

} // namespace

TEST(PacSettings, DefaultsWhenNoAnnotationIsSet)
{
    QList<PacSettingsError> errors;
    const PacSettings s = parsePacSettings({}, &errors);
    EXPECT_TRUE(errors.isEmpty()) << messages(errors);
    EXPECT_EQ(s.failMode, FailMode::Closed);
    EXPECT_EQ(s.maxAgeS, 300);
    EXPECT_EQ(s.bypassTexts().join(u','), "<local>,localhost,127.0.0.0/8,::1,169.254.0.0/16,fe80::/10,10.0.0.0/8,"
                                          "172.16.0.0/12,192.168.0.0/16");
}

TEST(PacSettings, ReadsEveryAnnotation)
{
    QList<PacSettingsError> errors;
    const PacSettings s = parsePacSettings(
        QJsonObject{{"dfproxy.dev/pac-fail-mode", "open"},
                    {"dfproxy.dev/pac-bypass", " Printer.Corp.Example ,*.lan, 192.168.1.7, fd00::/8 ,<local>"},
                    {"dfproxy.dev/pac-max-age", "0"}},
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << messages(errors);
    EXPECT_EQ(s.failMode, FailMode::Open);
    EXPECT_EQ(s.maxAgeS, 0);
    ASSERT_EQ(s.bypass.size(), 5);
    EXPECT_EQ(s.bypass[0].kind, BypassEntry::Kind::Host);
    EXPECT_EQ(s.bypass[0].host, "printer.corp.example");
    EXPECT_EQ(s.bypass[1].kind, BypassEntry::Kind::DomainSuffix);
    EXPECT_EQ(s.bypass[1].host, ".lan");
    EXPECT_EQ(s.bypass[2].kind, BypassEntry::Kind::Cidr);
    EXPECT_EQ(s.bypass[2].prefixLength, 32);
    EXPECT_EQ(s.bypass[3].network, QHostAddress("fd00::"));
    EXPECT_EQ(s.bypass[3].prefixLength, 8);
    EXPECT_EQ(s.bypass[4].kind, BypassEntry::Kind::PlainHostNames);
}

TEST(PacSettings, AnEmptyBypassMeansNothingBypasses)
{
    const PacSettings s = parsePacSettings(QJsonObject{{"dfproxy.dev/pac-bypass", ""}}, nullptr);
    EXPECT_TRUE(s.bypass.isEmpty());
}

TEST(PacSettings, AcceptsAMaxAgeWrittenAsANumber)
{
    QList<PacSettingsError> errors;
    EXPECT_EQ(parsePacSettings(QJsonObject{{"dfproxy.dev/pac-max-age", 60}}, &errors).maxAgeS, 60);
    EXPECT_TRUE(errors.isEmpty()) << messages(errors);
}

TEST(PacSettings, RefusesBadValuesWithTheirAnnotation)
{
    struct Case
    {
        const char *key;
        QJsonValue value;
    };
    const Case cases[] = {
        {"dfproxy.dev/pac-fail-mode", "Closed"},
        {"dfproxy.dev/pac-fail-mode", ""},
        {"dfproxy.dev/pac-fail-mode", true},
        {"dfproxy.dev/pac-max-age", "-1"},
        {"dfproxy.dev/pac-max-age", "86401"},
        {"dfproxy.dev/pac-max-age", "5m"},
        {"dfproxy.dev/pac-max-age", 1.5},
        {"dfproxy.dev/pac-bypass", 3},
        {"dfproxy.dev/pac-bypass", "localhost,,10.0.0.0/8"},  // an empty entry
        {"dfproxy.dev/pac-bypass", "10.1"},                   // not a canonical IPv4 address
        {"dfproxy.dev/pac-bypass", "010.0.0.1"},
        {"dfproxy.dev/pac-bypass", "10.0.0.1/8"},             // host bits set
        {"dfproxy.dev/pac-bypass", "10.0.0.0/33"},
        {"dfproxy.dev/pac-bypass", "10.0.0.0/"},
        {"dfproxy.dev/pac-bypass", "fe80::/129"},
        {"dfproxy.dev/pac-bypass", "FE80:0::/10"},            // not the canonical spelling (fe80::/10)
        {"dfproxy.dev/pac-bypass", "fe80::1%eth0"},
        {"dfproxy.dev/pac-bypass", "*"},
        {"dfproxy.dev/pac-bypass", "*.*.example"},
        {"dfproxy.dev/pac-bypass", "example.com."},
        {"dfproxy.dev/pac-bypass", ".example.com"},
        {"dfproxy.dev/pac-bypass", "exa mple.com"},
        {"dfproxy.dev/pac-bypass", "-bad.example"},
    };
    for (const auto &c : cases) {
        QList<PacSettingsError> errors;
        const PacSettings s = parsePacSettings(QJsonObject{{QString::fromLatin1(c.key), c.value}}, &errors);
        ASSERT_EQ(errors.size(), 1) << c.key << " = " << c.value.toVariant().toString().toStdString();
        EXPECT_EQ(errors[0].annotation, QString::fromLatin1(c.key));
        EXPECT_FALSE(errors[0].message.isEmpty());
        // The setting keeps its default.
        EXPECT_EQ(s.failMode, FailMode::Closed);
        EXPECT_EQ(s.maxAgeS, 300);
        EXPECT_EQ(s.bypass, defaultBypass());
    }
}

TEST(PacSettings, NamesTheBadBypassEntry)
{
    QList<PacSettingsError> errors;
    parsePacSettings(QJsonObject{{"dfproxy.dev/pac-bypass", "localhost, 10.0.0.1/8"}}, &errors);
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].message, "entry 1: \"10.0.0.1/8\" has bits set after its /8 prefix (a network address is "
                                 "expected)");
}
