// SPDX-License-Identifier: Apache-2.0
// The Windows service entry point. The SCM's dispatcher (StartServiceCtrlDispatcherW) blocks its thread for the
// service's whole life, so it runs on a helper thread while Qt keeps the main thread; stop requests hop to the
// main thread through a queued call.
#include "platform/servicemanager.h"

#include <QtGlobal>

#ifdef Q_OS_WIN
#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QMetaObject>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include <windows.h>

namespace dfproxy::platform {
namespace {

wchar_t kServiceName[] = L"dfproxy";

std::mutex g_statusMutex;
SERVICE_STATUS_HANDLE g_statusHandle = nullptr;
SERVICE_STATUS g_status = {};
HANDLE g_attachedEvent = nullptr;   // set once serviceMain registered (or the dispatcher failed)
HANDLE g_stoppedEvent = nullptr;    // set by the main thread after it reported SERVICE_STOPPED
std::atomic<DWORD> g_dispatchError{0};
std::thread g_dispatcher;
std::function<void()> g_onStop;     // main thread only

void report(DWORD state, DWORD exitCode, DWORD waitHintMs)
{
    std::lock_guard<std::mutex> lock(g_statusMutex);
    if (!g_statusHandle)
        return;
    g_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    g_status.dwCurrentState = state;
    g_status.dwControlsAccepted = state == SERVICE_RUNNING ? (SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN) : 0;
    g_status.dwWin32ExitCode = exitCode == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    g_status.dwServiceSpecificExitCode = exitCode;
    g_status.dwWaitHint = waitHintMs;
    g_status.dwCheckPoint = (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : g_status.dwCheckPoint + 1;
    SetServiceStatus(g_statusHandle, &g_status);
}

DWORD WINAPI controlHandler(DWORD control, DWORD /*eventType*/, LPVOID /*eventData*/, LPVOID /*context*/)
{
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING, 0, 30000);
        // Runs on the dispatcher thread: the drain must happen on the main thread, in its event loop.
        if (QCoreApplication *app = QCoreApplication::instance()) {
            QMetaObject::invokeMethod(
                app,
                [] {
                    if (g_onStop)
                        g_onStop();
                    else
                        QCoreApplication::quit();
                },
                Qt::QueuedConnection);
        }
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

void WINAPI serviceMain(DWORD /*argc*/, LPWSTR * /*argv*/)
{
    SERVICE_STATUS_HANDLE handle = RegisterServiceCtrlHandlerExW(kServiceName, controlHandler, nullptr);
    {
        std::lock_guard<std::mutex> lock(g_statusMutex);
        g_statusHandle = handle;
    }
    if (!handle) {
        g_dispatchError = GetLastError();
        SetEvent(g_attachedEvent);
        return;
    }
    report(SERVICE_START_PENDING, 0, 30000);
    SetEvent(g_attachedEvent);
    // Returning would tell the dispatcher this service is done: wait until main() has reported SERVICE_STOPPED.
    WaitForSingleObject(g_stoppedEvent, INFINITE);
}

/// A service has no console: its stdout, stderr and Qt messages go to %ProgramData%\dfproxy\logs\dfproxy.log.
void redirectOutput()
{
    const QString dir = QFileInfo(systemConfigPath()).absolutePath() + QStringLiteral("/logs");
    QDir().mkpath(dir);
    const std::wstring path = QDir::toNativeSeparators(dir + QStringLiteral("/dfproxy.log")).toStdWString();
    FILE *f = nullptr;
    _wfreopen_s(&f, path.c_str(), L"a", stdout);
    _wfreopen_s(&f, path.c_str(), L"a", stderr);
    qInstallMessageHandler([](QtMsgType, const QMessageLogContext &, const QString &message) {
        std::fprintf(stderr, "%s %s\n", qPrintable(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)),
                     qPrintable(message));
        std::fflush(stderr);
    });
}

} // namespace

bool systemdNotify(const QByteArray & /*message*/)
{
    return false;
}

QString systemConfigPath()
{
    QString programData = qEnvironmentVariable("ProgramData");
    if (programData.isEmpty())
        programData = QStringLiteral("C:/ProgramData");
    return QDir::fromNativeSeparators(programData) + QStringLiteral("/dfproxy/config.json");
}

ServiceManagerLink::ServiceManagerLink(bool windowsService) : m_windowsService(windowsService)
{
    if (!windowsService)
        return;
    g_attachedEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    g_stoppedEvent = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    if (!g_attachedEvent || !g_stoppedEvent) {
        m_error = QStringLiteral("cannot create events (error %1)").arg(GetLastError());
        return;
    }
    g_dispatcher = std::thread([] {
        SERVICE_TABLE_ENTRYW table[] = {{kServiceName, serviceMain}, {nullptr, nullptr}};
        if (!StartServiceCtrlDispatcherW(table)) {
            g_dispatchError = GetLastError();
            SetEvent(g_attachedEvent);
        }
    });
    WaitForSingleObject(g_attachedEvent, INFINITE);
    if (const DWORD e = g_dispatchError.load(); e != 0) {
        m_error = e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
            ? QStringLiteral("--windows-service: not started by the Service Control Manager (use 'dfproxy service "
                             "start', or run without --windows-service)")
            : QStringLiteral("cannot connect to the Service Control Manager (error %1)").arg(e);
        // The dispatcher thread has returned (or will, with nothing registered): don't wait for it.
        g_dispatcher.detach();
        return;
    }
    redirectOutput();
}

ServiceManagerLink::~ServiceManagerLink()
{
    if (!m_windowsService || !attached())
        return;
    // A service that stops before it was ready failed to start, whatever main() returned.
    const int code = m_ready ? m_exitCode : (m_exitCode != 0 ? m_exitCode : 1);
    report(SERVICE_STOPPED, static_cast<DWORD>(code), 0);
    SetEvent(g_stoppedEvent);
    if (g_dispatcher.joinable())
        g_dispatcher.join();
}

void ServiceManagerLink::setStopHandler(std::function<void()> onStop)
{
    g_onStop = std::move(onStop);
}

void ServiceManagerLink::notifyReady(const QString & /*status*/)
{
    m_ready = true;
    if (m_windowsService && attached())
        report(SERVICE_RUNNING, 0, 0);
}

void ServiceManagerLink::notifyStopping()
{
    if (m_windowsService && attached())
        report(SERVICE_STOP_PENDING, 0, 30000);
}

} // namespace dfproxy::platform
#endif
