// SPDX-License-Identifier: Apache-2.0
#include "support/dfproxyprocess.h"

#include "support/binaries.h"

#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryFile>

namespace dfproxy::test {

DfproxyProcess::DfproxyProcess() : DfproxyProcess(Options{}) {}

DfproxyProcess::DfproxyProcess(Options options) : m_options(std::move(options)) {}

DfproxyProcess::~DfproxyProcess() = default;

bool DfproxyProcess::start(int timeoutMs)
{
    const QHostAddress lo(QHostAddress::LocalHost);
    m_proxyPort = freeTcpPort(lo);
    m_adminPort = freeTcpPort(lo);
    while (m_adminPort == m_proxyPort)
        m_adminPort = freeTcpPort(lo);

    QJsonObject dns = m_options.dnsBlock;
    dns.insert("servers", QJsonArray::fromStringList(m_options.dnsServers));
    QJsonArray resources{QJsonObject{
        {"apiVersion", "gateway.networking.k8s.io/v1"},
        {"kind", "Gateway"},
        {"metadata", QJsonObject{{"name", "agentgateway-proxy"}, {"namespace", "agentgateway-system"}}},
        {"spec", QJsonObject{{"gatewayClassName", "agentgateway"},
                             {"listeners", QJsonArray{QJsonObject{
                                               {"name", "http"}, {"protocol", "HTTP"}, {"port", m_proxyPort}}}}}},
    }};
    for (const auto &r : m_options.extraResources)
        resources.append(r);
    QJsonObject proxy = m_options.proxyBlock;
    proxy.insert("workers", m_options.workers);
    QJsonObject admin = m_options.adminBlock;
    admin.insert("address", "127.0.0.1");
    admin.insert("port", m_adminPort);
    const QJsonObject config{{"apiVersion", "dfproxy.dev/v1"},
                             {"kind", "Config"},
                             {"admin", admin},
                             {"dns", dns},
                             {"proxy", proxy},
                             {"resources", resources}};
    if (!m_dir.writeFile("config.json", QJsonDocument(config).toJson())) {
        m_error = "cannot write the config";
        return false;
    }
    return restart(timeoutMs);
}

bool DfproxyProcess::restart(int timeoutMs)
{
    if (m_process)
        m_process->stop();
    QStringList args{"--config", configPath()};
    args += m_options.extraArgs;
    m_process = std::make_unique<ManagedProcess>(buildBinary("dfproxy"), args);
    if (!m_options.extraEnvironment.isEmpty()) {
        auto env = QProcessEnvironment::systemEnvironment();
        for (const QString &entry : m_options.extraEnvironment)
            env.insert(entry.section(QLatin1Char('='), 0, 0), entry.section(QLatin1Char('='), 1));
        m_process->setEnvironment(env);
    }
    const QHostAddress lo(QHostAddress::LocalHost);
    if (!m_process->start() || !m_process->waitForPort(lo, m_adminPort, timeoutMs) ||
        !m_process->waitForPort(lo, m_proxyPort, timeoutMs)) {
        m_error = "dfproxy did not come up: " + m_process->describe();
        return false;
    }
    return true;
}

QString DfproxyProcess::proxyUrl(const QString &path) const
{
    return QStringLiteral("http://127.0.0.1:%1%2").arg(m_proxyPort).arg(path);
}

QString DfproxyProcess::adminUrl(const QString &path) const
{
    return QStringLiteral("http://127.0.0.1:%1%2").arg(m_adminPort).arg(path);
}

QByteArray DfproxyProcess::token() const
{
    return m_dir.readFile("admin-token").trimmed();
}

QString DfproxyProcess::authorization() const
{
    return QStringLiteral("Authorization: Bearer ") + QString::fromLatin1(token());
}

CurlResult DfproxyProcess::api(const QString &method, const QString &path, const QByteArray &body,
                               const QString &contentType, const QStringList &extraHeaders, bool auth) const
{
    QStringList args{"-X", method};
    if (auth)
        args << "-H" << authorization();
    for (const auto &h : extraHeaders)
        args << "-H" << h;
    // Not in the service's directory: tests make that one read-only or full.
    QTemporaryFile bodyFile;
    if (!body.isNull()) {
        if (!bodyFile.open() || bodyFile.write(body) != body.size() || !bodyFile.flush())
            return CurlResult{.stderrText = "cannot write the request body to " + bodyFile.fileName()};
        args << "-H" << "Content-Type: " + contentType << "--data-binary" << "@" + bodyFile.fileName();
    }
    return curl(args << adminUrl(path));
}

QString DfproxyProcess::describe() const
{
    return m_process ? m_process->describe() : m_error;
}

DfproxyProcess::CtlResult DfproxyProcess::ctl(const QStringList &args, const QByteArray &stdinData,
                                              int timeoutMs) const
{
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.remove("DFPROXY_SERVER");
    env.remove("DFPROXY_TOKEN");
    p.setProcessEnvironment(env);
    p.start(buildBinary("dfproxyctl"), QStringList{"--config", configPath()} + args);
    CtlResult r;
    if (!p.waitForStarted(5000)) {
        r.err = "dfproxyctl did not start: " + p.errorString();
        return r;
    }
    if (!stdinData.isEmpty())
        p.write(stdinData);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished(1000);
        r.err = "dfproxyctl timed out";
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err += QString::fromUtf8(p.readAllStandardError());
    return r;
}

} // namespace dfproxy::test
