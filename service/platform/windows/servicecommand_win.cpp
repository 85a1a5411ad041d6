// SPDX-License-Identifier: Apache-2.0
// `dfproxy service ...` on Windows: the Service Control Manager.
#include "platform/servicemanager.h"

#include <QtGlobal>

#ifdef Q_OS_WIN
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

#include <cstdio>
#include <iterator>
#include <string>

#include <windows.h>

namespace dfproxy::platform {
namespace {

const wchar_t *const kServiceName = L"dfproxy";
const wchar_t *const kDisplayName = L"dfproxy dynamic forward proxy";

void say(const QString &text)
{
    std::printf("%s\n", qPrintable(text));
    std::fflush(stdout);
}

void fail(const QString &text)
{
    std::fprintf(stderr, "dfproxy service: %s\n", qPrintable(text));
}

QString lastError(DWORD code = GetLastError())
{
    wchar_t *buffer = nullptr;
    const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM
                                       | FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, code, 0, reinterpret_cast<LPWSTR>(&buffer), 0, nullptr);
    QString text = n ? QString::fromWCharArray(buffer, static_cast<int>(n)).trimmed() : QString();
    if (buffer)
        LocalFree(buffer);
    return QStringLiteral("%1 (error %2)").arg(text).arg(code);
}

/// Closes a service handle when it goes out of scope.
struct Handle
{
    SC_HANDLE h = nullptr;
    explicit Handle(SC_HANDLE handle) : h(handle) {}
    ~Handle()
    {
        if (h)
            CloseServiceHandle(h);
    }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    explicit operator bool() const { return h != nullptr; }
};

QString stateName(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED: return QStringLiteral("stopped");
    case SERVICE_START_PENDING: return QStringLiteral("starting");
    case SERVICE_STOP_PENDING: return QStringLiteral("stopping");
    case SERVICE_RUNNING: return QStringLiteral("running");
    case SERVICE_CONTINUE_PENDING: return QStringLiteral("continuing");
    case SERVICE_PAUSE_PENDING: return QStringLiteral("pausing");
    case SERVICE_PAUSED: return QStringLiteral("paused");
    default: return QStringLiteral("unknown");
    }
}

bool queryState(SC_HANDLE service, SERVICE_STATUS_PROCESS *status)
{
    DWORD needed = 0;
    return QueryServiceStatusEx(service, SC_STATUS_PROCESS_INFO, reinterpret_cast<LPBYTE>(status), sizeof(*status),
                                &needed);
}

/// Polls until the service reaches `state` or `timeoutMs` passes.
bool waitForState(SC_HANDLE service, DWORD state, DWORD timeoutMs)
{
    const ULONGLONG deadline = GetTickCount64() + timeoutMs;
    SERVICE_STATUS_PROCESS status = {};
    while (queryState(service, &status)) {
        if (status.dwCurrentState == state)
            return true;
        if (GetTickCount64() >= deadline)
            return false;
        Sleep(250);
    }
    return false;
}

int start(SC_HANDLE service)
{
    if (!StartServiceW(service, 0, nullptr)) {
        const DWORD e = GetLastError();
        if (e == ERROR_SERVICE_ALREADY_RUNNING) {
            say(QStringLiteral("dfproxy is already running"));
            return 0;
        }
        fail(QStringLiteral("cannot start the service: %1").arg(lastError(e)));
        return 1;
    }
    if (!waitForState(service, SERVICE_RUNNING, 30000)) {
        fail(QStringLiteral("the service did not reach 'running'; see %1")
                 .arg(QDir::toNativeSeparators(QFileInfo(systemConfigPath()).absolutePath() + "/logs/dfproxy.log")));
        return 1;
    }
    say(QStringLiteral("dfproxy is running"));
    return 0;
}

int stop(SC_HANDLE service)
{
    SERVICE_STATUS status = {};
    if (!ControlService(service, SERVICE_CONTROL_STOP, &status)) {
        const DWORD e = GetLastError();
        if (e == ERROR_SERVICE_NOT_ACTIVE) {
            say(QStringLiteral("dfproxy is not running"));
            return 0;
        }
        fail(QStringLiteral("cannot stop the service: %1").arg(lastError(e)));
        return 1;
    }
    if (!waitForState(service, SERVICE_STOPPED, 35000)) {
        fail(QStringLiteral("the service did not stop within 35 s"));
        return 1;
    }
    say(QStringLiteral("dfproxy is stopped"));
    return 0;
}

int install(SC_HANDLE scm)
{
    wchar_t exe[MAX_PATH * 4] = {};
    const DWORD n = GetModuleFileNameW(nullptr, exe, static_cast<DWORD>(std::size(exe)));
    if (n == 0 || n >= std::size(exe)) {
        fail(QStringLiteral("cannot find this program's path: %1").arg(lastError()));
        return 1;
    }
    const QString config = QDir::toNativeSeparators(systemConfigPath());
    if (!QDir().mkpath(QFileInfo(systemConfigPath()).absolutePath() + QStringLiteral("/logs"))) {
        fail(QStringLiteral("cannot create %1").arg(QFileInfo(config).absolutePath()));
        return 1;
    }
    const std::wstring commandLine = L"\"" + std::wstring(exe) + L"\" --windows-service --config \""
        + config.toStdWString() + L"\"";
    // LocalSystem (no account name): it can write %ProgramData%\dfproxy without extra ACLs.
    Handle service(CreateServiceW(scm, kServiceName, kDisplayName, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                  SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, commandLine.c_str(), nullptr, nullptr,
                                  nullptr, nullptr, nullptr));
    if (!service) {
        const DWORD e = GetLastError();
        fail(e == ERROR_SERVICE_EXISTS ? QStringLiteral("the service dfproxy already exists (installed by the MSI or "
                                                        "an earlier 'dfproxy service install')")
                                       : QStringLiteral("cannot create the service: %1").arg(lastError(e)));
        return 1;
    }
    std::wstring description = L"Dynamic forward proxy with a REST admin API. Config: " + config.toStdWString();
    SERVICE_DESCRIPTIONW desc = {description.data()};
    ChangeServiceConfig2W(service.h, SERVICE_CONFIG_DESCRIPTION, &desc);
    say(QStringLiteral("installed the service dfproxy (%1)").arg(QString::fromStdWString(commandLine)));
    return start(service.h);
}

int uninstall(SC_HANDLE service)
{
    SERVICE_STATUS_PROCESS status = {};
    if (queryState(service, &status) && status.dwCurrentState != SERVICE_STOPPED && stop(service) != 0)
        return 1;
    if (!DeleteService(service)) {
        fail(QStringLiteral("cannot delete the service: %1").arg(lastError()));
        return 1;
    }
    say(QStringLiteral("removed the service dfproxy; kept %1").arg(QDir::toNativeSeparators(
        QFileInfo(systemConfigPath()).absolutePath())));
    return 0;
}

int status(SC_HANDLE service)
{
    SERVICE_STATUS_PROCESS s = {};
    if (!queryState(service, &s)) {
        fail(QStringLiteral("cannot query the service: %1").arg(lastError()));
        return 1;
    }
    say(QStringLiteral("dfproxy: %1%2 (config %3)")
            .arg(stateName(s.dwCurrentState),
                 s.dwProcessId ? QStringLiteral(", pid %1").arg(s.dwProcessId) : QString(),
                 QDir::toNativeSeparators(systemConfigPath())));
    return s.dwCurrentState == SERVICE_RUNNING ? 0 : 3;
}

} // namespace

int runServiceCommand(const QStringList &args)
{
    static const QStringList verbs = {QStringLiteral("install"), QStringLiteral("uninstall"), QStringLiteral("start"),
                                      QStringLiteral("stop"), QStringLiteral("status")};
    if (args.size() != 1 || !verbs.contains(args.first())) {
        fail(QStringLiteral("usage: dfproxy service install|uninstall|start|stop|status"));
        return 2;
    }
    const QString verb = args.first();
    const bool readOnly = verb == QLatin1String("status");
    const bool creating = verb == QLatin1String("install");
    Handle scm(OpenSCManagerW(nullptr, nullptr, creating ? (SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE)
                                                         : SC_MANAGER_CONNECT));
    if (!scm) {
        const DWORD e = GetLastError();
        fail(e == ERROR_ACCESS_DENIED ? QStringLiteral("access denied: run it from an administrator prompt")
                                      : QStringLiteral("cannot open the Service Control Manager: %1").arg(lastError(e)));
        return 1;
    }
    if (creating)
        return install(scm.h);

    const DWORD access = readOnly ? SERVICE_QUERY_STATUS : (SERVICE_QUERY_STATUS | SERVICE_START | SERVICE_STOP | DELETE);
    Handle service(OpenServiceW(scm.h, kServiceName, access));
    if (!service) {
        const DWORD e = GetLastError();
        if (e == ERROR_SERVICE_DOES_NOT_EXIST) {
            if (verb == QLatin1String("uninstall")) {
                say(QStringLiteral("the service dfproxy is not installed"));
                return 0;
            }
            fail(QStringLiteral("the service dfproxy is not installed: run 'dfproxy service install' as administrator"));
            return readOnly ? 3 : 1;
        }
        fail(QStringLiteral("cannot open the service: %1").arg(lastError(e)));
        return 1;
    }
    if (verb == QLatin1String("uninstall"))
        return uninstall(service.h);
    if (verb == QLatin1String("start"))
        return start(service.h);
    if (verb == QLatin1String("stop"))
        return stop(service.h);
    return status(service.h);
}

} // namespace dfproxy::platform
#endif
