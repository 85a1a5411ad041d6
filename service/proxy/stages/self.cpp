// SPDX-License-Identifier: Apache-2.0
// The stages about the client and the listener itself, before any routing: the program behind the connection
// (docs/applications.md) and the listener's own PAC file (docs/pac.md), which is no proxied request.
#include "proxy/pacresponder.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

namespace {

void takeApplication(Transaction &tx, const ConnectionApplication *app)
{
    tx.application = app ? app->info() : nullptr;
    tx.rec.application = tx.application;
}

} // namespace

StageResult application(Transaction &tx)
{
    // The first request begins the lookup (a quick answer here, or the lookup thread's), the connection keeps
    // the answer for the later ones.
    ConnectionApplication *app = tx.host->clientApplication();
    if (app)
        app->begin();
    if (!app || app->known()) {
        takeApplication(tx, app);
        return StageResult::Continue;
    }
    // Not yet: no later stage may run without it (a policy may name programs). Transaction::cancel (the client
    // gone, the connection closing) drops the waiter, and with it this callback.
    tx.ctx->applications.countWait();
    tx.applicationWait = app->whenKnown([&tx, app] {
        tx.applicationWait.reset();
        takeApplication(tx, app);
        tx.resumeWith(StageResult::Continue);
    });
    return StageResult::Wait;
}

StageResult self(Transaction &tx)
{
    if (std::optional<LocalReply> pac = answerPacRequest(*tx.head, tx.canon, *tx.listener, tx.ctx->router.load().get()))
        return tx.reply(std::move(*pac));
    return StageResult::Continue;
}

} // namespace dfproxy::proxy::stages
