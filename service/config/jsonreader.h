// SPDX-License-Identifier: Apache-2.0
#pragma once
// Strict JSON reading with field paths, shared by the parsers of config/ (model.cpp, agentgatewaypolicy.cpp).
// Internal to dfproxy_config.

#include "config/model.h"

#include <QJsonArray>
#include <QJsonObject>

#include <initializer_list>

namespace dfproxy::config::detail {

inline constexpr auto kControlsInHeaderValue = "must not contain control characters (CR, LF, NUL, ...; TAB is allowed)";

inline QString field(const QString &path, const char *key)
{
    return path.isEmpty() ? QString::fromLatin1(key) : path + u'.' + QLatin1String(key);
}

inline QString index(const QString &path, qsizetype i)
{
    return path + u'[' + QString::number(i) + u']';
}

// Strict JSON reading with error paths. Every accessor reports a wrong type once and returns a neutral value, so a
// parser can keep going and collect every problem of a resource in one pass.
class Reader
{
public:
    explicit Reader(QList<FieldError> *errors) : m_errors(errors) {}

    void error(const QString &path, const QString &message)
    {
        m_failed = true;
        if (m_errors)
            m_errors->append(FieldError{path, message});
    }
    bool failed() const { return m_failed; }

    /// Reports every key of `obj` not in `allowed` as an unknown field.
    void checkKeys(const QJsonObject &obj, const QString &path, std::initializer_list<const char *> allowed)
    {
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            bool known = false;
            for (const char *a : allowed) {
                if (it.key() == QLatin1String(a)) {
                    known = true;
                    break;
                }
            }
            if (!known)
                error(path.isEmpty() ? it.key() : path + u'.' + it.key(), QStringLiteral("unknown field"));
        }
    }

    std::optional<QJsonObject> object(const QJsonObject &parent, const QString &path, const char *key, bool required)
    {
        const auto v = parent.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull()) {
            if (required)
                error(field(path, key), QStringLiteral("is required"));
            return std::nullopt;
        }
        if (!v.isObject()) {
            error(field(path, key), QStringLiteral("must be an object"));
            return std::nullopt;
        }
        return v.toObject();
    }

    QJsonArray array(const QJsonObject &parent, const QString &path, const char *key, bool required)
    {
        const auto v = parent.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull()) {
            if (required)
                error(field(path, key), QStringLiteral("is required"));
            return {};
        }
        if (!v.isArray()) {
            error(field(path, key), QStringLiteral("must be an array"));
            return {};
        }
        return v.toArray();
    }

    /// Array elements that must be objects; reports the others.
    QList<QPair<QString, QJsonObject>> objects(const QJsonObject &parent, const QString &path, const char *key,
                                               bool required)
    {
        QList<QPair<QString, QJsonObject>> out;
        const auto arr = array(parent, path, key, required);
        for (qsizetype i = 0; i < arr.size(); ++i) {
            const QString p = index(field(path, key), i);
            if (!arr[i].isObject())
                error(p, QStringLiteral("must be an object"));
            else
                out.append({p, arr[i].toObject()});
        }
        return out;
    }

    std::optional<QString> string(const QJsonObject &parent, const QString &path, const char *key, bool required)
    {
        const auto v = parent.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull()) {
            if (required)
                error(field(path, key), QStringLiteral("is required"));
            return std::nullopt;
        }
        if (!v.isString()) {
            error(field(path, key), QStringLiteral("must be a string"));
            return std::nullopt;
        }
        if (required && v.toString().isEmpty()) {
            error(field(path, key), QStringLiteral("must not be empty"));
            return std::nullopt;
        }
        return v.toString();
    }

    /// An integer in [min, max].
    std::optional<qint64> integer(const QJsonValue &v, const QString &p, qint64 min, qint64 max)
    {
        if (!v.isDouble()) {
            error(p, QStringLiteral("must be an integer"));
            return std::nullopt;
        }
        const double d = v.toDouble();
        // Range first: converting an out-of-range double to an integer is undefined.
        if (d < double(min) || d > double(max)) {
            error(p, QStringLiteral("must be between %1 and %2").arg(min).arg(max));
            return std::nullopt;
        }
        const auto n = static_cast<qint64>(d);
        if (d != static_cast<double>(n)) {
            error(p, QStringLiteral("must be an integer"));
            return std::nullopt;
        }
        if (n < min || n > max) {
            error(p, QStringLiteral("must be between %1 and %2").arg(min).arg(max));
            return std::nullopt;
        }
        return n;
    }

    std::optional<qint64> integer(const QJsonObject &parent, const QString &path, const char *key, bool required,
                                  qint64 min, qint64 max)
    {
        const auto v = parent.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull()) {
            if (required)
                error(field(path, key), QStringLiteral("is required"));
            return std::nullopt;
        }
        return integer(v, field(path, key), min, max);
    }

    std::optional<bool> boolean(const QJsonObject &parent, const QString &path, const char *key)
    {
        const auto v = parent.value(QLatin1String(key));
        if (v.isUndefined() || v.isNull())
            return std::nullopt;
        if (!v.isBool()) {
            error(field(path, key), QStringLiteral("must be true or false"));
            return std::nullopt;
        }
        return v.toBool();
    }

    /// A string that must be one of `allowed`.
    std::optional<QString> oneOf(const QJsonObject &parent, const QString &path, const char *key, bool required,
                                 const QStringList &allowed)
    {
        const auto s = string(parent, path, key, required);
        if (!s)
            return std::nullopt;
        if (!allowed.contains(*s)) {
            error(field(path, key), QStringLiteral("must be one of %1, not \"%2\"").arg(allowed.join(", "), *s));
            return std::nullopt;
        }
        return s;
    }

private:
    QList<FieldError> *m_errors;
    bool m_failed = false;
};

/// RFC 9110 token (header names, methods).
bool isHttpToken(const QString &s);
/// RFC 9110 field-value: no control character but TAB.
bool isHeaderValue(const QString &s);
/// Gateway API HTTPHeaderFilter {set, add, remove}, errors rooted at `p`.
HeaderModifierSpec parseHeaderModifier(Reader &r, const QJsonObject &o, const QString &p);

} // namespace dfproxy::config::detail
