// SPDX-License-Identifier: Apache-2.0
#pragma once
// The subset of CEL (the Common Expression Language, cel.dev) that AgentgatewayPolicy traffic.authorization
// matchExpressions may use in dfproxy: the attributes dfproxy knows, under agentgateway's names
// (request.host, request.path, request.method, request.headers["name"], source.address, destination.port,
// jwt.<claim>, source.process.name / .path), string/int/bool/null/list literals, and
// == != in && || ! ( ) with the methods startsWith, endsWith, contains and matches (RE2 syntax; constructs RE2 does
// not have are refused). Anything else is a compile error naming the column, so an expression dfproxy would
// evaluate differently from agentgateway is refused when the policy is applied, never at request time.
//
// The parser lives in config/ because the config is validated with it (config cannot depend on policy/); the
// policy engine evaluates the compiled programs. A Program is immutable and safe to evaluate from any thread.

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QString>

#include <memory>
#include <optional>

namespace dfproxy::config::cel {

/// The request as an expression sees it. Everything is borrowed: it must outlive evaluate().
struct Activation
{
    QString requestHost;      ///< request.host: target host, lower-case, no port
    QByteArray requestPath;   ///< request.path: without the query ("" for CONNECT)
    QByteArray requestMethod; ///< request.method: "GET", "CONNECT", ...
    const QList<QPair<QByteArray, QByteArray>> *requestHeaders = nullptr; ///< request.headers (names any case)
    QString sourceAddress;                                                ///< source.address: the client's IP address
    std::optional<qint64> destinationPort;  ///< destination.port: the listener port the request came in on
    const QJsonObject *jwtClaims = nullptr; ///< jwt: the claims of a verified JWT; null = absent
    std::optional<QString> processName;     ///< source.process.name: absent until the application issue fills it
    std::optional<QString> processPath;     ///< source.process.path
};

/// The outcome of one evaluation. Error: an attribute was absent (no JWT, a header not sent), a type did not fit
/// at run time (a claim of another type) or a regular expression gave up; callers decide what an error means
/// (authorization: an Allow expression with an error does not allow, a Deny one denies).
enum class Result { True, False, Error };

struct Node;

class Program
{
public:
    /// Compiles `text`. nullopt and `*error` ("column 12: ...") when it is not in the subset, does not parse or
    /// does not type-check (e.g. request.host == 1); the result must be a bool.
    static std::optional<Program> compile(const QString &text, QString *error);

    Result evaluate(const Activation &activation) const;
    const QString &text() const { return m_text; }
    /// True when the expression reads jwt (the engine keeps the claims of a verified token only then).
    bool readsJwt() const { return m_readsJwt; }

private:
    Program() = default;
    QString m_text;
    std::shared_ptr<const Node> m_root;
    bool m_readsJwt = false;
};

/// Quotes `s` as a CEL string literal ('...', with \\, \' and control characters escaped), for the exporter.
QString quote(const QString &s);

} // namespace dfproxy::config::cel
