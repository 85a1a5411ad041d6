// SPDX-License-Identifier: Apache-2.0
#include "platform/proxysecurity.h"

#include "base/leakcheck.h"

#include <QtGlobal>

#if !defined(Q_OS_WIN)

#if defined(DFPROXY_HAVE_GSSAPI)
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#endif

namespace dfproxy::platform {

#if defined(DFPROXY_HAVE_GSSAPI)

namespace {

gss_OID_desc kSpnego = {6, const_cast<char *>("\x2b\x06\x01\x05\x05\x02")};                   // 1.3.6.1.5.5.2
gss_OID_desc kNtlmssp = {10, const_cast<char *>("\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a")}; // 1.3.6.1.4.1.311.2.2.10

gss_OID mechFor(ProxySecurityContext::Mechanism m)
{
    return m == ProxySecurityContext::Mechanism::Negotiate ? &kSpnego : &kNtlmssp;
}

QString statusText(OM_uint32 major, OM_uint32 minor)
{
    QString text;
    for (OM_uint32 code : {major, minor}) {
        const int type = code == major ? GSS_C_GSS_CODE : GSS_C_MECH_CODE;
        OM_uint32 ctx = 0, min = 0;
        do {
            gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
            if (gss_display_status(&min, code, type, GSS_C_NO_OID, &ctx, &msg) != GSS_S_COMPLETE)
                break;
            if (!text.isEmpty())
                text += QStringLiteral("; ");
            text += QString::fromUtf8(static_cast<const char *>(msg.value), int(msg.length));
            gss_release_buffer(&min, &msg);
        } while (ctx != 0);
        if (code == minor && minor == 0)
            break;
    }
    return text;
}

bool mechanismAvailable(gss_OID mech)
{
    OM_uint32 minor = 0;
    gss_OID_set mechs = GSS_C_NO_OID_SET;
    if (gss_indicate_mechs(&minor, &mechs) != GSS_S_COMPLETE)
        return false;
    int present = 0;
    gss_test_oid_set_member(&minor, mech, mechs, &present);
    gss_release_oid_set(&minor, &mechs);
    return present != 0;
}

class GssContext final : public ProxySecurityContext
{
public:
    GssContext(Mechanism m, const QString &host) : m_mech(mechFor(m)), m_host(host) {}
    ~GssContext() override
    {
        OM_uint32 minor = 0;
        if (m_ctx != GSS_C_NO_CONTEXT)
            gss_delete_sec_context(&minor, &m_ctx, GSS_C_NO_BUFFER);
        if (m_name != GSS_C_NO_NAME)
            gss_release_name(&minor, &m_name);
    }

    QByteArray step(const QByteArray &input, QString *error) override
    {
        OM_uint32 minor = 0;
        if (m_name == GSS_C_NO_NAME) {
            QByteArray service = "HTTP@" + m_host.toUtf8();
            gss_buffer_desc nameBuf{size_t(service.size()), service.data()};
            const OM_uint32 major = gss_import_name(&minor, &nameBuf, GSS_C_NT_HOSTBASED_SERVICE, &m_name);
            if (GSS_ERROR(major)) {
                *error = QStringLiteral("GSSAPI cannot name HTTP@%1: %2").arg(m_host, statusText(major, minor));
                return {};
            }
        }
        QByteArray in = input;
        gss_buffer_desc inBuf{size_t(in.size()), in.isEmpty() ? nullptr : in.data()};
        gss_buffer_desc outBuf = GSS_C_EMPTY_BUFFER;
        // gss-ntlmssp (Debian 1.2.0) fetches an EVP_MD for each NTLM hash and never frees it, even after
        // gss_delete_sec_context (see ~GssContext): not reported, so that our own leaks still are.
        const LeakCheckDisabled ntlmsspLeaks;
        const OM_uint32 major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &m_ctx, m_name, m_mech,
                                                     GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG, 0,
                                                     GSS_C_NO_CHANNEL_BINDINGS, in.isEmpty() ? GSS_C_NO_BUFFER : &inBuf,
                                                     nullptr, &outBuf, nullptr, nullptr);
        QByteArray out(static_cast<const char *>(outBuf.value), int(outBuf.length));
        gss_release_buffer(&minor, &outBuf);
        if (GSS_ERROR(major)) {
            *error = QStringLiteral("GSSAPI could not authenticate to HTTP@%1: %2").arg(m_host,
                                                                                      statusText(major, minor));
            return {};
        }
        if (out.isEmpty())
            *error = QStringLiteral("GSSAPI has nothing more to send to HTTP@%1").arg(m_host);
        return out;
    }

private:
    gss_OID m_mech;
    QString m_host;
    gss_name_t m_name = GSS_C_NO_NAME;
    gss_ctx_id_t m_ctx = GSS_C_NO_CONTEXT;
};

} // namespace

QString ProxySecurityContext::platformUnavailableReason(Mechanism m)
{
    if (mechanismAvailable(mechFor(m)))
        return {};
    return m == Mechanism::Ntlm
        ? QStringLiteral("NTLM needs GSSAPI's NTLM mechanism, which is not installed (Debian package gss-ntlmssp)")
        : QStringLiteral("GSSAPI offers no SPNEGO mechanism here (Kerberos: Debian package libgssapi-krb5-2)");
}

std::unique_ptr<ProxySecurityContext> ProxySecurityContext::create(Mechanism m, const QString &proxyHost,
                                                                   QString *error)
{
    if (const QString why = unavailableReason(m); !why.isEmpty()) {
        *error = why;
        return nullptr;
    }
    return std::make_unique<GssContext>(m, proxyHost);
}

#else // no GSSAPI at build time

QString ProxySecurityContext::platformUnavailableReason(Mechanism)
{
    return QStringLiteral("this build of dfproxy has no GSSAPI (build with libkrb5-dev) for Negotiate and NTLM");
}

std::unique_ptr<ProxySecurityContext> ProxySecurityContext::create(Mechanism m, const QString &, QString *error)
{
    *error = unavailableReason(m);
    return nullptr;
}

#endif

} // namespace dfproxy::platform

#endif // !Q_OS_WIN
