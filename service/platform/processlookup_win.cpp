// SPDX-License-Identifier: Apache-2.0
// Windows: GetExtendedTcpTable(TCP_TABLE_OWNER_PID_CONNECTIONS) lists every TCP connection with its owner's pid
// (parsed by parseWindowsTcpTable); QueryFullProcessImageNameW names the executable, the process token its user,
// and WinVerifyTrust (no revocation check, no network) plus the signer's certificate the publisher.
#include "platform/processlookup.h"

#include <QtGlobal>

#ifdef Q_OS_WIN

#include <QDeadlineTimer>
#include <QHash>
#include <QMutex>

#include <vector>

// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <iphlpapi.h>
#include <softpub.h>
#include <wincrypt.h>
#include <wintrust.h>
// clang-format on

namespace dfproxy::platform {

namespace {

QByteArray tcpTable(ULONG family)
{
    DWORD size = 0;
    QByteArray buf;
    for (int attempt = 0; attempt < 4; ++attempt) {
        const DWORD rc = ::GetExtendedTcpTable(buf.isEmpty() ? nullptr : buf.data(), &size, FALSE, family,
                                               TCP_TABLE_OWNER_PID_CONNECTIONS, 0);
        if (rc == NO_ERROR) {
            buf.resize(qsizetype(size));
            return buf;
        }
        if (rc != ERROR_INSUFFICIENT_BUFFER)
            return {};
        buf.resize(qsizetype(size) + 4096); // connections come and go between the two calls
        size = DWORD(buf.size());
    }
    return {};
}

struct Handle
{
    HANDLE h = nullptr;
    explicit Handle(HANDLE v) : h(v) {}
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    ~Handle()
    {
        if (h)
            ::CloseHandle(h);
    }
};

QString imagePath(HANDLE process)
{
    std::vector<wchar_t> buf(32768);
    DWORD size = DWORD(buf.size());
    if (!::QueryFullProcessImageNameW(process, 0, buf.data(), &size))
        return {};
    return QString::fromWCharArray(buf.data(), int(size));
}

QString processUser(HANDLE process)
{
    HANDLE token = nullptr;
    if (!::OpenProcessToken(process, TOKEN_QUERY, &token))
        return {};
    Handle t(token);
    DWORD size = 0;
    ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
    std::vector<char> buf(size ? size : 1);
    if (!::GetTokenInformation(token, TokenUser, buf.data(), size, &size))
        return {};
    const auto *user = reinterpret_cast<const TOKEN_USER *>(buf.data());
    wchar_t name[256], domain[256];
    DWORD nameSize = 256, domainSize = 256;
    SID_NAME_USE use;
    if (!::LookupAccountSidW(nullptr, user->User.Sid, name, &nameSize, domain, &domainSize, &use))
        return {};
    return QString::fromWCharArray(domain, int(domainSize)) + u'\\' + QString::fromWCharArray(name, int(nameSize));
}

/// The subject name of the executable's Authenticode signer when the signature verifies (catalog-signed system
/// files, which carry no embedded signature, have none here); empty otherwise.
QString verifiedPublisher(const QString &path)
{
    const std::wstring file = path.toStdWString();
    WINTRUST_FILE_INFO fileInfo{};
    fileInfo.cbStruct = sizeof fileInfo;
    fileInfo.pcwszFilePath = file.c_str();
    WINTRUST_DATA data{};
    data.cbStruct = sizeof data;
    data.dwUIChoice = WTD_UI_NONE;
    data.fdwRevocationChecks = WTD_REVOKE_NONE;
    data.dwUnionChoice = WTD_CHOICE_FILE;
    data.pFile = &fileInfo;
    data.dwStateAction = WTD_STATEACTION_VERIFY;
    data.dwProvFlags = WTD_CACHE_ONLY_URL_RETRIEVAL; // never the network on the request path
    GUID action = WINTRUST_ACTION_GENERIC_VERIFY_V2;
    const LONG trust = ::WinVerifyTrust(static_cast<HWND>(INVALID_HANDLE_VALUE), &action, &data);
    data.dwStateAction = WTD_STATEACTION_CLOSE;
    ::WinVerifyTrust(static_cast<HWND>(INVALID_HANDLE_VALUE), &action, &data);
    if (trust != ERROR_SUCCESS)
        return {};
    HCERTSTORE store = nullptr;
    HCRYPTMSG msg = nullptr;
    if (!::CryptQueryObject(CERT_QUERY_OBJECT_FILE, file.c_str(), CERT_QUERY_CONTENT_FLAG_PKCS7_SIGNED_EMBED,
                            CERT_QUERY_FORMAT_FLAG_BINARY, 0, nullptr, nullptr, nullptr, &store, &msg, nullptr))
        return {};
    QString publisher;
    DWORD size = 0;
    if (::CryptMsgGetParam(msg, CMSG_SIGNER_INFO_PARAM, 0, nullptr, &size)) {
        std::vector<char> buf(size);
        if (::CryptMsgGetParam(msg, CMSG_SIGNER_INFO_PARAM, 0, buf.data(), &size)) {
            const auto *signer = reinterpret_cast<const CMSG_SIGNER_INFO *>(buf.data());
            CERT_INFO id{};
            id.Issuer = signer->Issuer;
            id.SerialNumber = signer->SerialNumber;
            if (PCCERT_CONTEXT cert = ::CertFindCertificateInStore(store, X509_ASN_ENCODING | PKCS_7_ASN_ENCODING, 0,
                                                                    CERT_FIND_SUBJECT_CERT, &id, nullptr)) {
                wchar_t name[512];
                const DWORD n = ::CertGetNameStringW(cert, CERT_NAME_SIMPLE_DISPLAY_TYPE, 0, nullptr, name, 512);
                if (n > 1)
                    publisher = QString::fromWCharArray(name, int(n - 1));
                ::CertFreeCertificateContext(cert);
            }
        }
    }
    ::CryptMsgClose(msg);
    ::CertCloseStore(store, 0);
    return publisher;
}

class WindowsProcessLookup final : public ProcessLookup
{
public:
    std::shared_ptr<const ProcessInfo> lookup(const QHostAddress &client, quint16 clientPort,
                                              const QHostAddress &server, quint16 serverPort) override
    {
        bool v4 = false;
        client.toIPv4Address(&v4);
        qint64 pid = findOwner(parseWindowsTcpTable(tcpTable(v4 ? AF_INET : AF_INET6), !v4), client, clientPort,
                               server, serverPort);
        if (!pid && v4) // an IPv6 socket of the client connected to an IPv4 address
            pid = findOwner(parseWindowsTcpTable(tcpTable(AF_INET6), true), client, clientPort, server, serverPort);
        if (pid <= 4) // 0: none; 4: the System process
            return nullptr;
        return describe(pid);
    }

private:
    struct Cached
    {
        FILETIME created{};
        std::shared_ptr<const ProcessInfo> info;
        QDeadlineTimer expiry;
    };

    std::shared_ptr<const ProcessInfo> describe(qint64 pid)
    {
        Handle process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, DWORD(pid)));
        if (!process.h)
            return nullptr; // gone, or a protected process
        FILETIME created{}, exited{}, kernel{}, user{};
        if (!::GetProcessTimes(process.h, &created, &exited, &kernel, &user))
            return nullptr;
        {
            QMutexLocker lock(&m_mutex);
            const auto it = m_cache.constFind(pid);
            if (it != m_cache.constEnd() && ::CompareFileTime(&it->created, &created) == 0 && !it->expiry.hasExpired())
                return it->info;
        }
        auto info = std::make_shared<ProcessInfo>();
        info->pid = pid;
        info->path = imagePath(process.h);
        if (info->path.isEmpty())
            return nullptr;
        info->name = executableName(info->path);
        info->user = processUser(process.h);
        info->publisher = publisherOf(info->path);
        QMutexLocker lock(&m_mutex);
        if (m_cache.size() > 1024)
            m_cache.clear();
        m_cache.insert(pid, Cached{created, info, QDeadlineTimer(2000)});
        return info;
    }

    /// Verifying a signature reads the whole file: once per executable file, known by its path, size and time of
    /// last write (a file replaced in place is verified again).
    QString publisherOf(const QString &path)
    {
        WIN32_FILE_ATTRIBUTE_DATA attributes{};
        if (!::GetFileAttributesExW(reinterpret_cast<const wchar_t *>(path.utf16()), GetFileExInfoStandard,
                                    &attributes))
            return {};
        const QString key = path + QStringLiteral("|%1|%2|%3|%4")
                                       .arg(attributes.nFileSizeHigh)
                                       .arg(attributes.nFileSizeLow)
                                       .arg(attributes.ftLastWriteTime.dwHighDateTime)
                                       .arg(attributes.ftLastWriteTime.dwLowDateTime);
        {
            QMutexLocker lock(&m_mutex);
            const auto it = m_publishers.constFind(key);
            if (it != m_publishers.constEnd())
                return *it;
        }
        const QString publisher = verifiedPublisher(path);
        QMutexLocker lock(&m_mutex);
        if (m_publishers.size() > 4096)
            m_publishers.clear();
        m_publishers.insert(key, publisher);
        return publisher;
    }

    QMutex m_mutex;
    QHash<qint64, Cached> m_cache;
    QHash<QString, QString> m_publishers;
};

} // namespace

std::unique_ptr<ProcessLookup> createProcessLookup()
{
    return std::make_unique<WindowsProcessLookup>();
}

} // namespace dfproxy::platform

#endif // Q_OS_WIN
