// SPDX-License-Identifier: Apache-2.0
#include "support/squid.h"

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QProcess>

namespace dfproxy::test {

namespace {

const QString kSquid = QStringLiteral("/usr/sbin/squid");
const QString kHelpers = QStringLiteral("/usr/lib/squid/");
const QString kTinyproxy = QStringLiteral("/usr/bin/tinyproxy");

// Squid drops to the `proxy` user: its directory and files must be reachable for it.
void openUp(const QString &path, bool dir)
{
    QFile::setPermissions(path, dir ? QFileDevice::Permissions(0x7777) : QFileDevice::Permissions(0x6666));
}

// Squid's NTLM helper for the tests, run with python3 (the helper protocol: "YR <type 1>" -> "TT <type 2>",
// "KK <type 3>" -> "AF <user>").
const char kNtlmHelper[] = R"PY(
# Squid NTLM helper for tests: a well-formed NTLMv2 challenge (Type 2) for any Type 1; any Type 3 is accepted and
# its user name reported. Squid's own ntlm_fake_auth sends a malformed challenge that GSSAPI's NTLM refuses.
import base64, os, struct, sys

def buf(data, offset):
    return struct.pack('<HHI', len(data), len(data), offset)

def challenge(flags):
    target = 'DFPROXY'.encode('utf-16-le')
    info = b''.join(struct.pack('<HH', t, len(v)) + v for t, v in
                    ((2, target), (1, 'SQUID'.encode('utf-16-le')))) + struct.pack('<HH', 0, 0)
    base = 56
    # unicode (never OEM as well), NTLM, target info; the rest as the client asked
    flags = (flags & 0x628A8235) | 0x00800000 | 0x00020000 | 0x00000200 | 0x00000001
    head = b'NTLMSSP\0' + struct.pack('<I', 2) + buf(target, base) + struct.pack('<I', flags) + os.urandom(8) \
        + b'\0' * 8 + buf(info, base + len(target)) + b'\x06\x01\xb1\x1d\0\0\0\x0f'
    return head + target + info

def user(type3):
    length, _, offset = struct.unpack('<HHI', type3[36:44])
    return type3[offset:offset + length].decode('utf-16-le', 'replace')

for line in sys.stdin:
    words = line.split()
    try:
        if words[0] == 'YR':
            t1 = base64.b64decode(words[1]) if len(words) > 1 else b''
            flags = struct.unpack('<I', t1[12:16])[0] if len(t1) >= 16 else 0xA2088207
            print('TT ' + base64.b64encode(challenge(flags)).decode(), flush=True)
        elif words[0] == 'KK':
            print('AF ' + user(base64.b64decode(words[1])), flush=True)
        else:
            print('BH unexpected ' + words[0], flush=True)
    except Exception as e:  # noqa: BLE001 - a helper must answer every line
        print('BH ' + str(e).replace('\n', ' '), flush=True)
)PY";

} // namespace

Squid::Squid(Options options) : m_options(std::move(options)) {}

Squid::~Squid()
{
    if (m_process)
        m_process->stop(3000);
}

bool Squid::available()
{
    return QFileInfo(kSquid).isExecutable() && QFileInfo(kHelpers + QStringLiteral("basic_ncsa_auth")).isExecutable()
        && QFileInfo(kHelpers + QStringLiteral("digest_file_auth")).isExecutable();
}

QString Squid::url() const
{
    return QStringLiteral("http://127.0.0.1:%1").arg(m_port);
}

bool Squid::start(int timeoutMs)
{
    if (!available()) {
        m_error = QStringLiteral("squid is not installed (Debian package squid)");
        return false;
    }
    m_port = freeTcpPort();
    const QString d = m_dir.path();
    openUp(d, true);
    QStringList conf = {
        QStringLiteral("http_port 127.0.0.1:%1").arg(m_port),
        QStringLiteral("pid_filename none"),
        QStringLiteral("cache_log stdio:%1/cache.log").arg(d),
        QStringLiteral("access_log stdio:%1/access.log").arg(d),
        QStringLiteral("cache_store_log none"),
        QStringLiteral("coredump_dir %1").arg(d),
        QStringLiteral("cache deny all"),
        QStringLiteral("cache_mem 8 MB"),
        QStringLiteral("shutdown_lifetime 0 seconds"),
        QStringLiteral("visible_hostname dfproxy-test-squid"),
        QStringLiteral("hosts_file %1/hosts").arg(d),
        QStringLiteral("dns_nameservers %1").arg(m_options.dnsServer.isNull() ? QStringLiteral("127.0.0.1")
                                                                            : m_options.dnsServer.toString()),
        QStringLiteral("dns_timeout 5 seconds"),
        QStringLiteral("forwarded_for transparent"),
        QStringLiteral("acl localnet src 127.0.0.0/8"),
        QStringLiteral("acl CONNECT method CONNECT"),
    };
    if (!m_options.tlsCert.isEmpty()) {
        // Copies Squid (the proxy user) can read; the originals may be private to the test.
        for (const auto &[from, to] : {qMakePair(m_options.tlsCert, QStringLiteral("tls.crt")),
                                       qMakePair(m_options.tlsKey, QStringLiteral("tls.key"))}) {
            QFile f(from);
            if (!f.open(QIODevice::ReadOnly)) {
                m_error = QStringLiteral("cannot read %1").arg(from);
                return false;
            }
            m_dir.writeFile(to, f.readAll());
            openUp(m_dir.filePath(to), false);
        }
        m_tlsPort = freeTcpPort();
        conf << QStringLiteral("https_port 127.0.0.1:%1 tls-cert=%2/tls.crt tls-key=%2/tls.key").arg(m_tlsPort).arg(d);
    }
    if (m_options.auth == Auth::Basic) {
        QProcess openssl;
        openssl.start(QStringLiteral("openssl"), {QStringLiteral("passwd"), QStringLiteral("-apr1"),
                                                   m_options.password});
        openssl.waitForFinished(10000);
        const QByteArray hash = openssl.readAllStandardOutput().trimmed();
        if (hash.isEmpty()) {
            m_error = QStringLiteral("openssl passwd -apr1 failed");
            return false;
        }
        m_dir.writeFile(QStringLiteral("passwd"), m_options.user.toUtf8() + ':' + hash + '\n');
        openUp(m_dir.filePath(QStringLiteral("passwd")), false);
        conf << QStringLiteral("auth_param basic program %1basic_ncsa_auth %2/passwd").arg(kHelpers, d)
             << QStringLiteral("auth_param basic realm dfproxy-test")
             << QStringLiteral("auth_param basic children 2 startup=1");
    } else if (m_options.auth == Auth::Digest) {
        // user:realm:HA1 (-c): a plain-text password with a ':' would be taken for that form.
        const QByteArray ha1 = QCryptographicHash::hash(m_options.user.toUtf8() + ":dfproxy-test:"
                                                            + m_options.password.toUtf8(),
                                                        QCryptographicHash::Md5)
                                   .toHex();
        m_dir.writeFile(QStringLiteral("digest"), m_options.user.toUtf8() + ":dfproxy-test:" + ha1 + '\n');
        openUp(m_dir.filePath(QStringLiteral("digest")), false);
        conf << QStringLiteral("auth_param digest program %1digest_file_auth -c %2/digest").arg(kHelpers, d)
             << QStringLiteral("auth_param digest realm dfproxy-test")
             << QStringLiteral("auth_param digest children 2 startup=1")
             << QStringLiteral("auth_param digest nonce_garbage_interval 5 minutes")
             << QStringLiteral("auth_param digest nonce_max_duration 30 minutes")
             << QStringLiteral("auth_param digest nonce_max_count 1000");
    }
    if (m_options.auth == Auth::Negotiate) {
        conf << QStringLiteral("auth_param negotiate program %1negotiate_kerberos_auth -k %2 -s %3")
                    .arg(kHelpers, m_options.keytab, m_options.servicePrincipal)
             << QStringLiteral("auth_param negotiate children 2 startup=1")
             << QStringLiteral("auth_param negotiate keep_alive on");
    }
    if (m_options.auth == Auth::Ntlm) {
        m_dir.writeFile(QStringLiteral("ntlm_helper.py"), kNtlmHelper);
        openUp(m_dir.filePath(QStringLiteral("ntlm_helper.py")), false);
        conf << QStringLiteral("auth_param ntlm program /usr/bin/python3 %1/ntlm_helper.py").arg(d)
             << QStringLiteral("auth_param ntlm children 2 startup=1")
             << QStringLiteral("auth_param ntlm keep_alive on");
    }
    if (m_options.auth != Auth::None)
        conf << QStringLiteral("acl authed proxy_auth REQUIRED") << QStringLiteral("http_access allow localnet authed");
    else
        conf << QStringLiteral("http_access allow localnet");
    conf << QStringLiteral("http_access deny all");
    m_dir.writeFile(QStringLiteral("hosts"), m_options.hosts.join(QLatin1Char('\n')).toUtf8() + '\n');
    openUp(m_dir.filePath(QStringLiteral("hosts")), false);
    for (const char *log : {"cache.log", "access.log"}) {
        m_dir.writeFile(QLatin1String(log), {});
        openUp(m_dir.filePath(QLatin1String(log)), false);
    }
    m_dir.writeFile(QStringLiteral("squid.conf"), conf.join(QLatin1Char('\n')).toUtf8() + '\n');
    openUp(m_dir.filePath(QStringLiteral("squid.conf")), false);
    m_process = std::make_unique<ManagedProcess>(
        kSquid, QStringList{QStringLiteral("-N"), QStringLiteral("-f"), m_dir.filePath(QStringLiteral("squid.conf"))});
    if (!m_options.krb5Config.isEmpty())
        m_process->setEnv(QStringLiteral("KRB5_CONFIG"), m_options.krb5Config); // for its Kerberos helper
    if (!m_process->start() || !m_process->waitForPort(QHostAddress(QHostAddress::LocalHost), m_port, timeoutMs)) {
        m_error = QStringLiteral("squid did not come up on port %1\n%2").arg(m_port).arg(describe());
        return false;
    }
    if (m_tlsPort && !m_process->waitForPort(QHostAddress(QHostAddress::LocalHost), m_tlsPort, timeoutMs)) {
        m_error = QStringLiteral("squid did not listen with TLS on port %1\n%2").arg(m_tlsPort).arg(describe());
        return false;
    }
    return true;
}

QByteArray Squid::accessLog() const
{
    return m_dir.readFile(QStringLiteral("access.log"));
}

QString Squid::describe() const
{
    return (m_process ? m_process->describe() : QString()) + QStringLiteral("\ncache.log:\n")
        + QString::fromUtf8(m_dir.readFile(QStringLiteral("cache.log")));
}

Tinyproxy::Tinyproxy() = default;

Tinyproxy::~Tinyproxy()
{
    if (m_process)
        m_process->stop(3000);
}

bool Tinyproxy::available()
{
    return QFileInfo(kTinyproxy).isExecutable();
}

QString Tinyproxy::url() const
{
    return QStringLiteral("http://127.0.0.1:%1").arg(m_port);
}

bool Tinyproxy::start(int timeoutMs)
{
    if (!available()) {
        m_error = QStringLiteral("tinyproxy is not installed (Debian package tinyproxy)");
        return false;
    }
    m_port = freeTcpPort();
    openUp(m_dir.path(), true);
    const QStringList conf = {
        QStringLiteral("Port %1").arg(m_port),
        QStringLiteral("Listen 127.0.0.1"),
        QStringLiteral("Timeout 60"),
        QStringLiteral("MaxClients 20"),
        QStringLiteral("Allow 127.0.0.0/8"),
        QStringLiteral("LogLevel Info"),
        QStringLiteral("DisableViaHeader No"),
    };
    m_dir.writeFile(QStringLiteral("tinyproxy.conf"), conf.join(QLatin1Char('\n')).toUtf8() + '\n');
    openUp(m_dir.filePath(QStringLiteral("tinyproxy.conf")), false);
    m_process = std::make_unique<ManagedProcess>(
        kTinyproxy, QStringList{QStringLiteral("-d"), QStringLiteral("-c"),
                                m_dir.filePath(QStringLiteral("tinyproxy.conf"))});
    if (!m_process->start() || !m_process->waitForPort(QHostAddress(QHostAddress::LocalHost), m_port, timeoutMs)) {
        m_error = QStringLiteral("tinyproxy did not come up on port %1\n%2").arg(m_port).arg(describe());
        return false;
    }
    return true;
}

QString Tinyproxy::describe() const
{
    return m_process ? m_process->describe() : m_error;
}

} // namespace dfproxy::test
