// SPDX-License-Identifier: Apache-2.0
// The route stage: the listener's HTTPRoutes pick a rule and a backend for the canonical request.
#include "base/logcategories.h"
#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

StageResult route(Transaction &tx)
{
    routing::RequestInfo info;
    info.gatewayNamespace = tx.listener->gatewayNamespace;
    info.gatewayName = tx.listener->gatewayName;
    info.listenerName = tx.listener->name;
    info.method = tx.head->method;
    info.path = tx.canon.path;
    info.query = tx.canon.query;
    info.host = tx.canon.host;
    info.headers = &tx.head->headers;
    if (const std::shared_ptr<const Router> router = tx.ctx->router.load())
        tx.match = router->match(info, tx.worker->random());
    if (!tx.match)
        return tx.reply(404, "route_not_found", "no route for " + tx.canon.host + "\n");
    qCDebug(lcProxy).noquote() << "route" << tx.match->routeKey << "backend"
                               << (tx.match->backend ? tx.match->backend->key : QStringLiteral("(none)")) << "for"
                               << tx.head->method << tx.hostText << "on listener" << tx.listener->name;
    return StageResult::Continue;
}

} // namespace dfproxy::proxy::stages
