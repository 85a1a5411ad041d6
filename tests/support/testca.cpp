// SPDX-License-Identifier: Apache-2.0
#include "support/testca.h"

#include <QFileInfo>
#include <QProcess>

namespace dfproxy::test {

bool TestCa::openssl(const QStringList &args)
{
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start(QStringLiteral("openssl"), args);
    if (!process.waitForStarted(10000)) {
        m_error = QStringLiteral("cannot start openssl: ") + process.errorString();
        return false;
    }
    if (!process.waitForFinished(60000) || process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        m_error = QStringLiteral("openssl %1 failed:\n%2")
                      .arg(args.join(QLatin1Char(' ')), QString::fromUtf8(process.readAll()));
        return false;
    }
    return true;
}

bool TestCa::create(const QString &commonName)
{
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("no temporary directory");
        return false;
    }
    return openssl({QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("ec"),
                    QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"),
                    QStringLiteral("-nodes"), QStringLiteral("-keyout"), caKeyPath(), QStringLiteral("-out"),
                    caCertPath(), QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"),
                    QStringLiteral("/CN=") + commonName, QStringLiteral("-addext"),
                    QStringLiteral("basicConstraints=critical,CA:TRUE"), QStringLiteral("-addext"),
                    QStringLiteral("keyUsage=critical,keyCertSign,cRLSign")});
}

std::optional<TestCa::ServerCert> TestCa::issueServerCert(const QString &baseName, const QStringList &dnsNames,
                                                          const QList<QHostAddress> &ips)
{
    QStringList san;
    for (const QString &name : dnsNames)
        san << QStringLiteral("DNS:") + name;
    for (const QHostAddress &ip : ips)
        san << QStringLiteral("IP:") + ip.toString();
    if (san.isEmpty()) {
        m_error = QStringLiteral("a server certificate needs at least one DNS name or IP");
        return std::nullopt;
    }
    const QString cn = dnsNames.isEmpty() ? ips.first().toString() : dnsNames.first();

    ServerCert cert{m_dir.filePath(baseName + QStringLiteral(".crt")),
                    m_dir.filePath(baseName + QStringLiteral(".key")),
                    m_dir.filePath(baseName + QStringLiteral("-chain.crt"))};
    const QString csr = m_dir.filePath(baseName + QStringLiteral(".csr"));
    const QString ext = baseName + QStringLiteral(".ext");
    const QByteArray extText = "basicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature,keyEncipherment\n"
                               "extendedKeyUsage=serverAuth\n"
                               "subjectAltName=" +
                               san.join(QLatin1Char(',')).toLatin1() + "\n";
    if (!m_dir.writeFile(ext, extText)) {
        m_error = QStringLiteral("cannot write ") + m_dir.filePath(ext);
        return std::nullopt;
    }
    if (!openssl({QStringLiteral("req"), QStringLiteral("-new"), QStringLiteral("-newkey"), QStringLiteral("ec"),
                  QStringLiteral("-pkeyopt"), QStringLiteral("ec_paramgen_curve:prime256v1"), QStringLiteral("-nodes"),
                  QStringLiteral("-keyout"), cert.keyPath, QStringLiteral("-out"), csr, QStringLiteral("-subj"),
                  QStringLiteral("/CN=") + cn}))
        return std::nullopt;
    if (!openssl({QStringLiteral("x509"), QStringLiteral("-req"), QStringLiteral("-in"), csr, QStringLiteral("-CA"),
                  caCertPath(), QStringLiteral("-CAkey"), caKeyPath(), QStringLiteral("-CAcreateserial"),
                  QStringLiteral("-out"), cert.certPath, QStringLiteral("-days"), QStringLiteral("2"),
                  QStringLiteral("-extfile"), m_dir.filePath(ext)}))
        return std::nullopt;
    if (!m_dir.writeFile(QFileInfo(cert.chainPath).fileName(), m_dir.readFile(QFileInfo(cert.certPath).fileName()) +
                                                                   m_dir.readFile(QStringLiteral("ca.crt")))) {
        m_error = QStringLiteral("cannot write ") + cert.chainPath;
        return std::nullopt;
    }
    return cert;
}

} // namespace dfproxy::test
