// SPDX-License-Identifier: Apache-2.0
// The redirect stage: a rule with a RequestRedirect filter answers here, after the policies allowed the request.
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

namespace {

/// `path` with the rule's matched prefix replaced (HTTPRoute ReplacePrefixMatch: one '/' where they meet).
QByteArray replacePrefix(const QByteArray &path, const QString &matchedPrefix, const QString &replacement)
{
    const QByteArray rest = path.mid(matchedPrefix.toUtf8().size());
    QByteArray repl = replacement.toUtf8();
    if (repl.endsWith('/') && rest.startsWith('/'))
        repl.chop(1);
    QByteArray out = repl + rest;
    return out.isEmpty() ? QByteArrayLiteral("/") : out;
}

} // namespace

QByteArray rewrittenPath(const Transaction &tx, const std::optional<QString> &fullPath,
                         const std::optional<QString> &prefix)
{
    if (fullPath)
        return fullPath->toUtf8();
    if (prefix)
        return replacePrefix(tx.canon.path, tx.match->matchedPrefix, *prefix);
    return tx.canon.path;
}

StageResult redirect(Transaction &tx)
{
    if (!tx.match->redirect)
        return StageResult::Continue;
    const routing::Redirect &r = *tx.match->redirect;
    QByteArray location = r.scheme.isEmpty() ? QByteArray(tx.canon.secureScheme ? "https" : "http")
                                              : r.scheme.toLatin1();
    location += "://";
    const QByteArray rhost = r.hostname.isEmpty() ? tx.canon.host : r.hostname.toLatin1();
    location += rhost.contains(':') ? '[' + rhost + ']' : rhost;
    if (r.port)
        location += ':' + QByteArray::number(*r.port);
    else if (tx.canon.port > 0 && r.scheme.isEmpty())
        location += ':' + QByteArray::number(tx.canon.port);
    const QByteArray path = r.path.isEmpty() ? rewrittenPath(tx, std::nullopt, r.replacePrefixMatch)
                                             : r.path.toUtf8();
    location += path.isEmpty() ? QByteArray("/") : path;
    if (tx.canon.hasQuery)
        location += '?' + tx.canon.query;
    return tx.reply(LocalReply{r.statusCode ? r.statusCode : 302, {}, {}, std::move(location), {}});
}

} // namespace dfproxy::proxy::stages
