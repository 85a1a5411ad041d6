// SPDX-License-Identifier: Apache-2.0
#pragma once
// The `applications` of an AuthorizationPolicy rule compiled for matching (docs/applications.md): names and paths
// exactly as the OS reports the executable (case-insensitively on Windows, where "curl" also names "curl.exe"),
// path globs with * (within one folder), ** (across folders) and ?, and on Windows the verified publisher.

#include "config/model.h"
#include "platform/processlookup.h"

#include <QList>
#include <QString>

namespace dfproxy::policy {

class ApplicationMatcher
{
public:
    ApplicationMatcher() = default;
    /// `caseInsensitive`: Windows file-name rules (the default on Windows). A path entry that names a symlink
    /// (/usr/bin/python3 -> python3.11) also matches the file it points to, which is what the OS reports: reads
    /// the file system, so build matchers on the main thread (the policy engine does), not per request.
    explicit ApplicationMatcher(const QList<config::ApplicationMatchSpec> &entries,
                                bool caseInsensitive = defaultCaseInsensitive());

    /// True when `app` is one of the entries. An unknown application (null) matches nothing.
    bool matches(const platform::ProcessInfo *app) const;
    bool isEmpty() const { return m_entries.isEmpty(); }

    /// * and ? stay within one path segment ('/' or, case-insensitively on Windows, '\\' separate), ** crosses them.
    static bool globMatches(QStringView pattern, QStringView path, bool caseInsensitive);
    static constexpr bool defaultCaseInsensitive()
    {
#ifdef Q_OS_WIN
        return true;
#else
        return false;
#endif
    }

private:
    bool matchesAs(const QString &name, const QString &path, const QString &publisher) const;

    QList<config::ApplicationMatchSpec> m_entries;
    bool m_caseInsensitive = false;
};

} // namespace dfproxy::policy
