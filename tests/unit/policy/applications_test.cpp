// SPDX-License-Identifier: Apache-2.0
// AuthorizationPolicy `applications` and RateLimitPolicy `key: application` (docs/applications.md).
#include "policy/applicationmatcher.h"
#include "policy/policyengine.h"

#include "config/model.h"
#include "config/validation.h"
#include "config/yaml.h"
#include "support/binaries.h"
#include "policytestutil.h"

#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QJsonArray>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::policy;
using namespace dfproxy::policy::test;

namespace {

const QJsonArray routeTarget{QJsonObject{{"kind", "HTTPRoute"}, {"name", "dfp-httproute"}}};

platform::ProcessInfo program(const QString &path, qint64 pid = 100)
{
    platform::ProcessInfo p;
    p.pid = pid;
    p.path = path;
    p.name = platform::executableName(path);
    p.user = QStringLiteral("alice");
    return p;
}

std::shared_ptr<const ConfigPolicyEngine> engineWith(const QByteArray &kind, const QByteArray &specJson)
{
    const config::Config c = baseConfig({makePolicy(kind.constData(), "httpbin", "p", json(specJson))});
    const auto errors = config::validateConfig(c);
    for (const auto &e : errors)
        ADD_FAILURE() << e.path.toStdString() << ": " << e.message.toStdString();
    auto e = buildPolicyEngine(c, Options{});
    EXPECT_TRUE(e->problems().isEmpty()) << e->problems().join("; ").toStdString();
    return e;
}

QList<config::FieldError> authzErrors(const QByteArray &rulesJson)
{
    QList<config::FieldError> errors;
    config::parseAuthorizationPolicySpec(
        makePolicy("AuthorizationPolicy", "ns", "p",
                   json(R"({"targetRefs":[{"kind":"HTTPRoute","name":"r"}],"rules":)" + rulesJson + "}")),
        &errors);
    return errors;
}

} // namespace

TEST(ApplicationMatcher, NamesPathsAndGlobs)
{
    using K = config::ApplicationMatchSpec::Kind;
    const ApplicationMatcher m({{K::Name, "curl"}, {K::Path, "/usr/bin/wget"}, {K::PathGlob, "/opt/*/bin/tool"},
                                {K::PathGlob, "/usr/lib/**/firefox"}},
                               false);
    const auto curl = program("/usr/bin/curl");
    const auto wget = program("/usr/bin/wget");
    EXPECT_TRUE(m.matches(&curl));
    EXPECT_TRUE(m.matches(&wget));
    const auto copiedWget = program("/tmp/x/wget");
    EXPECT_FALSE(m.matches(&copiedWget)); // a path entry names that file, not any file called wget
    const auto tool = program("/opt/acme/bin/tool"), deep = program("/opt/a/b/bin/tool");
    EXPECT_TRUE(m.matches(&tool));
    EXPECT_FALSE(m.matches(&deep)); // one star stays within one folder
    const auto ff = program("/usr/lib/firefox-esr/x/firefox");
    EXPECT_TRUE(m.matches(&ff));
    const auto upper = program("/usr/bin/CURL"), deleted = program("/usr/bin/curl (deleted)");
    EXPECT_FALSE(m.matches(&upper));
    EXPECT_TRUE(m.matches(&deleted)); // upgraded while it runs: still that program
    EXPECT_FALSE(m.matches(nullptr));
}

TEST(ApplicationMatcher, WindowsRulesIgnoreCaseSeparatorsAndExe)
{
    using K = config::ApplicationMatchSpec::Kind;
    const ApplicationMatcher m({{K::Name, "git"}, {K::Path, "C:\\Program Files\\curl\\curl.exe"},
                                {K::Publisher, "Mozilla Corporation"}},
                               true);
    const auto git = program("C:\\Program Files\\Git\\mingw64\\bin\\GIT.EXE");
    EXPECT_TRUE(m.matches(&git));
    const auto curl = program("c:/program files/CURL/curl.exe");
    EXPECT_TRUE(m.matches(&curl));
    auto firefox = program("C:\\Program Files\\Mozilla Firefox\\firefox.exe");
    EXPECT_FALSE(m.matches(&firefox)); // unsigned (or not verified): no publisher
    firefox.publisher = "Mozilla Corporation";
    EXPECT_TRUE(m.matches(&firefox));
}

// The OS reports executables with symlinks resolved; a rule names them the way users know them.
TEST(ApplicationMatcher, APathThatIsASymlinkAlsoNamesItsTarget)
{
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    const QString target = dir.filePath("python3.11"), link = dir.filePath("python3");
    QFile f(target);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.close();
    ASSERT_TRUE(QFile::link(target, link));
    using K = config::ApplicationMatchSpec::Kind;
    const auto running = program(QFileInfo(target).canonicalFilePath());
    EXPECT_TRUE(ApplicationMatcher({{K::Path, link}}, false).matches(&running));
}

// A program upgraded while it runs reads "/usr/bin/wget (deleted)": still the program it started from that path.
TEST(ApplicationMatcher, AnExecutableReplacedWhileItRunsIsStillThatProgram)
{
    using K = config::ApplicationMatchSpec::Kind;
    const auto replaced = program("/usr/bin/wget (deleted)");
    for (const auto &entry : {config::ApplicationMatchSpec{K::Name, "wget"}, config::ApplicationMatchSpec{K::Path, "/usr/bin/wget"},
                              config::ApplicationMatchSpec{K::PathGlob, "/usr/bin/w*"}})
        EXPECT_TRUE(ApplicationMatcher({entry}, false).matches(&replaced)) << entry.value.toStdString();
    const auto other = program("/usr/bin/curl (deleted)");
    EXPECT_FALSE(ApplicationMatcher({{K::Path, "/usr/bin/wget"}}, false).matches(&other));
}

TEST(ApplicationMatcher, GlobsNeedNoBacktrackingLuck)
{
    EXPECT_TRUE(ApplicationMatcher::globMatches(u"/opt/**/bin/*", u"/opt/a/bin/c/bin/x", false));
    EXPECT_FALSE(ApplicationMatcher::globMatches(u"/opt/*/bin/*", u"/opt/a/bin/c/bin/x", false));
    EXPECT_TRUE(ApplicationMatcher::globMatches(u"/usr/bin/python3.?", u"/usr/bin/python3.9", false));
    EXPECT_FALSE(ApplicationMatcher::globMatches(u"/usr/bin/python3.?", u"/usr/bin/python3.11", false));
    EXPECT_TRUE(ApplicationMatcher::globMatches(u"**", u"/anything/at/all", false));
    const QString many = QString(200, u'a');
    EXPECT_FALSE(ApplicationMatcher::globMatches(u"*a*a*a*a*a*a*a*a*b", many, false));
}

TEST(AuthorizationPolicyApplications, OnlyCurlMayReachTheHostOthersGetApplicationDenied)
{
    const auto e = engineWith("AuthorizationPolicy", R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
        "rules":[{"name":"curl-only","action":"Allow","applications":["curl"]}]})");
    Request r;
    const auto curl = program("/usr/bin/curl", 4242);
    r.attrs.application = &curl;
    EXPECT_TRUE(e->checkRequest(*r).allowed);

    const auto wget = program("/usr/bin/wget", 4343);
    r.attrs.application = &wget;
    auto d = e->checkRequest(*r);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.status, 403);
    EXPECT_EQ(d.reason, "application_denied");
    EXPECT_TRUE(d.body.contains("wget (/usr/bin/wget, pid 4343)")) << d.body.constData();
    EXPECT_EQ(d.summary, "deny:authz httpbin/p default action");

    r.attrs.application = nullptr; // another machine, lookup off, or the program was gone
    d = e->checkRequest(*r);
    EXPECT_EQ(d.reason, "application_denied");
    EXPECT_TRUE(d.body.contains("no local program")) << d.body.constData();
}

TEST(AuthorizationPolicyApplications, DenyRuleNamesTheApplicationAndOtherRulesStayAuthzDenied)
{
    const auto e = engineWith("AuthorizationPolicy", R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
        "defaultAction":"Allow",
        "rules":[{"name":"no-admin","action":"Deny","pathPrefixes":["/admin"]},
                 {"name":"no-updater","action":"Deny","applications":[{"path":"/opt/*/updater"}],
                  "hosts":["httpbin.test"]}]})");
    Request r;
    const auto updater = program("/opt/acme/updater");
    r.attrs.application = &updater;
    auto d = e->checkRequest(*r);
    EXPECT_EQ(d.reason, "application_denied");
    EXPECT_EQ(d.summary, "deny:authz httpbin/p rule no-updater");
    r.attrs.path = "/admin";
    d = e->checkRequest(*r);
    EXPECT_EQ(d.reason, "authz_denied"); // the first matching rule is not about programs
    r.attrs.path = "/get";
    const auto curl = program("/usr/bin/curl");
    r.attrs.application = &curl;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
}

TEST(AuthorizationPolicyApplications, BadEntriesAreRefusedWithTheirPath)
{
    auto errors = authzErrors(R"([{"action":"Allow","applications":["bin/curl"]}])");
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "spec.rules[0].applications[0]");
    EXPECT_TRUE(errors[0].message.contains("absolute path")) << errors[0].message.toStdString();

    errors = authzErrors(R"([{"action":"Allow","applications":[{"path":"/usr/bin/../bin/curl"}]}])");
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "spec.rules[0].applications[0].path");

    errors = authzErrors(R"([{"action":"Allow","applications":[{"name":"cu*"}]}])");
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "spec.rules[0].applications[0].name");

    errors = authzErrors(R"([{"action":"Allow","applications":[{"name":"curl","path":"/usr/bin/curl"}]}])");
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "spec.rules[0].applications[0]");

    errors = authzErrors(R"([{"action":"Allow","applications":[{"nmae":"curl"}]}])");
    ASSERT_FALSE(errors.isEmpty());
    EXPECT_EQ(errors[0].path, "spec.rules[0].applications[0].nmae");

    errors = authzErrors(R"([{"action":"Allow","applications":[]}])");
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "spec.rules[0].applications");

    errors = authzErrors(R"([{"action":"Allow","applications":[42]}])");
    ASSERT_EQ(errors.size(), 1);

    EXPECT_TRUE(authzErrors(R"([{"action":"Allow","applications":["curl","/usr/bin/wget","/usr/lib/**/firefox",
        {"publisher":"Mozilla Corporation"},"C:\\Program Files\\Git\\cmd\\git.exe"]}])").isEmpty());
}

TEST(RateLimitApplications, KeyApplicationGivesEachProgramItsOwnBucket)
{
    const auto e = engineWith("RateLimitPolicy", R"({"targetRefs":[{"kind":"HTTPRoute","name":"dfp-httproute"}],
        "limits":[{"key":"application","tokens":2,"fillInterval":"1h"}]})");
    const auto curl = program("/usr/bin/curl", 1), curl2 = program("/usr/bin/curl", 2), wget = program("/usr/bin/wget");
    Request r;
    r.attrs.application = &curl;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.application = &curl2; // another curl process: the same application
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.application = &curl;
    EXPECT_EQ(e->checkRequest(*r).status, 429);
    r.attrs.application = &wget;
    EXPECT_TRUE(e->checkRequest(*r).allowed);
    r.attrs.application = nullptr; // unknown programs are told apart by client address
    EXPECT_TRUE(e->checkRequest(*r).allowed);
}

// docs/applications.md's example ("only git, curl and the browser may reach GitHub; nothing else leaves except the
// package mirror") is a valid manifest and does what the page says.
TEST(AuthorizationPolicyApplications, TheDocsExampleIsValidAndDoesWhatItSays)
{
    QFile f(dfproxy::test::sourceDir() + "/docs/applications.md");
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    const QByteArray page = f.readAll();
    const qsizetype start = page.indexOf("kind: AuthorizationPolicy\nmetadata: {name: desktop-egress");
    ASSERT_GE(start, 0) << "the example is not in docs/applications.md";
    const qsizetype docStart = page.lastIndexOf("apiVersion:", start);
    const QByteArray yaml = page.mid(docStart, page.indexOf("\nEOF\n", start) - docStart);
    config::YamlError error;
    const auto docs = config::parseYamlDocuments(yaml, &error);
    ASSERT_TRUE(docs && docs->size() == 1) << error.message.toStdString();
    config::Config c = baseConfig();
    c.resources.append(config::Resource(docs->first().toObject()));
    for (const auto &e : config::validateConfig(c))
        ADD_FAILURE() << e.path.toStdString() << ": " << e.message.toStdString();
    const auto engine = buildPolicyEngine(c, Options{});
    ASSERT_TRUE(engine->problems().isEmpty()) << engine->problems().join("; ").toStdString();

    Request r;
    r.attrs.host = "github.com";
    r.attrs.method = "CONNECT";
    r.attrs.port = 443;
    r.attrs.path = "";
    for (const char *allowed : {"/usr/bin/git", "/usr/lib/git-core/git-remote-https", "/usr/bin/curl",
                                "/usr/lib/firefox-esr/firefox-esr", "/opt/google/chrome/chrome"}) {
        const auto app = program(allowed);
        r.attrs.application = &app;
        EXPECT_TRUE(engine->checkRequest(*r).allowed) << allowed;
    }
    const auto wget = program("/usr/bin/wget"), apt = program("/usr/lib/apt/methods/http");
    r.attrs.application = &wget;
    EXPECT_EQ(engine->checkRequest(*r).reason, "application_denied");
    r.attrs.host = "deb.debian.org";
    r.attrs.application = &apt;
    EXPECT_TRUE(engine->checkRequest(*r).allowed);
    r.attrs.application = &wget;
    EXPECT_FALSE(engine->checkRequest(*r).allowed);
    r.attrs.host = "example.com";
    const auto curl = program("/usr/bin/curl");
    r.attrs.application = &curl;
    EXPECT_FALSE(engine->checkRequest(*r).allowed);
}
