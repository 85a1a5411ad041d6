// SPDX-License-Identifier: Apache-2.0
#include "policy/applicationmatcher.h"

#include <QDir>
#include <QFileInfo>

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
    // The OS reports the executable with symlinks resolved: a rule written with the link's path (the spelling
    // users know) must name the same program, or a Deny rule would never apply.
    for (const auto &e : entries) {
        if (e.kind != config::ApplicationMatchSpec::Kind::Path)
            continue;
        const QString canonical = QFileInfo(e.value).canonicalFilePath();
        if (!canonical.isEmpty() && QDir::toNativeSeparators(canonical) != QDir::toNativeSeparators(e.value))
            m_entries.append({e.kind, QDir::toNativeSeparators(canonical)});
    }
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
    if (matchesAs(app->name, app->path, app->publisher))
        return true;
    // Linux marks an executable replaced or removed on disk since the process started ("/usr/bin/wget (deleted)",
    // e.g. upgraded while it runs): the process still runs the program it started from that path, so Deny rules
    // keep holding it and Allow rules keep letting it through until it restarts.
    static const QString deleted = QStringLiteral(" (deleted)");
    if (app->path.endsWith(deleted)) {
        const QString path = app->path.chopped(deleted.size());
        return matchesAs(platform::executableName(path), path, app->publisher);
    }
    return false;
}

bool ApplicationMatcher::matchesAs(const QString &name, const QString &path, const QString &publisher) const
{
    using Kind = config::ApplicationMatchSpec::Kind;
    const Qt::CaseSensitivity cs = m_caseInsensitive ? Qt::CaseInsensitive : Qt::CaseSensitive;
    for (const auto &e : m_entries) {
        switch (e.kind) {
        case Kind::Name:
            if (name.compare(e.value, cs) == 0)
                return true;
            // Windows: "curl" names curl.exe, as the command line does.
            if (m_caseInsensitive && name.size() == e.value.size() + 4
                && name.endsWith(QLatin1String(".exe"), Qt::CaseInsensitive)
                && name.startsWith(e.value, Qt::CaseInsensitive))
                return true;
            break;
        case Kind::Path:
            // Windows: any case, either separator (the entry has no wildcard, so the glob compares characters).
            if (m_caseInsensitive ? globMatches(e.value, path, true) : path == e.value)
                return true;
            break;
        case Kind::PathGlob:
            if (globMatches(e.value, path, m_caseInsensitive))
                return true;
            break;
        case Kind::Publisher:
            if (!publisher.isEmpty() && publisher.compare(e.value, cs) == 0)
                return true;
            break;
        }
    }
    return false;
}

} // namespace dfproxy::policy
