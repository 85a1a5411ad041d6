// SPDX-License-Identifier: Apache-2.0
#include "config/agentgatewaypolicy.h"

#include "config/fileconfinement.h"
#include "config/validation.h"
#include "platform/proxysecurity.h"

#include <QFile>
#include <QJsonDocument>
#include <QTemporaryDir>

#include <gtest/gtest.h>

using namespace dfproxy::config;

namespace {

Resource policy(const QByteArray &specJson, const QJsonObject &annotations = {})
{
    QJsonParseError e;
    const auto spec = QJsonDocument::fromJson(specJson, &e).object();
    EXPECT_EQ(e.error, QJsonParseError::NoError) << e.errorString().toStdString() << " in " << specJson.toStdString();
    QJsonObject meta{{"name", "p"}, {"namespace", "agentgateway-system"}};
    if (!annotations.isEmpty())
        meta.insert("annotations", annotations);
    return Resource(QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                                {"kind", "AgentgatewayPolicy"},
                                {"metadata", meta},
                                {"spec", spec}});
}

QString errorsText(const QList<FieldError> &errors)
{
    QStringList out;
    for (const auto &e : errors)
        out.append(e.path + ": " + e.message);
    return out.join("\n");
}

// The message of the error at `path`; empty when there is none.
QString errorAt(const QList<FieldError> &errors, const QString &path)
{
    for (const auto &e : errors) {
        if (e.path == path)
            return e.message;
    }
    return {};
}

constexpr auto kGatewayTarget =
    R"("targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "agentgateway-proxy"}])";

} // namespace

TEST(AgentgatewayPolicyKind, IsRegisteredWithAgentgatewaysNames)
{
    const auto k = findKind("agpol");
    ASSERT_TRUE(k.has_value());
    EXPECT_EQ(k->kind, "AgentgatewayPolicy");
    EXPECT_EQ(k->group, "agentgateway.dev");
    EXPECT_EQ(k->plural, "agentgatewaypolicies");
    EXPECT_EQ(findKind("AgentgatewayPolicy")->kind, "AgentgatewayPolicy");
}

TEST(AgentgatewayPolicy, TunnelUrlIsNormalisedWithItsPort)
{
    QList<FieldError> errors;
    const auto s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": "http://Proxy.Corp"}}})"),
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    ASSERT_TRUE(s.tunnel.has_value());
    EXPECT_EQ(s.tunnel->url, "http://proxy.corp:80");
    EXPECT_EQ(s.sections, QStringList{"backend.tunnel"});

    const auto v6 = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": "https://[::1]:3129"}}})"),
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    EXPECT_EQ(v6.tunnel->url, "https://[::1]:3129");
}

TEST(AgentgatewayPolicy, TunnelUrlWithCredentialsOrPathIsRefused)
{
    const QString path = "spec.backend.tunnel.url";
    for (const char *url : {"http://user:secret@proxy.corp:3128", "http://proxy.corp:3128/", "http://proxy.corp:3128/x",
                            "socks5://proxy.corp:1080", "HTTP://proxy.corp:3128", "http://proxy.corp:0",
                            "http://proxy.corp:65536", "http://proxy.corp:", "http://pro xy:3128",
                            "http://proxy.corp:3128?x=1", "http://[::1:3128", "http://[1.2.3.4]:3128", ""}) {
        QList<FieldError> errors;
        parseAgentgatewayPolicySpec(
            policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": ")" + url + R"("}}})"),
            &errors);
        EXPECT_FALSE(errorAt(errors, path).isEmpty()) << url << "\n" << errorsText(errors).toStdString();
    }
    QList<FieldError> errors;
    parseAgentgatewayPolicySpec(policy(QByteArray("{") + kGatewayTarget +
                                       R"(, "backend": {"tunnel": {"url": "http://user:secret@proxy.corp:3128"}}})"),
                                &errors);
    EXPECT_TRUE(errorAt(errors, path).contains("dfproxy.dev/tunnel-credentials-file"))
        << errorsText(errors).toStdString();
    EXPECT_FALSE(errorsText(errors).contains("secret")) << "the password must not be echoed";
}

TEST(AgentgatewayPolicy, AnnotationsAreCompiledIntoTheTunnel)
{
    QList<FieldError> errors;
    const auto s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": "http://proxy.corp:3128"}}})",
               QJsonObject{{"dfproxy.dev/tunnel-credentials-file", "/etc/dfproxy/proxy-credentials"},
                           {"dfproxy.dev/tunnel-bypass", " <local>, *.corp,.intranet , 10.0.0.0/8,Localhost,"},
                           {"dfproxy.dev/tunnel-pac-url", "file:///etc/dfproxy/proxy.pac"}}),
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    ASSERT_TRUE(s.tunnel.has_value());
    EXPECT_EQ(s.tunnel->credentialsFile, "/etc/dfproxy/proxy-credentials");
    EXPECT_EQ(s.tunnel->bypass, (QStringList{"<local>", "*.corp", ".intranet", "10.0.0.0/8", "localhost"}));
    EXPECT_EQ(s.tunnel->pacUrl, "file:///etc/dfproxy/proxy.pac");
}

TEST(AgentgatewayPolicy, BadOrStrayTunnelAnnotationsAreRefused)
{
    const QByteArray withTunnel =
        QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": "http://proxy.corp:3128"}}})";
    QList<FieldError> errors;
    parseAgentgatewayPolicySpec(policy(withTunnel, QJsonObject{{"dfproxy.dev/tunnel-bypass", "*.corp, http://x/"}}),
                                &errors);
    EXPECT_FALSE(errorAt(errors, "metadata.annotations[dfproxy.dev/tunnel-bypass]").isEmpty());

    errors.clear();
    parseAgentgatewayPolicySpec(policy(withTunnel, QJsonObject{{"dfproxy.dev/tunnel-pac-url", "ftp://x/proxy.pac"}}),
                                &errors);
    EXPECT_FALSE(errorAt(errors, "metadata.annotations[dfproxy.dev/tunnel-pac-url]").isEmpty());

    errors.clear();
    parseAgentgatewayPolicySpec(policy(withTunnel, QJsonObject{{"dfproxy.dev/tunnel-bypas", "*.corp"}}), &errors);
    EXPECT_TRUE(errorAt(errors, "metadata.annotations[dfproxy.dev/tunnel-bypas]").contains("unknown annotation"));

    // Without a tunnel the annotations would be ignored: refused.
    errors.clear();
    parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tls": {"sni": "x.example"}}})",
               QJsonObject{{"dfproxy.dev/tunnel-bypass", "*.corp"}}),
        &errors);
    EXPECT_TRUE(errorAt(errors, "metadata.annotations[dfproxy.dev/tunnel-bypass]").contains("spec.backend.tunnel"))
        << errorsText(errors).toStdString();
}

// Every field agentgateway defines that dfproxy does not honour is refused with its path and a sentence saying so;
// a field agentgateway does not define is an unknown field.
TEST(AgentgatewayPolicy, UnimplementedFieldsAreRefusedWithTheirPath)
{
    QList<FieldError> errors;
    parseAgentgatewayPolicySpec(policy(QByteArray("{") + kGatewayTarget + R"(,
        "backend": {"tunnel": {"url": "http://proxy.corp:3128"}, "ai": {}, "mcp": {}},
        "frontend": {"tracing": {}}, "strategy": {}, "bogus": 1})"),
                                &errors);
    for (const char *path : {"spec.backend.ai", "spec.backend.mcp", "spec.frontend.tracing", "spec.strategy"})
        EXPECT_TRUE(errorAt(errors, path).contains("dfproxy does not implement")) << path << "\n"
                                                                                  << errorsText(errors).toStdString();
    EXPECT_EQ(errorAt(errors, "spec.bogus"), "unknown field");

    errors.clear();
    parseAgentgatewayPolicySpec(policy(QByteArray("{") + kGatewayTarget +
                                       R"(, "backend": {"tunnel": {"backendRef": {"name": "squid", "port": 3128}}}})"),
                                &errors);
    EXPECT_TRUE(errorAt(errors, "spec.backend.tunnel.backendRef").contains("dfproxy does not implement"));
}

TEST(AgentgatewayPolicy, TargetsAreCheckedAsAgentgatewayDoes)
{
    QList<FieldError> errors;
    parseAgentgatewayPolicySpec(policy(R"({"targetSelectors": [{"group": "gateway.networking.k8s.io",
        "kind": "Gateway", "matchLabels": {"a": "b"}}], "backend": {"tunnel": {"url": "http://p:1"}}})"),
                                &errors);
    EXPECT_TRUE(errorAt(errors, "spec.targetSelectors").contains("dfproxy does not implement"));

    errors.clear();
    parseAgentgatewayPolicySpec(policy(R"({"targetRefs": [{"kind": "Gateway", "name": "g"},
        {"group": "", "kind": "Service", "name": "s"},
        {"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "b", "sectionName": "x"},
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "g", "port": 80}],
        "backend": {"tunnel": {"url": "http://p:1"}}})"),
                                &errors);
    EXPECT_TRUE(errorAt(errors, "spec.targetRefs[0].group").contains("is required"));
    EXPECT_TRUE(errorAt(errors, "spec.targetRefs[1].kind").contains("dfproxy does not implement Service"));
    EXPECT_TRUE(errorAt(errors, "spec.targetRefs[2].kind").contains("same kind"));
    EXPECT_TRUE(errorAt(errors, "spec.targetRefs[2].sectionName").contains("dfproxy does not implement"));
    EXPECT_TRUE(errorAt(errors, "spec.targetRefs[3].port").contains("dfproxy does not implement"));

    // A backend policy applies to a backend or to a whole Gateway.
    errors.clear();
    parseAgentgatewayPolicySpec(policy(R"({"targetRefs": [{"group": "gateway.networking.k8s.io",
        "kind": "Gateway", "name": "g", "sectionName": "http"}], "backend": {"tunnel": {"url": "http://p:1"}}})"),
                                &errors);
    EXPECT_FALSE(errorAt(errors, "spec.targetRefs[0].sectionName").isEmpty()) << errorsText(errors).toStdString();

    errors.clear();
    parseAgentgatewayPolicySpec(policy(QByteArray("{") + kGatewayTarget + "}"), &errors);
    EXPECT_FALSE(errorAt(errors, "spec").isEmpty());
}

TEST(AgentgatewayPolicy, ValidationDispatchesOnTheKind)
{
    const auto errors = validateResource(policy(QByteArray("{") + kGatewayTarget + R"(, "traffic": {"extProc": {}}})"));
    EXPECT_TRUE(errorAt(errors, "spec.traffic.extProc").contains("dfproxy does not implement"))
        << errorsText(errors).toStdString();
}

// The credentials file is an API-named path like the others (confined), and it holds a password: it must be 0600.
TEST(AgentgatewayPolicy, CredentialsFileIsConfinedAndMustBePrivate)
{
    QTemporaryDir dir;
    const QString file = dir.filePath("proxy-credentials");
    const Resource p =
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": "http://proxy.corp:3128"}}})",
               QJsonObject{{"dfproxy.dev/tunnel-credentials-file", file},
                           {"dfproxy.dev/tunnel-pac-url", "file:///etc/dfproxy/proxy.pac"}});
    const auto refs = fileReferences(p);
    ASSERT_EQ(refs.size(), 2);
    EXPECT_EQ(refs[0].field, "metadata.annotations[dfproxy.dev/tunnel-credentials-file]");
    EXPECT_TRUE(refs[0].secret);
    EXPECT_EQ(refs[1].path, "/etc/dfproxy/proxy.pac");

    FileConfinement confinement;
    confinement.readDirs = {dir.filePath("elsewhere")};
    EXPECT_EQ(confinement.check(refs, {}).size(), 2);

    EXPECT_EQ(checkSecretFiles(refs, {}).size(), 1) << "missing file";
    QFile f(file);
    ASSERT_TRUE(f.open(QIODevice::WriteOnly));
    f.write("user:password\n");
    f.close();
#ifndef Q_OS_WIN
    ASSERT_TRUE(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther));
    const auto loose = checkSecretFiles(refs, {});
    ASSERT_EQ(loose.size(), 1);
    EXPECT_TRUE(loose[0].message.contains("chmod 600")) << loose[0].message.toStdString();
    ASSERT_TRUE(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
#endif
    EXPECT_TRUE(checkSecretFiles(refs, {}).isEmpty());
}

// What `export --for agentgateway` writes for a backend's TLS reads back as the same TLS; other agentgateway
// backend policies are refused.
// A write that names a credentials file asking for a scheme dfproxy cannot speak here is refused then (422 at the
// annotation), not by the first request through the tunnel: an unknown type, and NTLM/Negotiate where this machine
// has no such mechanism (faked both ways, so the test means the same everywhere).
TEST(AgentgatewayPolicy, CredentialsFileWithASchemeDfproxyCannotSpeakIsRefusedWhenNamed)
{
    QTemporaryDir dir;
    const QString file = dir.filePath("proxy-credentials");
    const auto refs = fileReferences(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tunnel": {"url": "http://proxy.corp:3128"}}})",
               QJsonObject{{"dfproxy.dev/tunnel-credentials-file", file}}));
    auto write = [&](const QByteArray &text) {
        QFile f(file);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(text);
        f.close();
        ASSERT_TRUE(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
    };
    using Mechanism = dfproxy::platform::ProxySecurityContext::Mechanism;
    dfproxy::platform::ProxySecurityContext::setAvailabilityForTesting([](Mechanism m) {
        return m == Mechanism::Ntlm ? QStringLiteral("NTLM needs GSSAPI's NTLM mechanism, which is not installed")
                                    : QString();
    });

    write("type: kerberos\n");
    auto errors = checkSecretFiles(refs, {});
    ASSERT_EQ(errors.size(), 1);
    EXPECT_EQ(errors[0].path, "metadata.annotations[dfproxy.dev/tunnel-credentials-file]");
    EXPECT_TRUE(errors[0].message.contains("asks for 'kerberos' authentication, which dfproxy does not speak"))
        << errors[0].message.toStdString();

    write("type: ntlm\n");
    errors = checkSecretFiles(refs, {});
    ASSERT_EQ(errors.size(), 1);
    EXPECT_TRUE(errors[0].message.contains("NTLM mechanism, which is not installed")) << errors[0].message.toStdString();

    write("no colon here\n");
    errors = checkSecretFiles(refs, {});
    ASSERT_EQ(errors.size(), 1);
    EXPECT_TRUE(errors[0].message.contains("must hold one line user:password")) << errors[0].message.toStdString();

    for (const QByteArray &ok : {QByteArray("type: negotiate\n"), QByteArray("user:pa:ss\n")}) {
        write(ok);
        EXPECT_TRUE(checkSecretFiles(refs, {}).isEmpty()) << ok.constData();
    }
    EXPECT_TRUE(checkSecretFiles(refs, refs).isEmpty()) << "a file the config names already is not read again";
    dfproxy::platform::ProxySecurityContext::setAvailabilityForTesting({});
}

TEST(AgentgatewayBackendPolicies, TlsIsReadFromSpecPoliciesTls)
{
    auto backend = [](const char *spec) {
        return Resource(QJsonObject{{"apiVersion", "agentgateway.dev/v1alpha1"},
                                    {"kind", "AgentgatewayBackend"},
                                    {"metadata", QJsonObject{{"name", "b"}, {"namespace", "n"}}},
                                    {"spec", QJsonDocument::fromJson(spec).object()}});
    };
    QList<FieldError> errors;
    const auto b = parseBackendSpec(
        backend(
            R"({"dynamicForwardProxy": {}, "policies": {"tls": {"sni": "up.example", "insecureSkipVerify": "All"}}})"),
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    EXPECT_TRUE(b.tls);
    EXPECT_EQ(b.tlsSni, "up.example");
    EXPECT_TRUE(b.tlsInsecureSkipVerify);

    errors.clear();
    parseBackendSpec(
        backend(R"({"dynamicForwardProxy": {}, "tls": true, "policies": {"tls": {}, "auth": {"key": "k"}}})"), &errors);
    EXPECT_TRUE(errorAt(errors, "spec.policies.auth").contains("dfproxy does not implement"))
        << errorsText(errors).toStdString();
    EXPECT_TRUE(errorAt(errors, "spec.policies.tls").contains("not both"));
}

TEST(AgentgatewayPolicy, ApiKeysComeFromTheAnnotationsFileNotFromSecrets)
{
    const QByteArray spec =
        QByteArray("{") + kGatewayTarget +
        R"(, "traffic": {"apiKeyAuthentication": {"secretSelector": {"matchLabels": {"a": "b"}}}}})";
    QList<FieldError> errors;
    parseAgentgatewayPolicySpec(policy(spec), &errors);
    EXPECT_TRUE(errorAt(errors, "spec.traffic.apiKeyAuthentication").contains("dfproxy.dev/api-keys-file"))
        << errorsText(errors).toStdString();
    EXPECT_TRUE(errorAt(errors, "spec.traffic.apiKeyAuthentication").contains("does not implement"));

    errors.clear();
    const auto s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget +
                   R"(, "traffic": {"apiKeyAuthentication": {"mode": "Optional", "secretRef": {"name": "k"}}}})",
               QJsonObject{{"dfproxy.dev/api-keys-file", "/etc/dfproxy/keys"}}),
        &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    ASSERT_TRUE(s.authentication.has_value());
    EXPECT_TRUE(s.authentication->apiKeyEnabled);
    EXPECT_TRUE(s.authentication->optional);
    EXPECT_EQ(s.authentication->apiKeyHeader, "authorization");
    EXPECT_EQ(s.apiKeyPrefix, "Bearer ");
    EXPECT_EQ(s.apiKeysFile, "/etc/dfproxy/keys");

    // A JWT and an API key in the same Authorization header cannot be told apart.
    errors.clear();
    parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "traffic": {"apiKeyAuthentication": {"secretRef": {"name": "k"}},
                   "jwtAuthentication": {"providers": [{"issuer": "i", "jwks": {"inline": "{\"keys\": []}"}}]}}})",
               QJsonObject{{"dfproxy.dev/api-keys-file", "/k"}}),
        &errors);
    EXPECT_TRUE(errorAt(errors, "spec.traffic.apiKeyAuthentication.location").contains("cannot tell"))
        << errorsText(errors).toStdString();
}

// agentgateway's version enum has no auto: dfproxy.dev/backend-http-version Auto asks for ALPN negotiation, beside
// an unset version or HTTP2; with HTTP1, another value, or without spec.backend.http it is refused with its path.
TEST(AgentgatewayPolicy, BackendHttpVersionAutoAnnotation)
{
    const QJsonObject autoAnn{{"dfproxy.dev/backend-http-version", "Auto"}};
    QList<FieldError> errors;
    auto s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"http": {}}})", autoAnn), &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    ASSERT_TRUE(s.backendHttp.has_value());
    EXPECT_TRUE(s.backendHttp->autoVersion);

    errors.clear();
    s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"http": {"version": "HTTP2"}}})"), &errors);
    EXPECT_FALSE(s.backendHttp->autoVersion) << "HTTP2 alone stays h2 only";

    errors.clear();
    parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"http": {"version": "HTTP1"}}})", autoAnn),
        &errors);
    EXPECT_TRUE(errorAt(errors, "spec.backend.http.version").contains("contradicts"))
        << errorsText(errors).toStdString();

    errors.clear();
    parseAgentgatewayPolicySpec(policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"http": {}}})",
                                       QJsonObject{{"dfproxy.dev/backend-http-version", "auto"}}),
                                &errors);
    EXPECT_TRUE(errorAt(errors, "metadata.annotations[dfproxy.dev/backend-http-version]").contains("must be Auto"))
        << errorsText(errors).toStdString();

    errors.clear();
    parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"tls": {}}})", autoAnn), &errors);
    EXPECT_TRUE(errorAt(errors, "metadata.annotations[dfproxy.dev/backend-http-version]").contains("spec.backend.http"))
        << errorsText(errors).toStdString();
}

// spec.backend.http.version selects HTTP/2 to the backend (forward/http2forwarder.h); its other field and other
// spellings are refused with their path.
TEST(AgentgatewayPolicy, BackendHttpVersionIsReadAndItsOtherFieldsRefused)
{
    QList<FieldError> errors;
    auto s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"http": {"version": "HTTP2"}}})"), &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    ASSERT_TRUE(s.backendHttp.has_value());
    EXPECT_EQ(s.backendHttp->version, AgentgatewayBackendHttpSpec::Version::Http2);
    EXPECT_TRUE(s.sections.contains("backend.http"));

    errors.clear();
    s = parseAgentgatewayPolicySpec(
        policy(QByteArray("{") + kGatewayTarget + R"(, "backend": {"http": {"version": "HTTP1"}}})"), &errors);
    EXPECT_TRUE(errors.isEmpty()) << errorsText(errors).toStdString();
    EXPECT_EQ(s.backendHttp->version, AgentgatewayBackendHttpSpec::Version::Http1);

    errors.clear();
    parseAgentgatewayPolicySpec(policy(QByteArray("{") + kGatewayTarget +
                                       R"(, "backend": {"http": {"version": "h2", "requestTimeout": "5s"}}})"),
                                &errors);
    EXPECT_FALSE(errorAt(errors, "spec.backend.http.version").isEmpty()) << errorsText(errors).toStdString();
    EXPECT_TRUE(errorAt(errors, "spec.backend.http.requestTimeout").contains("dfproxy does not implement"))
        << errorsText(errors).toStdString();
}
