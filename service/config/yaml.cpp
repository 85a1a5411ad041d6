// SPDX-License-Identifier: Apache-2.0
#include "config/yaml.h"

#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>
#include <sstream>

namespace dfproxy::config {

namespace {

// Aliases share nodes in yaml-cpp, so a small document can expand enormously ("billion laughs"); cap the work.
constexpr int kMaxNodes = 500'000;
constexpr int kMaxDepth = 128;

struct ConversionError
{
    YAML::Mark mark;
    QString message;
};

enum class ScalarType { Null, Bool, Int, Float, String };

const QRegularExpression &reInt()
{
    static const QRegularExpression re(QStringLiteral("^[-+]?[0-9]+$"));
    return re;
}
const QRegularExpression &reOct()
{
    static const QRegularExpression re(QStringLiteral("^0o[0-7]+$"));
    return re;
}
const QRegularExpression &reHex()
{
    static const QRegularExpression re(QStringLiteral("^0x[0-9a-fA-F]+$"));
    return re;
}
const QRegularExpression &reFloat()
{
    static const QRegularExpression re(QStringLiteral("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$"));
    return re;
}
const QRegularExpression &reInf()
{
    static const QRegularExpression re(QStringLiteral("^[-+]?\\.(inf|Inf|INF)$"));
    return re;
}
const QRegularExpression &reNan()
{
    static const QRegularExpression re(QStringLiteral("^\\.(nan|NaN|NAN)$"));
    return re;
}

// How the YAML 1.2 core schema resolves a plain scalar.
ScalarType resolvePlain(const QString &s)
{
    if (s.isEmpty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
        return ScalarType::Null;
    if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE")
        return ScalarType::Bool;
    if (reInt().match(s).hasMatch() || reOct().match(s).hasMatch() || reHex().match(s).hasMatch())
        return ScalarType::Int;
    if (reFloat().match(s).hasMatch() || reInf().match(s).hasMatch() || reNan().match(s).hasMatch())
        return ScalarType::Float;
    return ScalarType::String;
}

std::optional<QJsonValue> scalarToJson(const QString &s, ScalarType type)
{
    switch (type) {
    case ScalarType::Null:
        return QJsonValue(QJsonValue::Null);
    case ScalarType::Bool:
        if (s.compare("true", Qt::CaseInsensitive) == 0)
            return QJsonValue(true);
        if (s.compare("false", Qt::CaseInsensitive) == 0)
            return QJsonValue(false);
        return std::nullopt;
    case ScalarType::Int: {
        bool ok = false;
        qlonglong v = 0;
        if (s.startsWith("0o"))
            v = s.mid(2).toLongLong(&ok, 8);
        else if (s.startsWith("0x"))
            v = s.mid(2).toLongLong(&ok, 16);
        else
            v = s.toLongLong(&ok, 10);
        if (ok)
            return QJsonValue(v);
        // Out of 64-bit range: keep the magnitude as a double, as JSON would.
        const double d = s.toDouble(&ok);
        return ok ? std::optional<QJsonValue>(QJsonValue(d)) : std::nullopt;
    }
    case ScalarType::Float: {
        if (reInf().match(s).hasMatch())
            return QJsonValue(s.startsWith('-') ? -std::numeric_limits<double>::infinity()
                                                : std::numeric_limits<double>::infinity());
        if (reNan().match(s).hasMatch())
            return QJsonValue(std::numeric_limits<double>::quiet_NaN());
        bool ok = false;
        const double d = s.toDouble(&ok);
        return ok ? std::optional<QJsonValue>(QJsonValue(d)) : std::nullopt;
    }
    case ScalarType::String:
        return QJsonValue(s);
    }
    return std::nullopt;
}

class Converter
{
public:
    QJsonValue convert(const YAML::Node &node, int depth)
    {
        if (++m_nodes > kMaxNodes)
            throw ConversionError{node.Mark(), QStringLiteral("document too large (more than %1 nodes)").arg(kMaxNodes)};
        if (depth > kMaxDepth)
            throw ConversionError{node.Mark(), QStringLiteral("nesting deeper than %1 levels").arg(kMaxDepth)};
        switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            return QJsonValue(QJsonValue::Null);
        case YAML::NodeType::Scalar:
            return convertScalar(node);
        case YAML::NodeType::Sequence: {
            QJsonArray arr;
            for (const auto &child : node)
                arr.append(convert(child, depth + 1));
            return arr;
        }
        case YAML::NodeType::Map: {
            QJsonObject obj;
            for (const auto &kv : node) {
                if (!kv.first.IsScalar() && !kv.first.IsNull())
                    throw ConversionError{kv.first.Mark(), QStringLiteral("mapping keys must be scalars")};
                const QString key = kv.first.IsNull() ? QString() : QString::fromStdString(kv.first.Scalar());
                if (obj.contains(key))
                    throw ConversionError{kv.first.Mark(), QStringLiteral("duplicate key \"%1\"").arg(key)};
                obj.insert(key, convert(kv.second, depth + 1));
            }
            return obj;
        }
        }
        return QJsonValue(QJsonValue::Null);
    }

private:
    QJsonValue convertScalar(const YAML::Node &node)
    {
        const QString s = QString::fromStdString(node.Scalar());
        const std::string &tag = node.Tag();
        ScalarType type = ScalarType::String;
        if (tag == "?")
            type = resolvePlain(s); // plain scalar
        else if (tag == "!" || tag == "tag:yaml.org,2002:str")
            type = ScalarType::String; // quoted or block scalar
        else if (tag == "tag:yaml.org,2002:int")
            type = ScalarType::Int;
        else if (tag == "tag:yaml.org,2002:float")
            type = ScalarType::Float;
        else if (tag == "tag:yaml.org,2002:bool")
            type = ScalarType::Bool;
        else if (tag == "tag:yaml.org,2002:null")
            type = ScalarType::Null;
        else
            throw ConversionError{node.Mark(), QStringLiteral("unsupported tag \"%1\"").arg(QString::fromStdString(tag))};
        if (type == ScalarType::Int && tag != "?" && !reInt().match(s).hasMatch() && !reOct().match(s).hasMatch()
            && !reHex().match(s).hasMatch())
            throw ConversionError{node.Mark(), QStringLiteral("\"%1\" is not an integer").arg(s)};
        auto v = scalarToJson(s, type);
        if (!v)
            throw ConversionError{node.Mark(), QStringLiteral("\"%1\" is not a valid value for its tag").arg(s)};
        return *v;
    }

    int m_nodes = 0;
};

void setError(YamlError *error, const YAML::Mark &mark, const QString &message)
{
    if (!error)
        return;
    error->line = mark.is_null() ? 0 : mark.line + 1;
    error->column = mark.is_null() ? 0 : mark.column + 1;
    error->message = message;
}

// --- emitting ---

bool needsQuotes(const QString &s)
{
    if (resolvePlain(s) != ScalarType::String)
        return true;
    // Leading/trailing blanks and indicator characters would be lost or misread in a plain scalar.
    if (s.front().isSpace() || s.back().isSpace())
        return true;
    static const QString indicators = QStringLiteral("-?:,[]{}#&*!|>'\"%@`");
    if (indicators.contains(s.front()))
        return true;
    return s.contains(": ") || s.contains(" #") || s.endsWith(':') || s.contains('\n') || s.contains('\t');
}

QStringList orderedKeys(const QJsonObject &obj)
{
    static const QStringList first = {"apiVersion", "kind", "metadata", "name", "namespace", "spec", "status"};
    QStringList keys;
    for (const auto &k : first) {
        if (obj.contains(k))
            keys.append(k);
    }
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (!first.contains(it.key()))
            keys.append(it.key());
    }
    return keys;
}

void emitString(YAML::Emitter &out, const QString &s)
{
    if (needsQuotes(s))
        out << YAML::DoubleQuoted << s.toStdString();
    else
        out << s.toStdString();
}

void emitValue(YAML::Emitter &out, const QJsonValue &v)
{
    switch (v.type()) {
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        out << YAML::Null;
        break;
    case QJsonValue::Bool:
        out << v.toBool();
        break;
    case QJsonValue::Double: {
        const double d = v.toDouble();
        if (std::isnan(d))
            out << ".nan";
        else if (std::isinf(d))
            out << (d > 0 ? ".inf" : "-.inf");
        else if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
            out << static_cast<long long>(d);
        else
            out << QString::number(d, 'g', 17).toStdString();
        break;
    }
    case QJsonValue::String:
        emitString(out, v.toString());
        break;
    case QJsonValue::Array: {
        const auto arr = v.toArray();
        if (arr.isEmpty()) {
            out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
            break;
        }
        out << YAML::BeginSeq;
        for (const auto &e : arr)
            emitValue(out, e);
        out << YAML::EndSeq;
        break;
    }
    case QJsonValue::Object: {
        const auto obj = v.toObject();
        if (obj.isEmpty()) {
            out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
            break;
        }
        out << YAML::BeginMap;
        for (const auto &k : orderedKeys(obj)) {
            // YAML limits implicit keys to 1024 characters (escapes included): longer ones need the explicit
            // "? key" form, or the text does not read back (found by fuzzing). yaml-cpp keeps it for the rest of
            // this map.
            if (k.toUtf8().size() > 250)
                out << YAML::LongKey;
            out << YAML::Key;
            emitString(out, k);
            out << YAML::Value;
            emitValue(out, obj.value(k));
        }
        out << YAML::EndMap;
        break;
    }
    }
}

/// Walks the documents of a stream without building them, to catch a yaml-cpp 0.7 bug before LoadAll runs into
/// it: on some malformed streams (e.g. ",") the parser reports empty documents forever without consuming input,
/// and LoadAll loops, allocating until memory runs out (jbeder/yaml-cpp#1040; found here by fuzz_admin_apply).
/// A stream cannot hold more documents than bytes, so more than that means the parser is stuck.
class StuckParserGuard : public YAML::EventHandler
{
public:
    explicit StuckParserGuard(std::size_t limit) : m_limit(limit) {}
    void OnDocumentStart(const YAML::Mark &mark) override
    {
        if (++m_documents > m_limit)
            throw ConversionError{mark, QStringLiteral("malformed YAML stream (the parser made no progress)")};
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark &, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark &, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark &, const std::string &, YAML::anchor_t, const std::string &) override {}
    void OnSequenceStart(const YAML::Mark &, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override
    {
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark &, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

private:
    std::size_t m_limit;
    std::size_t m_documents = 0;
};

void rejectStuckStreams(const std::string &text)
{
    std::istringstream in(text);
    YAML::Parser parser(in);
    StuckParserGuard guard(text.size() + 1);
    while (parser.HandleNextDocument(guard)) {
    }
}

} // namespace

QString YamlError::toString() const
{
    if (line <= 0)
        return message;
    return QStringLiteral("line %1, column %2: %3").arg(line).arg(column).arg(message);
}

std::optional<QJsonArray> parseYamlDocuments(const QByteArray &text, YamlError *error)
{
    try {
        const std::string input = text.toStdString();
        rejectStuckStreams(input);
        const auto docs = YAML::LoadAll(input);
        QJsonArray out;
        Converter conv;
        for (const auto &doc : docs) {
            if (!doc.IsDefined() || doc.IsNull())
                continue;
            out.append(conv.convert(doc, 0));
        }
        return out;
    } catch (const ConversionError &e) {
        setError(error, e.mark, e.message);
    } catch (const YAML::Exception &e) {
        setError(error, e.mark, QString::fromStdString(e.msg));
    } catch (const std::exception &e) {
        setError(error, YAML::Mark::null_mark(), QString::fromLocal8Bit(e.what()));
    }
    return std::nullopt;
}

QByteArray toYaml(const QJsonValue &value)
{
    YAML::Emitter out;
    out.SetIndent(2);
    out.SetSeqFormat(YAML::Block);
    out.SetMapFormat(YAML::Block);
    emitValue(out, value);
    QByteArray text(out.c_str(), static_cast<qsizetype>(out.size()));
    if (!text.endsWith('\n'))
        text.append('\n');
    return text;
}

QByteArray toYamlDocuments(const QJsonArray &documents)
{
    QByteArray text;
    for (int i = 0; i < documents.size(); ++i) {
        if (i > 0)
            text.append("---\n");
        text.append(toYaml(documents[i]));
    }
    return text;
}

bool looksLikeJson(const QByteArray &text)
{
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '{' || c == '[';
    }
    return false;
}

} // namespace dfproxy::config
