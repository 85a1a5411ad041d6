// SPDX-License-Identifier: Apache-2.0
#include "config/cel.h"

#include <QJsonDocument>
#include <QRandomGenerator>

#include <gtest/gtest.h>

using namespace dfproxy::config::cel;

namespace {

struct Request
{
    QList<QPair<QByteArray, QByteArray>> headers{{"X-My-Header", "cool-beans"}, {"Accept", "a"}, {"accept", "b"}};
    QJsonObject claims = QJsonDocument::fromJson(R"({"sub": "alice", "groups": ["dev", "ops"], "level": 3,
        "ratio": 0.5, "org": {"name": "acme"}, "admin": true})")
                             .object();
    Activation a;
    Request()
    {
        a.requestHost = "api.example.com";
        a.requestPath = "/v1/models";
        a.requestMethod = "GET";
        a.requestHeaders = &headers;
        a.sourceAddress = "127.0.0.1";
        a.destinationPort = 8080;
        a.jwtClaims = &claims;
    }
};

Result run(const QString &text, const Activation &a)
{
    QString error;
    const auto p = Program::compile(text, &error);
    EXPECT_TRUE(p.has_value()) << text.toStdString() << ": " << error.toStdString();
    return p ? p->evaluate(a) : Result::Error;
}

QString compileError(const QString &text)
{
    QString error;
    const auto p = Program::compile(text, &error);
    EXPECT_FALSE(p.has_value()) << text.toStdString() << " compiled";
    return error;
}

} // namespace

TEST(Cel, AttributesUnderAgentgatewaysNames)
{
    Request r;
    EXPECT_EQ(run("request.host == 'api.example.com'", r.a), Result::True);
    EXPECT_EQ(run("request.path == \"/v1/models\"", r.a), Result::True);
    EXPECT_EQ(run("request.method == 'GET'", r.a), Result::True);
    EXPECT_EQ(run("request.headers['x-my-header'] == 'cool-beans'", r.a), Result::True) << "names are case-insensitive";
    EXPECT_EQ(run("request.headers['accept'] == 'a,b'", r.a), Result::True) << "repeated headers are joined";
    EXPECT_EQ(run("source.address == '127.0.0.1'", r.a), Result::True);
    EXPECT_EQ(run("destination.port == 8080", r.a), Result::True);
    EXPECT_EQ(run("jwt.sub == 'alice'", r.a), Result::True);
    EXPECT_EQ(run("jwt['sub'] == 'alice'", r.a), Result::True);
    EXPECT_EQ(run("jwt.org.name == 'acme'", r.a), Result::True);
    EXPECT_EQ(run("jwt.level == 3 && jwt.admin == true && jwt.ratio != 1", r.a), Result::True);
    EXPECT_EQ(run("'ops' in jwt.groups", r.a), Result::True);
    EXPECT_EQ(run("'sub' in jwt && !('email' in jwt)", r.a), Result::True);
    EXPECT_EQ(run("'x-my-header' in request.headers", r.a), Result::True);
}

TEST(Cel, StringMethods)
{
    Request r;
    EXPECT_EQ(run("request.host.endsWith('.example.com')", r.a), Result::True);
    EXPECT_EQ(run("request.path.startsWith('/v1/')", r.a), Result::True);
    EXPECT_EQ(run("request.path.contains('model')", r.a), Result::True);
    EXPECT_EQ(run("request.path.startsWith('/V1')", r.a), Result::False) << "case-sensitive";
    EXPECT_EQ(run("request.path.matches('^/v[0-9]+/')", r.a), Result::True);
    EXPECT_EQ(run("request.path.matches('model')", r.a), Result::True) << "a search, not anchored";
    EXPECT_EQ(run("jwt.sub.matches('^al')", r.a), Result::True);
}

// RE2's $ is the very end; PCRE2's would also match before a final newline.
TEST(Cel, MatchesHasRe2Semantics)
{
    Request r;
    r.a.requestPath = "/admin\n";
    EXPECT_EQ(run("request.path.matches('^/admin$')", r.a), Result::False);
    r.a.requestPath = "/admin";
    EXPECT_EQ(run("request.path.matches('^/admin$')", r.a), Result::True);
    EXPECT_EQ(run("request.path.matches('^/[$]dmin')", r.a), Result::False) << "$ in a class stays a literal";
    r.a.requestPath = "/$dmin";
    EXPECT_EQ(run("request.path.matches('^/[$]dmin$')", r.a), Result::True);
    r.a.requestPath = "/admin";
    EXPECT_EQ(run("request.path.matches('(?i)^/ADMIN')", r.a), Result::True);
    EXPECT_EQ(run("request.path.matches('^/[[:alpha:]]+$')", r.a), Result::True);
    for (const char *bad : {"(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "(a)\\\\1", "(?>a)", "a*+", "a++", "(?m)^a$",
                            "(?R)", "a\\\\Z", "(?#comment)", "(?U)a*", "["})
        EXPECT_TRUE(compileError(QStringLiteral("request.path.matches('%1')").arg(bad)).contains("matches()")) << bad;
    EXPECT_TRUE(compileError("request.path.matches(request.host)").contains("string literal"));
}

TEST(Cel, PrecedenceAndShortCircuit)
{
    Request r;
    // && binds tighter than ||.
    EXPECT_EQ(run("true || false && false", r.a), Result::True);
    EXPECT_EQ(run("(true || false) && false", r.a), Result::False);
    EXPECT_EQ(run("!false && false", r.a), Result::False) << "! binds tighter than &&";
    EXPECT_EQ(run("!(request.method == 'POST')", r.a), Result::True);
    EXPECT_EQ(run("request.method in ['GET', 'HEAD'] && destination.port in [80, 8080]", r.a), Result::True);
    EXPECT_EQ(run("!!true", r.a), Result::True);
    EXPECT_EQ(run("-1 == -1", r.a), Result::True);
    // CEL's commutative logic: a deciding side wins over an error on the other side.
    EXPECT_EQ(run("request.headers['absent'] == 'x' || true", r.a), Result::True);
    EXPECT_EQ(run("false && request.headers['absent'] == 'x'", r.a), Result::False);
    EXPECT_EQ(run("request.headers['absent'] == 'x' && false", r.a), Result::False);
    EXPECT_EQ(run("request.headers['absent'] == 'x' || false", r.a), Result::Error);
}

// An absent attribute is an error, never a silent false: callers fail closed on it.
TEST(Cel, AbsentAttributesAreErrors)
{
    Request r;
    r.a.jwtClaims = nullptr;
    EXPECT_EQ(run("jwt.sub == 'alice'", r.a), Result::Error);
    EXPECT_EQ(run("!(jwt.sub == 'alice')", r.a), Result::Error);
    EXPECT_EQ(run("jwt.sub != 'alice'", r.a), Result::Error);
    Request r2;
    EXPECT_EQ(run("jwt.email == 'x'", r2.a), Result::Error);
    EXPECT_EQ(run("request.headers['absent'].startsWith('x')", r2.a), Result::Error);
    EXPECT_EQ(run("source.process.name == 'curl'", r2.a), Result::Error) << "until the application issue fills it";
    r2.a.processName = QStringLiteral("curl");
    r2.a.processPath = QStringLiteral("/usr/bin/curl");
    EXPECT_EQ(run("source.process.name == 'curl' && source.process.path.startsWith('/usr/')", r2.a), Result::True);
    // A claim of another type: equality is false, a method is an error.
    EXPECT_EQ(run("jwt.level == 'x'", r2.a), Result::False);
    EXPECT_EQ(run("jwt.level.startsWith('x')", r2.a), Result::Error);
    EXPECT_EQ(run("jwt.sub == null", r2.a), Result::False);
}

TEST(Cel, LiteralsAndEscapes)
{
    Request r;
    r.a.requestPath = "/a'b\"c\\d\te";
    EXPECT_EQ(run("request.path == '/a\\'b\"c\\\\d\\te'", r.a), Result::True);
    EXPECT_EQ(run("request.path == \"/a'b\\\"c\\\\d\\x09e\"", r.a), Result::True);
    EXPECT_EQ(run("request.path == '/a\\u0027b\"c\\\\d\\te'", r.a), Result::True);
    EXPECT_EQ(run("[1, 'a', true] == [1, 'a', true]", r.a), Result::True);
    EXPECT_EQ(run("[] == []", r.a), Result::True);
}

TEST(Cel, QuoteRoundTrips)
{
    Request r;
    for (const QString &s : {QStringLiteral("plain"), QStringLiteral("it's"), QStringLiteral("back\\slash"),
                             QStringLiteral("tab\tnew\nline"), QStringLiteral("ctl\x01")}) {
        r.a.requestPath = s.toUtf8();
        EXPECT_EQ(run("request.path == " + quote(s), r.a), Result::True) << quote(s).toStdString();
    }
}

TEST(Cel, OutsideTheSubsetIsACompileErrorWithAColumn)
{
    EXPECT_EQ(compileError("request.host =="), "column 16: unexpected end of expression");
    EXPECT_TRUE(compileError("size(request.host) > 3").contains("column 1: the function \"size\""));
    EXPECT_TRUE(compileError("request.host.size() == 3").contains("\"size\" is not in the CEL subset"));
    EXPECT_TRUE(compileError("destination.port < 1024").contains("column 18: the operator \"<\""));
    EXPECT_TRUE(compileError("request.host + 'x' == 'y'").contains("operator \"+\""));
    EXPECT_TRUE(compileError("has(jwt.sub)").contains("function \"has\""));
    EXPECT_TRUE(
        compileError("request.body == ''").contains("dfproxy does not implement the attribute \"request.body\""));
    EXPECT_TRUE(compileError("request.uri == ''").contains("\"request.uri\""));
    EXPECT_TRUE(compileError("llm.model == 'x'").contains("dfproxy does not implement the attribute \"llm\""));
    EXPECT_TRUE(compileError("foo == 'x'").contains("unknown attribute \"foo\""));
    EXPECT_TRUE(compileError("request == 'x'").contains("is an object"));
    EXPECT_TRUE(compileError("request.host == 1.5").contains("double literals"));
    EXPECT_TRUE(compileError("request.host == 0x10").contains("decimal int"));
    EXPECT_TRUE(compileError("request.host == r'x'").contains("raw and byte"));
    EXPECT_TRUE(compileError("request.host == '''x'''").contains("triple-quoted"));
    EXPECT_TRUE(compileError("request.host == 'x").contains("unterminated"));
    EXPECT_TRUE(compileError("request.host == '\\q'").contains("unknown escape"));
    EXPECT_TRUE(compileError(QStringLiteral("request.host == 'a\x01b'")).contains("control character"));
    EXPECT_EQ(run("request.host ==\n  'api.example.com'\r\n&& true", Request().a), Result::True)
        << "line breaks are blanks";
    EXPECT_TRUE(compileError("request.host ? true : false").contains("operator \"?\""));
    EXPECT_TRUE(compileError("{'a': 1} == {}").contains("operator \"{\""));
    EXPECT_TRUE(compileError("request.host == 'a' request.path").contains("unexpected"));
    EXPECT_TRUE(compileError("").contains("unexpected end"));
    EXPECT_TRUE(compileError(QString(20000, u'(')).contains("longer than"));
    EXPECT_TRUE(compileError(QString(100, u'(') + "true" + QString(100, u')')).contains("nested too deeply"));
    EXPECT_TRUE(compileError(QString(100, u'!') + "true").contains("nested too deeply"));
}

TEST(Cel, TypesAreCheckedAtCompileTime)
{
    EXPECT_TRUE(compileError("request.host == 1").contains("cannot compare string with int"));
    EXPECT_TRUE(compileError("destination.port == '80'").contains("cannot compare int with string"));
    EXPECT_TRUE(compileError("request.host").contains("it must be a bool"));
    EXPECT_TRUE(compileError("'a'").contains("must be a bool"));
    EXPECT_TRUE(compileError("request.host && true").contains("&& needs bool operands"));
    EXPECT_TRUE(compileError("!request.host").contains("! needs bool"));
    EXPECT_TRUE(compileError("destination.port.startsWith('8')").contains("method of strings, not of int"));
    EXPECT_TRUE(compileError("request.host.startsWith(1)").contains("takes a string"));
    EXPECT_TRUE(compileError("request.host.startsWith('a', 'b')").contains("takes one argument"));
    EXPECT_TRUE(compileError("'a' in request.host").contains("must be a list or a map"));
    EXPECT_TRUE(compileError("1 in request.headers").contains("map keys are strings"));
    EXPECT_TRUE(compileError("request.headers[1] == 'a'").contains("map keys are strings"));
    EXPECT_TRUE(compileError("request.host[0] == 'a'").contains("cannot be indexed"));
    EXPECT_TRUE(compileError("request.host.x == 'a'").contains("has no field"));
    EXPECT_TRUE(compileError("jwt.startsWith('a')").contains("not of jwt"));
    EXPECT_TRUE(compileError("-request.host == 'a'").contains("unary minus"));
}

// Whatever the text, compile() answers (a program or an error) and a program evaluates: random token soups.
TEST(Cel, RandomInputNeverCrashes)
{
    static const QStringList pieces = {"request.host",
                                       "request.headers",
                                       "['x']",
                                       "jwt",
                                       ".sub",
                                       "jwt.a.b",
                                       "source.address",
                                       "destination.port",
                                       "==",
                                       "!=",
                                       "in",
                                       "&&",
                                       "||",
                                       "!",
                                       "(",
                                       ")",
                                       "[",
                                       "]",
                                       ",",
                                       ".",
                                       "'a'",
                                       "\"b\"",
                                       "'\\x41'",
                                       "1",
                                       "-",
                                       "true",
                                       "null",
                                       ".matches('^(a|b)*$')",
                                       ".startsWith('a')",
                                       ".contains(",
                                       "size(",
                                       "'",
                                       "\\",
                                       "{",
                                       "?",
                                       ":",
                                       "1.5",
                                       "0x1",
                                       " "};
    QRandomGenerator rng(2506); // fixed: a failure reproduces
    Request r;
    int compiled = 0;
    for (int i = 0; i < 5000; ++i) {
        QString text;
        const int n = 1 + int(rng.bounded(12));
        for (int k = 0; k < n; ++k)
            text += pieces[int(rng.bounded(pieces.size()))] + (rng.bounded(2) ? " " : "");
        QString error;
        const auto p = Program::compile(text, &error);
        if (p) {
            ++compiled;
            p->evaluate(r.a);
        } else {
            EXPECT_TRUE(error.startsWith("column ")) << text.toStdString() << " -> " << error.toStdString();
        }
    }
    EXPECT_GT(compiled, 10);
}

// A literal in a spelling request.host or request.method never has would silently never match (a Deny that denies
// nothing): refused when the policy is applied.
TEST(Cel, LiteralsThatCanNeverMatchTheCanonicalHostOrMethodAreRefused)
{
    EXPECT_TRUE(compileError("request.host == 'Example.COM'").contains("lower-case"));
    EXPECT_TRUE(compileError("'API.example.com' == request.host").contains("lower-case"));
    EXPECT_TRUE(compileError("request.host in ['a.test', 'B.test']").contains("lower-case"));
    EXPECT_TRUE(compileError("request.host.endsWith('.Corp')").contains("lower-case"));
    EXPECT_TRUE(compileError(QStringLiteral("request.host == 'bücher.test'")).contains("xn--"));
    EXPECT_TRUE(compileError("request.method == 'get'").contains("upper-case"));
    EXPECT_TRUE(compileError("request.method in ['GET', 'post']").contains("upper-case"));
    Request r;
    EXPECT_EQ(run("request.host == 'api.example.com' && request.method in ['GET']", r.a), Result::True);
    EXPECT_EQ(run("request.host.matches('(?i)API')", r.a), Result::True) << "a pattern may ignore case";
}
