// SPDX-License-Identifier: Apache-2.0
// The editors' YAML tab and reference pickers, and references between objects, against a real dfproxy: YAML and
// form stay in sync and round-trip, validation errors are marked on their YAML line, the pickers list the objects
// the service has, deleting an object in use warns and can remove the references, a route whose backend is gone is
// marked, and the seed guide can be walked through the editors alone.
#include "consolefixture.h"
#include "policies/policiespage.h"
#include "policies/policyeditors.h"
#include "resources/backendeditor.h"
#include "resources/references.h"
#include "resources/resourcepage.h"
#include "resources/routeeditor.h"
#include "traffic/accesslogmodel.h"
#include "traffic/trafficpage.h"
#include "resources/ruleeditor.h"
#include "widgets/objectpicker.h"
#include "widgets/yamltext.h"

#include <QBrush>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPainter>
#include <QPlainTextEdit>
#include <QScrollArea>
#include <QScrollBar>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTabWidget>
#include <QTextBlock>
#include <QTreeWidget>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

// The text of line `line` (1-based).
QString lineOf(const QString &text, int line)
{
    return text.split(u'\n').value(line - 1);
}

int pickerIndex(const ObjectPicker *p, const QString &kind, const QString &ns, const QString &name)
{
    const auto objects = p->objects();
    for (int i = 0; i < objects.size(); ++i) {
        if (objects[i].kind == kind && objects[i].ns == ns && objects[i].name == name)
            return i;
    }
    return -1;
}

class Editors : public Console
{
protected:
    QString cellText(ResourcePage *page, const QString &ns, const QString &name, const QString &column)
    {
        auto *m = page->model();
        const int row = m->rowOf(ns, name);
        for (int c = 0; c < m->columnCount(); ++c) {
            if (m->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString() == column)
                return row < 0 ? QString() : m->data(m->index(row, c), Qt::DisplayRole).toString();
        }
        return QStringLiteral("<no column %1>").arg(column);
    }

    // Shows the page and waits for its list and the references to be loaded after `what` changed.
    void reload(ResourcePage *page)
    {
        const int loads = page->loadCount(), refs = page->references().generation();
        page->refresh();
        ASSERT_TRUE(
            waitUntil([&] { return page->loadCount() > loads && page->references().generation() > refs; }, 10000));
    }

    // Reloads until `column` of the row shows `want` (a load that was already in flight when the objects changed
    // can still bring the old state on a loaded machine), at most five times; returns what it shows then.
    QString reloadUntil(ResourcePage *page, const QString &ns, const QString &name, const QString &column,
                        const QString &want)
    {
        QString got;
        for (int i = 0; i < 5 && got != want; ++i) {
            reload(page);
            got = cellText(page, ns, name, column);
        }
        return got;
    }

    static void pressDelete(QTableView *table) { QTest::keyClick(table, Qt::Key_Delete); }

    static void clickIn(QMessageBox *box, const char *objectName)
    {
        auto *b = box->findChild<QPushButton *>(objectName);
        ASSERT_NE(b, nullptr) << objectName;
        QTest::mouseClick(b, Qt::LeftButton);
    }
};

} // namespace

TEST(YamlText, RoundTripsAnObjectAndFindsTheLineOfAFieldPath)
{
    const QJsonArray refs{QJsonObject{{"name", "b1"}, {"weight", 2}}, QJsonObject{{"kind", "K"}, {"name", "b2"}}};
    const QJsonArray rules{QJsonObject{{"name", "first"}}, QJsonObject{{"backendRefs", refs}}};
    const QJsonObject spec{{"hostnames", QJsonArray{"a.test", "true", "1", ""}}, {"rules", rules}};
    const QJsonObject o{{"apiVersion", "gateway.networking.k8s.io/v1"},
                        {"kind", "HTTPRoute"},
                        {"metadata", QJsonObject{{"name", "r"}, {"namespace", "httpbin"}}},
                        {"spec", spec}};
    const QString yaml = objectToYaml(o);
    // Manifest order, not alphabetical: apiVersion, kind, metadata, spec; a reference starts with its name.
    EXPECT_TRUE(yaml.startsWith("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: r\n"))
        << yaml.toStdString();
    YamlTextError e;
    const auto back = yamlToObject(yaml, &e);
    ASSERT_TRUE(back.has_value()) << e.toString().toStdString();
    EXPECT_EQ(*back, o) << yaml.toStdString();

    EXPECT_EQ(lineOf(yaml, yamlLineOf(yaml, "spec.rules[1].backendRefs[1].name")).trimmed(), "- name: b2");
    EXPECT_EQ(lineOf(yaml, yamlLineOf(yaml, "spec.rules[1].backendRefs[0].weight")).trimmed(), "weight: 2");
    EXPECT_EQ(lineOf(yaml, yamlLineOf(yaml, "metadata.namespace")).trimmed(), "namespace: httpbin");
    // A path below what exists points at the deepest part that does.
    EXPECT_EQ(lineOf(yaml, yamlLineOf(yaml, "spec.rules[0].timeouts.request")).trimmed(), "- name: first");
    EXPECT_EQ(yamlLineOf(yaml, "nothing.here"), 0);

    // JSON is YAML too; a broken text says where.
    EXPECT_EQ(yamlToObject(R"({"kind": "X", "spec": {"a": [1, "2"]}})")->value("spec").toObject()["a"].toArray(),
              (QJsonArray{1, "2"}));
    EXPECT_FALSE(yamlToObject("kind: X\nspec:\n  a: [1, 2\n", &e).has_value());
    EXPECT_GE(e.line, 3);
    EXPECT_FALSE(yamlToObject("- a\n- b\n", &e).has_value()) << "a list is not an object";
}

TEST(References, RoutesUseBackendsAndGatewaysPoliciesUseTargets)
{
    const QJsonObject route = yamlToObject(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: httpbin}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  rules:
    - backendRefs: [{name: a}, {name: b, namespace: other, kind: AgentgatewayBackend}]
    - backendRefs: [{name: a}]
status: {parents: []}
)")
                                  .value();
    const QJsonObject policy =
        yamlToObject("kind: RateLimitPolicy\nmetadata: {name: p, namespace: httpbin}\n"
                     "spec: {targetRefs: [{kind: HTTPRoute, name: r}, {kind: AgentgatewayBackend, name: a}]}\n")
            .value();
    const QJsonObject backendA =
        yamlToObject("kind: AgentgatewayBackend\nmetadata: {name: a, namespace: httpbin}\n").value();
    ReferenceIndex index;
    index.setObjects({route, policy, backendA});

    const ObjectKey a{"AgentgatewayBackend", "httpbin", "a"};
    const ObjectKey b{"AgentgatewayBackend", "other", "b"};
    EXPECT_EQ(referenceLabels(index.usedBy(a), true), "HTTPRoute httpbin/r, RateLimitPolicy httpbin/p");
    EXPECT_EQ(referenceLabels(index.uses(ObjectKey::of(route)), false),
              "Gateway infra/gw, AgentgatewayBackend httpbin/a, AgentgatewayBackend other/b");
    EXPECT_EQ(referenceLabels(index.usedBy(ObjectKey::of(route)), true), "RateLimitPolicy httpbin/p");
    // Only a exists: the Gateway and b are missing.
    const auto missing = index.missing(ObjectKey::of(route));
    ASSERT_EQ(missing.size(), 2);
    EXPECT_EQ(missing[0].label(), "Gateway infra/gw");
    EXPECT_EQ(missing[1], b);

    // Removing a from the route drops both of its backendRefs (a rule left without any loses the key) and the status.
    const QJsonObject without = withoutReferencesTo(route, a);
    const QJsonArray rules = without["spec"].toObject()["rules"].toArray();
    EXPECT_EQ(rules[0].toObject()["backendRefs"].toArray().size(), 1);
    EXPECT_FALSE(rules[1].toObject().contains("backendRefs"));
    EXPECT_FALSE(without.contains("status"));
    EXPECT_EQ(withoutReferencesTo(policy, a)["spec"].toObject()["targetRefs"].toArray().size(), 1);
    EXPECT_EQ(pluralOf("AgentgatewayBackend"), "backends");
}

TEST_F(Editors, YamlTabAndFormStayInSyncAndSaveFromEither)
{
    window->showPage(MainWindow::BackendsIndex);
    auto *be = qobject_cast<BackendEditor *>(window->backends()->newObject());
    ASSERT_NE(be, nullptr);
    be->nameEdit()->setText("yaml-backend");
    be->namespaceEdit()->setText("httpbin");
    be->lookupFamilyCombo()->setCurrentIndex(be->lookupFamilyCombo()->findData("V4Only"));
    EXPECT_EQ(be->tabs()->tabText(1), "YAML");
    be->showYaml(true);
    const QString yaml = be->yamlEdit()->toPlainText();
    EXPECT_TRUE(yaml.contains("name: yaml-backend")) << yaml.toStdString();
    EXPECT_TRUE(yaml.contains("lookupFamily: V4Only")) << yaml.toStdString();

    // YAML -> form: an edit in the text shows in the widgets.
    QString edited = yaml;
    edited.replace("lookupFamily: V4Only", "lookupFamily: V6Only");
    edited.replace("name: yaml-backend", "name: yaml-backend-2");
    be->yamlEdit()->setPlainText(edited);
    be->showYaml(false);
    EXPECT_EQ(be->lookupFamilyCombo()->currentData().toString(), "V6Only");
    EXPECT_EQ(be->nameEdit()->text(), "yaml-backend-2");

    // A text that does not parse keeps the YAML tab (and the edit), with its line marked.
    be->showYaml(true);
    be->yamlEdit()->setPlainText("kind: AgentgatewayBackend\nspec: [unclosed\n");
    be->showYaml(false);
    EXPECT_EQ(be->tabs()->currentIndex(), 1);
    EXPECT_EQ(be->yamlEdit()->toPlainText(), "kind: AgentgatewayBackend\nspec: [unclosed\n");
    EXPECT_FALSE(be->yamlErrorLines().isEmpty());

    // Save from the YAML tab: what the text says is stored.
    be->yamlEdit()->setPlainText(edited);
    clickSave(be);
    const ApiResult r = get("/api/v1/namespaces/httpbin/backends/yaml-backend-2");
    ASSERT_TRUE(r.ok()) << r.error->toString();
    EXPECT_EQ(r.object()["spec"].toObject()["dns"].toObject()["lookupFamily"].toString(), "V6Only");
}

TEST_F(Editors, BackendEditorShowsEveryAcceptedLookupFamilySpellingAsItsItem)
{
    window->showPage(MainWindow::BackendsIndex);
    auto *be = qobject_cast<BackendEditor *>(window->backends()->newObject());
    ASSERT_NE(be, nullptr);
    be->showYaml(true);
    const QString yaml = be->yamlEdit()->toPlainText();
    for (const char *spelling : {"V4_ONLY", "v4only", "v6_only", "AUTO", "v4_Preferred", "all"}) {
        QString edited = yaml;
        edited.replace("spec:\n", QStringLiteral("spec:\n  dns:\n    lookupFamily: %1\n").arg(spelling));
        be->showYaml(true);
        be->yamlEdit()->setPlainText(edited);
        be->showYaml(false);
        EXPECT_NE(be->lookupFamilyCombo()->currentIndex(), 0) << spelling << "\n" << edited.toStdString();
        EXPECT_EQ(be->lookupFamilyCombo()->currentData().toString().toLower(),
                  QString::fromLatin1(spelling).toLower().remove(u'_'))
            << spelling;
    }
    EXPECT_EQ(BackendEditor::canonicalLookupFamily("V4_PREFERRED"), "V4Preferred");
    EXPECT_EQ(BackendEditor::canonicalLookupFamily("all"), "All");
    EXPECT_EQ(BackendEditor::canonicalLookupFamily("V4-ONLY"), ""); // refused by the service too
}

TEST_F(Editors, PolicyEditorsHaveTheYamlTabToo)
{
    auto *rl = qobject_cast<RateLimitPolicyEditor *>(window->policies()->newPolicy(PolicyKind::RateLimit));
    ASSERT_NE(rl, nullptr);
    ASSERT_GE(rl->limits()->count(), 1);
    rl->tokensSpin(0)->setValue(7);
    rl->showYaml(true);
    QString yaml = rl->yamlEdit()->toPlainText();
    ASSERT_TRUE(yaml.contains("tokens: 7")) << yaml.toStdString();
    rl->yamlEdit()->setPlainText(yaml.replace("tokens: 7", "tokens: 9"));
    rl->showYaml(false);
    EXPECT_EQ(rl->tokensSpin(0)->value(), 9);
    rl->close();
}

TEST_F(Editors, ValidationErrorsAreMarkedOnTheirYamlLine)
{
    window->showPage(MainWindow::RoutesIndex);
    auto *re = qobject_cast<RouteEditor *>(window->routes()->newObject());
    ASSERT_NE(re, nullptr);
    re->nameEdit()->setText("bad-route");
    re->addRule();
    re->rule(1)->requestTimeoutEdit()->setText("ten seconds");
    clickSave(re);
    ASSERT_FALSE(re->lastError().isEmpty());
    // At the field (saved from the Form) ...
    EXPECT_FALSE(re->fieldError("spec.rules[1].timeouts.request").isEmpty()) << re->lastError().toStdString();
    // ... and on the YAML line of that field.
    const auto marks = re->yamlErrorLines();
    ASSERT_FALSE(marks.isEmpty()) << re->lastError().toStdString();
    const QString yaml = re->yamlEdit()->toPlainText();
    EXPECT_EQ(lineOf(yaml, marks.firstKey()).trimmed(), "request: ten seconds") << yaml.toStdString();
    EXPECT_TRUE(marks.first().contains("spec.rules[1].timeouts.request"));
    EXPECT_TRUE(re->findChild<QLabel *>("generalError")
                    ->text()
                    .contains(QStringLiteral("YAML line %1: ").arg(marks.firstKey())));

    // Saved from the YAML tab: the editor stays there and marks the line in the user's text.
    re->showYaml(true);
    QString text = re->yamlEdit()->toPlainText();
    text.replace("request: ten seconds", "request: forever");
    re->yamlEdit()->setPlainText(text);
    clickSave(re);
    EXPECT_EQ(re->tabs()->currentIndex(), 1);
    ASSERT_FALSE(re->yamlErrorLines().isEmpty()) << re->lastError().toStdString();
    EXPECT_EQ(lineOf(re->yamlEdit()->toPlainText(), re->yamlErrorLines().firstKey()).trimmed(), "request: forever");
    EXPECT_EQ(get("/api/v1/namespaces/default/httproutes/bad-route").status, 404);
}

TEST_F(Editors, PickersListTheObjectsThatExistAndCreateNewBackends)
{
    applySeed();
    ASSERT_TRUE(api->sendBlocking("POST", "/api/v1/namespaces/other/backends", {},
                                  R"({"apiVersion":"agentgateway.dev/v1alpha1","kind":"AgentgatewayBackend",
                                      "metadata":{"name":"elsewhere","namespace":"other"},
                                      "spec":{"dynamicForwardProxy":{}}})",
                                  "application/json")
                    .ok());
    window->showPage(MainWindow::RoutesIndex);
    auto *re = qobject_cast<RouteEditor *>(window->routes()->newObject());
    ASSERT_NE(re, nullptr);
    re->namespaceEdit()->setText("httpbin");
    ASSERT_TRUE(waitUntil([&] { return re->pickerLoads() >= 2; }, 10000));

    // Gateways for parentRefs, with their namespace.
    ObjectPicker *parent = re->parentPicker(0);
    ASSERT_NE(parent, nullptr);
    EXPECT_GE(pickerIndex(parent, "Gateway", "agentgateway-system", "agentgateway-proxy"), 0);

    // Backends of every namespace for backendRefs; picking one fills the namespace.
    re->rule(0)->addBackendRef();
    ObjectPicker *backend = re->rule(0)->backendPicker(0);
    ASSERT_NE(backend, nullptr);
    EXPECT_GE(pickerIndex(backend, "AgentgatewayBackend", "httpbin", "dfp-backend"), 0);
    const int elsewhere = pickerIndex(backend, "AgentgatewayBackend", "other", "elsewhere");
    ASSERT_GE(elsewhere, 0);
    backend->pick(elsewhere);
    EXPECT_EQ(backend->name(), "elsewhere");
    const QJsonObject ref = re->rule(0)->toJson()["backendRefs"].toArray()[0].toObject();
    EXPECT_EQ(ref["name"].toString(), "elsewhere");
    EXPECT_EQ(ref["namespace"].toString(), "other");

    // "Create new backend…" opens a backend editor; the saved backend lands in the row and in the list.
    backend->chooseCreate();
    auto *creator = re->backendCreator();
    ASSERT_NE(creator, nullptr);
    EXPECT_EQ(creator->namespaceEdit()->text(), "httpbin");
    creator->nameEdit()->setText("made-from-route");
    const int loads = re->pickerLoads();
    clickSave(creator);
    ASSERT_TRUE(get("/api/v1/namespaces/httpbin/backends/made-from-route").ok());
    EXPECT_EQ(re->rule(0)->backendPicker(0)->name(), "made-from-route");
    ASSERT_TRUE(waitUntil([&] { return re->pickerLoads() >= loads + 2; }, 10000));
    EXPECT_GE(pickerIndex(re->rule(0)->backendPicker(0), "AgentgatewayBackend", "httpbin", "made-from-route"), 0);
    re->close();

    // Policy targets: routes, backends and Gateways, with their kind.
    PoliciesPage *pp = window->policies();
    const int ploads = pp->loadCount();
    window->showPage(MainWindow::PoliciesIndex);
    ASSERT_TRUE(waitUntil([&] { return pp->loadCount() > ploads && !pp->knownTargets().isEmpty(); }, 10000));
    PolicyEditor *pe = pp->newPolicy(PolicyKind::RateLimit);
    ASSERT_NE(pe, nullptr);
    pe->targets()->addRef("HTTPRoute", {});
    ObjectPicker *target = pe->targets()->namePicker(pe->targets()->table()->rowCount() - 1);
    ASSERT_NE(target, nullptr);
    const int route = pickerIndex(target, "HTTPRoute", "httpbin", "dfp-httproute");
    ASSERT_GE(route, 0);
    EXPECT_GE(pickerIndex(target, "AgentgatewayBackend", "httpbin", "dfp-backend"), 0);
    const int gw = pickerIndex(target, "Gateway", "agentgateway-system", "agentgateway-proxy");
    ASSERT_GE(gw, 0);
    target->pick(gw);
    const QJsonObject t = pe->targets()->toJson().last().toObject();
    EXPECT_EQ(t["kind"].toString(), "Gateway");
    EXPECT_EQ(t["name"].toString(), "agentgateway-proxy");

    // "Create new route…" makes the route in the policy's namespace and attaches the row to it.
    pe->namespaceEdit()->setText("httpbin");
    target->chooseCreate();
    auto *routeCreator = qobject_cast<RouteEditor *>(pe->routeCreator());
    ASSERT_NE(routeCreator, nullptr);
    EXPECT_EQ(routeCreator->namespaceEdit()->text(), "httpbin");
    routeCreator->nameEdit()->setText("route-for-policy");
    clickSave(routeCreator);
    ASSERT_TRUE(get("/api/v1/namespaces/httpbin/httproutes/route-for-policy").ok());
    const QJsonObject made = pe->targets()->toJson().last().toObject();
    EXPECT_EQ(made["kind"].toString(), "HTTPRoute");
    EXPECT_EQ(made["name"].toString(), "route-for-policy");
    pe->close();
}

TEST_F(Editors, DeletingABackendInUseWarnsAndCanRemoveTheReferences)
{
    applySeed();
    BackendsPage *backends = window->backends();
    RoutesPage *routes = window->routes();
    window->showPage(MainWindow::BackendsIndex);
    EXPECT_EQ(reloadUntil(backends, "httpbin", "dfp-backend", "Used by", "HTTPRoute httpbin/dfp-httproute"),
              "HTTPRoute httpbin/dfp-httproute");
    window->showPage(MainWindow::RoutesIndex);
    EXPECT_EQ(reloadUntil(routes, "httpbin", "dfp-httproute", "Uses backends", "dfp-backend"), "dfp-backend");

    // The Delete key asks, listing the route; Cancel keeps everything.
    window->showPage(MainWindow::BackendsIndex);
    ASSERT_TRUE(backends->select("httpbin", "dfp-backend"));
    backends->setConfirmDeletes(false); // references are asked about even then
    pressDelete(backends->table());
    QPointer<QMessageBox> box = backends->deleteQuestion();
    ASSERT_NE(box, nullptr);
    EXPECT_TRUE(box->isVisible());
    EXPECT_TRUE(box->text().contains("HTTPRoute httpbin/dfp-httproute")) << box->text().toStdString();
    ASSERT_NE(box->findChild<QPushButton *>("removeReferencesButton"), nullptr);
    clickIn(box, "cancelButton");
    spinFor(300);
    EXPECT_TRUE(get("/api/v1/namespaces/httpbin/backends/dfp-backend").ok());

    // "Delete only": the route is left pointing at nothing, and the routes list says so.
    pressDelete(backends->table());
    box = backends->deleteQuestion();
    ASSERT_NE(box, nullptr);
    clickIn(box, "confirmDeleteButton");
    ASSERT_TRUE(waitUntil([&] { return get("/api/v1/namespaces/httpbin/backends/dfp-backend").status == 404; }, 10000));
    window->showPage(MainWindow::RoutesIndex);
    EXPECT_EQ(reloadUntil(routes, "httpbin", "dfp-httproute", "Uses backends", "⚠ dfp-backend (missing)"),
              "⚠ dfp-backend (missing)");
    const int row = routes->model()->rowOf("httpbin", "dfp-httproute");
    EXPECT_TRUE(routes->model()->data(routes->model()->index(row, 5), Qt::ForegroundRole).isValid());

    // "Remove references and delete": the route loses the backendRef, then the backend goes.
    applySeed();
    window->showPage(MainWindow::BackendsIndex);
    ASSERT_EQ(reloadUntil(backends, "httpbin", "dfp-backend", "Used by", "HTTPRoute httpbin/dfp-httproute"),
              "HTTPRoute httpbin/dfp-httproute");
    ASSERT_TRUE(backends->select("httpbin", "dfp-backend"));
    backends->deleteSelected();
    box = backends->deleteQuestion();
    ASSERT_NE(box, nullptr);
    clickIn(box, "removeReferencesButton");
    ASSERT_TRUE(waitUntil([&] { return get("/api/v1/namespaces/httpbin/backends/dfp-backend").status == 404; }, 10000));
    const ApiResult route = get("/api/v1/namespaces/httpbin/httproutes/dfp-httproute");
    ASSERT_TRUE(route.ok());
    EXPECT_FALSE(route.object()["spec"].toObject()["rules"].toArray()[0].toObject().contains("backendRefs"))
        << QJsonDocument(route.object()).toJson().toStdString();
}

TEST_F(Editors, RouteEditorFitsA1280x800ScreenWithAddBackendInSight)
{
    window->showPage(MainWindow::RoutesIndex);
    auto *re = qobject_cast<RouteEditor *>(window->routes()->newObject());
    ASSERT_NE(re, nullptr);
    EXPECT_LE(re->height(), 760) << "the dialog and its title bar fit 800 pixels";
    EXPECT_LE(re->width(), 1280);
    spinFor(200);
    auto *add = re->rule(0)->findChild<QPushButton *>("backendRefsTableAdd");
    ASSERT_NE(add, nullptr);
    auto *scroll = re->findChild<QScrollArea *>("formScroll");
    ASSERT_NE(scroll, nullptr);
    const QRect inViewport(add->mapTo(scroll->viewport(), QPoint(0, 0)), add->size());
    EXPECT_TRUE(scroll->viewport()->rect().contains(inViewport))
        << "Add backend at y=" << inViewport.y() << "..." << inViewport.bottom() << " of a viewport "
        << scroll->viewport()->height() << " high";

    // Nothing but the tables scrolls: the whole form of a new route fits.
    EXPECT_EQ(scroll->verticalScrollBar()->maximum(), 0)
        << "the form scrolls by " << scroll->verticalScrollBar()->maximum();
    // The backend's name gets the width (the Kind column used to take it and cut the name to "dfp-bac…").
    re->rule(0)->addBackendRef("dfp-backend-with-a-long-name");
    spinFor(100);
    QTableWidget *t = re->rule(0)->backendRefsTable();
    const int needed = t->fontMetrics().horizontalAdvance("dfp-backend-with-a-long-name") + 40;
    EXPECT_GE(t->columnWidth(0), needed);
    EXPECT_GT(t->columnWidth(0), t->columnWidth(5));
}

// #28 item 1: every editor (backend, route, the three policy kinds) fits a 1280x800 screen without its form
// scrolling, also with several limits, rules, users and keys: only the lists (cards, tables) scroll.
TEST_F(Editors, EveryEditorFits1280x800AndOnlyItsListsScroll)
{
    auto check = [](ResourceEditor *e, const char *what) {
        ASSERT_NE(e, nullptr) << what;
        e->show();
        spinFor(150);
        EXPECT_LE(e->height(), 760) << what << ": the dialog and its title bar fit 800 pixels";
        EXPECT_LE(e->width(), 1280) << what;
        auto *scroll = e->findChild<QScrollArea *>("formScroll");
        ASSERT_NE(scroll, nullptr) << what;
        EXPECT_EQ(scroll->verticalScrollBar()->maximum(), 0)
            << what << ": the form scrolls by " << scroll->verticalScrollBar()->maximum() << " of "
            << scroll->viewport()->height();
        auto *save = e->findChild<QPushButton *>("saveButton");
        ASSERT_NE(save, nullptr);
        EXPECT_TRUE(e->rect().contains(QRect(save->mapTo(e, QPoint(0, 0)), save->size()))) << what;
    };
    window->showPage(MainWindow::BackendsIndex);
    ResourceEditor *backend = window->backends()->newObject();
    check(backend, "backend editor");
    backend->close();
    window->showPage(MainWindow::RoutesIndex);
    auto *route = qobject_cast<RouteEditor *>(window->routes()->newObject());
    ASSERT_NE(route, nullptr);
    for (int i = 0; i < 4; ++i)
        route->rule(0)->addBackendRef(QStringLiteral("b%1").arg(i));
    check(route, "route editor with four backends");
    // A route with every filter open: the rule scrolls in its tab, the form does not.
    route->load(yamlToObject(R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: busy, namespace: httpbin}
spec:
  parentRefs: [{name: agentgateway-proxy, namespace: agentgateway-system}]
  hostnames: [api.test]
  rules:
    - name: v1
      matches: [{path: {type: PathPrefix, value: /v1}}, {path: {type: Exact, value: /v2}, method: GET}]
      filters:
        - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-a, value: b}], remove: [x-c]}}
        - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-d, value: e}]}}
        - type: URLRewrite
          urlRewrite: {hostname: other.test, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}
      backendRefs: [{name: a, weight: 3}, {name: b, weight: 1}, {name: c}]
      timeouts: {request: 10s, backendRequest: 5s}
    - backendRefs: [{name: a}]
)")
                    .value(),
                ResourceEditor::Mode::Create);
    check(route, "route editor with its filters open");
    auto *ruleScroll = qobject_cast<QScrollArea *>(route->rule(0)->parentWidget()->parentWidget());
    ASSERT_NE(ruleScroll, nullptr) << "the rule is in its own scroll area";
    EXPECT_EQ(ruleScroll->objectName(), "ruleScroll");
    route->close();

    PoliciesPage *pp = window->policies();
    auto *rl = qobject_cast<RateLimitPolicyEditor *>(pp->newPolicy(PolicyKind::RateLimit));
    check(rl, "rate limit editor");
    for (int i = 0; i < 4; ++i)
        rl->limits()->addCard();
    check(rl, "rate limit editor with five limits");
    // The cards scroll in their own list instead, and the last one added is in view.
    QScrollArea *cards = rl->limits()->scrollArea();
    EXPECT_GT(cards->verticalScrollBar()->maximum(), 0);
    QWidget *last = rl->limits()->card(4);
    const QRect lastInView(last->mapTo(cards->viewport(), QPoint(0, 0)), last->size());
    EXPECT_TRUE(cards->viewport()->rect().intersects(lastInView));
    rl->close();

    auto *authn = qobject_cast<AuthenticationPolicyEditor *>(pp->newPolicy(PolicyKind::Authentication));
    ASSERT_NE(authn, nullptr);
    authn->apiKeyGroup()->setChecked(true);
    authn->jwtGroup()->setChecked(true);
    for (int i = 0; i < 6; ++i) {
        authn->addUser(QStringLiteral("user%1").arg(i), QStringLiteral("pw"));
        authn->addApiKey(QStringLiteral("holder%1").arg(i), QStringLiteral("key%1").arg(i));
    }
    check(authn, "authentication editor with every method and six users and keys");
    // The methods are tabs; the ones that are on say so in their title.
    auto *methods = authn->findChild<QTabWidget *>("methodTabs");
    ASSERT_NE(methods, nullptr);
    EXPECT_EQ(methods->tabText(0), "Basic ✔");
    EXPECT_EQ(methods->tabText(2), "JWT ✔");
    authn->jwtGroup()->setChecked(false);
    EXPECT_EQ(methods->tabText(2), "JWT");
    authn->close();

    auto *authz = qobject_cast<AuthorizationPolicyEditor *>(pp->newPolicy(PolicyKind::Authorization));
    ASSERT_NE(authz, nullptr);
    check(authz, "authorization editor");
    for (int i = 0; i < 4; ++i)
        authz->rules()->addCard();
    check(authz, "authorization editor with five rules");
    authz->close();
}

// The seed guide (README and docs/seed-walkthrough.md: a backend, a route to it, traffic, a rate limit, then
// cleanup) through the console's buttons and editors alone: the route's backend and the policy's target are picked
// from lists, not typed; the REST API and curl through the proxy confirm each step.
TEST_F(Editors, WalkthroughOfTheSeedGuideThroughTheEditors)
{
    EXPECT_EQ(curlThroughProxy().status, 404);
    auto clickNew = [](ResourcePage *page) {
        QTest::mouseClick(page->findChild<QPushButton *>("newButton"), Qt::LeftButton);
        return page->currentEditor();
    };

    window->showPage(MainWindow::BackendsIndex);
    auto *be = qobject_cast<BackendEditor *>(clickNew(window->backends()));
    ASSERT_NE(be, nullptr);
    QTest::keyClicks(be->nameEdit(), "dfp-backend");
    be->namespaceEdit()->clear();
    QTest::keyClicks(be->namespaceEdit(), "httpbin");
    be->showYaml(true);
    EXPECT_TRUE(be->yamlEdit()->toPlainText().contains("dynamicForwardProxy: {}"))
        << be->yamlEdit()->toPlainText().toStdString();
    clickSave(be);
    const ApiResult backend = get("/api/v1/namespaces/httpbin/backends/dfp-backend");
    ASSERT_TRUE(backend.ok()) << backend.error->toString();
    EXPECT_TRUE(backend.object()["spec"].toObject().contains("dynamicForwardProxy"));

    window->showPage(MainWindow::RoutesIndex);
    auto *re = qobject_cast<RouteEditor *>(clickNew(window->routes()));
    ASSERT_NE(re, nullptr);
    QTest::keyClicks(re->nameEdit(), "dfp-httproute");
    re->namespaceEdit()->clear();
    QTest::keyClicks(re->namespaceEdit(), "httpbin");
    ASSERT_TRUE(waitUntil([&] { return re->pickerLoads() >= 2; }, 10000));
    // The parent is the service's Gateway already (the guide's parentRefs).
    ASSERT_NE(re->parentPicker(0), nullptr);
    EXPECT_EQ(re->parentPicker(0)->name(), "agentgateway-proxy");
    QTest::mouseClick(re->rule(0)->findChild<QPushButton *>("backendRefsTableAdd"), Qt::LeftButton);
    ObjectPicker *picker = re->rule(0)->backendPicker(0);
    ASSERT_NE(picker, nullptr);
    const int i = pickerIndex(picker, "AgentgatewayBackend", "httpbin", "dfp-backend");
    ASSERT_GE(i, 0);
    picker->pick(i);
    re->showYaml(true);
    EXPECT_TRUE(re->yamlEdit()->toPlainText().contains("name: dfp-backend"));
    clickSave(re);
    const ApiResult route = get("/api/v1/namespaces/httpbin/httproutes/dfp-httproute");
    ASSERT_TRUE(route.ok()) << route.error->toString();
    const QJsonObject ref =
        route.object()["spec"].toObject()["rules"].toArray()[0].toObject()["backendRefs"].toArray()[0].toObject();
    EXPECT_EQ(ref["name"].toString(), "dfp-backend");
    EXPECT_EQ(ref["kind"].toString(), "AgentgatewayBackend");

    ASSERT_TRUE(waitUntil([&] { return curlThroughProxy().status == 200; }, 10000));
    const CurlResult ok = curlThroughProxy();
    EXPECT_EQ(ok.status, 200) << ok.describe();
    EXPECT_TRUE(ok.body.contains("httpbin.test"));
    // Live traffic shows the request; the backend's Used by names the route.
    const QString host = hostHeader();
    auto *traffic = window->traffic()->model();
    ASSERT_TRUE(waitUntil([&] {
        for (int r = 0; r < traffic->rowCount(); ++r) {
            const QJsonObject rec = traffic->recordAt(r);
            if (AccessLogModel::text(rec, AccessLogModel::Host) == host && rec["status"].toInt() == 200)
                return true;
        }
        return false;
    }, 10000)) << "no 200 for " << host.toStdString() << " in the live traffic";
    window->showPage(MainWindow::BackendsIndex);
    reload(window->backends());
    EXPECT_EQ(cellText(window->backends(), "httpbin", "dfp-backend", "Used by"), "HTTPRoute httpbin/dfp-httproute");

    // A rate limit on the route, its target picked from what exists: 2 requests a minute, then 429.
    PoliciesPage *policies = window->policies();
    const int ploads = policies->loadCount();
    window->showPage(MainWindow::PoliciesIndex);
    ASSERT_TRUE(
        waitUntil([&] { return policies->loadCount() > ploads && !policies->knownTargets().isEmpty(); }, 10000));
    auto *rl = qobject_cast<RateLimitPolicyEditor *>(policies->newPolicy(PolicyKind::RateLimit));
    ASSERT_NE(rl, nullptr);
    QTest::keyClicks(rl->nameEdit(), "per-client");
    const KnownTarget routeTarget{"HTTPRoute", "httpbin", "dfp-httproute", {}};
    ASSERT_TRUE(policies->knownTargets().contains(routeTarget));
    rl->targets()->pickTarget(routeTarget); // what choosing it under "Add target ▾" does
    EXPECT_EQ(rl->namespaceEdit()->text(), "httpbin");
    rl->tokensSpin(0)->setValue(2);
    rl->fillIntervalEdit(0)->setText("1m");
    clickSave(rl);
    const ApiResult limit = get("/api/v1/namespaces/httpbin/ratelimitpolicies/per-client");
    ASSERT_TRUE(limit.ok()) << limit.error->toString();
    EXPECT_EQ(limit.object()["spec"].toObject()["targetRefs"].toArray()[0].toObject()["name"].toString(),
              "dfp-httproute");
    ASSERT_TRUE(waitUntil([&] { return curlThroughProxy().status == 429; }, 10000));
    ASSERT_TRUE(waitUntil([&] { return policies->rowOf("RateLimitPolicy", "httpbin", "per-client") >= 0; }, 10000));
    ASSERT_TRUE(policies->select("RateLimitPolicy", "httpbin", "per-client"));
    QTest::keyClick(policies->table(), Qt::Key_Delete);
    ASSERT_NE(policies->deleteQuestion(), nullptr);
    clickIn(policies->deleteQuestion(), "confirmDeleteButton");
    ASSERT_TRUE(waitUntil(
        [&] { return get("/api/v1/namespaces/httpbin/ratelimitpolicies/per-client").status == 404; }, 10000));
    ASSERT_TRUE(waitUntil([&] { return curlThroughProxy().status == 200; }, 10000));

    // Cleanup with the Delete key: the route first (nothing uses it), then the backend (no longer used).
    window->showPage(MainWindow::RoutesIndex);
    RoutesPage *routes = window->routes();
    reload(routes);
    ASSERT_TRUE(routes->select("httpbin", "dfp-httproute"));
    pressDelete(routes->table());
    ASSERT_NE(routes->deleteQuestion(), nullptr);
    EXPECT_EQ(routes->deleteQuestion()->findChild<QPushButton *>("removeReferencesButton"), nullptr);
    clickIn(routes->deleteQuestion(), "confirmDeleteButton");
    ASSERT_TRUE(
        waitUntil([&] { return get("/api/v1/namespaces/httpbin/httproutes/dfp-httproute").status == 404; }, 10000));
    window->showPage(MainWindow::BackendsIndex);
    reload(window->backends());
    ASSERT_TRUE(window->backends()->select("httpbin", "dfp-backend"));
    EXPECT_EQ(cellText(window->backends(), "httpbin", "dfp-backend", "Used by"), "");
    pressDelete(window->backends()->table());
    ASSERT_NE(window->backends()->deleteQuestion(), nullptr);
    clickIn(window->backends()->deleteQuestion(), "confirmDeleteButton");
    ASSERT_TRUE(waitUntil([&] { return get("/api/v1/namespaces/httpbin/backends/dfp-backend").status == 404; }, 10000));
    ASSERT_TRUE(waitUntil([&] { return curlThroughProxy().status == 404; }, 10000));
}

TEST_F(Editors, NamePlaceholdersFitTheKindAndTargetKindCellsShowTheKind)
{
    window->showPage(MainWindow::RoutesIndex);
    auto *re = window->routes()->newObject();
    ASSERT_NE(re, nullptr);
    EXPECT_TRUE(re->nameEdit()->placeholderText().contains("dfp-httproute"))
        << re->nameEdit()->placeholderText().toStdString();
    re->close();
    PolicyEditor *pe = window->policies()->newPolicy(PolicyKind::RateLimit);
    ASSERT_NE(pe, nullptr);
    EXPECT_FALSE(pe->nameEdit()->placeholderText().contains("dfp-backend"));
    pe->targets()->addRef("AgentgatewayBackend", "dfp-backend");
    auto *kind = qobject_cast<QComboBox *>(pe->targets()->table()->cellWidget(0, 0));
    ASSERT_NE(kind, nullptr);
    EXPECT_GE(pe->targets()->table()->columnWidth(0), kind->sizeHint().width());
    pe->close();
}

// Not a check: writes the docs' pictures of the YAML tab and the backend picker when DFPROXY_SCREENSHOT_DIR is set
// (docs/console.md; the other screens come from scripts/screenshots).
TEST_F(Editors, ScreenshotsForTheDocs)
{
    const QString dir = qEnvironmentVariable("DFPROXY_SCREENSHOT_DIR");
    if (dir.isEmpty())
        GTEST_SKIP() << "set DFPROXY_SCREENSHOT_DIR to write docs/screenshots/route-editor-yaml.png and "
                        "route-editor-picker.png";
    applySeed();
    window->showPage(MainWindow::RoutesIndex);
    reload(window->routes());
    ASSERT_TRUE(window->routes()->select("httpbin", "dfp-httproute"));
    auto *re = qobject_cast<RouteEditor *>(window->routes()->editSelected());
    ASSERT_NE(re, nullptr);
    re->resize(960, 720);
    ASSERT_TRUE(waitUntil([&] { return re->pickerLoads() >= 2; }, 10000));

    // The backend picker, open.
    ObjectPicker *picker = re->rule(0)->backendPicker(0);
    picker->showPopup();
    spinFor(300);
    QPixmap shot = re->grab();
    QWidget *popup = picker->view()->window();
    {
        QPainter p(&shot);
        p.drawPixmap(popup->mapToGlobal(QPoint(0, 0)) - re->mapToGlobal(QPoint(0, 0)), popup->grab());
    }
    picker->hidePopup();
    ASSERT_TRUE(shot.save(dir + "/route-editor-picker.png"));

    // The YAML tab with a validation error marked on its line.
    re->showYaml(true);
    QString text = re->yamlEdit()->toPlainText();
    text.replace("kind: AgentgatewayBackend", "kind: AgentgatewayBackend\n          weight: -1");
    re->yamlEdit()->setPlainText(text);
    clickSave(re);
    spinFor(300);
    ASSERT_TRUE(re->grab().save(dir + "/route-editor-yaml.png"));
    re->close();
}

TEST_F(Editors, PolicyWhoseTargetIsGoneIsMarked)
{
    applySeed();
    ASSERT_TRUE(
        api->sendBlocking("POST", "/api/v1/apply", {},
                          "apiVersion: dfproxy.dev/v1alpha1\nkind: RateLimitPolicy\n"
                          "metadata: {name: orphan, namespace: httpbin}\n"
                          "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: gone}]\n"
                          "  limits: [{name: l, key: clientIP, tokens: 5, fillInterval: 1s}]\n",
                          "application/yaml")
            .ok());
    PoliciesPage *p = window->policies();
    window->showPage(MainWindow::PoliciesIndex);
    auto attached = [&] {
        const int row = p->rowOf("RateLimitPolicy", "httpbin", "orphan");
        return row < 0 ? QString() : p->model()->data(p->model()->index(row, 3), Qt::DisplayRole).toString();
    };
    // A load already in flight when the policy was applied can bring the state before it (the list, or the targets
    // the "missing" mark is judged against): refresh until the page shows it, at most five times.
    for (int i = 0; i < 5 && !attached().contains("(missing)"); ++i) {
        const int loads = p->loadCount();
        if (i > 0)
            p->refresh();
        waitUntil([&] { return (i == 0 || p->loadCount() > loads) && attached().contains("(missing)"); }, 10000);
    }
    EXPECT_EQ(attached(), "⚠ HTTPRoute httpbin/gone (missing)");
}

// #28 item 4 / #27 item 3: the policies list shows each policy's Accepted condition (GEP-713) — a newer policy on
// the same target as an older one of its kind is Conflicted, with the service's message as the tooltip.
TEST_F(Editors, PoliciesListShowsAcceptedAndConflicted)
{
    applySeed();
    const auto policy = [](const char *name) {
        return QByteArray("apiVersion: dfproxy.dev/v1alpha1\nkind: RateLimitPolicy\n"
                          "metadata: {name: ") + name + ", namespace: httpbin}\n"
               "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: dfp-httproute}]\n"
               "  limits: [{name: l, key: clientIP, tokens: 5, fillInterval: 1s}]\n";
    };
    for (const char *name : {"first", "second"})
        ASSERT_TRUE(api->sendBlocking("POST", "/api/v1/apply", {}, policy(name), "application/yaml").ok());
    PoliciesPage *p = window->policies();
    const int loads = p->loadCount();
    window->showPage(MainWindow::PoliciesIndex);
    ASSERT_TRUE(waitUntil(
        [&] { return p->loadCount() > loads && p->rowOf("RateLimitPolicy", "httpbin", "second") >= 0; }, 10000));
    int column = -1;
    for (int c = 0; c < p->model()->columnCount(); ++c) {
        if (p->model()->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString() == "Accepted")
            column = c;
    }
    ASSERT_GE(column, 0) << "no Accepted column";
    auto cell = [&](const char *name, int role) {
        return p->model()->data(p->model()->index(p->rowOf("RateLimitPolicy", "httpbin", name), column), role);
    };
    EXPECT_EQ(cell("first", Qt::DisplayRole).toString(), "✔ Accepted");
    EXPECT_EQ(cell("second", Qt::DisplayRole).toString(), "✘ Conflicted");
    EXPECT_TRUE(cell("second", Qt::ToolTipRole).toString().contains("RateLimitPolicy httpbin/first is older"))
        << cell("second", Qt::ToolTipRole).toString().toStdString();
    EXPECT_EQ(cell("second", Qt::ForegroundRole).value<QBrush>().color(), QColor(0xb0, 0x00, 0x20)) << "marked in red";

    // The editor's Status tab has the condition per target.
    ASSERT_TRUE(p->select("RateLimitPolicy", "httpbin", "second"));
    PolicyEditor *e = p->editSelected();
    ASSERT_NE(e, nullptr);
    QTreeWidget *tree = e->statusTree();
    ASSERT_EQ(tree->topLevelItemCount(), 1);
    EXPECT_EQ(tree->topLevelItem(0)->text(0), "HTTPRoute httpbin/dfp-httproute");
    ASSERT_EQ(tree->topLevelItem(0)->childCount(), 1);
    const QTreeWidgetItem *accepted = tree->topLevelItem(0)->child(0);
    EXPECT_EQ(accepted->text(0), "Accepted");
    EXPECT_EQ(accepted->text(1), "False");
    EXPECT_EQ(accepted->text(2), "Conflicted");
    EXPECT_TRUE(accepted->text(3).contains("RateLimitPolicy httpbin/first is older"))
        << accepted->text(3).toStdString();
    e->close();
}

// The backend editor's Upstream proxy group writes the AgentgatewayPolicy (docs/upstream-proxy.md) through REST:
// created with exactly the fields set, edited, deleted with None; its validation errors show at its fields; a
// policy on the Gateway is shown read-only.
TEST_F(Editors, BackendEditorCreatesEditsAndDeletesTheUpstreamProxyPolicy)
{
    applySeed();
    const QString policyPath = "/api/v1/namespaces/httpbin/agentgatewaypolicies/dfp-backend-upstream-proxy";
    window->showPage(MainWindow::BackendsIndex);
    auto openBackend = [&]() -> BackendEditor * {
        EXPECT_TRUE(waitUntil([&] { return window->backends()->select("httpbin", "dfp-backend"); }, 10000));
        auto *be = qobject_cast<BackendEditor *>(window->backends()->editSelected());
        EXPECT_NE(be, nullptr);
        if (be) {
            EXPECT_TRUE(waitUntil([&] { return be->upstreamLoaded(); }, 10000));
        }
        return be;
    };

    BackendEditor *be = openBackend();
    ASSERT_NE(be, nullptr);
    EXPECT_EQ(be->upstreamModeCombo()->currentData().toString(), "none");
    EXPECT_FALSE(be->upstreamUrlEdit()->isEnabled());
    EXPECT_TRUE(be->upstreamPolicyText().contains("httpbin/dfp-backend-upstream-proxy"))
        << be->upstreamPolicyText().toStdString();
    be->upstreamModeCombo()->setCurrentIndex(be->upstreamModeCombo()->findData("url"));
    EXPECT_TRUE(be->upstreamUrlEdit()->isEnabled());
    be->upstreamUrlEdit()->setText("http://127.0.0.1:3128");
    be->upstreamBypassEdit()->setText("<local>, *.corp.example");
    clickSave(be);
    ApiResult r = get(policyPath);
    ASSERT_TRUE(r.ok()) << r.error->toString().toStdString();
    QJsonObject policy = r.object();
    EXPECT_EQ(policy["spec"].toObject()["backend"].toObject(),
              (QJsonObject{{"tunnel", QJsonObject{{"url", "http://127.0.0.1:3128"}}}}));
    EXPECT_EQ(policy["spec"].toObject()["targetRefs"].toArray(),
              (QJsonArray{QJsonObject{{"group", "agentgateway.dev"}, {"kind", "AgentgatewayBackend"},
                                      {"name", "dfp-backend"}}}));
    EXPECT_EQ(policy["metadata"].toObject()["annotations"].toObject(),
              (QJsonObject{{"dfproxy.dev/tunnel-bypass", "<local>, *.corp.example"}}));

    // Opened again: the form shows the policy, its name and status; an edit replaces its fields.
    be = openBackend();
    ASSERT_NE(be, nullptr);
    EXPECT_EQ(be->upstreamModeCombo()->currentData().toString(), "url");
    EXPECT_EQ(be->upstreamUrlEdit()->text(), "http://127.0.0.1:3128");
    EXPECT_EQ(be->upstreamBypassEdit()->text(), "<local>, *.corp.example");
    EXPECT_TRUE(be->upstreamPolicyText().contains("AgentgatewayPolicy httpbin/dfp-backend-upstream-proxy: Accepted"))
        << be->upstreamPolicyText().toStdString();
    be->upstreamUrlEdit()->setText("http://127.0.0.2:8080");
    be->upstreamBypassEdit()->clear();
    // A credentials file must exist, be private, and lie where the admin API may name files (the service's dir).
    const QString cred = QFileInfo(service->configPath()).dir().filePath("corp-proxy.cred");
    {
        QFile f(cred);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly));
        f.write("alice:secret\n");
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner);
    }
    be->upstreamCredentialsEdit()->setText(cred);
    clickSave(be);
    ASSERT_FALSE(window->backends()->currentEditor() && window->backends()->currentEditor()->isVisible())
        << be->lastError().toStdString();
    r = get(policyPath);
    ASSERT_TRUE(r.ok()) << r.error->toString().toStdString();
    policy = r.object();
    EXPECT_EQ(policy["spec"].toObject()["backend"].toObject()["tunnel"].toObject(),
              (QJsonObject{{"url", "http://127.0.0.2:8080"}}));
    EXPECT_EQ(policy["metadata"].toObject()["annotations"].toObject(),
              (QJsonObject{{"dfproxy.dev/tunnel-credentials-file", cred}}));

    // A URL with credentials is refused (422) at the URL field, not at a backend field; the policy is unchanged.
    be = openBackend();
    ASSERT_NE(be, nullptr);
    be->upstreamUrlEdit()->setText("http://alice:secret@127.0.0.2:8080");
    clickSave(be);
    ASSERT_TRUE(be->isVisible());
    EXPECT_FALSE(be->fieldError("upstreamProxy.spec.backend.tunnel.url").isEmpty()) << be->lastError().toStdString();
    EXPECT_TRUE(be->fieldError("spec").isEmpty()) << be->fieldError("spec").toStdString();
    EXPECT_TRUE(be->lastError().contains("422")) << be->lastError().toStdString();
    EXPECT_EQ(get(policyPath).object()["spec"].toObject()["backend"].toObject()["tunnel"].toObject()["url"],
              "http://127.0.0.2:8080");

    // None deletes the policy (it has nothing else).
    be->upstreamModeCombo()->setCurrentIndex(be->upstreamModeCombo()->findData("none"));
    clickSave(be);
    EXPECT_EQ(get(policyPath).status, 404);

    // A Gateway's tunnel policy is shown, read-only.
    const QByteArray gatewayPolicy = R"(apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata: {name: gateway-proxy, namespace: httpbin}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: dfproxy}]
  backend: {tunnel: {url: "http://127.0.0.3:3128"}}
)";
    r = api->sendBlocking("POST", "/api/v1/apply", {}, gatewayPolicy, "application/yaml");
    ASSERT_TRUE(r.ok()) << r.error->toString().toStdString();
    be = openBackend();
    ASSERT_NE(be, nullptr);
    EXPECT_TRUE(be->upstreamNote().contains("httpbin/gateway-proxy")) << be->upstreamNote().toStdString();
    EXPECT_TRUE(be->upstreamNote().contains("http://127.0.0.3:3128")) << be->upstreamNote().toStdString();
    EXPECT_EQ(be->upstreamModeCombo()->currentData().toString(), "none");
    EXPECT_TRUE(be->upstreamModeCombo()->isEnabled()) << "the backend's own policy can still be set";
    be->close();

    // A tunnel policy that targets another backend as well is shown, but not changed for this one alone.
    const QByteArray sharedPolicy = R"(apiVersion: agentgateway.dev/v1alpha1
kind: AgentgatewayPolicy
metadata: {name: shared-proxy, namespace: httpbin}
spec:
  targetRefs:
  - {group: agentgateway.dev, kind: AgentgatewayBackend, name: dfp-backend}
  - {group: agentgateway.dev, kind: AgentgatewayBackend, name: other-backend}
  backend: {tunnel: {url: "http://127.0.0.4:3128"}}
)";
    r = api->sendBlocking("POST", "/api/v1/apply", {}, sharedPolicy, "application/yaml");
    ASSERT_TRUE(r.ok()) << r.error->toString().toStdString();
    be = openBackend();
    ASSERT_NE(be, nullptr);
    EXPECT_EQ(be->upstreamUrlEdit()->text(), "http://127.0.0.4:3128");
    EXPECT_FALSE(be->upstreamModeCombo()->isEnabled());
    EXPECT_FALSE(be->upstreamUrlEdit()->isEnabled());
    EXPECT_TRUE(be->upstreamNote().contains("httpbin/shared-proxy targets other objects too"))
        << be->upstreamNote().toStdString();
    clickSave(be);
    EXPECT_EQ(get("/api/v1/namespaces/httpbin/agentgatewaypolicies/shared-proxy").object()["spec"].toObject()
                  ["targetRefs"].toArray().size(),
              2);

    // A new backend's policy name follows the name typed.
    auto *created = qobject_cast<BackendEditor *>(window->backends()->newObject());
    ASSERT_NE(created, nullptr);
    created->nameEdit()->setText("corp");
    created->namespaceEdit()->setText("httpbin");
    EXPECT_TRUE(created->upstreamPolicyText().contains("AgentgatewayPolicy httpbin/corp-upstream-proxy"))
        << created->upstreamPolicyText().toStdString();
    created->close();
}
