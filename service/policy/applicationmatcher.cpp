// SPDX-License-Identifier: Apache-2.0
#include "policy/applicationmatcher.h"

namespace dfproxy::policy {

namespace {

bool isSeparator(QChar c, bool windows)
{
    return c == u'/' || (windows && c == u'\\');
}

bool sameChar(QChar a, QChar b, bool caseInsensitive, bool windows)
{
    if (windows && isSeparator(a, true) && isSeparator(b, true))
        return true;
    return caseInsensitive ? a.toCaseFolded() == b.toCaseFolded() : a == b;
}

} // namespace

ApplicationMatcher::ApplicationMatcher(const QList<config::ApplicationMatchSpec> &entries, bool caseInsensitive)
    : m_entries(entries), m_caseInsensitive(caseInsensitive)
{
}

bool ApplicationMatcher::globMatches(QStringView pattern, QStringView path, bool ci)
{
    // Dynamic programming over (pattern token, path position), one row at a time: O(tokens x length), no
    // backtracking blow-up however the stars are placed.
    enum class T { Char, One, Star, DoubleStar };
    QList<QPair<T, QChar>> tokens;
    for (qsizetype i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == u'*') {
            const bool twice = i + 1 < pattern.size() && pattern[i + 1] == u'*';
            tokens.append({twice ? T::DoubleStar : T::Star, QChar()});
            while (i + 1 < pattern.size() && pattern[i + 1] == u'*')
                ++i;
        } else {
            tokens.append({pattern[i] == u'?' ? T::One : T::Char, pattern[i]});
        }
    }
    const qsizetype n = path.size();
    QList<bool> next(n + 1, false), row(n + 1, false); // next: tokens after the current one
    next[n] = true;
    for (qsizetype t = tokens.size() - 1; t >= 0; --t) {
        const auto [kind, c] = tokens[t];
        for (qsizetype j = n; j >= 0; --j) {
            const bool more = j < n;
            switch (kind) {
            case T::Char:
                row[j] = more && sameChar(c, path[j], ci, ci) && next[j + 1];
                break;
            case T::One:
                row[j] = more && !isSeparator(path[j], ci) && next[j + 1];
                break;
            case T::Star:
                row[j] = next[j] || (more && !isSeparator(path[j], ci) && row[j + 1]);
                break;
            case T::DoubleStar:
                row[j] = next[j] || (more && row[j + 1]);
                break;
            }
        }
        std::swap(next, row);
    }
    return next[0];
}

bool ApplicationMatcher::matches(const platform::ProcessInfo *app) const
{
    if (!app)
        return false;
    using Kind = config::ApplicationMatchSpec::Kind;
    const Qt::CaseSensitivity cs = m_caseInsensitive ? Qt::CaseInsensitive : Qt::CaseSensitive;
    for (const auto &e : m_entries) {
        switch (e.kind) {
        case Kind::Name:
            if (app->name.compare(e.value, cs) == 0)
                return true;
            // Windows: "curl" names curl.exe, as the command line does.
            if (m_caseInsensitive && app->name.size() == e.value.size() + 4
                && app->name.endsWith(QLatin1String(".exe"), Qt::CaseInsensitive)
                && app->name.startsWith(e.value, Qt::CaseInsensitive))
                return true;
            break;
        case Kind::Path:
            // Windows: any case, either separator (the entry has no wildcard, so the glob compares characters).
            if (m_caseInsensitive ? globMatches(e.value, app->path, true) : app->path == e.value)
                return true;
            break;
        case Kind::PathGlob:
            if (globMatches(e.value, app->path, m_caseInsensitive))
                return true;
            break;
        case Kind::Publisher:
            if (!app->publisher.isEmpty() && app->publisher.compare(e.value, cs) == 0)
                return true;
            break;
        }
    }
    return false;
}

} // namespace dfproxy::policy
