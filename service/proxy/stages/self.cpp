// SPDX-License-Identifier: Apache-2.0
// The stages about the client and the listener itself, before any routing: the program behind the connection
// (docs/applications.md) and the listener's own PAC file (docs/pac.md), which is no proxied request.
#include "proxy/pacresponder.h"
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

StageResult application(Transaction &tx)
{
    // The host looks the program up once per connection (at its first request) and keeps it: the system calls
    // behind it cost more than a request should, and the program of a connection does not change.
    tx.application = tx.host->clientApplication();
    tx.rec.application = tx.application;
    return StageResult::Continue;
}

StageResult self(Transaction &tx)
{
    if (std::optional<LocalReply> pac = answerPacRequest(*tx.head, tx.canon, *tx.listener, tx.ctx->router.load().get()))
        return tx.reply(std::move(*pac));
    return StageResult::Continue;
}

} // namespace dfproxy::proxy::stages
