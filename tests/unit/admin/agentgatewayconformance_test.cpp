// SPDX-License-Identifier: Apache-2.0
// Conformance against the real schemas (issue #25 item 4): what `export --for agentgateway` writes, and every
// AgentgatewayPolicy dfproxy accepts in the test corpus, validates against the vendored CRDs
// (tests/fixtures/crds/, python3-jsonschema through tests/fixtures/crds/validate.py); agentgateway's own DFP-related
// manifests (tests/fixtures/agentgateway/accepted) apply to dfproxy, and the refused ones say what dfproxy does not
// implement.
#include "api/agentgatewayexport.h"

#include "config/validation.h"
#include "config/yaml.h"
#include "support/binaries.h"
#include "unit/policy/jwttestutil.h"
#include "unit/policy/policytestutil.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace dfproxy;
using namespace dfproxy::policy::test;

namespace {

struct Validation
{
    bool skipped = false;
    QString why;
    int exitCode = -1;
    QString output;
};

// Runs validate.py on `objects`; skipped when python3, python3-jsonschema or python3-yaml is missing.
Validation validate(const QJsonArray &objects)
{
    Validation v;
    if (QStandardPaths::findExecutable("python3").isEmpty()) {
        v.skipped = true;
        v.why = "python3 is not installed";
        return v;
    }
    QTemporaryDir dir;
    QFile f(dir.filePath("objects.json"));
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(objects).toJson()) < 0)
        return v;
    f.close();
    const QString crds = test::sourceDir() + "/tests/fixtures/crds";
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start("python3", {crds + "/validate.py", crds, f.fileName()});
    if (!p.waitForFinished(120000)) {
        v.output = "validate.py did not finish";
        return v;
    }
    v.exitCode = p.exitCode();
    v.output = QString::fromUtf8(p.readAll());
    if (v.exitCode == 3) {
        v.skipped = true;
        v.why = v.output.trimmed();
    }
    return v;
}

QJsonArray yamlFile(const QString &path)
{
    QFile f(path);
    EXPECT_TRUE(f.open(QIODevice::ReadOnly)) << path.toStdString();
    config::YamlError error;
    const auto docs = config::parseYamlDocuments(f.readAll(), &error);
    EXPECT_TRUE(docs.has_value()) << path.toStdString();
    return docs.value_or(QJsonArray{});
}

QStringList filesIn(const QString &relative)
{
    QStringList out;
    const QDir d(test::sourceDir() + "/" + relative);
    for (const auto &name : d.entryList({"*.yaml"}, QDir::Files, QDir::Name))
        out.append(d.filePath(name));
    return out;
}

// The manifests of docs/agentgateway.md (its `cat > x.yaml <<'EOF'` blocks): what the page tells users to apply.
QJsonArray docExamples()
{
    QFile f(test::sourceDir() + "/docs/agentgateway.md");
    EXPECT_TRUE(f.open(QIODevice::ReadOnly));
    const QString page = QString::fromUtf8(f.readAll());
    static const QRegularExpression block(QStringLiteral("<<'EOF'\\n(.*?)\\nEOF\\n"),
                                          QRegularExpression::DotMatchesEverythingOption);
    QJsonArray out;
    for (auto it = block.globalMatch(page); it.hasNext();) {
        config::YamlError error;
        const auto docs = config::parseYamlDocuments(it.next().captured(1).toUtf8(), &error);
        EXPECT_TRUE(docs.has_value());
        for (const auto &d : docs.value_or(QJsonArray{}))
            out.append(d);
    }
    EXPECT_GE(out.size(), 2);
    return out;
}

QString errorsOf(const QJsonObject &o)
{
    QStringList out;
    for (const auto &e : config::validateResource(config::Resource(o)))
        out.append(e.path + ": " + e.message);
    return out.join("\n");
}

} // namespace

TEST(AgentgatewayConformance, ExportOfEveryPolicyKindValidatesAgainstTheCrds)
{
    TestSigner signer(TestSigner::Alg::ES256);
    config::Config c = baseConfig({
        config::Resource(json(R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "tls-gw", "namespace": "agentgateway-system"},
            "spec": {"gatewayClassName": "agentgateway", "listeners": [{"name": "https", "protocol": "HTTPS",
                     "port": 8443, "allowedConnectPorts": [443, 8443],
                     "tls": {"mode": "Terminate", "certFile": "/etc/dfproxy/c.pem", "keyFile": "/etc/dfproxy/k.pem"}}]}})")),
        config::Resource(json(R"({"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
            "metadata": {"name": "dfp-backend", "namespace": "httpbin"},
            "spec": {"dynamicForwardProxy": {}, "tls": {"sni": "up.example", "insecureSkipVerify": true},
                     "engine": "qnam"}})")),
        config::Resource(json(R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
            "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
                     "rules": [{"backendRefs": [{"name": "dfp-backend", "group": "agentgateway.dev",
                                                 "kind": "AgentgatewayBackend"}]}]}})")),
        makePolicy("RateLimitPolicy", "httpbin", "limits",
                   json(R"({"targetRefs": [{"kind": "HTTPRoute", "name": "dfp-httproute"}],
                            "limits": [{"key": "global", "tokens": 10, "fillInterval": "1s", "burst": 20},
                                       {"key": "clientIP", "tokens": 5, "fillInterval": "1m"},
                                       {"key": "global", "bytesPerSecond": 100000}]})")),
        makePolicy("AuthenticationPolicy", "agentgateway-system", "who",
                   QJsonObject{
                       {"targetRefs", json(R"({"a": [{"kind": "Gateway", "name": "agentgateway-proxy"}]})").value("a")},
                       {"optional", true},
                       {"basic", json(R"({"users": [{"name": "alice", "passwordHash": "$6$x$y"}]})")},
                       {"apiKey", json(R"({"keys": [{"name": "ci", "sha256":
                                   "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}]})")},
                       {"jwt", QJsonObject{{"issuer", "https://idp.test"},
                                           {"audiences", QJsonArray{"a"}},
                                           {"jwks", signer.jwks()}}}}),
        makePolicy("AuthorizationPolicy", "agentgateway-system", "egress",
                   json(R"({"targetRefs": [{"kind": "Gateway", "name": "agentgateway-proxy", "sectionName": "http"}],
                            "defaultAction": "Deny",
                            "rules": [{"action": "Deny", "hosts": ["*.blocked.test"], "ports": [22]},
                                      {"action": "Allow", "hosts": ["*.example.com"], "methods": ["GET"],
                                       "pathPrefixes": ["/api"], "clientCIDRs": ["127.0.0.1", "10.0.0.0/8"],
                                       "identities": ["alice"]}]})")),
    });
    for (const auto &e : config::validateConfig(c))
        ADD_FAILURE() << e.path.toStdString() << ": " << e.message.toStdString();
    const auto out = admin::exportForAgentgateway(c);
    EXPECT_FALSE(out.notExported.isEmpty());
    QStringList fields;
    for (const auto &n : out.notExported)
        fields.append(n.object + " " + n.field);
    EXPECT_TRUE(fields.contains("Gateway agentgateway-system/tls-gw spec.listeners[0].tls.certificateRefs"))
        << fields.join("\n").toStdString();
    int policies = 0;
    for (const auto &v : out.items) {
        policies += v.toObject().value("kind").toString() == "AgentgatewayPolicy";
        // What the export writes applies to dfproxy too, but for the HTTPS Gateway: its certificate is a Secret in
        // the cluster and files on the desktop.
        if (v.toObject().value("metadata").toObject().value("name").toString() != QLatin1String("tls-gw")) {
            EXPECT_EQ(errorsOf(v.toObject()).toStdString(), "") << QJsonDocument(v.toObject()).toJson().constData();
        }
    }
    EXPECT_EQ(policies, 3);
    const auto v = validate(out.items);
    if (v.skipped)
        GTEST_SKIP() << v.why.toStdString();
    EXPECT_EQ(v.exitCode, 0) << v.output.toStdString();
}

TEST(AgentgatewayConformance, AcceptedManifestsApplyAndValidateAgainstTheCrds)
{
    QJsonArray corpus = docExamples();
    for (const auto &file : filesIn("tests/fixtures/agentgateway/accepted")) {
        for (const auto &d : yamlFile(file))
            corpus.append(d);
    }
    int agentgatewayPolicies = 0;
    for (const auto &d : corpus) {
        const QJsonObject o = d.toObject();
        agentgatewayPolicies += o.value("kind").toString() == "AgentgatewayPolicy";
        EXPECT_EQ(errorsOf(o), "") << QJsonDocument(o).toJson().constData();
    }
    EXPECT_GE(agentgatewayPolicies, 4);
    const auto v = validate(corpus);
    if (v.skipped)
        GTEST_SKIP() << v.why.toStdString();
    EXPECT_EQ(v.exitCode, 0) << v.output.toStdString();
}

TEST(AgentgatewayConformance, RefusedManifestsSayWhatDfproxyDoesNotImplement)
{
    int checked = 0;
    QJsonArray corpus;
    for (const auto &file : filesIn("tests/fixtures/agentgateway/refused")) {
        for (const auto &d : yamlFile(file)) {
            const QJsonObject o = d.toObject();
            if (o.value("kind").toString() != "AgentgatewayPolicy")
                continue;
            corpus.append(o);
            ++checked;
            EXPECT_TRUE(errorsOf(o).contains("dfproxy does not implement")) << file.toStdString() << ":\n"
                                                                            << errorsOf(o).toStdString();
        }
    }
    EXPECT_EQ(checked, 5);
    // They are agentgateway's own, valid ones: dfproxy refuses what it cannot honour, not what is malformed.
    const auto v = validate(corpus);
    if (v.skipped)
        GTEST_SKIP() << v.why.toStdString();
    EXPECT_EQ(v.exitCode, 0) << v.output.toStdString();
}

// The check is not vacuous: a malformed object, and one breaking a simple x-kubernetes-validations rule, fail it.
TEST(AgentgatewayConformance, TheValidatorRefusesWhatTheCrdsRefuse)
{
    const auto v = validate(QJsonArray{json(R"({"apiVersion": "agentgateway.dev/v1alpha1",
        "kind": "AgentgatewayPolicy", "metadata": {"name": "x", "namespace": "default"},
        "spec": {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "g"}],
                 "traffic": {"rateLimit": {"local": [{"requests": 1, "unit": "Days"}]},
                             "basicAuthentication": {"users": ["a:$6$x$y"], "secretRef": {"name": "s"}}}}})")});
    if (v.skipped)
        GTEST_SKIP() << v.why.toStdString();
    EXPECT_EQ(v.exitCode, 1) << v.output.toStdString();
    EXPECT_TRUE(v.output.contains("spec.traffic.rateLimit.local.0.unit")) << v.output.toStdString();
    EXPECT_TRUE(v.output.contains("exactly one of the fields in [users secretRef]")) << v.output.toStdString();
}

// An HTTPS listener without a certificate is what a cluster refuses (the Gateway API rule the validator checks).
TEST(AgentgatewayConformance, ATerminatingListenerNeedsACertificateRef)
{
    const auto v = validate(QJsonArray{json(R"({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "g", "namespace": "n"}, "spec": {"gatewayClassName": "agentgateway",
        "listeners": [{"name": "https", "protocol": "HTTPS", "port": 8443, "tls": {"mode": "Terminate"}}]}})")});
    if (v.skipped)
        GTEST_SKIP() << v.why.toStdString();
    EXPECT_EQ(v.exitCode, 1) << v.output.toStdString();
    EXPECT_TRUE(v.output.contains("certificateRefs or options must be specified")) << v.output.toStdString();
}
