// SPDX-License-Identifier: Apache-2.0
// The Debian package's whole life on this machine: built by CPack, checked by lintian, installed with dpkg, the
// INSTALLED service run as user dfproxy on its installed config (ports and DNS overridden), the seed scenario
// through it with the installed dfproxyctl, an upgrade that keeps the config, then remove and purge. Needs root
// and dpkg (CI runs as root on a throwaway machine); purges the package even when a step fails.
#include "support/testsupport.h"

#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QScopeGuard>
#include <QStandardPaths>
#include <QTcpServer>

#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace dfproxy::test;

namespace {

const QByteArray kSeedYaml = dfproxy::test::seedManifests();

const QString kConfig = QStringLiteral("/etc/dfproxy/config.json");

struct CommandResult
{
    int exitCode = -1;
    QString out;
    QString describe() const { return QStringLiteral("exit %1\n%2").arg(exitCode).arg(out); }
};

/// Runs a command to completion (stdout and stderr merged), stdin closed.
CommandResult run(const QString &program, const QStringList &args, int timeoutMs = 300000,
        const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.setProcessEnvironment(env);
    p.start(program, args);
    p.closeWriteChannel();
    CommandResult r;
    if (!p.waitForStarted(10000)) {
        r.out = program + ": " + p.errorString();
        return r;
    }
    if (!p.waitForFinished(timeoutMs))
        p.kill();
    p.waitForFinished(5000);
    r.out = QString::fromLocal8Bit(p.readAll());
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    return r;
}

quint16 freePort()
{
    QTcpServer s;
    return s.listen(QHostAddress::LocalHost, 0) ? s.serverPort() : 0;
}

bool userExists(const QString &name)
{
    return run("getent", {"passwd", name}).exitCode == 0;
}

bool groupExists(const QString &name)
{
    return run("getent", {"group", name}).exitCode == 0;
}

QString owner(const QString &path)
{
    return run("stat", {"-c", "%U:%G", path}).out.trimmed();
}

/// A datagram socket standing in for systemd's $NOTIFY_SOCKET, writable by the service user.
class NotifySocket
{
public:
    NotifySocket()
    {
        ::chmod(QFile::encodeName(m_dir.path()).constData(), 0755);
        m_path = QFile::encodeName(m_dir.filePath("notify"));
        m_fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, m_path.constData(), static_cast<size_t>(m_path.size()));
        m_ok = ::bind(m_fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0
            && ::chmod(m_path.constData(), 0666) == 0;
    }
    ~NotifySocket() { ::close(m_fd); }
    bool ok() const { return m_ok; }
    QByteArray path() const { return m_path; }
    QByteArray receive()
    {
        char buffer[4096];
        const ssize_t n = ::recv(m_fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        return n > 0 ? QByteArray(buffer, static_cast<qsizetype>(n)) : QByteArray();
    }

private:
    TempDir m_dir;
    QByteArray m_path;
    int m_fd = -1;
    bool m_ok = false;
};

class DebPackage : public ::testing::Test
{
protected:
    void SetUp() override
    {
        if (::geteuid() != 0)
            GTEST_SKIP() << "installs a Debian package: needs root (CI runs as root)";
        for (const char *tool : {"dpkg", "dpkg-deb", "lintian", "setpriv"}) {
            if (QStandardPaths::findExecutable(tool).isEmpty())
                GTEST_SKIP() << tool << " is not installed (scripts/deps.sh installs it)";
        }
        if (!Dnsmasq::available())
            GTEST_SKIP() << "dnsmasq is not installed";
        const CommandResult status = run("dpkg-query", {"-W", "-f=${db:Status-Status}", "dfproxy"});
        ASSERT_NE(status.out.trimmed(), "installed")
            << "a dfproxy package is already installed here; this test would replace and purge it";
        m_purgeOnExit = true;
    }

    void TearDown() override
    {
        m_service.reset();
        if (m_purgeOnExit) {
            const CommandResult r = run("dpkg", {"--purge", "dfproxy"});
            EXPECT_EQ(r.exitCode, 0) << "cleanup: " << r.describe().toStdString();
        }
    }

    /// Builds the DEB of this build dir with the given Debian revision into m_dir/rREV.
    QString buildDeb(int revision)
    {
        const QString out = m_dir.filePath(QStringLiteral("r%1").arg(revision));
        const CommandResult r = run(DFPROXY_CPACK, {"-G", "DEB", "--config", buildDir() + "/CPackConfig.cmake", "-B", out,
                                          "-D", QStringLiteral("CPACK_DEBIAN_PACKAGE_RELEASE=%1").arg(revision)});
        EXPECT_EQ(r.exitCode, 0) << r.describe().toStdString();
        const QStringList debs = QDir(out).entryList({QStringLiteral("dfproxy_*-%1_*.deb").arg(revision)});
        EXPECT_EQ(debs.size(), 1) << r.describe().toStdString();
        return debs.isEmpty() ? QString() : out + "/" + debs.first();
    }

    /// Points the installed config at free ports and the test's DNS server, in place (owner and mode kept).
    void overrideConfig()
    {
        QFile f(kConfig);
        ASSERT_TRUE(f.open(QIODevice::ReadOnly)) << f.errorString().toStdString();
        QJsonObject doc = QJsonDocument::fromJson(f.readAll()).object();
        f.close();
        m_proxyPort = freePort();
        m_adminPort = freePort();
        ASSERT_NE(m_proxyPort, 0);
        QJsonObject admin = doc.value("admin").toObject();
        admin.insert("port", m_adminPort);
        doc.insert("admin", admin);
        QJsonObject dns = doc.value("dns").toObject();
        dns.insert("servers", QJsonArray{m_dns->address().toString()});
        doc.insert("dns", dns);
        QJsonArray resources = doc.value("resources").toArray();
        ASSERT_FALSE(resources.isEmpty());
        QJsonObject gateway = resources[0].toObject();
        QJsonObject spec = gateway.value("spec").toObject();
        QJsonArray listeners = spec.value("listeners").toArray();
        QJsonObject listener = listeners[0].toObject();
        listener.insert("port", m_proxyPort);
        listeners[0] = listener;
        spec.insert("listeners", listeners);
        gateway.insert("spec", spec);
        resources[0] = gateway;
        doc.insert("resources", resources);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(QJsonDocument(doc).toJson());
    }

    /// Starts /usr/bin/dfproxy as user dfproxy on the installed config, as the unit does, and waits for its
    /// readiness notification.
    void startInstalledService()
    {
        NotifySocket notify;
        ASSERT_TRUE(notify.ok());
        // setpriv execs the service in place (runuser would stay as its parent and turn SIGTERM into exit 15).
        m_service = std::make_unique<ManagedProcess>(
            "setpriv", QStringList{"--reuid=dfproxy", "--regid=dfproxy", "--init-groups", "--", "/usr/bin/dfproxy",
                                   "--config", kConfig});
        m_service->setEnv("NOTIFY_SOCKET", QString::fromLocal8Bit(notify.path()));
        m_service->setWorkingDirectory("/var/lib/dfproxy");
        ASSERT_TRUE(m_service->start()) << m_service->describe().toStdString();
        ASSERT_TRUE(m_service->waitForPort(QHostAddress::LocalHost, m_adminPort, 15000))
            << m_service->describe().toStdString();
        ASSERT_TRUE(m_service->waitForPort(QHostAddress::LocalHost, m_proxyPort, 15000))
            << m_service->describe().toStdString();
        QByteArray ready;
        waitUntil([&] { return !(ready = notify.receive()).isEmpty(); }, 5000);
        EXPECT_TRUE(ready.startsWith("READY=1")) << "notification: " << ready.constData();
    }

    void stopInstalledService()
    {
        ASSERT_TRUE(m_service);
        m_service->sendSignal(SIGTERM);
        EXPECT_TRUE(m_service->waitForExit(15000)) << m_service->describe().toStdString();
        EXPECT_EQ(m_service->exitCode(), 0) << m_service->describe().toStdString();
        m_service.reset();
    }

    /// The installed dfproxyctl as root, with no per-user config and no $DFPROXY_CONFIG: it must find the
    /// service's /etc/dfproxy/config.json (and its admin token) by itself.
    CommandResult ctl(const QStringList &args, const QByteArray &input = {})
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("DFPROXY_CONFIG");
        env.remove("XDG_CONFIG_HOME");
        env.insert("HOME", m_dir.path());
        if (input.isEmpty())
            return run("/usr/bin/dfproxyctl", args, 30000, env);
        const QString file = m_dir.filePath("input.yaml");
        m_dir.writeFile("input.yaml", input);
        return run("/usr/bin/dfproxyctl", QStringList(args) << "-f" << file, 30000, env);
    }

    CurlResult curlSeed()
    {
        return curl({"-H", QStringLiteral("host: httpbin.test:%1").arg(m_origin->port()),
                     QStringLiteral("http://127.0.0.1:%1/").arg(m_proxyPort)});
    }

    void startFixtures()
    {
        m_dns = std::make_unique<Dnsmasq>();
        ASSERT_TRUE(m_dns->start()) << m_dns->describe().toStdString();
        ASSERT_TRUE(m_dns->setHost("httpbin.test", {QHostAddress("127.0.0.1")}));
        OriginProcess::Options o;
        o.title = "httpbin.test";
        m_origin = std::make_unique<OriginProcess>(o);
        ASSERT_TRUE(m_origin->start()) << m_origin->describe().toStdString();
    }

    TempDir m_dir;
    bool m_purgeOnExit = false;
    quint16 m_proxyPort = 0;
    quint16 m_adminPort = 0;
    std::unique_ptr<Dnsmasq> m_dns;
    std::unique_ptr<OriginProcess> m_origin;
    std::unique_ptr<ManagedProcess> m_service;
};

TEST_F(DebPackage, InstallRunSeedUpgradeKeepsConfigThenPurgeLeavesNothing)
{
    const QString deb1 = buildDeb(1);
    const QString deb2 = buildDeb(2);
    ASSERT_FALSE(deb1.isEmpty());
    ASSERT_FALSE(deb2.isEmpty());

    // lintian: no errors (warnings are reviewed in installer/deb/lintian-overrides and docs/packaging.md).
    CommandResult r = run("lintian", {"--fail-on", "error", deb1});
    EXPECT_EQ(r.exitCode, 0) << r.describe().toStdString();
    EXPECT_FALSE(r.out.contains(QRegularExpression("^E: ", QRegularExpression::MultilineOption)))
        << r.out.toStdString();

    // Install.
    r = run("dpkg", {"-i", deb1});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    EXPECT_TRUE(userExists("dfproxy"));
    EXPECT_TRUE(groupExists("dfproxy"));
    for (const QString dir : {"/etc/dfproxy", "/var/lib/dfproxy", "/var/log/dfproxy"})
        EXPECT_EQ(owner(dir), "dfproxy:dfproxy") << dir.toStdString();
    EXPECT_EQ(owner(kConfig), "dfproxy:dfproxy");
    EXPECT_TRUE(QFileInfo::exists("/lib/systemd/system/dfproxy.service"));
    EXPECT_TRUE(QFileInfo("/etc/systemd/system/multi-user.target.wants/dfproxy.service").isSymLink())
        << "postinst enables the unit";
    r = run("dpkg-query", {"-W", "-f=${Conffiles}", "dfproxy"});
    EXPECT_TRUE(r.out.contains(kConfig)) << r.describe().toStdString();
    if (!QStandardPaths::findExecutable("systemd-analyze").isEmpty()) {
        r = run("systemd-analyze", {"verify", "/lib/systemd/system/dfproxy.service"});
        EXPECT_EQ(r.exitCode, 0) << r.describe().toStdString();
    }
    r = run("/usr/bin/dfproxy", {"--version"});
    EXPECT_EQ(r.exitCode, 0);
    EXPECT_TRUE(r.out.contains("0.")) << r.describe().toStdString();

    // CommandResult the installed service on its installed config, as the unit would, and do the seed scenario.
    startFixtures();
    overrideConfig();
    startInstalledService();
    EXPECT_EQ(curlSeed().status, 404);
    r = ctl({"apply"}, kSeedYaml);
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    auto page = curlSeed();
    EXPECT_EQ(page.status, 200) << page.describe().toStdString();
    EXPECT_TRUE(page.body.contains("<title>httpbin.test</title>"));
    EXPECT_TRUE(QFileInfo::exists("/etc/dfproxy/admin-token"));
    stopInstalledService();

    // Upgrade to the next revision: the config (with the route) stays, untouched by dpkg.
    r = run("dpkg", {"-i", deb2});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    EXPECT_EQ(run("dpkg-query", {"-W", "-f=${Version}", "dfproxy"}).out.trimmed(),
              QString(DFPROXY_VERSION) + "-2");
    QFile config(kConfig);
    ASSERT_TRUE(config.open(QIODevice::ReadOnly));
    EXPECT_TRUE(config.readAll().contains("dfp-httproute"));
    config.close();
    EXPECT_EQ(owner(kConfig), "dfproxy:dfproxy");
    startInstalledService();
    page = curlSeed();
    EXPECT_EQ(page.status, 200) << page.describe().toStdString();
    r = ctl({"delete", "httproute", "dfp-httproute", "-n", "httpbin"});
    EXPECT_EQ(r.exitCode, 0) << r.describe().toStdString();
    r = ctl({"delete", "AgentgatewayBackend", "dfp-backend", "-n", "httpbin"});
    EXPECT_EQ(r.exitCode, 0) << r.describe().toStdString();
    EXPECT_EQ(curlSeed().status, 404);
    stopInstalledService();

    // A desktop user whose proxy settings `dfproxyctl system-proxy on` changed (KDE's kioslaverc, which needs no
    // session bus): the prerm of the removal puts them back and drops the journal (docs/desktop.md).
    TempDir desktopHome;
    const QString desktopUser = QStringLiteral("dfproxy-prerm-t");
    run("userdel", {desktopUser}); // left by an aborted run
    r = run("useradd", {"--system", "--no-create-home", "--home-dir", desktopHome.path(), desktopUser});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    const auto dropUser = qScopeGuard([&] { run("userdel", {desktopUser}); });
    ASSERT_TRUE(QDir().mkpath(desktopHome.filePath(".config/dfproxy")));
    ASSERT_TRUE(desktopHome.writeFile(".config/kioslaverc", "[Proxy Settings]\nProxyType=1\n"));
    const QJsonObject journal{{"version", 1},
                              {"backend", "kde"},
                              {"mode", "fixed"},
                              {"proxy", "127.0.0.1:15001"},
                              {"failMode", "closed"},
                              {"setBy", "dfproxyctl"},
                              {"previous", QJsonObject{{"ProxyType", "0"}}},
                              {"applied", QJsonObject{{"ProxyType", "1"}}}};
    ASSERT_TRUE(desktopHome.writeFile(".config/dfproxy/system-proxy.json", QJsonDocument(journal).toJson()));
    ASSERT_EQ(run("chown", {"-R", desktopUser, desktopHome.path()}).exitCode, 0);

    // Remove keeps the config and the user; purge deletes everything.
    r = run("dpkg", {"-r", "dfproxy"});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    EXPECT_EQ(desktopHome.readFile(".config/kioslaverc"), "[Proxy Settings]\nProxyType=0\n")
        << r.describe().toStdString();
    EXPECT_FALSE(QFileInfo::exists(desktopHome.filePath(".config/dfproxy/system-proxy.json")));
    EXPECT_FALSE(QFileInfo::exists("/usr/bin/dfproxy"));
    EXPECT_TRUE(QFileInfo::exists(kConfig));
    EXPECT_TRUE(userExists("dfproxy"));
    r = run("dpkg", {"--purge", "dfproxy"});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    m_purgeOnExit = false;
    EXPECT_FALSE(userExists("dfproxy"));
    EXPECT_FALSE(groupExists("dfproxy"));
    for (const QString path : {"/etc/dfproxy", "/var/lib/dfproxy", "/var/log/dfproxy", "/usr/bin/dfproxyctl",
                               "/lib/systemd/system/dfproxy.service", "/etc/systemd/system/dfproxy.service",
                               "/etc/systemd/system/multi-user.target.wants/dfproxy.service"}) {
        EXPECT_FALSE(QFileInfo::exists(path) || QFileInfo(path).isSymLink()) << path.toStdString();
    }
    EXPECT_NE(run("dpkg", {"-s", "dfproxy"}).exitCode, 0) << "dpkg still knows the package after purge";
}

// The MSI definition (installer/wix/dfproxy.wxs), compiled with wixl from placeholder binaries: the service is
// registered and controlled, the console gets a shortcut, upgrades replace, and the version is the project's.
TEST(MsiDefinition, InstallsAndStartsTheServiceAndUpgradesInPlace)
{
    if (QStandardPaths::findExecutable("wixl").isEmpty() || QStandardPaths::findExecutable("msiinfo").isEmpty())
        GTEST_SKIP() << "wixl/msitools are not installed (scripts/deps.sh installs them)";
    const QString source = sourceDir();
    TempDir dir;
    const QString msi = dir.filePath("dfproxy.msi");
    CommandResult r = run(DFPROXY_CMAKE, {"-DSTAGE_DIR=" + dir.filePath("stage"), "-DOUTPUT=" + msi, "-DTOOL=wixl",
                                "-DPLACEHOLDERS=ON", "-P", source + "/installer/wix/build-msi.cmake"});
    ASSERT_EQ(r.exitCode, 0) << r.describe().toStdString();
    auto table = [&](const QString &name) { return run("msiinfo", {"export", msi, name}).out; };

    const QString services = table("ServiceInstall");
    EXPECT_TRUE(services.contains(QRegularExpression("\\tdfproxy\\tdfproxy dynamic forward proxy\\t16\\t2\\t")))
        << services.toStdString();  // own process, automatic start
    EXPECT_TRUE(services.contains("--windows-service --config \"[CommonAppDataFolder]dfproxy\\config.json\""))
        << services.toStdString();
    const QString control = table("ServiceControl");
    EXPECT_TRUE(control.contains(QRegularExpression("\\tdfproxy\\t\\d+\\t\\t1\\tServiceExe"))) << control.toStdString();
    EXPECT_TRUE(table("Shortcut").contains("[BINDIR]dfproxy-console.exe"));
    EXPECT_TRUE(table("Upgrade").contains("{6F1C3B52-8E0A-4C5D-9B7E-2D4A1F0C8E31}"));
    EXPECT_TRUE(table("Property").contains(QStringLiteral("ProductVersion\t%1").arg(DFPROXY_VERSION)));
    // Nothing in ProgramData: the config survives upgrades and uninstalls.
    EXPECT_FALSE(table("Directory").contains("CommonAppDataFolder"));
}

} // namespace
