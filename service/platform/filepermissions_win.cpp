// SPDX-License-Identifier: Apache-2.0
#include "platform/filepermissions.h"

#include <QtGlobal>

#ifdef Q_OS_WIN
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <string>

// windows.h first: the others need its types.
#include <windows.h>

#include <aclapi.h>
#include <io.h>
#include <sddl.h>

namespace dfproxy::platform {

bool restrictToOwner(const QString &path, QString *error)
{
    // P: protected (no inherited entries); full access for the owner (OW), SYSTEM (SY) and Administrators (BA);
    // OICI lets a directory pass the same to what is created in it.
    const bool dir = QFileInfo(path).isDir();
    const wchar_t *sddl = dir ? L"D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
                              : L"D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)";
    PSECURITY_DESCRIPTOR sd = nullptr;
    PACL dacl = nullptr;
    BOOL present = FALSE, defaulted = FALSE;
    DWORD rc = ERROR_INVALID_PARAMETER;
    if (ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, nullptr)
        && GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted)) {
        std::wstring native = QDir::toNativeSeparators(path).toStdWString();
        rc = SetNamedSecurityInfoW(native.data(), SE_FILE_OBJECT,
                                   DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr, nullptr,
                                   dacl, nullptr);
    }
    if (sd)
        LocalFree(sd);
    if (rc != ERROR_SUCCESS && error)
        *error = QStringLiteral("cannot restrict %1 to its owner: error %2").arg(path).arg(rc);
    return rc == ERROR_SUCCESS;
}

bool isAccessibleToOthers(const QString &)
{
    return false; // reading a DACL back to judge it is not worth it: every write applies restrictToOwner()
}

QString describeMode(const QString &)
{
    return {};
}

bool syncToDisk(QFile &file)
{
    return file.flush() && FlushFileBuffers(reinterpret_cast<HANDLE>(_get_osfhandle(file.handle())));
}

} // namespace dfproxy::platform
#endif
