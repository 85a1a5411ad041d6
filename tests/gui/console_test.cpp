// SPDX-License-Identifier: Apache-2.0
// The real console widgets against a real dfproxy (with dnsmasq and an origin on loopback): editors create objects
// the REST API then serves, validation errors land beside their fields, the DNS and traffic screens show real
// traffic, and the console survives the service going away and coming back.
#include "consolefixture.h"
#include "dashboard/dashboardpage.h"
#include "dns/dnscachemodel.h"
#include "dns/dnspage.h"
#include "policies/policiespage.h"
#include "resources/backendeditor.h"
#include "resources/resourcepage.h"
#include "resources/routeeditor.h"
#include "resources/ruleeditor.h"
#include "support/testsupport.h"
#include "traffic/accesslogmodel.h"
#include "traffic/trafficpage.h"
#include "widgets/fieldbox.h"

#include <QComboBox>
#include <QFile>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QTableWidget>
#include <QTest>
#include <QTreeWidget>

#include <gtest/gtest.h>

using namespace dfproxy::gui;
using namespace dfproxy::test;

TEST_F(Console, DashboardShowsServerInfoListenersAndStats)
{
    DashboardPage *d = window->dashboard();
    ASSERT_TRUE(waitUntil([&] { return d->statsPolls() >= 3; }, 10000));
    EXPECT_EQ(d->cardText("state"), "Running");
    EXPECT_FALSE(d->cardText("version").isEmpty());
    EXPECT_NE(d->cardText("version"), "–");
    EXPECT_GE(d->listenersTable()->rowCount(), 1);
    EXPECT_EQ(d->listenersTable()->item(0, 4)->text(), QString::number(service->proxyPort()));
#ifdef Q_OS_LINUX
    EXPECT_TRUE(d->dataPathText().startsWith("Data path: epoll poller, splicing on, batched sends "))
        << d->dataPathText().toStdString();
#endif
    EXPECT_TRUE(window->bannerText().isEmpty());
    EXPECT_TRUE(window->statusText().startsWith("Connected to"));
}

TEST_F(Console, CreatesBackendAndRouteThroughTheEditorsAndTrafficFlows)
{
    EXPECT_EQ(curlThroughProxy().status, 404);

    window->showPage(MainWindow::BackendsIndex);
    auto *be = qobject_cast<BackendEditor *>(window->backends()->newObject());
    ASSERT_NE(be, nullptr);
    QTest::keyClicks(be->nameEdit(), "dfp-backend");
    be->namespaceEdit()->setText("httpbin");
    be->lookupFamilyCombo()->setCurrentIndex(be->lookupFamilyCombo()->findData("V4Only"));
    clickSave(be);
    ASSERT_TRUE(be == nullptr || window->backends()->currentEditor() == nullptr || !window->backends()->currentEditor()->isVisible())
        << (window->backends()->currentEditor() ? window->backends()->currentEditor()->lastError() : QString());
    const ApiResult backend = get("/api/v1/namespaces/httpbin/backends/dfp-backend");
    ASSERT_TRUE(backend.ok()) << backend.error->toString();
    EXPECT_TRUE(backend.object().value("spec").toObject().contains("dynamicForwardProxy"));
    EXPECT_EQ(backend.object().value("spec").toObject().value("dns").toObject().value("lookupFamily").toString(), "V4Only");
    ASSERT_TRUE(waitUntil([&] { return window->backends()->model()->rowOf("httpbin", "dfp-backend") >= 0; }, 5000));

    window->showPage(MainWindow::RoutesIndex);
    auto *re = qobject_cast<RouteEditor *>(window->routes()->newObject());
    ASSERT_NE(re, nullptr);
    re->nameEdit()->setText("dfp-httproute");
    re->namespaceEdit()->setText("httpbin");
    ASSERT_EQ(re->ruleCount(), 1);
    re->rule(0)->addBackendRef("dfp-backend");
    re->rule(0)->requestTimeoutEdit()->setText("30s");
    clickSave(re);
    const ApiResult route = get("/api/v1/namespaces/httpbin/httproutes/dfp-httproute");
    ASSERT_TRUE(route.ok()) << route.error->toString();
    const QJsonObject rule = route.object()["spec"].toObject()["rules"].toArray()[0].toObject();
    EXPECT_EQ(rule["backendRefs"].toArray()[0].toObject()["name"].toString(), "dfp-backend");
    EXPECT_EQ(rule["timeouts"].toObject()["request"].toString(), "30s");

    // The route table shows the conditions the service computed.
    ASSERT_TRUE(waitUntil([&] {
        const int row = window->routes()->model()->rowOf("httpbin", "dfp-httproute");
        return row >= 0 && window->routes()->model()->data(window->routes()->model()->index(row, 6), Qt::DisplayRole)
                               .toString().startsWith(QStringLiteral("✔"));
    }, 5000));

    const CurlResult ok = curlThroughProxy();
    EXPECT_EQ(ok.status, 200) << ok.describe();
    EXPECT_TRUE(ok.body.contains("httpbin.test"));

    // Edit: the editor shows the status conditions and saves a change.
    ASSERT_TRUE(window->routes()->select("httpbin", "dfp-httproute"));
    auto *edit = qobject_cast<RouteEditor *>(window->routes()->editSelected());
    ASSERT_NE(edit, nullptr);
    EXPECT_GE(edit->statusTree()->topLevelItemCount(), 1);
    EXPECT_EQ(edit->statusTree()->topLevelItem(0)->child(0)->text(0), "Accepted");
    EXPECT_EQ(edit->statusTree()->topLevelItem(0)->child(0)->text(1), "True");
    edit->hostnamesEdit()->setText("httpbin.test");
    clickSave(edit);
    EXPECT_EQ(get("/api/v1/namespaces/httpbin/httproutes/dfp-httproute").object()["spec"].toObject()["hostnames"].toArray(),
              QJsonArray{"httpbin.test"});

    // Duplicate, then delete the copy (confirmation off in tests).
    window->showPage(MainWindow::BackendsIndex);
    ASSERT_TRUE(window->backends()->select("httpbin", "dfp-backend"));
    auto *dup = window->backends()->duplicateSelected();
    ASSERT_NE(dup, nullptr);
    EXPECT_EQ(dup->nameEdit()->text(), "dfp-backend-copy");
    clickSave(dup);
    ASSERT_TRUE(get("/api/v1/namespaces/httpbin/backends/dfp-backend-copy").ok());
    ASSERT_TRUE(waitUntil([&] { return window->backends()->select("httpbin", "dfp-backend-copy"); }, 5000));
    window->backends()->setConfirmDeletes(false);
    window->backends()->deleteSelected();
    ASSERT_TRUE(waitUntil([&] { return get("/api/v1/namespaces/httpbin/backends/dfp-backend-copy").status == 404; }, 5000));
}

TEST_F(Console, ValidationErrorsAppearBesideTheFieldTheyName)
{
    window->showPage(MainWindow::BackendsIndex);
    auto *be = qobject_cast<BackendEditor *>(window->backends()->newObject());
    ASSERT_NE(be, nullptr);
    be->nameEdit()->setText("bad-static");
    be->typeCombo()->setCurrentIndex(be->typeCombo()->findData("static"));
    QTest::keyClicks(be->staticHostEdit(), "not a host!");
    clickSave(be);
    ASSERT_FALSE(be->lastError().isEmpty());
    EXPECT_TRUE(be->isVisible()) << "a rejected object keeps the editor open";
    // The message sits in the FieldBox that wraps the host input, right under it.
    auto *box = qobject_cast<FieldBox *>(be->staticHostEdit()->parentWidget());
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(box->path(), "spec.static.host");
    EXPECT_TRUE(box->hasError());
    EXPECT_TRUE(box->errorText().contains("hostname")) << box->errorText();
    EXPECT_TRUE(be->fieldError("metadata.name").isEmpty());
    EXPECT_EQ(get("/api/v1/namespaces/default/backends/bad-static").status, 404);
    be->close();

    // A rule-level field: the error goes to the rule's timeout box, in the right rule tab.
    window->showPage(MainWindow::RoutesIndex);
    auto *re = qobject_cast<RouteEditor *>(window->routes()->newObject());
    re->nameEdit()->setText("bad-route");
    re->addRule();
    re->rule(1)->requestTimeoutEdit()->setText("ten seconds");
    re->rule(1)->addMatch("PathPrefix", "no-slash");
    clickSave(re);
    ASSERT_FALSE(re->lastError().isEmpty());
    EXPECT_FALSE(re->fieldError("spec.rules[1].timeouts.request").isEmpty()) << re->lastError();
    EXPECT_TRUE(re->fieldError("spec.rules[0].timeouts.request").isEmpty());
    EXPECT_TRUE(re->fieldError("spec.rules[1].matches").contains("path.value")) << re->lastError();
    EXPECT_EQ(re->rulesTabs()->currentIndex(), 1) << "the tab holding the error is brought to the front";
    re->close();
}

TEST_F(Console, DnsCacheShowsResolvedHostsAndManagesThem)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    window->showPage(MainWindow::DnsIndex);
    DnsPage *page = window->dns();
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowOf("httpbin.test", origin->port()) >= 0; }, 10000));
    const int row = page->model()->rowOf("httpbin.test", origin->port());
    EXPECT_EQ(page->model()->data(page->model()->index(row, DnsCacheModel::Addresses), Qt::DisplayRole).toString(),
              "127.0.0.1");
    EXPECT_GT(page->model()->ttlLeftMs(row), 0);
    // The resolver in effect: the test's nameserver, asked by dfproxy's own client from the worker that missed.
    ASSERT_TRUE(waitUntil([&] { return !page->settingsText().isEmpty(); }, 10000));
    EXPECT_TRUE(page->settingsText().startsWith("Resolver: dfproxy's DNS client (1 worker thread sends"))
        << page->settingsText().toStdString();
    EXPECT_TRUE(page->settingsText().contains(" · servers: 127.")) << page->settingsText().toStdString();

    page->preresolve("other.test:8443");
    ASSERT_TRUE(waitUntil([&] {
        const int r = page->model()->rowOf("other.test", 8443);
        return r >= 0 && page->model()->itemAt(r).value("state").toString() == "resolved";
    }, 10000)) << page->message();

    page->setConfirm(false);
    page->table()->selectRow(0); // sorted by host: httpbin.test first
    ASSERT_EQ(page->model()->itemAt(0).value("host").toString(), "httpbin.test");
    page->removeSelected();
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowOf("httpbin.test") < 0; }, 5000)) << page->message();

    page->flushAll();
    ASSERT_TRUE(waitUntil([&] { return page->model()->rowCount() == 0; }, 5000)) << page->message();
}

TEST_F(Console, LiveTrafficShowsRequestsMadeThroughTheProxy)
{
    applySeed();
    window->showPage(MainWindow::TrafficIndex);
    TrafficPage *t = window->traffic();
    ASSERT_TRUE(waitUntil([&] { return t->feed() != TrafficPage::Feed::Idle; }, 10000)) << t->statusText();
    if (t->feed() == TrafficPage::Feed::NotAvailable)
        GTEST_SKIP() << "this dfproxy has no /api/v1/accesslog yet (telemetry lands it); the page says: "
                     << t->statusText().toStdString();
    ASSERT_EQ(curlThroughProxy().status, 200);
    ASSERT_TRUE(waitUntil([&] {
        for (int i = 0; i < t->model()->rowCount(); ++i)
            if (AccessLogModel::text(t->model()->recordAt(i), AccessLogModel::Host).startsWith("httpbin.test"))
                return true;
        return false;
    }, 10000)) << t->statusText();
    t->filterEdit()->setText("httpbin.test");
    EXPECT_GE(t->table()->model()->rowCount(), 1);
    t->table()->selectRow(0);
    EXPECT_TRUE(t->curlForSelected().contains("httpbin.test")) << t->curlForSelected();
}

TEST_F(Console, SurvivesTheServiceRestartingAndReconnects)
{
    service->process()->stop();
    ASSERT_TRUE(waitUntil([&] { return window->connection()->state() == ConnectionState::ServiceDown; }, 10000))
        << window->statusText();
    EXPECT_TRUE(window->bannerText().contains("not running")) << window->bannerText();
    EXPECT_TRUE(window->statusText().startsWith("Service down"));

    ASSERT_TRUE(service->restart()) << service->describe();
    ASSERT_TRUE(waitUntil([&] { return window->connection()->isConnected(); }, 15000)) << window->statusText();
    EXPECT_TRUE(window->bannerText().isEmpty());
    // The screens work again on the new process.
    applySeed();
    window->showPage(MainWindow::RoutesIndex);
    ASSERT_TRUE(waitUntil([&] { return window->routes()->model()->rowOf("httpbin", "dfp-httproute") >= 0; }, 5000));
}

TEST_F(Console, AWrongTokenIsReportedClearly)
{
    window->connection()->connectTo(window->connection()->api()->baseUrl(), "not-the-token");
    ASSERT_TRUE(waitUntil([&] { return window->connection()->state() == ConnectionState::Unauthorized; }, 10000));
    EXPECT_TRUE(window->bannerText().contains("token")) << window->bannerText();
    window->connection()->connectTo(window->connection()->api()->baseUrl(), service->token());
    ASSERT_TRUE(waitUntil([&] { return window->connection()->isConnected(); }, 10000));
    EXPECT_TRUE(window->bannerText().isEmpty());
}

TEST_F(Console, ImportsAndExportsYamlManifests)
{
    TempDir dir;
    const QString in = dir.filePath("seed.yaml");
    QFile f(in);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write(kSeedYaml);
    f.close();
    window->importFile(in);
    ASSERT_TRUE(waitUntil([&] { return window->operationsDone() == 1; }, 10000));
    EXPECT_TRUE(window->lastMessage().contains("dfp-httproute")) << window->lastMessage();
    ASSERT_TRUE(get("/api/v1/namespaces/httpbin/backends/dfp-backend").ok());

    const QString out = dir.filePath("export.yaml");
    window->exportFile(out);
    ASSERT_TRUE(waitUntil([&] { return window->operationsDone() == 2; }, 10000));
    QFile e(out);
    ASSERT_TRUE(e.open(QIODevice::ReadOnly)) << window->lastMessage();
    const QByteArray yaml = e.readAll();
    EXPECT_TRUE(yaml.contains("name: dfp-backend")) << yaml.constData();
    EXPECT_TRUE(yaml.contains("kind: HTTPRoute"));
}

TEST_F(Console, PoliciesPageListsThePolicyKindsTheServiceHas)
{
    PoliciesPage *p = window->policies();
    const int loads = p->loadCount();
    window->showPage(MainWindow::PoliciesIndex);
    ASSERT_TRUE(waitUntil([&] { return p->loadCount() > loads; }, 5000));
    EXPECT_EQ(p->policyPlurals().size(), 3) << p->message().toStdString();
    EXPECT_TRUE(p->message().contains("policy object")) << p->message().toStdString();
}
