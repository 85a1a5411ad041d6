// SPDX-License-Identifier: Apache-2.0
// dfproxy: the service executable. Wiring only: the core (app::Service) plus the admin API on top.
#include "api/applicationsapi.h"
#include "api/dnsapi.h"
#include "api/systemproxyapi.h"
#include "api/telemetryapi.h"
#include "app/service.h"
#include "base/version.h"
#include "client/paths.h"
#include "desktop/systemproxy.h"
#include "dns/dnslookupresolver.h"
#include "platform/servicemanager.h"
#include "platform/signals.h"
#include "proxy/proxyserver.h"
#include "routing/status.h"
#include "server/adminserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>

#include <cstdio>
#include <cstdlib>

using namespace dfproxy;

namespace {

/// Everything between QCoreApplication's construction and its destruction: the service runs, stops and is
/// destroyed in here, so main() sees the process with nothing left to do but tear down Qt.
int run(QCoreApplication &app)
{
    QCommandLineParser cli;
    cli.setApplicationDescription(
        "dfproxy: a dynamic forward proxy with a REST admin API.\n\n"
        "dfproxy service install|uninstall|start|stop|status\n"
        "  registers and controls dfproxy as a system service (systemd, launchd, the Windows Service Control\n"
        "  Manager) running on the system config; see the README, \"Install\".");
    cli.addPositionalArgument("service", "Manage the system service (see above).", "[service ...]");
    cli.addHelpOption();
    cli.addVersionOption();
    const QCommandLineOption configOpt("config", "Config file (default: " + defaultConfigPath() + ").", "path");
    const QCommandLineOption dnsOpt("dns-server", "DNS server (IPv4) to resolve with; repeatable. Default: the "
                                                  "config's dns.servers, else the system's.", "address");
    const QCommandLineOption workersOpt("workers", "Worker threads (0 = one per core).", "n");
    const QCommandLineOption adminAddrOpt("admin-address", "Address of the admin API (default: the config's).",
                                          "address");
    const QCommandLineOption adminPortOpt("admin-port", "Port of the admin API (default: the config's).", "port");
    const QCommandLineOption noWatchOpt("no-watch-config", "Do not reload the config file when it changes on disk "
                                                           "(reload with SIGHUP only).");
    QCommandLineOption windowsServiceOpt("windows-service", "Run under the Windows Service Control Manager.");
    windowsServiceOpt.setFlags(QCommandLineOption::HiddenFromHelp);
    cli.addOptions({configOpt, dnsOpt, workersOpt, adminAddrOpt, adminPortOpt, noWatchOpt, windowsServiceOpt});
    cli.process(app);

    // systemd readiness / the Windows SCM; on Windows it reports the exit code when main() returns.
    platform::ServiceManagerLink serviceManager(cli.isSet(windowsServiceOpt));
    if (!serviceManager.attached()) {
        std::fprintf(stderr, "dfproxy: %s\n", qPrintable(serviceManager.errorString()));
        return 1;
    }

    app::ServiceOptions options;
    options.configPath = cli.isSet(configOpt) ? cli.value(configOpt) : defaultConfigPath();
    options.dnsServers = cli.values(dnsOpt);
    options.watchConfig = !cli.isSet(noWatchOpt);
    if (cli.isSet(workersOpt)) {
        bool ok = false;
        options.workers = cli.value(workersOpt).toInt(&ok);
        if (!ok || options.workers < 0 || options.workers > 256) {
            std::fprintf(stderr, "dfproxy: --workers must be a number from 0 to 256\n");
            return 2;
        }
    }
    int adminPort = -1;
    if (cli.isSet(adminPortOpt)) {
        bool ok = false;
        adminPort = cli.value(adminPortOpt).toInt(&ok);
        if (!ok || adminPort < 0 || adminPort > 65535) {
            std::fprintf(stderr, "dfproxy: --admin-port must be a port number\n");
            return 2;
        }
    }

    // The desktop's proxy (docs/desktop.md): settings left pointing at a dfproxy that crashed are restored before
    // the listeners bind (this user's journal only; a system service has none).
    if (const QString line = desktop::restoreAfterCrash(); !line.isEmpty())
        std::fprintf(stderr, "dfproxy: %s\n", qPrintable(line));

    app::Service service(options);
    QString error;
    if (!service.start(&error)) {
        std::fprintf(stderr, "dfproxy: %s\n", qPrintable(error));
        return 1;
    }

    admin::AdminServer adminServer(service.store());
    if (!adminServer.setupTokenFile(&error)) {
        std::fprintf(stderr, "dfproxy: admin token: %s\n", qPrintable(error));
        return 1;
    }
    adminServer.setStatusProvider([&service](const config::Config &c, const config::Resource &r) {
        return routing::resourceStatus(c, r, QDateTime::currentDateTimeUtc(),
                                       service.policyProblems(r.kind(), r.ns(), r.name()));
    });
    adminServer.setStatsProvider([&service] { return service.stats(); });
    admin::registerDnsApi(adminServer, service.hostCache());
    admin::registerTelemetryApi(adminServer, service.accessLogger(), service.metrics());
    admin::registerSystemProxyApi(adminServer, service.store(), service.proxy());
    admin::registerApplicationsApi(adminServer, service.applications(), service.accessLogger());
    const app::GlobalOptions &global = service.globalOptions();
    if (global.logLevel) // the config's logging.level is the level at start
        adminServer.setLogLevel(*global.logLevel);
    if (!adminServer.listenFromConfig(global.admin, cli.value(adminAddrOpt), adminPort)) {
        std::fprintf(stderr, "dfproxy: admin API: %s\n", qPrintable(adminServer.errorString()));
        return 1;
    }
    service.setAdminEndpoint(adminServer.address(), adminServer.port()); // the SSRF guard's denySelf refuses it

    for (const auto &l : service.proxy()->boundListeners())
        std::printf("dfproxy: listener %s/%s %s on %s:%u\n", qPrintable(l.gatewayNamespace), qPrintable(l.gatewayName),
                    qPrintable(l.name), qPrintable(l.address.toString()), l.port);
    std::printf("dfproxy: admin API on %s (config %s)\n", qPrintable(adminServer.baseUrl().toString()),
                qPrintable(service.store()->path()));
    std::fflush(stdout);

    const auto stop = [&] {
        serviceManager.notifyStopping();
        if (const QString line = desktop::restoreAtStop(admin::systemProxyEndpoints(service.proxy()->boundListeners()));
            !line.isEmpty())
            std::fprintf(stderr, "dfproxy: %s\n", qPrintable(line));
        adminServer.close();
        service.stop();
        QCoreApplication::quit();
    };
    platform::installSignalHandlers(stop, [&] { service.reload(); });
    serviceManager.setStopHandler(stop);
    serviceManager.notifyReady("admin API on " + adminServer.baseUrl().toString());
    const int rc = app.exec();
    serviceManager.setExitCode(rc);
    return rc;
}

} // namespace

int main(int argc, char **argv)
{
    // Qt's plain event dispatcher instead of GLib's: GLib wakes its loop through an eventfd whenever a socket
    // notifier is switched on or off, which the proxy does for every buffered write (4 extra syscalls per
    // request, docs/benchmarks.md). Read by QCoreApplication and by each QThread when it starts.
    if (!qEnvironmentVariableIsSet("QT_NO_GLIB"))
        qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    // The default config and the OpenAPI document are compiled into a static library: register them.
    Q_INIT_RESOURCE(resources);
    QCoreApplication::setApplicationName("dfproxy");
    QCoreApplication::setApplicationVersion(versionString());

    // `dfproxy service install|uninstall|start|stop|status`: the OS's service manager (service/platform/).
    if (argc > 1 && qstrcmp(argv[1], "service") == 0)
        return platform::runServiceCommand(app.arguments().mid(2));

    const int rc = run(app);
    // The service has drained, written its logs and config and been destroyed. What may remain is a QDnsLookup
    // thread still blocked in the C library on a query dfproxy gave up on (a silent nameserver): QCoreApplication's
    // destructor would wait for it, up to the resolver's retry schedule, before the process can exit.
    if (dns::DnsLookupResolver::lookupsLeftRunning()) {
        std::fflush(nullptr);
        std::_Exit(rc);
    }
    return rc;
}
