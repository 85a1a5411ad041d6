// SPDX-License-Identifier: Apache-2.0
// The console's Applications page against the real service (docs/applications.md): curl and wget show up as two
// programs with their hosts, and its two buttons write the AuthorizationPolicy that the proxy then enforces. The
// live traffic view's Application column. ApplicationRules (the policy the page writes) on its own.
#include "applications/applicationrules.h"
#include "applications/applicationspage.h"
#include "consolefixture.h"
#include "traffic/accesslogmodel.h"
#include "traffic/trafficpage.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QProcess>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QLineEdit>
#include <QTreeWidget>

using namespace dfproxy::test;
using dfproxy::gui::AccessLogModel;
using dfproxy::gui::ApplicationRules;
using dfproxy::gui::ApplicationsPage;

namespace {

class ApplicationsConsole : public Console
{
protected:
    void SetUp() override
    {
        Console::SetUp();
        if (IsSkipped() || HasFatalFailure())
            return;
        wget = QStandardPaths::findExecutable(QStringLiteral("wget"));
        if (wget.isEmpty())
            GTEST_SKIP() << "wget is not installed (scripts/deps.sh DFPROXY_TEST_PACKAGES)";
        applySeed();
    }

    ApplicationsPage *page() { return window->applications(); }

    /// wget through the proxy; its exit code (0 = 2xx, 8 = an error status).
    int viaWget()
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("http_proxy");
        p.setProcessEnvironment(env);
        p.start(wget, {"--no-config", "-q", "-O", "/dev/null", "--tries=1", "--header=Host: " + hostHeader(),
                       service->proxyUrl("/headers")});
        p.waitForFinished(30000);
        return p.exitCode();
    }

    QTreeWidgetItem *program(const QString &name)
    {
        for (int i = 0; i < page()->tree()->topLevelItemCount(); ++i) {
            if (page()->tree()->topLevelItem(i)->text(0) == name)
                return page()->tree()->topLevelItem(i);
        }
        return nullptr;
    }

    QString wget;
};

} // namespace

TEST_F(ApplicationsConsole, CurlAndWgetAreTwoProgramsAndDenyingWgetToTheHostIsEnforced)
{
    ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_EQ(viaWget(), 0);
    window->showPage(MainWindow::ApplicationsIndex);
    ASSERT_TRUE(waitUntil([&] {
        page()->refresh();
        spinFor(200);
        return program("curl") && program("wget");
    }, 15000)) << page()->message().toStdString();
    QTreeWidgetItem *w = program("wget");
    EXPECT_EQ(w->text(2), QFileInfo(wget).canonicalFilePath());
    ASSERT_EQ(w->childCount(), 1);
    EXPECT_EQ(w->child(0)->text(0), "httpbin.test");

    page()->setConfirm(false);
    page()->tree()->setCurrentItem(w->child(0));
    page()->denySelectedHost();
    ASSERT_TRUE(waitUntil([&] { return page()->message().contains("console-applications"); }, 10000))
        << page()->message().toStdString();
    EXPECT_TRUE(waitUntil([&] { return viaWget() == 8; }, 10000)); // 403 application_denied
    EXPECT_EQ(curlThroughProxy().status, 200);
    const ApiResult policy = get("/api/v1/namespaces/agentgateway-system/authorizationpolicies/console-applications");
    ASSERT_TRUE(policy.ok()) << policy.error->toString().toStdString();
    EXPECT_EQ(policy.object().value("spec").toObject().value("rules").toArray().size(), 1);

    // "Allow only these hosts" for curl: its host stays reachable, any other is refused.
    page()->refresh();
    ASSERT_TRUE(waitUntil([&] { return program("curl") != nullptr; }, 5000));
    page()->tree()->setCurrentItem(program("curl"));
    page()->allowOnlySelectedHosts();
    ASSERT_TRUE(waitUntil([&] { return page()->message().contains("only"); }, 10000)) << page()->message().toStdString();
    EXPECT_TRUE(waitUntil([&] {
        return get("/api/v1/namespaces/agentgateway-system/authorizationpolicies/console-applications")
                   .object().value("spec").toObject().value("rules").toArray().size() == 3;
    }, 10000));
    EXPECT_EQ(curlThroughProxy().status, 200);
    const CurlResult other = curl({"-H", QStringLiteral("host: other.test:%1").arg(origin->port()), service->proxyUrl("/")});
    EXPECT_EQ(other.status, 403);
    EXPECT_EQ(other.header("x-dfproxy-error"), "application_denied");
}

TEST_F(ApplicationsConsole, LiveTrafficShowsAndFiltersTheApplication)
{
    ASSERT_EQ(curlThroughProxy().status, 200);
    QJsonObject rec;
    ASSERT_TRUE(waitUntil([&] {
        const auto items = get("/api/v1/accesslog").object().value("items").toArray();
        rec = items.isEmpty() ? QJsonObject() : items.last().toObject(); // oldest first
        return !rec.isEmpty();
    }, 10000));
    EXPECT_EQ(AccessLogModel::text(rec, AccessLogModel::Application), "curl");
    AccessLogModel model;
    model.append({rec});
    EXPECT_EQ(model.headerData(AccessLogModel::Application, Qt::Horizontal, Qt::DisplayRole).toString(), "Application");
    EXPECT_TRUE(model.data(model.index(0, AccessLogModel::Application), Qt::ToolTipRole).toString().contains("/curl"));
    // The filter box matches every column, the application's too (the page's proxy model is set up the same way).
    QSortFilterProxyModel filter;
    filter.setSourceModel(&model);
    filter.setFilterKeyColumn(-1);
    filter.setFilterCaseSensitivity(Qt::CaseInsensitive);
    filter.setFilterFixedString("CURL");
    EXPECT_EQ(filter.rowCount(), 1);
    filter.setFilterFixedString("wget");
    EXPECT_EQ(filter.rowCount(), 0);
    EXPECT_TRUE(window->traffic()->filterEdit()->placeholderText().contains("application"));
}

TEST(ApplicationRules, DenyAddsOneRuleOnceAndAllowOnlyReplacesTheProgramsRules)
{
    const QJsonArray targets{QJsonObject{{"kind", "Gateway"}, {"name", "gw"}}};
    QJsonObject p = ApplicationRules::denyHost({}, "ns", targets, "/usr/bin/wget", "a.test");
    EXPECT_EQ(p.value("kind").toString(), "AuthorizationPolicy");
    EXPECT_EQ(p.value("metadata").toObject().value("name").toString(), "console-applications");
    EXPECT_EQ(p.value("spec").toObject().value("defaultAction").toString(), "Allow");
    p = ApplicationRules::denyHost(p, "ns", targets, "/usr/bin/wget", "a.test");
    EXPECT_EQ(p.value("spec").toObject().value("rules").toArray().size(), 1);
    p = ApplicationRules::allowOnly(p, "ns", targets, "/usr/bin/curl", {"a.test", "::1", "B.test"});
    QJsonArray rules = p.value("spec").toObject().value("rules").toArray();
    ASSERT_EQ(rules.size(), 3);
    EXPECT_EQ(rules[0].toObject().value("hosts").toArray(), (QJsonArray{"a.test", "b.test"}));
    EXPECT_EQ(rules[1].toObject().value("action").toString(), "Deny");
    EXPECT_EQ(ApplicationRules::notInForce(p), "");
    p.insert("status", QJsonObject{{"ancestors", QJsonArray{QJsonObject{{"conditions", QJsonArray{QJsonObject{
                           {"type", "Accepted"}, {"status", "False"}, {"reason", "Conflicted"}, {"message", "m"}}}}}}}});
    EXPECT_EQ(ApplicationRules::notInForce(p), "Conflicted: m");
    p.remove("status");
    p = ApplicationRules::allowOnly(p, "ns", targets, "/usr/bin/wget", {"c.test"});
    rules = p.value("spec").toObject().value("rules").toArray();
    ASSERT_EQ(rules.size(), 4); // wget's deny rule replaced by its two, curl's two kept
    EXPECT_EQ(rules[0].toObject().value("applications").toArray().first().toString(), "/usr/bin/wget");
}

// The console says so when its policy is saved but an older AuthorizationPolicy on the same Gateway wins.
TEST_F(ApplicationsConsole, APolicyThatLosesTheConflictIsReportedAsNotInForce)
{
    const ApiResult older = api->sendBlocking("POST", "/api/v1/apply", {}, R"(apiVersion: dfproxy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: egress-rules, namespace: agentgateway-system}
spec:
  targetRefs: [{kind: Gateway, name: agentgateway-proxy}]
  defaultAction: Allow
)", "application/yaml");
    ASSERT_TRUE(older.ok()) << older.error->toString().toStdString();
    spinFor(1100); // a later creationTimestamp (seconds) for the console's policy
    ASSERT_EQ(viaWget(), 0);
    window->showPage(MainWindow::ApplicationsIndex);
    ASSERT_TRUE(waitUntil([&] {
        page()->refresh();
        spinFor(200);
        return program("wget") && program("wget")->childCount() == 1;
    }, 15000));
    page()->setConfirm(false);
    page()->tree()->setCurrentItem(program("wget")->child(0));
    page()->denySelectedHost();
    ASSERT_TRUE(waitUntil([&] { return page()->message().contains("not in force"); }, 10000))
        << page()->message().toStdString();
    EXPECT_TRUE(page()->message().contains("Conflicted")) << page()->message().toStdString();
    EXPECT_EQ(viaWget(), 0); // indeed not enforced
}
