// SPDX-License-Identifier: Apache-2.0
// The Policies and Logging screens against a real dfproxy: policies made in the editors take effect on requests
// through the proxy (429, 403, 401), the server's validation errors land beside the field they name, and the Logging
// page writes the level and the access-log block of the config.
#include "consolefixture.h"
#include "logging/loggingpage.h"
#include "policies/policiespage.h"
#include "resources/resourcelistmodel.h"
#include "widgets/fieldbox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QJsonDocument>
#include <QLineEdit>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>

using namespace dfproxy::gui;
using namespace dfproxy::test;

namespace {

class Policies : public Console
{
protected:
    PoliciesPage *openPage()
    {
        PoliciesPage *p = window->policies();
        const int loads = p->loadCount();
        window->showPage(MainWindow::PoliciesIndex);
        EXPECT_TRUE(waitUntil([&] { return p->loadCount() > loads && !p->knownTargets().isEmpty(); }, 10000));
        return p;
    }

    static std::optional<KnownTarget> findTarget(PoliciesPage *p, const QString &label)
    {
        for (const KnownTarget &t : p->knownTargets())
            if (t.label() == label)
                return t;
        return std::nullopt;
    }

    QString modelText(PoliciesPage *p, int row, int column)
    {
        return p->model()->data(p->model()->index(row, column), Qt::DisplayRole).toString();
    }
};

} // namespace

TEST(PolicySecrets, HashesPasswordsInTheServiceFormat)
{
    // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1) starts with 55ac046e...
    const QByteArray h = hashPasswordPbkdf2("passwd", "salt", 1);
    const QList<QByteArray> parts = h.split('$');
    ASSERT_EQ(parts.size(), 4) << h.constData();
    EXPECT_EQ(parts[0], "pbkdf2-sha256");
    EXPECT_EQ(parts[1], "1");
    EXPECT_EQ(QByteArray::fromBase64(parts[2]), "salt");
    EXPECT_EQ(QByteArray::fromBase64(parts[3]).toHex(),
              "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    // RFC 7914: 80000 iterations of "Password"/"NaCl" starts with 4ddcd8f6...
    EXPECT_TRUE(QByteArray::fromBase64(hashPasswordPbkdf2("Password", "NaCl", 80000).split('$')[3])
                    .toHex()
                    .startsWith("4ddcd8f60b98be21830cee5ef22701f9"));
    EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_NE(hashPasswordPbkdf2("x"), hashPasswordPbkdf2("x")) << "a random salt each time";
}

TEST(PolicySummary, DescribesEachKind)
{
    const auto doc = [](const char *json) { return QJsonDocument::fromJson(json).object(); };
    EXPECT_EQ(policySummary(doc(R"({"kind":"RateLimitPolicy","spec":{"limits":[{"key":"clientIP","tokens":3,
              "fillInterval":"1m"}]}})")),
              "3 per 1m by clientIP");
    EXPECT_EQ(policySummary(doc(R"({"kind":"AuthorizationPolicy","spec":{"defaultAction":"Allow",
              "rules":[{"action":"Deny","hosts":["httpbin.test"]}]}})")),
              "Deny httpbin.test; else Allow");
    EXPECT_EQ(attachedToText(doc(R"({"metadata":{"namespace":"agentgateway-system"},"spec":{"targetRefs":[
              {"kind":"Gateway","name":"agentgateway-proxy","sectionName":"http"}]}})")),
              "Gateway agentgateway-system/agentgateway-proxy#http");
}

TEST_F(Policies, RateLimitMadeInTheEditorGives429AfterTheLimit)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    PoliciesPage *page = openPage();
    EXPECT_TRUE(page->message().contains("0 policy objects")) << page->message();
    const auto route = findTarget(page, "HTTPRoute httpbin/dfp-httproute");
    ASSERT_TRUE(route) << "the picker offers the seed route";
    EXPECT_TRUE(findTarget(page, "Gateway agentgateway-system/agentgateway-proxy#http"))
        << "and the Gateway's listener";

    auto *e = qobject_cast<RateLimitPolicyEditor *>(page->newPolicy(PolicyKind::RateLimit));
    ASSERT_NE(e, nullptr);
    e->nameEdit()->setText("per-client");
    e->targets()->pickTarget(*route);
    EXPECT_EQ(e->namespaceEdit()->text(), "httpbin") << "a new policy follows its target's namespace";
    ASSERT_EQ(e->limits()->count(), 1);
    e->tokensSpin(0)->setValue(3);
    e->fillIntervalEdit(0)->setText("1m");
    clickSave(e);
    const ApiResult stored = get("/api/v1/namespaces/httpbin/ratelimitpolicies/per-client");
    ASSERT_TRUE(stored.ok()) << stored.error->toString();
    const QJsonObject spec = stored.object()["spec"].toObject();
    EXPECT_EQ(spec["targetRefs"].toArray()[0].toObject()["name"].toString(), "dfp-httproute");
    EXPECT_EQ(spec["limits"].toArray()[0].toObject()["tokens"].toInt(), 3);

    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(curlThroughProxy().status, 200) << "request " << i + 1;
    const CurlResult limited = curlThroughProxy();
    EXPECT_EQ(limited.status, 429) << limited.describe();

    // The table lists it with its target and a summary.
    ASSERT_TRUE(waitUntil([&] { return page->rowOf("RateLimitPolicy", "httpbin", "per-client") >= 0; }, 5000));
    const int row = page->rowOf("RateLimitPolicy", "httpbin", "per-client");
    EXPECT_EQ(modelText(page, row, 3), "HTTPRoute httpbin/dfp-httproute");
    EXPECT_EQ(modelText(page, row, 4), "✔ Accepted");
    EXPECT_EQ(modelText(page, row, 6), "3 per 1m by clientIP");
    page->kindFilter()->setCurrentIndex(page->kindFilter()->findData("AuthorizationPolicy"));
    EXPECT_EQ(page->table()->model()->rowCount(), 0);
    page->kindFilter()->setCurrentIndex(0);
    page->searchEdit()->setText("dfp-httproute");
    EXPECT_EQ(page->table()->model()->rowCount(), 1);

    // Edit keeps the object's identity; Duplicate and Delete work on the selected row.
    ASSERT_TRUE(page->select("RateLimitPolicy", "httpbin", "per-client"));
    auto *edit = qobject_cast<RateLimitPolicyEditor *>(page->editSelected());
    ASSERT_NE(edit, nullptr);
    EXPECT_TRUE(edit->nameEdit()->isReadOnly());
    EXPECT_EQ(edit->tokensSpin(0)->value(), 3);
    edit->tokensSpin(0)->setValue(100);
    clickSave(edit);
    EXPECT_EQ(get("/api/v1/namespaces/httpbin/ratelimitpolicies/per-client")
                  .object()["spec"]
                  .toObject()["limits"]
                  .toArray()[0]
                  .toObject()["tokens"]
                  .toInt(),
              100);
    ASSERT_TRUE(waitUntil([&] { return page->select("RateLimitPolicy", "httpbin", "per-client"); }, 5000));
    auto *dup = page->duplicateSelected();
    ASSERT_NE(dup, nullptr);
    EXPECT_EQ(dup->nameEdit()->text(), "per-client-copy");
    clickSave(dup);
    ASSERT_TRUE(get("/api/v1/namespaces/httpbin/ratelimitpolicies/per-client-copy").ok());
    page->searchEdit()->clear();
    ASSERT_TRUE(waitUntil([&] { return page->select("RateLimitPolicy", "httpbin", "per-client-copy"); }, 5000));
    page->setConfirmDeletes(false);
    page->deleteSelected();
    ASSERT_TRUE(waitUntil(
        [&] { return get("/api/v1/namespaces/httpbin/ratelimitpolicies/per-client-copy").status == 404; }, 5000));
}

TEST_F(Policies, AuthorizationPolicyDenyingAHostGives403)
{
    applySeed();
    ASSERT_EQ(curlThroughProxy().status, 200);
    PoliciesPage *page = openPage();
    const auto listener = findTarget(page, "Gateway agentgateway-system/agentgateway-proxy#http");
    ASSERT_TRUE(listener);
    auto *e = qobject_cast<AuthorizationPolicyEditor *>(page->newPolicy(PolicyKind::Authorization));
    ASSERT_NE(e, nullptr);
    e->nameEdit()->setText("no-httpbin");
    e->targets()->pickTarget(*listener);
    EXPECT_EQ(e->namespaceEdit()->text(), "agentgateway-system");
    e->defaultActionCombo()->setCurrentIndex(e->defaultActionCombo()->findData("Allow"));
    ASSERT_EQ(e->rules()->count(), 1);
    e->ruleActionCombo(0)->setCurrentIndex(e->ruleActionCombo(0)->findData("Deny"));
    e->ruleEdit(0, "hosts")->setText("httpbin.test");
    clickSave(e);
    const ApiResult stored = get("/api/v1/namespaces/agentgateway-system/authorizationpolicies/no-httpbin");
    ASSERT_TRUE(stored.ok()) << stored.error->toString();
    EXPECT_EQ(stored.object()["spec"].toObject()["targetRefs"].toArray()[0].toObject()["sectionName"].toString(),
              "http");
    const CurlResult denied = curlThroughProxy();
    EXPECT_EQ(denied.status, 403) << denied.describe();

    ASSERT_TRUE(
        waitUntil([&] { return page->rowOf("AuthorizationPolicy", "agentgateway-system", "no-httpbin") >= 0; }, 5000));
    EXPECT_EQ(modelText(page, page->rowOf("AuthorizationPolicy", "agentgateway-system", "no-httpbin"), 3),
              "Gateway agentgateway-system/agentgateway-proxy#http");
}

TEST_F(Policies, BasicUserAddedInTheEditorCanAuthenticate)
{
    applySeed();
    PoliciesPage *page = openPage();
    auto *e = qobject_cast<AuthenticationPolicyEditor *>(page->newPolicy(PolicyKind::Authentication));
    ASSERT_NE(e, nullptr);
    e->nameEdit()->setText("users");
    const auto route = findTarget(page, "HTTPRoute httpbin/dfp-httproute");
    ASSERT_TRUE(route);
    e->targets()->pickTarget(*route);
    e->addUser("alice", "s3cret pass");
    e->addApiKey("robot", "key-123");
    clickSave(e);
    const ApiResult stored = get("/api/v1/namespaces/httpbin/authenticationpolicies/users");
    ASSERT_TRUE(stored.ok()) << stored.error->toString();
    const QJsonObject spec = stored.object()["spec"].toObject();
    const QString hash = spec["basic"].toObject()["users"].toArray()[0].toObject()["passwordHash"].toString();
    EXPECT_TRUE(hash.startsWith("pbkdf2-sha256$")) << hash.toStdString();
    EXPECT_FALSE(QJsonDocument(stored.object()).toJson().contains("s3cret")) << "the password never leaves the console";

    EXPECT_EQ(curlThroughProxy().status, 401);
    const CurlResult ok = curl({"-u", "alice:s3cret pass", "-H", "host: " + hostHeader(), service->proxyUrl("/")});
    EXPECT_EQ(ok.status, 200) << ok.describe();
    const CurlResult key = curl({"-H", "x-api-key: key-123", "-H", "host: " + hostHeader(), service->proxyUrl("/")});
    EXPECT_EQ(key.status, 200) << key.describe();
    EXPECT_EQ(curl({"-u", "alice:wrong", "-H", "host: " + hostHeader(), service->proxyUrl("/")}).status, 401);
}

TEST_F(Policies, ServerValidationErrorsAppearBesideTheField)
{
    PoliciesPage *page = openPage();
    auto *rl = qobject_cast<RateLimitPolicyEditor *>(page->newPolicy(PolicyKind::RateLimit));
    ASSERT_NE(rl, nullptr);
    rl->nameEdit()->setText("zero");
    rl->targets()->addRef("HTTPRoute", "dfp-httproute");
    rl->limits()->addCard();
    rl->tokensSpin(1)->setValue(0);
    clickSave(rl);
    ASSERT_FALSE(rl->lastError().isEmpty());
    EXPECT_TRUE(rl->isVisible());
    auto *box = qobject_cast<FieldBox *>(rl->tokensSpin(1)->parentWidget());
    ASSERT_NE(box, nullptr);
    EXPECT_EQ(box->path(), "spec.limits[1].tokens");
    EXPECT_TRUE(box->hasError()) << rl->lastError().toStdString();
    EXPECT_TRUE(rl->fieldError("spec.limits[0].tokens").isEmpty());
    EXPECT_EQ(get("/api/v1/namespaces/default/ratelimitpolicies/zero").status, 404);
    // Removing the first card renumbers the paths of the rest.
    rl->limits()->card(0)->removeButton()->click();
    spinFor(10);
    EXPECT_EQ(qobject_cast<FieldBox *>(rl->tokensSpin(0)->parentWidget())->path(), "spec.limits[0].tokens");
    rl->close();

    auto *az = qobject_cast<AuthorizationPolicyEditor *>(page->newPolicy(PolicyKind::Authorization));
    ASSERT_NE(az, nullptr);
    az->nameEdit()->setText("bad-cidr");
    az->targets()->addRef("Gateway", "agentgateway-proxy", "http");
    az->ruleEdit(0, "clientCIDRs")->setText("10.0.0.0/8, 10.0.0.300/8");
    az->ruleEdit(0, "ports")->setText("443");
    clickSave(az);
    ASSERT_FALSE(az->lastError().isEmpty());
    const QString cidrError = az->fieldError("spec.rules[0].clientCIDRs");
    EXPECT_TRUE(cidrError.contains("[1]") && cidrError.contains("CIDR")) << cidrError.toStdString();
    EXPECT_TRUE(az->fieldError("spec.rules[0].ports").isEmpty());
    az->close();

    // A target that is not a Gateway cannot name a listener.
    auto *an = qobject_cast<AuthenticationPolicyEditor *>(page->newPolicy(PolicyKind::Authentication));
    an->nameEdit()->setText("no-users");
    an->targets()->addRef("HTTPRoute", "r", "http");
    clickSave(an);
    EXPECT_TRUE(an->fieldError("spec.targetRefs").contains("sectionName")) << an->lastError().toStdString();
    EXPECT_TRUE(an->fieldError("spec.basic").contains("users or htpasswdFile")) << an->lastError().toStdString();
    an->close();
}

TEST_F(Policies, LoggingPageWritesTheAccessLogBlockAndTheLevel)
{
    window->showPage(MainWindow::LoggingIndex);
    LoggingPage *page = window->logging();
    ASSERT_TRUE(waitUntil([&] { return page->loadCount() >= 1; }, 10000)) << page->statusText().toStdString();
    page->formatCombo()->setCurrentIndex(page->formatCombo()->findData("combined"));
    page->enabledCheck()->setChecked(true);
    page->maxFilesSpin()->setValue(3);
    page->levelCombo()->setCurrentIndex(page->levelCombo()->findData("warning"));
    page->save();
    ASSERT_TRUE(waitUntil([&] { return page->saveCount() == 1; }, 10000));
    EXPECT_TRUE(page->lastError().isEmpty()) << page->lastError().toStdString();
    const QJsonObject accessLog = get("/api/v1/config").object()["logging"].toObject()["accessLog"].toObject();
    EXPECT_EQ(accessLog["format"].toString(), "combined");
    EXPECT_TRUE(accessLog["enabled"].toBool());
    EXPECT_EQ(accessLog["maxFiles"].toInt(), 3);
    EXPECT_EQ(get("/api/v1/logging").object()["level"].toString(), "warning");

    // A value the service rejects: the message sits beside the field and nothing changes.
    page->maxSizeEdit()->setText("lots");
    page->save();
    ASSERT_TRUE(waitUntil([&] { return page->saveCount() == 2; }, 10000));
    EXPECT_FALSE(page->lastError().isEmpty());
    EXPECT_FALSE(page->fieldError("logging.accessLog.maxSizeBytes").isEmpty()) << page->lastError().toStdString();
    EXPECT_TRUE(page->fieldError("logging.accessLog.format").isEmpty());
    EXPECT_FALSE(get("/api/v1/config").object()["logging"].toObject()["accessLog"].toObject().contains("maxSizeBytes"));

    // A config changed elsewhere since loading is reported, not overwritten.
    page->maxSizeEdit()->setText("1048576");
    const ApiResult current = get("/api/v1/config");
    QJsonObject changed = current.object();
    QJsonObject logging = changed["logging"].toObject();
    QJsonObject al = logging["accessLog"].toObject();
    al["maxFiles"] = 9;
    logging["accessLog"] = al;
    changed["logging"] = logging;
    ApiResult put;
    QEventLoop loop;
    api->sendWithHeaders("PUT", "/api/v1/config", {{"If-Match", current.etag}}, QJsonDocument(changed).toJson(),
                         "application/json", [&](const ApiResult &r) {
                             put = r;
                             loop.quit();
                         });
    loop.exec();
    ASSERT_TRUE(put.ok()) << put.error->toString().toStdString();
    page->save();
    ASSERT_TRUE(waitUntil([&] { return page->saveCount() == 3; }, 10000));
    EXPECT_TRUE(page->lastError().contains("changed")) << page->lastError().toStdString();
    EXPECT_EQ(get("/api/v1/config").object()["logging"].toObject()["accessLog"].toObject()["maxFiles"].toInt(), 9);
}
