// SPDX-License-Identifier: Apache-2.0
#include "config/yaml.h"
#include "support/seed.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <gtest/gtest.h>

#include <cmath>

using namespace dfproxy::config;

namespace {

const QByteArray kSeedBackend = dfproxy::test::seedBackendYaml();

const char *kSeedRoute = R"(apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: dfp-httproute
  namespace: httpbin
spec:
  parentRefs:
  - name: agentgateway-proxy
    namespace: agentgateway-system
  rules:
  - backendRefs:
    - name: dfp-backend
      group: agentgateway.dev
      kind: AgentgatewayBackend
)";

QJsonObject parseOne(const QByteArray &text)
{
    YamlError e;
    auto docs = parseYamlDocuments(text, &e);
    EXPECT_TRUE(docs.has_value()) << e.toString().toStdString();
    EXPECT_EQ(docs ? docs->size() : 0, 1);
    return docs && !docs->isEmpty() ? docs->at(0).toObject() : QJsonObject{};
}

} // namespace

TEST(Yaml, ReadsSeedManifestsVerbatim)
{
    const auto be = parseOne(kSeedBackend);
    EXPECT_EQ(be.value("kind").toString(), "AgentgatewayBackend");
    EXPECT_EQ(be.value("metadata").toObject().value("namespace").toString(), "httpbin");
    EXPECT_TRUE(be.value("spec").toObject().value("dynamicForwardProxy").isObject());

    const auto route = parseOne(kSeedRoute);
    const auto ref = route.value("spec").toObject().value("rules").toArray()[0].toObject()
                         .value("backendRefs").toArray()[0].toObject();
    EXPECT_EQ(ref.value("kind").toString(), "AgentgatewayBackend");
    EXPECT_EQ(ref.value("group").toString(), "agentgateway.dev");
    EXPECT_EQ(route.value("spec").toObject().value("parentRefs").toArray()[0].toObject().value("namespace").toString(),
              "agentgateway-system");
}

TEST(Yaml, SplitsMultiDocumentStreamsAndSkipsEmptyDocuments)
{
    const QByteArray text = QByteArray("---\n") + kSeedBackend + "---\n---\n# only a comment\n---\n" + kSeedRoute + "---\n";
    YamlError e;
    const auto docs = parseYamlDocuments(text, &e);
    ASSERT_TRUE(docs) << e.toString().toStdString();
    ASSERT_EQ(docs->size(), 2);
    EXPECT_EQ(docs->at(0).toObject().value("kind").toString(), "AgentgatewayBackend");
    EXPECT_EQ(docs->at(1).toObject().value("kind").toString(), "HTTPRoute");
}

TEST(Yaml, TypesScalarsAsTheCoreSchema)
{
    const auto o = parseOne("i: 8080\nneg: -3\nhex: 0x1F\noct: 0o17\nf: 1.5\nexp: 1e3\nt: true\nF: False\nn: null\n"
                            "tilde: ~\nempty:\nq: \"8080\"\nsq: 'true'\ns: hello world\nver: 1.2.3\ninf: .inf\n"
                            "yes: yes\nstrtag: !!str 42\n");
    EXPECT_TRUE(o.value("i").isDouble());
    EXPECT_EQ(o.value("i").toInt(), 8080);
    EXPECT_EQ(o.value("neg").toInt(), -3);
    EXPECT_EQ(o.value("hex").toInt(), 31);
    EXPECT_EQ(o.value("oct").toInt(), 15);
    EXPECT_DOUBLE_EQ(o.value("f").toDouble(), 1.5);
    EXPECT_DOUBLE_EQ(o.value("exp").toDouble(), 1000.0);
    EXPECT_EQ(o.value("t"), QJsonValue(true));
    EXPECT_EQ(o.value("F"), QJsonValue(false));
    EXPECT_TRUE(o.value("n").isNull());
    EXPECT_TRUE(o.value("tilde").isNull());
    EXPECT_TRUE(o.value("empty").isNull());
    EXPECT_EQ(o.value("q"), QJsonValue("8080"));
    EXPECT_EQ(o.value("sq"), QJsonValue("true"));
    EXPECT_EQ(o.value("s"), QJsonValue("hello world"));
    EXPECT_EQ(o.value("ver"), QJsonValue("1.2.3"));
    EXPECT_TRUE(std::isinf(o.value("inf").toDouble()));
    EXPECT_EQ(o.value("yes"), QJsonValue("yes")); // YAML 1.1 booleans are strings in 1.2
    EXPECT_EQ(o.value("strtag"), QJsonValue("42"));
}

TEST(Yaml, ReportsErrorsWithLineAndColumn)
{
    YamlError e;
    EXPECT_FALSE(parseYamlDocuments("kind: HTTPRoute\nmetadata:\n  name: [unclosed\n", &e));
    EXPECT_GT(e.line, 0);
    EXPECT_GT(e.column, 0);
    EXPECT_TRUE(e.toString().startsWith("line ")) << e.toString().toStdString();

    YamlError dup;
    EXPECT_FALSE(parseYamlDocuments("a: 1\nb: 2\na: 3\n", &dup));
    EXPECT_EQ(dup.line, 3);
    EXPECT_TRUE(dup.message.contains("duplicate key")) << dup.message.toStdString();
}

TEST(Yaml, RejectsAliasBombs)
{
    QByteArray text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'k'; ++c) {
        text += QByteArray(1, c) + ": &" + QByteArray(1, c) + " [";
        for (int i = 0; i < 10; ++i)
            text += QByteArray(i ? ", *" : "*") + QByteArray(1, prev);
        text += "]\n";
        prev = c;
    }
    YamlError e;
    EXPECT_FALSE(parseYamlDocuments(text, &e));
    EXPECT_TRUE(e.message.contains("too large")) << e.message.toStdString();
}

TEST(Yaml, EmitsStableKeyOrderAndRoundTrips)
{
    const QJsonObject obj{{"status", QJsonObject{{"ok", true}}},
                          {"spec", QJsonObject{{"port", 8080}, {"version", "1.0"}, {"flag", "true"}, {"empty", ""},
                                               {"list", QJsonArray{}}, {"obj", QJsonObject{}}, {"ratio", 0.25},
                                               {"colon", "a: b"}, {"none", QJsonValue::Null}}},
                          {"metadata", QJsonObject{{"namespace", "httpbin"}, {"name", "x"}}},
                          {"kind", "HTTPRoute"},
                          {"apiVersion", "gateway.networking.k8s.io/v1"}};
    const QByteArray text = toYaml(obj);
    EXPECT_TRUE(text.startsWith("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: x\n"))
        << text.toStdString();
    EXPECT_LT(text.indexOf("spec:"), text.indexOf("status:"));
    YamlError e;
    const auto back = parseYamlDocuments(text, &e);
    ASSERT_TRUE(back) << e.toString().toStdString() << "\n" << text.toStdString();
    EXPECT_EQ(back->at(0).toObject(), obj) << text.toStdString();
}

TEST(Yaml, LongKeysRoundTrip)
{
    // Found by fuzz_config: keys past YAML's 1024-character limit for implicit keys did not read back.
    const QJsonObject obj{{QString(1100, QLatin1Char('k')), 1}, {QString(300, QChar(0x01)), "x"}, {"short", true}};
    const QByteArray text = toYaml(obj);
    YamlError e;
    const auto back = parseYamlDocuments(text, &e);
    ASSERT_TRUE(back) << e.toString().toStdString();
    EXPECT_EQ(back->at(0).toObject(), obj);
}

TEST(Yaml, StreamsThatHangYamlCppAreRejected)
{
    // Found by fuzz_admin_apply: yaml-cpp 0.7's LoadAll loops forever (and allocates) on these.
    for (const char *text : {",", ",,", "\n,\n"}) {
        YamlError e;
        EXPECT_FALSE(parseYamlDocuments(text, &e).has_value()) << text;
        EXPECT_FALSE(e.message.isEmpty()) << text;
    }
}

TEST(Yaml, EmitsDocumentsSeparated)
{
    const QByteArray text = toYamlDocuments(QJsonArray{QJsonObject{{"a", 1}}, QJsonObject{{"b", 2}}});
    EXPECT_EQ(text, "a: 1\n---\nb: 2\n");
}
