// SPDX-License-Identifier: Apache-2.0
#pragma once
// The PolicyEngine (policy/policy.h) compiled from a config snapshot: RateLimitPolicy, AuthenticationPolicy and
// AuthorizationPolicy resources attached to Gateways, HTTPRoutes and AgentgatewayBackends (the most specific
// attachment wins: backend > route > gateway listener > gateway), the traffic and frontend sections of
// AgentgatewayPolicy mapped onto the same compiled forms (CEL authorization: config/cel.h), plus the global SSRF
// guard (config proxy.ssrf) and the Via loop check. docs/policies.md and docs/agentgateway.md describe them.

#include "base/clock.h"
#include "config/config.h"
#include "policy/policy.h"

#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QStringList>

#include <memory>

namespace dfproxy::policy {

class VerificationPool;

/// Build-time inputs that are not in the config resources.
struct Options
{
    /// Addresses the proxy itself listens on, in addition to the config's Gateway listeners (the SSRF guard
    /// refuses them: no request loops).
    QList<QPair<QHostAddress, quint16>> proxyListenAddresses;
    /// The admin API's address, in addition to the config's admin block (e.g. a --admin-port override).
    QHostAddress adminAddress;
    quint16 adminPort = 0;
    /// Time for token buckets and JWT exp/nbf; null = SystemClock::instance(). Must outlive every engine built
    /// with it (and their successors, which inherit rate-limit state).
    const Clock *clock = nullptr;
    /// Threads for password hashes (startCheckRequest); null = a pool of VerificationPool::defaultThreadCount()
    /// threads and 256 queued checks, or the previous engine's.
    std::shared_ptr<VerificationPool> verificationPool;
};

class ConfigPolicyEngine;

/// The engine's counters at one moment (plain integers), read by /api/v1/stats (ConfigPolicyEngine::stats()) and
/// by the app's metrics collector alike, so neither goes through the other's format.
struct PolicyCounters
{
    struct Authn
    {
        qint64 authenticated = 0, anonymous = 0, challenged = 0, rejected = 0;
        qint64 cachedVerifications = 0; ///< successes remembered (gauge)
        qint64 hashVerifications = 0, dummyVerifications = 0, throttled = 0, busy = 0;
        qint64 throttledClients = 0, verificationsQueued = 0; ///< gauges
    } authn;
    struct
    {
        qint64 allowed = 0, denied = 0;
    } authz;
    struct
    {
        qint64 allowed = 0, limited = 0;
        qint64 keys = 0; ///< buckets held now (gauge)
    } ratelimit;
    struct
    {
        qint64 checked = 0, denied = 0, addressesDropped = 0;
    } ssrf;
    struct
    {
        qint64 denied = 0;
    } loop;

    /// The "authn", "authz", "ratelimit", "ssrf" and "loop" objects of stats().
    QJsonObject toJson() const;
};

/// Compiles the policies of `config`. Never fails: a policy that cannot work (unreadable htpasswd or JWKS file)
/// refuses every request it applies to (fail closed) and is listed in problems(). When `previous` is given, the
/// token buckets of unchanged limits and the counters carry over, so a config change does not reset rate limits.
/// Reads files (htpasswd, JWKS): call it on the main thread, not per request.
std::shared_ptr<const ConfigPolicyEngine> buildPolicyEngine(const config::Config &config, const Options &options,
                                                            const ConfigPolicyEngine *previous = nullptr);

class ConfigPolicyEngine final : public PolicyEngine
{
public:
    Decision checkRequest(const RequestAttributes &request) const override;
    /// Basic credentials not in the cache are verified on a small pool of threads (bounded queue: full = 503
    /// authn_busy); everything else answers at once.
    RequestCheck startCheckRequest(const RequestAttributes &request, QObject *context,
                                   std::function<void(Decision)> done) const override;
    Decision checkResolved(const RequestAttributes &request, const QList<QHostAddress> &addresses) const override;
    QList<QHostAddress> ssrfAllowedProxyAddresses(const QList<QHostAddress> &addresses, quint16 port) const override;

    /// Counters since the first engine of the chain (see buildPolicyEngine's `previous`), for /api/v1/stats:
    /// {"authn": {"authenticated","anonymous","challenged","rejected","cachedVerifications","hashVerifications",
    ///  "dummyVerifications","throttled","busy","throttledClients","verificationsQueued"},
    ///  "authz": {"allowed","denied"},
    ///  "ratelimit": {"allowed","limited","keys"}, "ssrf": {"checked","denied","addressesDropped"},
    ///  "loop": {"denied"}, "policies": {kind: count}, "problems": [..]}. Thread-safe.
    QJsonObject stats() const;
    /// The counters of stats() as integers. Thread-safe.
    PolicyCounters counters() const;
    /// Why a policy could not be compiled as written ("AuthenticationPolicy ns/name: cannot read ...").
    const QStringList &problems() const { return m_problems; }
    /// The SSRF blocks in force (for docs, tests, diagnostics).
    QStringList deniedCidrs() const;

    struct Impl;
    explicit ConfigPolicyEngine(std::unique_ptr<Impl> d);
    ~ConfigPolicyEngine() override;

private:
    std::unique_ptr<Impl> d;
    QStringList m_problems;
    friend std::shared_ptr<const ConfigPolicyEngine> buildPolicyEngine(const config::Config &, const Options &,
                                                                       const ConfigPolicyEngine *);
};

} // namespace dfproxy::policy
