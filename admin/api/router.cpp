// SPDX-License-Identifier: Apache-2.0
#include "api/router.h"

namespace dfproxy::admin {

namespace {

QStringList splitPath(const QString &path)
{
    return path.split('/', Qt::SkipEmptyParts);
}

bool isCapture(const QString &segment)
{
    return segment.size() > 2 && segment.startsWith('{') && segment.endsWith('}');
}

// Number of literal segments if `segments` matches `parts`, else -1.
int matchScore(const QStringList &segments, const QStringList &parts, QMap<QString, QString> *params)
{
    if (segments.size() != parts.size())
        return -1;
    int literals = 0;
    for (int i = 0; i < segments.size(); ++i) {
        if (isCapture(segments[i])) {
            if (params)
                params->insert(segments[i].mid(1, segments[i].size() - 2), parts[i]);
        } else if (segments[i] == parts[i]) {
            ++literals;
        } else {
            return -1;
        }
    }
    return literals;
}

} // namespace

void ApiRouter::add(const QByteArray &method, const QString &pattern, ApiHandler handler, bool requireAuth)
{
    const QStringList segments = splitPath(pattern);
    for (auto &r : m_routes) {
        if (r.method == method && r.segments == segments) {
            r.handler = std::move(handler);
            r.requireAuth = requireAuth;
            return;
        }
    }
    m_routes.append(Route{method, segments, std::move(handler), requireAuth});
}

ApiRouter::Match ApiRouter::match(const QByteArray &method, const QString &path) const
{
    const QStringList parts = splitPath(path);
    int best = -1;
    for (const auto &r : m_routes)
        best = std::max(best, matchScore(r.segments, parts, nullptr));
    Match m;
    if (best < 0)
        return m;
    for (const auto &r : m_routes) {
        QMap<QString, QString> params;
        if (matchScore(r.segments, parts, &params) != best)
            continue;
        if (r.method == method) {
            m.route = &r;
            m.params = params;
            m.allowedMethods.clear();
            return m;
        }
        if (!m.allowedMethods.contains(QString::fromLatin1(r.method)))
            m.allowedMethods.append(QString::fromLatin1(r.method));
    }
    return m;
}

QList<QPair<QByteArray, QString>> ApiRouter::routes() const
{
    QList<QPair<QByteArray, QString>> out;
    for (const auto &r : m_routes)
        out.append(qMakePair(r.method, "/" + r.segments.join('/')));
    return out;
}

} // namespace dfproxy::admin
