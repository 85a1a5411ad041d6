// SPDX-License-Identifier: Apache-2.0
// The WinINet calls of WinInetBackend (winproxy.h): built on Windows only.
#include "winproxy.h"

#include <windows.h>
#include <wininet.h>

#include <string>

namespace dfproxy::desktop {

namespace {

QString lastError(const char *call)
{
    return QStringLiteral("%1 failed (Windows error %2)").arg(QLatin1String(call)).arg(GetLastError());
}

SettingValue takeString(LPWSTR s)
{
    if (!s)
        return std::nullopt;
    const QString v = QString::fromWCharArray(s);
    GlobalFree(s); // InternetQueryOption allocates the strings with GlobalAlloc
    return v;
}

class RealWinInetStore : public WinInetStore
{
public:
    std::optional<WinInetOptions> read(QString *error) override
    {
        INTERNET_PER_CONN_OPTIONW options[4] = {};
        options[0].dwOption = INTERNET_PER_CONN_FLAGS;
        options[1].dwOption = INTERNET_PER_CONN_PROXY_SERVER;
        options[2].dwOption = INTERNET_PER_CONN_PROXY_BYPASS;
        options[3].dwOption = INTERNET_PER_CONN_AUTOCONFIG_URL;
        INTERNET_PER_CONN_OPTION_LISTW list = {};
        list.dwSize = sizeof(list);
        list.pszConnection = nullptr; // the LAN connection
        list.dwOptionCount = 4;
        list.pOptions = options;
        DWORD size = sizeof(list);
        if (!InternetQueryOptionW(nullptr, INTERNET_OPTION_PER_CONNECTION_OPTION, &list, &size)) {
            *error = lastError("InternetQueryOption(INTERNET_OPTION_PER_CONNECTION_OPTION)");
            return std::nullopt;
        }
        WinInetOptions o;
        o.flags = options[0].Value.dwValue;
        o.proxyServer = takeString(options[1].Value.pszValue);
        o.proxyBypass = takeString(options[2].Value.pszValue);
        o.autoConfigUrl = takeString(options[3].Value.pszValue);
        return o;
    }

    bool write(const WinInetOptions &o, QString *error) override
    {
        std::wstring server = o.proxyServer.value_or(QString()).toStdWString();
        std::wstring bypass = o.proxyBypass.value_or(QString()).toStdWString();
        std::wstring pac = o.autoConfigUrl.value_or(QString()).toStdWString();
        INTERNET_PER_CONN_OPTIONW options[4] = {};
        options[0].dwOption = INTERNET_PER_CONN_FLAGS;
        options[0].Value.dwValue = o.flags;
        options[1].dwOption = INTERNET_PER_CONN_PROXY_SERVER;
        options[1].Value.pszValue = o.proxyServer ? server.data() : nullptr;
        options[2].dwOption = INTERNET_PER_CONN_PROXY_BYPASS;
        options[2].Value.pszValue = o.proxyBypass ? bypass.data() : nullptr;
        options[3].dwOption = INTERNET_PER_CONN_AUTOCONFIG_URL;
        options[3].Value.pszValue = o.autoConfigUrl ? pac.data() : nullptr;
        INTERNET_PER_CONN_OPTION_LISTW list = {};
        list.dwSize = sizeof(list);
        list.pszConnection = nullptr;
        list.dwOptionCount = 4;
        list.pOptions = options;
        if (!InternetSetOptionW(nullptr, INTERNET_OPTION_PER_CONNECTION_OPTION, &list, sizeof(list))) {
            *error = lastError("InternetSetOption(INTERNET_OPTION_PER_CONNECTION_OPTION)");
            return false;
        }
        // Running programs re-read the settings only when told.
        InternetSetOptionW(nullptr, INTERNET_OPTION_SETTINGS_CHANGED, nullptr, 0);
        InternetSetOptionW(nullptr, INTERNET_OPTION_REFRESH, nullptr, 0);
        return true;
    }
};

} // namespace

std::unique_ptr<WinInetStore> createWinInetStore()
{
    return std::make_unique<RealWinInetStore>();
}

} // namespace dfproxy::desktop
