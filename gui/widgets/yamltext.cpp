// SPDX-License-Identifier: Apache-2.0
#include "widgets/yamltext.h"

#include <QJsonArray>
#include <QRegularExpression>
#include <QStringList>

#include <yaml-cpp/yaml.h>

#include <cmath>

namespace dfproxy::gui {

namespace {

// Aliases share nodes, so a few lines can expand enormously ("billion laughs"); an editor's object is small.
constexpr int kMaxNodes = 200'000;
constexpr int kMaxDepth = 64;

enum class Scalar { Null, Bool, Int, Float, String };

Scalar resolvePlain(const QString &s)
{
    static const QRegularExpression reInt(QStringLiteral("^[-+]?[0-9]+$"));
    static const QRegularExpression reFloat(QStringLiteral(
        "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\\.(inf|Inf|INF)$|^\\.(nan|NaN|NAN)$"));
    if (s.isEmpty() || s == u'~' || s == QLatin1String("null") || s == QLatin1String("Null") ||
        s == QLatin1String("NULL"))
        return Scalar::Null;
    if (QStringList{"true", "True", "TRUE", "false", "False", "FALSE"}.contains(s))
        return Scalar::Bool;
    if (reInt.match(s).hasMatch())
        return Scalar::Int;
    if (reFloat.match(s).hasMatch())
        return Scalar::Float;
    return Scalar::String;
}

struct ConvertError
{
    YAML::Mark mark;
    QString message;
};

class Converter
{
public:
    QJsonValue convert(const YAML::Node &node, int depth)
    {
        if (++m_nodes > kMaxNodes || depth > kMaxDepth)
            throw ConvertError{node.Mark(), QStringLiteral("document too large or too deep")};
        switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            return QJsonValue(QJsonValue::Null);
        case YAML::NodeType::Scalar:
            return scalar(node);
        case YAML::NodeType::Sequence: {
            QJsonArray a;
            for (const auto &child : node)
                a.append(convert(child, depth + 1));
            return a;
        }
        case YAML::NodeType::Map: {
            QJsonObject o;
            for (const auto &kv : node) {
                if (!kv.first.IsScalar())
                    throw ConvertError{kv.first.Mark(), QStringLiteral("mapping keys must be scalars")};
                const QString key = QString::fromStdString(kv.first.Scalar());
                if (o.contains(key))
                    throw ConvertError{kv.first.Mark(), QStringLiteral("duplicate key \"%1\"").arg(key)};
                o.insert(key, convert(kv.second, depth + 1));
            }
            return o;
        }
        }
        return QJsonValue(QJsonValue::Null);
    }

private:
    static QJsonValue scalar(const YAML::Node &node)
    {
        const QString s = QString::fromStdString(node.Scalar());
        // "?" is a plain scalar; "!" a quoted or block one, which is always a string.
        if (node.Tag() != "?")
            return s;
        switch (resolvePlain(s)) {
        case Scalar::Null:
            return QJsonValue(QJsonValue::Null);
        case Scalar::Bool:
            return s.compare(QLatin1String("true"), Qt::CaseInsensitive) == 0;
        case Scalar::Int: {
            bool ok = false;
            const qlonglong v = s.toLongLong(&ok);
            return ok ? QJsonValue(v) : QJsonValue(s.toDouble());
        }
        case Scalar::Float:
            if (s.contains(QLatin1String("inf"), Qt::CaseInsensitive))
                return s.startsWith(u'-') ? -HUGE_VAL : HUGE_VAL;
            if (s.contains(QLatin1String("nan"), Qt::CaseInsensitive))
                return std::nan("");
            return s.toDouble();
        case Scalar::String:
            break;
        }
        return s;
    }

    int m_nodes = 0;
};

bool needsQuotes(const QString &s)
{
    if (resolvePlain(s) != Scalar::String)
        return true;
    if (s.front().isSpace() || s.back().isSpace())
        return true;
    static const QString indicators = QStringLiteral("-?:,[]{}#&*!|>'\"%@`");
    if (indicators.contains(s.front()))
        return true;
    return s.contains(QLatin1String(": ")) || s.contains(QLatin1String(" #")) || s.endsWith(u':') ||
           s.contains(u'\n') || s.contains(u'\t');
}

// A manifest's top level reads apiVersion, kind, metadata, spec; inside it, a reference or list item reads best
// with its name (and namespace) first.
QStringList orderedKeys(const QJsonObject &o, int depth)
{
    static const QStringList top = {"apiVersion", "kind", "metadata", "spec", "status"};
    static const QStringList inner = {"name", "namespace"};
    const QStringList &first = depth == 0 ? top : inner;
    QStringList keys;
    for (const QString &k : first) {
        if (o.contains(k))
            keys.append(k);
    }
    for (auto it = o.begin(); it != o.end(); ++it) {
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

void emitValue(YAML::Emitter &out, const QJsonValue &v, int depth)
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
        const QJsonArray a = v.toArray();
        if (a.isEmpty()) {
            out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
            break;
        }
        out << YAML::BeginSeq;
        for (const auto &e : a)
            emitValue(out, e, depth + 1);
        out << YAML::EndSeq;
        break;
    }
    case QJsonValue::Object: {
        const QJsonObject o = v.toObject();
        if (o.isEmpty()) {
            out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
            break;
        }
        out << YAML::BeginMap;
        for (const QString &k : orderedKeys(o, depth)) {
            out << YAML::Key;
            emitString(out, k);
            out << YAML::Value;
            emitValue(out, o.value(k), depth + 1);
        }
        out << YAML::EndMap;
        break;
    }
    }
}

// "spec.rules[0].backendRefs[1].name" -> {"spec", "rules", 0, "backendRefs", 1, "name"} (ints as "[0]").
QStringList pathSteps(const QString &path)
{
    QStringList steps;
    static const QRegularExpression re(QStringLiteral("([^.\\[\\]]+)|\\[(\\d+)\\]"));
    for (auto it = re.globalMatch(path); it.hasNext();) {
        const auto m = it.next();
        steps.append(m.captured(1).isEmpty() ? QStringLiteral("[%1]").arg(m.captured(2)) : m.captured(1));
    }
    return steps;
}

} // namespace

QString YamlTextError::toString() const
{
    if (line <= 0)
        return message;
    return QStringLiteral("line %1, column %2: %3").arg(line).arg(column).arg(message);
}

QString objectToYaml(const QJsonObject &object)
{
    YAML::Emitter out;
    out.SetIndent(2);
    emitValue(out, object, 0);
    QString text = QString::fromUtf8(out.c_str(), qsizetype(out.size()));
    if (!text.endsWith(u'\n'))
        text.append(u'\n');
    return text;
}

std::optional<QJsonObject> yamlToObject(const QString &text, YamlTextError *error)
{
    auto fail = [error](const YAML::Mark &mark, const QString &message) {
        if (error) {
            error->line = mark.is_null() ? 0 : mark.line + 1;
            error->column = mark.is_null() ? 0 : mark.column + 1;
            error->message = message;
        }
        return std::nullopt;
    };
    try {
        const YAML::Node root = YAML::Load(text.toStdString());
        if (!root.IsMap())
            return fail(root.Mark(), QStringLiteral("the text must be one object (a mapping of apiVersion, kind, "
                                                    "metadata, spec)"));
        return Converter().convert(root, 0).toObject();
    } catch (const ConvertError &e) {
        return fail(e.mark, e.message);
    } catch (const YAML::Exception &e) {
        return fail(e.mark, QString::fromStdString(e.msg));
    } catch (const std::exception &e) {
        return fail(YAML::Mark::null_mark(), QString::fromLocal8Bit(e.what()));
    }
}

int yamlLineOf(const QString &text, const QString &path)
{
    try {
        YAML::Node node = YAML::Load(text.toStdString());
        int line = 0;
        for (const QString &step : pathSteps(path)) {
            YAML::Node next;
            YAML::Mark mark = YAML::Mark::null_mark();
            if (step.startsWith(u'[')) {
                const int i = step.mid(1, step.size() - 2).toInt();
                if (!node.IsSequence() || i >= int(node.size()))
                    break;
                next.reset(node[std::size_t(i)]);
                mark = next.Mark();
            } else {
                if (!node.IsMap())
                    break;
                bool found = false;
                for (const auto &kv : node) {
                    if (kv.first.IsScalar() && QString::fromStdString(kv.first.Scalar()) == step) {
                        next.reset(kv.second);
                        mark = kv.first.Mark(); // the key's line: a block value starts on the next one
                        found = true;
                        break;
                    }
                }
                if (!found)
                    break;
            }
            if (!mark.is_null())
                line = mark.line + 1;
            node.reset(next);
        }
        return line;
    } catch (const std::exception &) {
        return 0;
    }
}

} // namespace dfproxy::gui
