// SPDX-License-Identifier: Apache-2.0
#include "config/cel.h"

#include <QJsonArray>
#include <QRegularExpression>

#include <variant>
#include <vector>

namespace dfproxy::config::cel {

// ---- Values ----------------------------------------------------------------------------------------------------

namespace {

enum class Type { Bool, Int, Double, String, List, Map, Null, Dyn };

QString typeName(Type t)
{
    switch (t) {
    case Type::Bool:
        return QStringLiteral("bool");
    case Type::Int:
        return QStringLiteral("int");
    case Type::Double:
        return QStringLiteral("double");
    case Type::String:
        return QStringLiteral("string");
    case Type::List:
        return QStringLiteral("list");
    case Type::Map:
        return QStringLiteral("map");
    case Type::Null:
        return QStringLiteral("null");
    case Type::Dyn:
        return QStringLiteral("dyn");
    }
    return {};
}

struct Value;
using List = std::vector<Value>;
using Headers = const QList<QPair<QByteArray, QByteArray>> *;

struct ErrorValue
{
    bool operator==(const ErrorValue &) const = default;
};

// A run-time value. Maps are the request headers (keys compared case-insensitively, as HTTP does) or a JSON object
// (the JWT claims); lists are literals or JSON arrays.
struct Value
{
    std::variant<ErrorValue, std::monostate, bool, qint64, double, QString, std::shared_ptr<const List>, Headers,
                 QJsonObject>
        v;
    bool isError() const { return std::holds_alternative<ErrorValue>(v); }
    static Value error() { return Value{ErrorValue{}}; }
};

Value fromJson(const QJsonValue &j)
{
    switch (j.type()) {
    case QJsonValue::Bool:
        return Value{j.toBool()};
    case QJsonValue::Double: {
        const double d = j.toDouble();
        if (d >= -9007199254740992.0 && d <= 9007199254740992.0 && d == double(qint64(d)))
            return Value{qint64(d)};
        return Value{d};
    }
    case QJsonValue::String:
        return Value{j.toString()};
    case QJsonValue::Array: {
        auto list = std::make_shared<List>();
        for (const auto &e : j.toArray())
            list->push_back(fromJson(e));
        return Value{std::shared_ptr<const List>(std::move(list))};
    }
    case QJsonValue::Object:
        return Value{j.toObject()};
    case QJsonValue::Null:
        return Value{std::monostate{}};
    case QJsonValue::Undefined:
        break;
    }
    return Value::error();
}

// CEL equality: values of different types are not equal (ints and doubles compare numerically); an error stays an
// error.
std::optional<bool> equal(const Value &a, const Value &b)
{
    if (a.isError() || b.isError())
        return std::nullopt;
    if (const auto *ai = std::get_if<qint64>(&a.v)) {
        if (const auto *bd = std::get_if<double>(&b.v))
            return double(*ai) == *bd;
    }
    if (const auto *ad = std::get_if<double>(&a.v)) {
        if (const auto *bi = std::get_if<qint64>(&b.v))
            return *ad == double(*bi);
    }
    if (a.v.index() != b.v.index())
        return false;
    if (const auto *al = std::get_if<std::shared_ptr<const List>>(&a.v)) {
        const auto &bl = std::get<std::shared_ptr<const List>>(b.v);
        if ((*al)->size() != bl->size())
            return false;
        for (size_t i = 0; i < bl->size(); ++i) {
            const auto e = equal((**al)[i], (*bl)[i]);
            if (!e || !*e)
                return e;
        }
        return true;
    }
    if (std::holds_alternative<Headers>(a.v))
        return std::get<Headers>(a.v) == std::get<Headers>(b.v);
    if (std::holds_alternative<QJsonObject>(a.v))
        return std::get<QJsonObject>(a.v) == std::get<QJsonObject>(b.v);
    return a.v == b.v;
}

std::optional<QString> headerValue(Headers headers, const QString &name)
{
    if (!headers)
        return std::nullopt;
    const QByteArray n = name.toLatin1();
    QByteArray joined;
    bool found = false;
    for (const auto &[k, v] : *headers) {
        if (k.compare(n, Qt::CaseInsensitive) != 0)
            continue;
        if (found)
            joined += ',';
        joined += v;
        found = true;
    }
    return found ? std::optional<QString>(QString::fromUtf8(joined)) : std::nullopt;
}

} // namespace

// ---- Syntax tree -----------------------------------------------------------------------------------------------

enum class Attr {
    RequestHost,
    RequestPath,
    RequestMethod,
    RequestHeaders,
    SourceAddress,
    DestinationPort,
    Jwt,
    ProcessName,
    ProcessPath
};
enum class Method { StartsWith, EndsWith, Contains, Matches };

struct Node
{
    enum class Kind { Literal, Attribute, Select, Index, Not, And, Or, Eq, Ne, In, Call, List } kind;
    Type type = Type::Dyn;                   ///< the static type the checker gave it
    Value literal;                           ///< Literal
    Attr attr = Attr::RequestHost;           ///< Attribute
    QString field;                           ///< Select
    Method method = Method::Contains;        ///< Call
    std::optional<QRegularExpression> regex; ///< Call matches with a literal pattern, compiled once
    std::vector<std::shared_ptr<const Node>> children;
};

namespace {

using NodePtr = std::shared_ptr<Node>;

// ---- Lexer -----------------------------------------------------------------------------------------------------

struct Token
{
    enum class Kind { End, Ident, Int, String, Op } kind = Kind::End;
    QString text;         ///< Ident, Op; the decoded value of String
    qint64 number = 0;    ///< Int
    qsizetype column = 0; ///< 1-based
};

struct CompileError
{
    qsizetype column;
    QString message;
};

class Lexer
{
public:
    explicit Lexer(const QString &s) : m_s(s) {}

    Token next()
    {
        while (m_i < m_s.size() && (m_s[m_i] == u' ' || m_s[m_i] == u'\t' || m_s[m_i] == u'\n' || m_s[m_i] == u'\r'))
            ++m_i;
        Token t;
        t.column = m_i + 1;
        if (m_i >= m_s.size())
            return t;
        const QChar c = m_s[m_i];
        if (c.isLetter() || c == u'_') {
            if (c.unicode() > 127)
                throw CompileError{t.column, QStringLiteral("identifiers are ASCII")};
            const qsizetype start = m_i;
            while (m_i < m_s.size() && m_s[m_i].unicode() < 128 && (m_s[m_i].isLetterOrNumber() || m_s[m_i] == u'_'))
                ++m_i;
            t.text = m_s.mid(start, m_i - start);
            const bool prefix = t.text == QLatin1String("r") || t.text == QLatin1String("R") ||
                                t.text == QLatin1String("b") || t.text == QLatin1String("B");
            if (prefix && m_i < m_s.size() && (m_s[m_i] == u'\'' || m_s[m_i] == u'"'))
                throw CompileError{t.column, QStringLiteral("raw and byte string literals are not in the CEL subset "
                                                            "dfproxy implements")};
            t.kind = Token::Kind::Ident;
            return t;
        }
        if (c.isDigit()) {
            const qsizetype start = m_i;
            while (m_i < m_s.size() && m_s[m_i].unicode() < 128 && m_s[m_i].isLetterOrNumber())
                ++m_i;
            const QString digits = m_s.mid(start, m_i - start);
            if (m_i < m_s.size() && m_s[m_i] == u'.' && m_i + 1 < m_s.size() && m_s[m_i + 1].isDigit())
                throw CompileError{t.column, QStringLiteral("double literals are not in the CEL subset dfproxy "
                                                            "implements")};
            static const QRegularExpression decimal(QStringLiteral("^(0|[1-9][0-9]*)$"));
            bool ok = false;
            t.number = digits.toLongLong(&ok);
            if (!decimal.match(digits).hasMatch() || !ok)
                throw CompileError{t.column, QStringLiteral("\"%1\" is not a decimal int literal (hex, unsigned and "
                                                            "double literals are not in the subset)")
                                                 .arg(digits)};
            t.kind = Token::Kind::Int;
            return t;
        }
        if (c == u'\'' || c == u'"') {
            t.kind = Token::Kind::String;
            t.text = string(c, t.column);
            return t;
        }
        static const char *const twoChar[] = {"==", "!=", "&&", "||", "<=", ">="};
        for (const char *op : twoChar) {
            if (m_s.mid(m_i, 2) == QLatin1String(op)) {
                m_i += 2;
                t.kind = Token::Kind::Op;
                t.text = QLatin1String(op);
                return t;
            }
        }
        ++m_i;
        t.kind = Token::Kind::Op;
        t.text = QString(c);
        return t;
    }

private:
    QString string(QChar quote, qsizetype column)
    {
        if (m_s.mid(m_i, 3) == QString(3, quote))
            throw CompileError{column, QStringLiteral("triple-quoted strings are not in the CEL subset dfproxy "
                                                      "implements")};
        ++m_i;
        QString out;
        while (true) {
            if (m_i >= m_s.size() || m_s[m_i] == u'\n' || m_s[m_i] == u'\r')
                throw CompileError{column, QStringLiteral("unterminated string literal")};
            const QChar c = m_s[m_i++];
            if (c == quote)
                return out;
            if (c != u'\\') {
                if ((c.unicode() < 0x20 && c != u'\t') || c.unicode() == 0x7f)
                    throw CompileError{m_i, QStringLiteral("a control character in a string literal must be written "
                                                           "as an escape (\\n, \\x01, ...)")};
                out += c;
                continue;
            }
            if (m_i >= m_s.size())
                throw CompileError{column, QStringLiteral("unterminated string literal")};
            const QChar e = m_s[m_i++];
            switch (e.unicode()) {
            case '\\':
                out += u'\\';
                break;
            case '\'':
                out += u'\'';
                break;
            case '"':
                out += u'"';
                break;
            case '`':
                out += u'`';
                break;
            case '?':
                out += u'?';
                break;
            case 'n':
                out += u'\n';
                break;
            case 'r':
                out += u'\r';
                break;
            case 't':
                out += u'\t';
                break;
            case 'a':
                out += QChar(7);
                break;
            case 'b':
                out += QChar(8);
                break;
            case 'f':
                out += QChar(12);
                break;
            case 'v':
                out += QChar(11);
                break;
            case 'x':
            case 'u':
            case 'U': {
                const int digits = e == u'x' ? 2 : e == u'u' ? 4 : 8;
                bool ok = false;
                const uint code = m_s.mid(m_i, digits).toUInt(&ok, 16);
                if (!ok || m_s.mid(m_i, digits).size() != digits || code > 0x10FFFF ||
                    (code >= 0xD800 && code <= 0xDFFF))
                    throw CompileError{m_i, QStringLiteral("bad \\%1 escape in a string literal").arg(e)};
                m_i += digits;
                const char32_t cp = code;
                out += QString::fromUcs4(&cp, 1);
                break;
            }
            default:
                throw CompileError{m_i - 1, QStringLiteral("unknown escape \\%1 in a string literal").arg(e)};
            }
        }
    }

    const QString &m_s;
    qsizetype m_i = 0;
};

// ---- RE2 compatibility -----------------------------------------------------------------------------------------

// CEL's matches() is RE2: an unanchored search, linear time, no backtracking constructs. QRegularExpression is
// PCRE2, which accepts more and means a few things differently. Refused: what RE2 would refuse (lookaround,
// backreferences, atomic groups, possessive quantifiers, recursion, conditionals, \Z, callouts). Rewritten: '$'
// outside a character class, which RE2 (without (?m)) anchors at the very end and PCRE2 also before a final
// newline, becomes \z; (?m) is refused so that rewrite stays right.
std::optional<QString> re2ToPcre(const QString &re, QString *problem)
{
    QString out;
    bool inClass = false;
    for (qsizetype i = 0; i < re.size(); ++i) {
        const QChar c = re[i];
        if (c == u'\\') {
            if (i + 1 >= re.size()) {
                *problem = QStringLiteral("ends with a lone backslash");
                return std::nullopt;
            }
            const QChar e = re[i + 1];
            if (!inClass && (e.isDigit() && e != u'0')) {
                *problem = QStringLiteral("backreferences (\\%1) are not RE2").arg(e);
                return std::nullopt;
            }
            static const QString refused = QStringLiteral("kgZRKXGNhHvVoOcEQ");
            if (refused.contains(e) && !(inClass && e == u'E')) {
                *problem = QStringLiteral("\\%1 is not RE2 (or means something else there)").arg(e);
                return std::nullopt;
            }
            out += c;
            out += e;
            ++i;
            continue;
        }
        if (inClass) {
            if (c == u'[' && i + 1 < re.size() && re[i + 1] == u':') {
                const qsizetype end = re.indexOf(QLatin1String(":]"), i + 2);
                if (end < 0) {
                    *problem = QStringLiteral("an unterminated [: class");
                    return std::nullopt;
                }
                out += re.mid(i, end + 2 - i); // [:alpha:] inside a class, the same in both
                i = end + 1;
                continue;
            }
            if (c == u']')
                inClass = false;
            out += c;
            continue;
        }
        if (c == u'[') {
            inClass = true;
            out += c;
            // "[]a]" and "[^]a]": a ']' first in a class is a literal in both.
            if (i + 1 < re.size() && re[i + 1] == u'^') {
                out += u'^';
                ++i;
            }
            if (i + 1 < re.size() && re[i + 1] == u']') {
                out += u']';
                ++i;
            }
            continue;
        }
        if (c == u'(' && i + 1 < re.size() && re[i + 1] == u'?') {
            const QString rest = re.mid(i + 2);
            // RE2 groups: (?:...), (?P<name>...), (?<name>...), flag groups (?i) (?s) (?U) (?i:...).
            static const QRegularExpression flags(QStringLiteral("^[is-]*[:)]"));
            if (rest.startsWith(u':') || rest.startsWith(QLatin1String("P<")) ||
                (rest.startsWith(u'<') && !rest.startsWith(QLatin1String("<=")) &&
                 !rest.startsWith(QLatin1String("<!")))) {
                out += QStringLiteral("(?");
                ++i;
                if (rest.startsWith(QLatin1String("P<"))) {
                    out += u'P';
                    ++i;
                }
                continue;
            }
            if (flags.match(rest).hasMatch()) {
                out += QStringLiteral("(?");
                ++i;
                continue;
            }
            *problem = QStringLiteral("the group \"(?%1\" is not RE2 (no lookaround, atomic groups, conditionals, "
                                      "recursion, comments or the m flag)")
                           .arg(rest.left(2));
            return std::nullopt;
        }
        if ((c == u'*' || c == u'+' || c == u'?' || c == u'}') && i + 1 < re.size() && re[i + 1] == u'+') {
            *problem = QStringLiteral("possessive quantifiers (%1+) are not RE2").arg(c);
            return std::nullopt;
        }
        if (c == u'$') {
            out += QStringLiteral("\\z");
            continue;
        }
        out += c;
    }
    return out;
}

// ---- Parser and checker ----------------------------------------------------------------------------------------

constexpr int kMaxDepth = 48;
constexpr qsizetype kMaxLength = 16384; // agentgateway's CRD limit for one expression

class Parser
{
public:
    explicit Parser(const QString &text) : m_lexer(text) { advance(); }

    NodePtr parse()
    {
        NodePtr n = orExpr();
        if (m_tok.kind != Token::Kind::End)
            fail(m_tok, QStringLiteral("unexpected %1").arg(describe(m_tok)));
        if (n->type != Type::Bool && n->type != Type::Dyn)
            throw CompileError{1, QStringLiteral("the expression is a %1; it must be a bool").arg(typeName(n->type))};
        return n;
    }

    bool readsJwt() const { return m_readsJwt; }

private:
    [[noreturn]] static void fail(const Token &t, const QString &message) { throw CompileError{t.column, message}; }

    static QString describe(const Token &t)
    {
        switch (t.kind) {
        case Token::Kind::End:
            return QStringLiteral("end of expression");
        case Token::Kind::Ident:
            return QStringLiteral("\"%1\"").arg(t.text);
        case Token::Kind::Int:
            return QStringLiteral("number %1").arg(t.number);
        case Token::Kind::String:
            return QStringLiteral("string literal");
        case Token::Kind::Op:
            return QStringLiteral("\"%1\"").arg(t.text);
        }
        return {};
    }

    void advance()
    {
        m_tok = m_lexer.next();
        if (m_tok.kind != Token::Kind::Op)
            return;
        static const QStringList known = {"==", "!=", "&&", "||", "!", "(", ")", "[", "]", ",", ".", "-"};
        if (!known.contains(m_tok.text))
            fail(m_tok, QStringLiteral("the operator \"%1\" is not in the CEL subset dfproxy implements (==, !=, in, "
                                       "&&, ||, !)")
                            .arg(m_tok.text));
    }

    bool isOp(const char *op) const { return m_tok.kind == Token::Kind::Op && m_tok.text == QLatin1String(op); }

    void expect(const char *op)
    {
        if (!isOp(op))
            fail(m_tok, QStringLiteral("expected \"%1\", found %2").arg(QLatin1String(op), describe(m_tok)));
        advance();
    }

    struct DepthGuard
    {
        explicit DepthGuard(Parser *p) : m_p(p)
        {
            if (++p->m_depth > kMaxDepth)
                fail(p->m_tok, QStringLiteral("the expression is nested too deeply"));
        }
        ~DepthGuard() { --m_p->m_depth; }
        Parser *m_p;
    };

    static NodePtr make(Node::Kind kind, Type type, std::vector<std::shared_ptr<const Node>> children = {})
    {
        auto n = std::make_shared<Node>();
        n->kind = kind;
        n->type = type;
        n->children = std::move(children);
        return n;
    }

    static void requireBool(const NodePtr &n, const Token &at, const char *op)
    {
        if (n->type != Type::Bool && n->type != Type::Dyn)
            fail(at, QStringLiteral("%1 needs bool operands, not %2").arg(QLatin1String(op), typeName(n->type)));
    }

    NodePtr orExpr()
    {
        DepthGuard guard(this);
        NodePtr left = andExpr();
        while (isOp("||")) {
            const Token at = m_tok;
            advance();
            NodePtr right = andExpr();
            requireBool(left, at, "||");
            requireBool(right, at, "||");
            left = make(Node::Kind::Or, Type::Bool, {left, right});
        }
        return left;
    }

    NodePtr andExpr()
    {
        NodePtr left = relation();
        while (isOp("&&")) {
            const Token at = m_tok;
            advance();
            NodePtr right = relation();
            requireBool(left, at, "&&");
            requireBool(right, at, "&&");
            left = make(Node::Kind::And, Type::Bool, {left, right});
        }
        return left;
    }

    static bool comparable(Type a, Type b)
    {
        if (a == Type::Dyn || b == Type::Dyn || a == b || a == Type::Null || b == Type::Null)
            return true;
        return (a == Type::Int && b == Type::Double) || (a == Type::Double && b == Type::Int);
    }

    NodePtr relation()
    {
        NodePtr left = unary();
        while (isOp("==") || isOp("!=") || (m_tok.kind == Token::Kind::Ident && m_tok.text == QLatin1String("in"))) {
            const Token at = m_tok;
            advance();
            NodePtr right = unary();
            if (at.text == QLatin1String("in")) {
                if (right->type != Type::List && right->type != Type::Map && right->type != Type::Dyn)
                    fail(at, QStringLiteral("the right side of \"in\" must be a list or a map, not %1")
                                 .arg(typeName(right->type)));
                if (right->type == Type::Map && left->type != Type::String && left->type != Type::Dyn)
                    fail(at, QStringLiteral("map keys are strings; \"in\" cannot find a %1").arg(typeName(left->type)));
                checkCanonical(left, right, at);
                left = make(Node::Kind::In, Type::Bool, {left, right});
            } else {
                if (!comparable(left->type, right->type))
                    fail(at,
                         QStringLiteral("cannot compare %1 with %2").arg(typeName(left->type), typeName(right->type)));
                checkCanonical(left, right, at);
                checkCanonical(right, left, at);
                left =
                    make(at.text == QLatin1String("==") ? Node::Kind::Eq : Node::Kind::Ne, Type::Bool, {left, right});
            }
        }
        return left;
    }

    // request.host is lower-case ASCII (IDN as A-labels) and request.method upper-case: a literal compared with
    // them in another spelling never matches, which in a Deny rule would let everything through. Refused instead.
    static void checkCanonical(const NodePtr &attribute, const NodePtr &literal, const Token &at)
    {
        if (attribute->kind != Node::Kind::Attribute ||
            (attribute->attr != Attr::RequestHost && attribute->attr != Attr::RequestMethod))
            return;
        const bool host = attribute->attr == Attr::RequestHost;
        auto check = [&](const Node &n) {
            if (n.kind != Node::Kind::Literal || n.type != Type::String)
                return;
            const QString s = std::get<QString>(n.literal.v);
            for (const QChar c : s) {
                const bool wrong = host ? (c.unicode() > 127 || (c >= u'A' && c <= u'Z')) : (c >= u'a' && c <= u'z');
                if (wrong)
                    fail(at, host ? QStringLiteral("request.host is lower-case ASCII (internationalised names as "
                                                   "xn-- A-labels); \"%1\" would never match it")
                                        .arg(s)
                                  : QStringLiteral("request.method is upper-case; \"%1\" would never match it").arg(s));
            }
        };
        check(*literal);
        if (literal->kind == Node::Kind::List) {
            for (const auto &item : literal->children)
                check(*item);
        }
    }

    NodePtr unary()
    {
        DepthGuard guard(this);
        if (isOp("!")) {
            const Token at = m_tok;
            advance();
            NodePtr operand = unary();
            requireBool(operand, at, "!");
            return make(Node::Kind::Not, Type::Bool, {operand});
        }
        if (isOp("-")) {
            const Token at = m_tok;
            advance();
            NodePtr operand = unary();
            if (operand->type != Type::Int || operand->kind != Node::Kind::Literal)
                fail(at, QStringLiteral("unary minus is only supported on int literals"));
            auto n = make(Node::Kind::Literal, Type::Int);
            n->literal = Value{-std::get<qint64>(operand->literal.v)};
            return n;
        }
        return member();
    }

    NodePtr member()
    {
        NodePtr n = primary();
        while (true) {
            if (isOp(".")) {
                advance();
                if (m_tok.kind != Token::Kind::Ident)
                    fail(m_tok, QStringLiteral("expected a field or method name after \".\""));
                const Token name = m_tok;
                advance();
                if (isOp("("))
                    n = call(n, name);
                else
                    n = select(n, name);
            } else if (isOp("[")) {
                const Token at = m_tok;
                advance();
                NodePtr key = orExpr();
                expect("]");
                n = indexInto(n, key, at);
            } else {
                return n;
            }
        }
    }

    NodePtr call(const NodePtr &target, const Token &name)
    {
        static const QHash<QString, Method> methods = {{"startsWith", Method::StartsWith},
                                                       {"endsWith", Method::EndsWith},
                                                       {"contains", Method::Contains},
                                                       {"matches", Method::Matches}};
        const auto it = methods.constFind(name.text);
        if (it == methods.constEnd())
            fail(name, QStringLiteral("the function \"%1\" is not in the CEL subset dfproxy implements "
                                      "(startsWith, endsWith, contains, matches)")
                           .arg(name.text));
        if (target->kind == Node::Kind::Attribute && target->attr == Attr::Jwt)
            fail(name, QStringLiteral("%1() is a method of strings, not of jwt").arg(name.text));
        expect("(");
        NodePtr arg = orExpr();
        if (isOp(","))
            fail(m_tok, QStringLiteral("%1() takes one argument").arg(name.text));
        expect(")");
        if (target->type != Type::String && target->type != Type::Dyn)
            fail(name, QStringLiteral("%1() is a method of strings, not of %2").arg(name.text, typeName(target->type)));
        if (arg->type != Type::String && arg->type != Type::Dyn)
            fail(name, QStringLiteral("%1() takes a string, not %2").arg(name.text, typeName(arg->type)));
        if (*it != Method::Matches)
            checkCanonical(target, arg, name);
        auto n = make(Node::Kind::Call, Type::Bool, {target, arg});
        n->method = *it;
        if (*it == Method::Matches) {
            if (arg->kind != Node::Kind::Literal)
                fail(name, QStringLiteral("matches() takes a string literal (the pattern is checked when the policy "
                                          "is applied)"));
            QString problem;
            const QString pattern = std::get<QString>(arg->literal.v);
            const auto pcre = re2ToPcre(pattern, &problem);
            if (!pcre)
                fail(name,
                     QStringLiteral("the pattern of matches() is not an RE2 pattern dfproxy accepts: %1").arg(problem));
            QRegularExpression re(*pcre);
            if (!re.isValid())
                fail(name, QStringLiteral("the pattern of matches() is invalid: %1").arg(re.errorString()));
            re.optimize();
            n->regex = re;
        }
        return n;
    }

    NodePtr attribute(Attr a, Type t)
    {
        auto n = make(Node::Kind::Attribute, t);
        n->attr = a;
        if (a == Attr::Jwt)
            m_readsJwt = true;
        return n;
    }

    // map.key is map["key"] (jwt.sub, a claim's claims); the fixed attribute paths are read by variable().
    NodePtr select(const NodePtr &target, const Token &name)
    {
        if (target->type != Type::Map && target->type != Type::Dyn)
            fail(name, QStringLiteral("a %1 has no field \"%2\"").arg(typeName(target->type), name.text));
        const bool headers = target->kind == Node::Kind::Attribute && target->attr == Attr::RequestHeaders;
        auto n = make(Node::Kind::Select, headers ? Type::String : Type::Dyn, {target});
        n->field = name.text;
        return n;
    }

    NodePtr indexInto(const NodePtr &target, const NodePtr &key, const Token &at)
    {
        if (target->type == Type::Map || target->type == Type::Dyn) {
            if (key->type != Type::String && key->type != Type::Dyn && target->type == Type::Map)
                fail(at, QStringLiteral("map keys are strings, not %1").arg(typeName(key->type)));
        } else if (target->type == Type::List) {
            if (key->type != Type::Int && key->type != Type::Dyn)
                fail(at, QStringLiteral("list indexes are ints, not %1").arg(typeName(key->type)));
        } else {
            fail(at, QStringLiteral("a %1 cannot be indexed").arg(typeName(target->type)));
        }
        const bool headers = target->kind == Node::Kind::Attribute && target->attr == Attr::RequestHeaders;
        return make(Node::Kind::Index, headers ? Type::String : Type::Dyn, {target, key});
    }

    // An identifier at the root: one of agentgateway's variables, then its fields.
    NodePtr variable(const Token &root)
    {
        static const QStringList agentgatewayRoots = {"response",  "backend",  "llm",     "llmRequest", "mcp", "apiKey",
                                                      "basicAuth", "extauthz", "extproc", "metadata",   "env"};
        if (root.text == QLatin1String("jwt"))
            return attribute(Attr::Jwt, Type::Map);
        const QString r = root.text;
        if (r != QLatin1String("request") && r != QLatin1String("source") && r != QLatin1String("destination")) {
            if (agentgatewayRoots.contains(r))
                fail(root, QStringLiteral("dfproxy does not implement the attribute \"%1\"").arg(r));
            fail(
                root,
                QStringLiteral("unknown attribute \"%1\" (dfproxy knows request, source, destination and jwt)").arg(r));
        }
        QString path = r;
        Token last = root;
        while (isOp(".")) {
            advance();
            if (m_tok.kind != Token::Kind::Ident)
                fail(m_tok, QStringLiteral("expected a field name after \"%1.\"").arg(path));
            last = m_tok;
            path += u'.' + m_tok.text;
            advance();
            static const QHash<QString, QPair<Attr, Type>> leaves = {
                {"request.host", {Attr::RequestHost, Type::String}},
                {"request.path", {Attr::RequestPath, Type::String}},
                {"request.method", {Attr::RequestMethod, Type::String}},
                {"request.headers", {Attr::RequestHeaders, Type::Map}},
                {"source.address", {Attr::SourceAddress, Type::String}},
                {"destination.port", {Attr::DestinationPort, Type::Int}},
                {"source.process.name", {Attr::ProcessName, Type::String}},
                {"source.process.path", {Attr::ProcessPath, Type::String}},
            };
            const auto it = leaves.constFind(path);
            if (it != leaves.constEnd())
                return attribute(it->first, it->second);
            if (path == QLatin1String("source.process"))
                continue;
            if (isOp("("))
                fail(last, QStringLiteral("\"%1\" is an object; it has no methods").arg(path.section(u'.', 0, -2)));
            fail(last, QStringLiteral("dfproxy does not implement the attribute \"%1\" (it knows request.host, "
                                      "request.path, request.method, request.headers, source.address, "
                                      "destination.port, jwt and source.process.name/path)")
                           .arg(path));
        }
        fail(last, QStringLiteral("\"%1\" is an object; name one of its fields").arg(path));
    }

    NodePtr primary()
    {
        DepthGuard guard(this);
        const Token t = m_tok;
        switch (t.kind) {
        case Token::Kind::End:
            fail(t, QStringLiteral("unexpected end of expression"));
        case Token::Kind::Int: {
            advance();
            auto n = make(Node::Kind::Literal, Type::Int);
            n->literal = Value{t.number};
            return n;
        }
        case Token::Kind::String: {
            advance();
            auto n = make(Node::Kind::Literal, Type::String);
            n->literal = Value{t.text};
            return n;
        }
        case Token::Kind::Ident: {
            advance();
            if (t.text == QLatin1String("true") || t.text == QLatin1String("false")) {
                auto n = make(Node::Kind::Literal, Type::Bool);
                n->literal = Value{t.text == QLatin1String("true")};
                return n;
            }
            if (t.text == QLatin1String("null")) {
                auto n = make(Node::Kind::Literal, Type::Null);
                n->literal = Value{std::monostate{}};
                return n;
            }
            if (t.text == QLatin1String("in"))
                fail(t, QStringLiteral("\"in\" needs a left operand"));
            if (isOp("("))
                fail(t, QStringLiteral("the function \"%1\" is not in the CEL subset dfproxy implements").arg(t.text));
            return variable(t);
        }
        case Token::Kind::Op:
            break;
        }
        if (isOp("(")) {
            advance();
            NodePtr inner = orExpr();
            expect(")");
            return inner;
        }
        if (isOp("[")) {
            advance();
            std::vector<std::shared_ptr<const Node>> items;
            while (!isOp("]")) {
                items.push_back(orExpr());
                if (!isOp(","))
                    break;
                advance();
            }
            expect("]");
            return make(Node::Kind::List, Type::List, std::move(items));
        }
        fail(t, QStringLiteral("unexpected %1").arg(describe(t)));
    }

    Lexer m_lexer;
    Token m_tok;
    int m_depth = 0;
    bool m_readsJwt = false;
};

// ---- Evaluation ------------------------------------------------------------------------------------------------

Value eval(const Node &n, const Activation &a);

std::optional<bool> asBool(const Value &v)
{
    if (const auto *b = std::get_if<bool>(&v.v))
        return *b;
    return std::nullopt;
}

Value attributeValue(Attr attr, const Activation &a)
{
    switch (attr) {
    case Attr::RequestHost:
        return Value{a.requestHost};
    case Attr::RequestPath:
        return Value{QString::fromUtf8(a.requestPath)};
    case Attr::RequestMethod:
        return Value{QString::fromLatin1(a.requestMethod)};
    case Attr::RequestHeaders:
        return Value{Headers(a.requestHeaders)};
    case Attr::SourceAddress:
        return a.sourceAddress.isEmpty() ? Value::error() : Value{a.sourceAddress};
    case Attr::DestinationPort:
        return a.destinationPort ? Value{*a.destinationPort} : Value::error();
    case Attr::Jwt:
        return a.jwtClaims ? Value{*a.jwtClaims} : Value::error();
    case Attr::ProcessName:
        return a.processName ? Value{*a.processName} : Value::error();
    case Attr::ProcessPath:
        return a.processPath ? Value{*a.processPath} : Value::error();
    }
    return Value::error();
}

Value lookup(const Value &container, const Value &key)
{
    if (container.isError() || key.isError())
        return Value::error();
    if (const auto *h = std::get_if<Headers>(&container.v)) {
        const auto *name = std::get_if<QString>(&key.v);
        const auto v = name ? headerValue(*h, *name) : std::nullopt;
        return v ? Value{*v} : Value::error();
    }
    if (const auto *o = std::get_if<QJsonObject>(&container.v)) {
        const auto *name = std::get_if<QString>(&key.v);
        if (!name || !o->contains(*name))
            return Value::error();
        return fromJson(o->value(*name));
    }
    if (const auto *l = std::get_if<std::shared_ptr<const List>>(&container.v)) {
        const auto *i = std::get_if<qint64>(&key.v);
        if (!i || *i < 0 || *i >= qint64((*l)->size()))
            return Value::error();
        return (**l)[size_t(*i)];
    }
    return Value::error();
}

Value contains(const Value &container, const Value &item)
{
    if (container.isError() || item.isError())
        return Value::error();
    if (const auto *l = std::get_if<std::shared_ptr<const List>>(&container.v)) {
        bool sawError = false;
        for (const auto &e : **l) {
            const auto eq = equal(item, e);
            if (eq && *eq)
                return Value{true};
            sawError = sawError || !eq;
        }
        return sawError ? Value::error() : Value{false};
    }
    const auto *name = std::get_if<QString>(&item.v);
    if (const auto *h = std::get_if<Headers>(&container.v))
        return name ? Value{headerValue(*h, *name).has_value()} : Value::error();
    if (const auto *o = std::get_if<QJsonObject>(&container.v))
        return name ? Value{o->contains(*name)} : Value::error();
    return Value::error();
}

Value callMethod(const Node &n, const Activation &a)
{
    const Value target = eval(*n.children[0], a);
    const Value arg = eval(*n.children[1], a);
    const auto *s = std::get_if<QString>(&target.v);
    const auto *x = std::get_if<QString>(&arg.v);
    if (!s || !x)
        return Value::error();
    switch (n.method) {
    case Method::StartsWith:
        return Value{s->startsWith(*x)};
    case Method::EndsWith:
        return Value{s->endsWith(*x)};
    case Method::Contains:
        return Value{s->contains(*x)};
    case Method::Matches: {
        const auto m = n.regex->match(*s);
        // PCRE2 gives up on pathological patterns (its match limit): an error, never a silent "no match".
        if (!m.isValid())
            return Value::error();
        return Value{m.hasMatch()};
    }
    }
    return Value::error();
}

Value eval(const Node &n, const Activation &a)
{
    switch (n.kind) {
    case Node::Kind::Literal:
        return n.literal;
    case Node::Kind::Attribute:
        return attributeValue(n.attr, a);
    case Node::Kind::Select:
        return lookup(eval(*n.children[0], a), Value{n.field});
    case Node::Kind::Index:
        return lookup(eval(*n.children[0], a), eval(*n.children[1], a));
    case Node::Kind::Not: {
        const auto b = asBool(eval(*n.children[0], a));
        return b ? Value{!*b} : Value::error();
    }
    case Node::Kind::And: {
        // CEL's commutative && and ||: a false (true) side decides even when the other side is an error.
        const auto l = asBool(eval(*n.children[0], a));
        if (l && !*l)
            return Value{false};
        const auto r = asBool(eval(*n.children[1], a));
        if (r && !*r)
            return Value{false};
        return l && r ? Value{true} : Value::error();
    }
    case Node::Kind::Or: {
        const auto l = asBool(eval(*n.children[0], a));
        if (l && *l)
            return Value{true};
        const auto r = asBool(eval(*n.children[1], a));
        if (r && *r)
            return Value{true};
        return l && r ? Value{false} : Value::error();
    }
    case Node::Kind::Eq:
    case Node::Kind::Ne: {
        const auto eq = equal(eval(*n.children[0], a), eval(*n.children[1], a));
        if (!eq)
            return Value::error();
        return Value{n.kind == Node::Kind::Eq ? *eq : !*eq};
    }
    case Node::Kind::In:
        return contains(eval(*n.children[1], a), eval(*n.children[0], a));
    case Node::Kind::Call:
        return callMethod(n, a);
    case Node::Kind::List: {
        auto list = std::make_shared<List>();
        for (const auto &c : n.children)
            list->push_back(eval(*c, a));
        return Value{std::shared_ptr<const List>(std::move(list))};
    }
    }
    return Value::error();
}

} // namespace

std::optional<Program> Program::compile(const QString &text, QString *error)
{
    auto report = [&](qsizetype column, const QString &message) {
        if (error)
            *error = QStringLiteral("column %1: %2").arg(column).arg(message);
    };
    if (text.size() > kMaxLength) {
        report(kMaxLength, QStringLiteral("the expression is longer than %1 characters").arg(kMaxLength));
        return std::nullopt;
    }
    try {
        Parser parser(text);
        NodePtr root = parser.parse();
        Program p;
        p.m_text = text;
        p.m_root = std::move(root);
        p.m_readsJwt = parser.readsJwt();
        return p;
    } catch (const CompileError &e) {
        report(e.column, e.message);
        return std::nullopt;
    }
}

Result Program::evaluate(const Activation &activation) const
{
    const auto b = asBool(eval(*m_root, activation));
    if (!b)
        return Result::Error;
    return *b ? Result::True : Result::False;
}

QString quote(const QString &s)
{
    QString out = QStringLiteral("'");
    for (const QChar c : s) {
        if (c == u'\\' || c == u'\'')
            out += u'\\' + QString(c);
        else if (c == u'\n')
            out += QStringLiteral("\\n");
        else if (c == u'\r')
            out += QStringLiteral("\\r");
        else if (c == u'\t')
            out += QStringLiteral("\\t");
        else if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            out += QStringLiteral("\\x%1").arg(c.unicode(), 2, 16, QLatin1Char('0'));
        else
            out += c;
    }
    return out + u'\'';
}

} // namespace dfproxy::config::cel
