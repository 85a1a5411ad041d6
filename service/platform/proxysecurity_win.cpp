// SPDX-License-Identifier: Apache-2.0
#include "platform/proxysecurity.h"

#include <QtGlobal>

#ifdef Q_OS_WIN

#define SECURITY_WIN32
#include <windows.h>
#include <security.h>

#include <string>

namespace dfproxy::platform {

namespace {

const wchar_t *packageFor(ProxySecurityContext::Mechanism m)
{
    return m == ProxySecurityContext::Mechanism::Negotiate ? L"Negotiate" : L"NTLM";
}

QString statusText(SECURITY_STATUS s)
{
    return QStringLiteral("SSPI error 0x%1").arg(quint32(s), 8, 16, QLatin1Char('0'));
}

/// SSPI with the logged-on (service) account's credentials: Kerberos or NTLM as the domain allows.
class SspiContext final : public ProxySecurityContext
{
public:
    SspiContext(ProxySecurityContext::Mechanism m, const QString &host)
        : m_package(packageFor(m))
        , m_target(QStringLiteral("HTTP/") + host)
    {
    }
    ~SspiContext() override
    {
        if (m_haveContext)
            DeleteSecurityContext(&m_context);
        if (m_haveCredentials)
            FreeCredentialsHandle(&m_credentials);
    }

    QByteArray step(const QByteArray &input, QString *error) override
    {
        if (!m_haveCredentials) {
            TimeStamp expiry;
            const SECURITY_STATUS s = AcquireCredentialsHandleW(nullptr, const_cast<wchar_t *>(m_package),
                                                                SECPKG_CRED_OUTBOUND, nullptr, nullptr, nullptr,
                                                                nullptr, &m_credentials, &expiry);
            if (s != SEC_E_OK) {
                *error = QStringLiteral("no %1 credentials: %2").arg(QString::fromWCharArray(m_package),
                                                                     statusText(s));
                return {};
            }
            m_haveCredentials = true;
        }
        QByteArray in = input;
        SecBuffer inBuffer{ULONG(in.size()), SECBUFFER_TOKEN, in.data()};
        SecBufferDesc inDesc{SECBUFFER_VERSION, 1, &inBuffer};
        QByteArray out(48 * 1024, Qt::Uninitialized);
        SecBuffer outBuffer{ULONG(out.size()), SECBUFFER_TOKEN, out.data()};
        SecBufferDesc outDesc{SECBUFFER_VERSION, 1, &outBuffer};
        ULONG attributes = 0;
        TimeStamp expiry;
        std::wstring target = m_target.toStdWString();
        const SECURITY_STATUS s = InitializeSecurityContextW(
            &m_credentials, m_haveContext ? &m_context : nullptr, target.data(), ISC_REQ_CONNECTION, 0,
            SECURITY_NATIVE_DREP, in.isEmpty() ? nullptr : &inDesc, 0, &m_context, &outDesc, &attributes, &expiry);
        if (s != SEC_E_OK && s != SEC_I_CONTINUE_NEEDED) {
            *error = QStringLiteral("%1 to %2 failed: %3").arg(QString::fromWCharArray(m_package), m_target,
                                                               statusText(s));
            return {};
        }
        m_haveContext = true;
        out.resize(qsizetype(outBuffer.cbBuffer));
        return out;
    }

private:
    const wchar_t *m_package;
    QString m_target;
    CredHandle m_credentials{};
    CtxtHandle m_context{};
    bool m_haveCredentials = false;
    bool m_haveContext = false;
};

} // namespace

QString ProxySecurityContext::platformUnavailableReason(Mechanism)
{
    return {};
}

std::unique_ptr<ProxySecurityContext> ProxySecurityContext::create(Mechanism m, const QString &proxyHost, QString *)
{
    return std::make_unique<SspiContext>(m, proxyHost);
}

} // namespace dfproxy::platform

#endif // Q_OS_WIN
