// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/managedprocess.h"
#include "support/tempdir.h"

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <memory>

namespace dfproxy::test {

// Squid (Debian's /usr/sbin/squid) as the corporate proxy of the upstream-proxy tests: its own config in a temp dir,
// listening on 127.0.0.1 only, no cache, allowing loopback clients. It never reaches the internet: it resolves names
// only from its own hosts file (Options::hosts) and the DNS server the test names (Options::dnsServer, the test's
// dnsmasq; without one an address where nothing answers). Auth: none, Basic (basic_ncsa_auth, an APR1 password
// file made with openssl), Digest (digest_file_auth, plain-text passwords), Negotiate (negotiate_kerberos_auth) or NTLM
// (a python3 helper of the tests: any user and password; Squid's ntlm_fake_auth sends a malformed challenge, which
// GSSAPI's NTLM, gss-ntlmssp, refuses as it should).
class Squid
{
public:
    enum class Auth { None, Basic, Digest, Negotiate, Ntlm };
    struct Options
    {
        Auth auth = Auth::None;
        QString user = QStringLiteral("alice");
        QString password = QStringLiteral("s3cret:with colon");
        QStringList hosts;      // hosts-file lines ("127.0.0.1 only-squid.test")
        QHostAddress dnsServer; // the test's dnsmasq; null = 127.0.0.1:53 (nothing there: every name fails)
        // Negotiate: the realm's krb5.conf, the keytab with the service principal (HTTP/localhost@REALM).
        QString krb5Config, keytab, servicePrincipal;
        // Set both: Squid also listens with TLS (https_port, its GnuTLS flavour) with this certificate and key.
        QString tlsCert, tlsKey;
    };

    explicit Squid(Options options);
    ~Squid();

    // True when squid and its auth helpers are installed.
    static bool available();

    // Starts squid and waits until it accepts connections. False (see errorString()) otherwise.
    bool start(int timeoutMs = 30000);
    QString errorString() const { return m_error; }
    quint16 port() const { return m_port; }
    // "http://127.0.0.1:PORT", as spec.backend.tunnel.url takes it.
    QString url() const;
    // The TLS port (Options::tlsCert), 0 without one.
    quint16 tlsPort() const { return m_tlsPort; }
    // The access log so far (one line per request Squid handled).
    QByteArray accessLog() const;
    QString describe() const;

private:
    Options m_options;
    TempDir m_dir;
    quint16 m_port = 0;
    quint16 m_tlsPort = 0;
    std::unique_ptr<ManagedProcess> m_process;
    QString m_error;
};

// tinyproxy (Debian's /usr/bin/tinyproxy) as a second upstream proxy: loopback only, no auth, foreground.
class Tinyproxy
{
public:
    Tinyproxy();
    ~Tinyproxy();
    static bool available();
    bool start(int timeoutMs = 15000);
    QString errorString() const { return m_error; }
    quint16 port() const { return m_port; }
    QString url() const;
    QString describe() const;

private:
    TempDir m_dir;
    quint16 m_port = 0;
    std::unique_ptr<ManagedProcess> m_process;
    QString m_error;
};

} // namespace dfproxy::test
