// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "support/tempdir.h"

#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace dfproxy::test {

// A throwaway certificate authority made with the openssl CLI (EC P-256 keys, valid for two days), and server
// certificates it signs, all in its own temp dir. For HTTPS origins: curl --cacert ca.caCertPath().
class TestCa
{
public:
    struct ServerCert
    {
        QString certPath;  // PEM: the server certificate
        QString keyPath;   // PEM: its private key (PKCS#8, unencrypted)
        QString chainPath; // PEM: server certificate followed by the CA certificate
    };

    TestCa() = default;

    // Generates the CA key and self-signed certificate. False (see errorString()) on failure.
    bool create(const QString &commonName = QStringLiteral("dfproxy test CA"));
    QString caCertPath() const { return m_dir.filePath(QStringLiteral("ca.crt")); }
    QString caKeyPath() const { return m_dir.filePath(QStringLiteral("ca.key")); }

    // Issues a serverAuth certificate for the DNS names and IPs (subjectAltName); the first DNS name (or IP) is
    // the common name. baseName names the files. nullopt (see errorString()) on failure.
    std::optional<ServerCert> issueServerCert(const QString &baseName, const QStringList &dnsNames,
                                              const QList<QHostAddress> &ips = {});

    QString errorString() const { return m_error; }

private:
    bool openssl(const QStringList &args);

    TempDir m_dir;
    QString m_error;
};

} // namespace dfproxy::test
