// SPDX-License-Identifier: Apache-2.0
// The first stages: the request's target in its one canonical spelling (every later stage reads tx.canon, never
// the raw head), and the CONNECT port check of the listener.
#include "proxy/proxycontext.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

StageResult canonical(Transaction &tx)
{
    if (std::optional<LocalReply> refused = canonicalizeRequest(*tx.head, tx.tlsClient, tx.ctx->options.paths,
                                                                &tx.canon))
        return tx.reply(std::move(*refused));
    // A keep-alive client names the same host request after request: the text of the one before is kept.
    if (QLatin1String(tx.canon.host) != tx.hostText)
        tx.hostText = QString::fromLatin1(tx.canon.host);
    tx.rec.host = tx.canon.host;
    tx.rec.path = tx.canon.logTarget();
    // The port the request named, also when it is answered before routing (404 route_not_found): without it the
    // log could not say where an origin-form request with "Host: h:8080" went.
    if (tx.canon.port > 0)
        tx.rec.port = quint16(tx.canon.port);
    return StageResult::Continue;
}

StageResult connectPort(Transaction &tx)
{
    if (!tx.head->isConnect())
        return StageResult::Continue;
    const QList<quint16> &ports = tx.listener->connectPorts;
    const quint16 port = quint16(tx.canon.port);
    if (ports.isEmpty() ? port == 443 : ports.contains(port))
        return StageResult::Continue;
    tx.rec.port = port;
    return tx.reply(403, "connect_port_not_allowed",
                    "CONNECT to port " + QByteArray::number(tx.canon.port) + " is not allowed\n");
}

} // namespace dfproxy::proxy::stages
