// SPDX-License-Identifier: Apache-2.0
// The resolve stage: the upstream's addresses from the shared DNS host cache (on the worker's own DNS client).
#include "dns/hostcache.h"
#include "proxy/proxycontext.h"
#include "proxy/proxyworker.h"
#include "proxy/stages/stages.h"

namespace dfproxy::proxy::stages {

namespace {

StageResult resolved(Transaction &tx, const dns::ResolveResult &result)
{
    tx.dnsDoneUs = tx.nowUs();
    tx.rec.dnsUs = tx.dnsDoneUs;
    tx.rec.dnsCacheHit = result.cacheHit;
    if (!result.ok() && tx.forward.upstream.proxy) {
        // The upstream proxy resolves the target: a name unknown here still goes out through it (the SSRF guard
        // checks what does resolve here).
        tx.rec.dnsCacheHit = false;
        tx.dnsLeftToProxy = true;
        return StageResult::Continue;
    }
    if (!result.ok()) {
        const QByteArray reason =
            dns::reasonString(result.error == dns::DnsError::None ? dns::DnsError::NoData : result.error).toLatin1();
        // The cache's detail says what happened ("DNS cache overflow: ...", "no answer from 127.0.0.53 ...").
        const QByteArray detail = result.detail.isEmpty() ? QByteArray() : " (" + result.detail.toUtf8() + ")";
        return tx.reply(503, reason,
                        "DNS resolution failed for " + tx.forward.upstream.host.toUtf8() + ": " + reason + detail
                            + "\n");
    }
    tx.forward.upstream.addresses = result.addresses;
    return StageResult::Continue;
}

} // namespace

StageResult resolve(Transaction &tx)
{
    forward::Upstream &up = tx.forward.upstream;
    if (!up.addresses.isEmpty()) { // a stage before this one chose the addresses (an upstream proxy's, say)
        tx.dnsDoneUs = tx.nowUs();
        return StageResult::Continue;
    }
    dns::HostCache *cache = tx.ctx->hostCache.load(std::memory_order_acquire);
    if (!cache)
        return tx.reply(503, "dns_resolution_failed",
                        "DNS resolution failed for " + up.host.toUtf8() + ": dns_resolution_failed\n");
    const dns::LookupFamily family = tx.match->backend->lookupFamily.value_or(tx.ctx->options.defaultLookupFamily);
    tx.worker->attachDns(cache);
    dns::HostCache::Outcome outcome =
        cache->lookup(up.host, up.port, family, tx.host->callbackContext(), [&tx](const dns::ResolveResult &r) {
            tx.rec.dnsWaited = true; // not in the cache: it waited
            tx.resumeWith(resolved(tx, r));
        });
    if (outcome.ready)
        return resolved(tx, *outcome.ready);
    tx.lookup = std::move(outcome.pending);
    return StageResult::Wait;
}

} // namespace dfproxy::proxy::stages
