// SPDX-License-Identifier: Apache-2.0
#include "support/kdc.h"

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QProcessEnvironment>

namespace dfproxy::test {

namespace {
const QString kPassword = QStringLiteral("alice-kerberos-pw");
}

Kdc::Kdc() = default;

Kdc::~Kdc()
{
    if (m_kdc)
        m_kdc->stop(3000);
}

bool Kdc::available()
{
    for (const char *p : {"/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local", "/usr/bin/kinit"}) {
        if (!QFileInfo(QLatin1String(p)).isExecutable())
            return false;
    }
    return true;
}

bool Kdc::run(const QString &program, const QStringList &args, const QByteArray &input)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("KRB5_CONFIG"), krb5ConfigPath());
    env.insert(QStringLiteral("KRB5_KDC_PROFILE"), m_dir.filePath(QStringLiteral("kdc.conf")));
    env.insert(QStringLiteral("KRB5CCNAME"), QStringLiteral("FILE:") + ccachePath());
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!p.waitForStarted(10000)) {
        m_error = program + QStringLiteral(" did not start");
        return false;
    }
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(30000) || p.exitCode() != 0) {
        m_error = QStringLiteral("%1 %2 failed:\n%3%4")
                      .arg(program, args.join(QLatin1Char(' ')), QString::fromUtf8(p.readAllStandardOutput()),
                           QString::fromUtf8(p.readAllStandardError()));
        return false;
    }
    return true;
}

bool Kdc::start(int timeoutMs)
{
    if (!available()) {
        m_error = QStringLiteral("the MIT Kerberos KDC is not installed (Debian packages krb5-kdc krb5-admin-server "
                                 "krb5-user)");
        return false;
    }
    m_port = freeTcpPort();
    const QString d = m_dir.path();
    QFile::setPermissions(d, QFileDevice::Permissions(0x7755));
    m_dir.writeFile(QStringLiteral("krb5.conf"), QStringLiteral(
        "[libdefaults]\n"
        "  default_realm = %1\n"
        "  dns_lookup_kdc = false\n"
        "  dns_lookup_realm = false\n"
        "  dns_canonicalize_hostname = false\n"
        "  rdns = false\n"
        "  udp_preference_limit = 1\n"
        "[realms]\n"
        "  %1 = {\n"
        "    kdc = 127.0.0.1:%2\n"
        "  }\n"
        "[domain_realm]\n"
        "  localhost = %1\n").arg(realm()).arg(m_port).toUtf8());
    m_dir.writeFile(QStringLiteral("kdc.conf"), QStringLiteral(
        "[kdcdefaults]\n"
        "  kdc_listen = 127.0.0.1:%2\n"
        "  kdc_tcp_listen = 127.0.0.1:%2\n"
        "[realms]\n"
        "  %1 = {\n"
        "    database_name = %3/principal\n"
        "    key_stash_file = %3/stash\n"
        "    acl_file = %3/kadm5.acl\n"
        "    supported_enctypes = aes256-cts-hmac-sha1-96:normal\n"
        "    max_life = 1h\n"
        "  }\n"
        "[logging]\n"
        "  kdc = FILE:%3/kdc.log\n").arg(realm()).arg(m_port).arg(d).toUtf8());
    QFile::setPermissions(krb5ConfigPath(), QFileDevice::Permissions(0x6644));
    m_dir.writeFile(QStringLiteral("kadm5.acl"), "");
    if (!run(QStringLiteral("/usr/sbin/kdb5_util"),
             {QStringLiteral("create"), QStringLiteral("-s"), QStringLiteral("-P"), QStringLiteral("master-pw"),
              QStringLiteral("-r"), realm()}))
        return false;
    if (!run(QStringLiteral("/usr/sbin/kadmin.local"),
             {QStringLiteral("-q"), QStringLiteral("addprinc -pw %1 %2").arg(kPassword, user())}))
        return false;
    if (!run(QStringLiteral("/usr/sbin/kadmin.local"), {QStringLiteral("-q"), QStringLiteral("addprinc -randkey HTTP/localhost")}))
        return false;
    if (!run(QStringLiteral("/usr/sbin/kadmin.local"),
             {QStringLiteral("-q"), QStringLiteral("ktadd -k %1 HTTP/localhost").arg(keytabPath())}))
        return false;
    QFile::setPermissions(keytabPath(), QFileDevice::Permissions(0x6644)); // the proxy's helper runs as `proxy`
    m_kdc = std::make_unique<ManagedProcess>(QStringLiteral("/usr/sbin/krb5kdc"), QStringList{QStringLiteral("-n")});
    m_kdc->setEnv(QStringLiteral("KRB5_CONFIG"), krb5ConfigPath());
    m_kdc->setEnv(QStringLiteral("KRB5_KDC_PROFILE"), m_dir.filePath(QStringLiteral("kdc.conf")));
    if (!m_kdc->start() || !m_kdc->waitForPort(QHostAddress(QHostAddress::LocalHost), m_port, timeoutMs)) {
        m_error = QStringLiteral("krb5kdc did not come up on port %1\n%2").arg(m_port).arg(describe());
        return false;
    }
    return true;
}

bool Kdc::kinit()
{
    return run(QStringLiteral("/usr/bin/kinit"), {user()}, kPassword.toUtf8() + '\n');
}

QString Kdc::describe() const
{
    return (m_kdc ? m_kdc->describe() : QString()) + QStringLiteral("\nkdc.log:\n")
        + QString::fromUtf8(m_dir.readFile(QStringLiteral("kdc.log"))) + m_error;
}

} // namespace dfproxy::test
