// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/managedprocess.h"
#include "support/tempdir.h"

#include <QString>

#include <memory>

namespace dfproxy::test {

// A throwaway MIT Kerberos realm on loopback (Debian's krb5-kdc: kdb5_util, kadmin.local, krb5kdc; kinit from
// krb5-user): realm DFPROXY.TEST, its KDC on 127.0.0.1 at a free port, a user principal with a password, and
// HTTP/localhost with its keys in a keytab for the proxy. Nothing of it outlives the object; it reads no system file
// (KRB5_CONFIG and KRB5_KDC_PROFILE point into its directory).
class Kdc
{
public:
    Kdc();
    ~Kdc();
    static bool available();

    // Creates the realm, the principals and the keytab, and starts the KDC. False (see errorString()) otherwise.
    bool start(int timeoutMs = 30000);
    // Gets a ticket for the user into ccachePath() (kinit with the password).
    bool kinit();
    QString errorString() const { return m_error; }

    QString realm() const { return QStringLiteral("DFPROXY.TEST"); }
    QString user() const { return QStringLiteral("alice"); }
    QString krb5ConfigPath() const { return m_dir.filePath(QStringLiteral("krb5.conf")); }
    QString ccachePath() const { return m_dir.filePath(QStringLiteral("ccache")); }
    QString keytabPath() const { return m_dir.filePath(QStringLiteral("http.keytab")); }
    // HTTP/localhost@DFPROXY.TEST
    QString servicePrincipal() const { return QStringLiteral("HTTP/localhost@") + realm(); }
    QString describe() const;

private:
    bool run(const QString &program, const QStringList &args, const QByteArray &input = {});

    TempDir m_dir;
    quint16 m_port = 0;
    std::unique_ptr<ManagedProcess> m_kdc;
    QString m_error;
};

} // namespace dfproxy::test
