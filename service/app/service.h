// SPDX-License-Identifier: Apache-2.0
#pragma once
// The dfproxy service: owns the config store, DNS host cache, proxy server, policies and telemetry, and applies
// each accepted config version to them. main.cpp builds one; the admin API reads it.

#include "base/logcategories.h"
#include "config/adminoptions.h"
#include "config/configstore.h"
#include "dns/dnshostcache.h"
#include "dns/dnstypes.h"
#include "proxy/proxyoptions.h"
#include "telemetry/accesslogger.h"

#include <QHostAddress>
#include <QObject>
#include <QMutex>
#include <QStringList>

#include <memory>

namespace dfproxy::dns {
class DnsHostCache;
}
namespace dfproxy::proxy {
class AccessLogSink;
class ProxyServer;
}
namespace dfproxy::policy {
class ConfigPolicyEngine;
struct PolicyCounters;
}
namespace dfproxy::telemetry {
class AccessLogger;
class ApplicationStats;
class MetricsRegistry;
class ProxyMetrics;
} // namespace dfproxy::telemetry

namespace dfproxy::app {

/// The global blocks of one config version as the service runs them: parsed once, when the store validates the
/// version (Service::parseGlobalBlocks), with the command line's overrides applied; kept in Config::parsed.
struct GlobalOptions
{
    proxy::ProxyOptions proxy;             ///< --workers applied; defaultLookupFamily is set at start
    dns::DnsHostCache::Options dns;        ///< --dns-server applied
    telemetry::AccessLogOptions accessLog; ///< enabled without an output: access.log next to the config file
    config::AdminOptions admin;            ///< the admin server listens with it (before --admin-* overrides)
    std::optional<LogLevel> logLevel;      ///< logging.level: the admin server's level at start; none = Qt's default
};

/// What the command line may override in the config.
struct ServiceOptions
{
    QString configPath;          ///< empty = the per-user default (dfproxy::defaultConfigPath())
    QStringList dnsServers;      ///< --dns-server: replaces dns.servers
    int workers = -1;            ///< --workers: replaces proxy.workers (-1 = keep)
    bool watchConfig = true;     ///< reload the config file when it changes on disk (--no-watch-config: SIGHUP only)
};

/// The running service's core: the config store, the shared DNS host cache and the proxy, wired together.
/// Lives on the main thread. The admin API is put on top of it by main.cpp (admin/ depends on the core,
/// never the other way round).
class Service : public QObject
{
    Q_OBJECT
public:
    explicit Service(ServiceOptions options, QObject *parent = nullptr);
    ~Service() override;

    /// Loads the config (writing the built-in default on first start), creates the DNS cache and binds the
    /// listeners. Returns false with a message fit for the console when the service cannot run.
    bool start(QString *error);
    /// Stops accepting and drains in-flight requests.
    void stop();
    /// Re-reads the config file (SIGHUP). An invalid file is reported and the running config kept.
    void reload();

    config::ConfigStore *store() { return &m_store; }
    dns::DnsHostCache *hostCache() { return m_cache.get(); }
    proxy::ProxyServer *proxy() { return m_proxy.get(); }
    const ServiceOptions &options() const { return m_options; }
    /// The access log (records of every request/tunnel; recent ones for the admin API). Null before start().
    telemetry::AccessLogger *accessLogger() { return m_accessLog.get(); }
    /// The metrics served at /metrics. Null before start().
    telemetry::MetricsRegistry *metrics() { return m_metrics.get(); }
    /// The programs seen behind local clients and the hosts they reached (GET /api/v1/applications). Null before
    /// start().
    telemetry::ApplicationStats *applications() { return m_applications.get(); }

    /// The running config's global blocks, parsed (defaults before the first load). Main thread; the reference is
    /// valid until the config changes.
    const GlobalOptions &globalOptions() const;

    /// Counters of every area (dns, proxy), for /api/v1/stats.
    QJsonObject stats() const;

    /// The admin API's bound endpoint (main.cpp knows it once the admin server listens, including
    /// --admin-address/--admin-port overrides): the SSRF guard's denySelf refuses it. Re-applies the policies.
    void setAdminEndpoint(const QHostAddress &address, quint16 port);
    /// The policy counters (ConfigPolicyEngine::stats()); {} before start(). Thread-safe.
    QJsonObject policyStats() const;
    /// The policy engine's counters as integers (what /metrics shows); all zero before start(). Thread-safe.
    policy::PolicyCounters policyCounters() const;
    /// What the policy engine could not load for one policy (unreadable htpasswd or JWKS file, ...), for its
    /// status; empty when it compiled as written. Thread-safe.
    QStringList policyProblems(const QString &kind, const QString &ns, const QString &name) const;

private:
    /// The store's validator: parses the dns, proxy, admin and logging blocks into GlobalOptions (kept in
    /// `c.parsed`). Returns every problem with its path ("proxy.connectTimeoutMs").
    QList<config::FieldError> parseGlobalBlocks(config::Config &c) const;
    void applyConfig();
    /// Hands a changed "dns" block to the running host cache.
    void applyDnsSettings();
    /// Rebuilds the egress policies (rate limits keep their buckets where the limit is unchanged).
    void applyPolicies();
    /// Raises the open-file limit and warns when it is too low for proxy.maxConnections.
    void checkDescriptorLimit();

    void applyLoggingConfig();

    ServiceOptions m_options;
    config::ConfigStore m_store;
    // Telemetry is declared before the proxy so it outlives it: workers write records until the proxy stops.
    std::unique_ptr<telemetry::AccessLogger> m_accessLog;
    std::unique_ptr<telemetry::MetricsRegistry> m_metrics;
    std::unique_ptr<telemetry::ProxyMetrics> m_proxyMetrics;
    std::unique_ptr<telemetry::ApplicationStats> m_applications;
    std::unique_ptr<proxy::AccessLogSink> m_accessLogSink;
    dns::DnsHostCache::Options m_commandLineDns; ///< --dns-server, parsed once
    QList<config::FieldError> m_commandLineErrors; ///< what was wrong with --dns-server
    QJsonObject m_startDns; ///< the "dns" block in effect (before --dns-server)
    dns::LookupFamily m_proxyFamily = dns::LookupFamily::V4Preferred; ///< the proxy's default, fixed at start
    std::unique_ptr<dns::DnsHostCache> m_cache;
    std::unique_ptr<proxy::ProxyServer> m_proxy;
    std::shared_ptr<const policy::ConfigPolicyEngine> m_policy;
    mutable QMutex m_policyMutex; ///< guards m_policy against metrics scrapes on other threads
    QHostAddress m_adminAddress;
    quint16 m_adminPort = 0;
};

} // namespace dfproxy::app
