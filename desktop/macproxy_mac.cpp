// SPDX-License-Identifier: Apache-2.0
// The SystemConfiguration calls of MacProxyBackend (macproxy.h): built on macOS only.
#include "macproxy.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <CoreFoundation/CoreFoundation.h>
#include <SystemConfiguration/SystemConfiguration.h>

namespace dfproxy::desktop {

namespace {

QString fromCf(CFStringRef s)
{
    return s ? QString::fromCFString(s) : QString();
}

// A proxy dictionary value as text (see MacServiceProxies).
SettingValue valueText(CFTypeRef v)
{
    if (!v)
        return std::nullopt;
    if (CFGetTypeID(v) == CFStringGetTypeID())
        return fromCf(static_cast<CFStringRef>(v));
    if (CFGetTypeID(v) == CFNumberGetTypeID()) {
        long long n = 0;
        CFNumberGetValue(static_cast<CFNumberRef>(v), kCFNumberLongLongType, &n);
        return QString::number(n);
    }
    if (CFGetTypeID(v) == CFArrayGetTypeID()) {
        QJsonArray a;
        const auto array = static_cast<CFArrayRef>(v);
        for (CFIndex i = 0; i < CFArrayGetCount(array); ++i) {
            const auto item = CFArrayGetValueAtIndex(array, i);
            if (CFGetTypeID(item) == CFStringGetTypeID())
                a.append(fromCf(static_cast<CFStringRef>(item)));
        }
        return QString::fromUtf8(QJsonDocument(a).toJson(QJsonDocument::Compact));
    }
    return std::nullopt;
}

// Text back to the CF type the key holds; the caller releases it.
CFTypeRef cfValue(const QString &key, const QString &text)
{
    if (MacProxyBackend::isNumberKey(key)) {
        const long long n = text.toLongLong();
        return CFNumberCreate(nullptr, kCFNumberLongLongType, &n);
    }
    if (key == QLatin1String("ExceptionsList")) {
        CFMutableArrayRef array = CFArrayCreateMutable(nullptr, 0, &kCFTypeArrayCallBacks);
        for (const auto &v : QJsonDocument::fromJson(text.toUtf8()).array()) {
            CFStringRef s = v.toString().toCFString();
            CFArrayAppendValue(array, s);
            CFRelease(s);
        }
        return array;
    }
    return text.toCFString();
}

class Preferences
{
public:
    Preferences() : m_prefs(SCPreferencesCreate(nullptr, CFSTR("dfproxy"), nullptr)) {}
    ~Preferences()
    {
        if (m_prefs)
            CFRelease(m_prefs);
    }
    SCPreferencesRef get() const { return m_prefs; }

private:
    SCPreferencesRef m_prefs;
};

QString scError(const char *call)
{
    return QStringLiteral("%1 failed: %2").arg(QLatin1String(call), QString::fromUtf8(SCErrorString(SCError())));
}

// Calls fn(service ID, the service's proxies protocol) for every enabled network service.
template <typename Fn>
bool forEachEnabledService(SCPreferencesRef prefs, Fn fn)
{
    CFArrayRef services = SCNetworkServiceCopyAll(prefs);
    if (!services)
        return false;
    for (CFIndex i = 0; i < CFArrayGetCount(services); ++i) {
        auto service = static_cast<SCNetworkServiceRef>(const_cast<void *>(CFArrayGetValueAtIndex(services, i)));
        if (!SCNetworkServiceGetEnabled(service))
            continue;
        SCNetworkProtocolRef proxies = SCNetworkServiceCopyProtocol(service, kSCNetworkProtocolTypeProxies);
        if (!proxies)
            continue;
        fn(fromCf(SCNetworkServiceGetServiceID(service)), proxies);
        CFRelease(proxies);
    }
    CFRelease(services);
    return true;
}

class RealMacProxyStore : public MacProxyStore
{
public:
    std::optional<MacServiceProxies> read(QString *error) override
    {
        Preferences prefs;
        if (!prefs.get()) {
            *error = scError("SCPreferencesCreate");
            return std::nullopt;
        }
        MacServiceProxies out;
        const bool ok = forEachEnabledService(prefs.get(), [&](const QString &id, SCNetworkProtocolRef proxies) {
            CFDictionaryRef config = SCNetworkProtocolGetConfiguration(proxies);
            auto &values = out[id];
            for (const auto &k : MacProxyBackend::serviceKeys()) {
                CFStringRef key = k.toCFString();
                values.insert(k, config ? valueText(CFDictionaryGetValue(config, key)) : std::nullopt);
                CFRelease(key);
            }
        });
        if (!ok) {
            *error = scError("SCNetworkServiceCopyAll");
            return std::nullopt;
        }
        return out;
    }

    bool write(const MacServiceProxies &changes, QString *error) override
    {
        Preferences prefs;
        if (!prefs.get() || !SCPreferencesLock(prefs.get(), true)) {
            *error = scError("SCPreferencesLock") + " (changing network settings needs an administrator)";
            return false;
        }
        bool ok = true;
        forEachEnabledService(prefs.get(), [&](const QString &id, SCNetworkProtocolRef proxies) {
            if (!ok || !changes.contains(id))
                return;
            CFDictionaryRef old = SCNetworkProtocolGetConfiguration(proxies);
            CFMutableDictionaryRef config = old ? CFDictionaryCreateMutableCopy(nullptr, 0, old)
                                                : CFDictionaryCreateMutable(nullptr, 0, &kCFTypeDictionaryKeyCallBacks,
                                                                            &kCFTypeDictionaryValueCallBacks);
            const auto &values = changes[id];
            for (auto it = values.begin(); it != values.end(); ++it) {
                CFStringRef key = it.key().toCFString();
                if (it.value()) {
                    CFTypeRef v = cfValue(it.key(), *it.value());
                    CFDictionarySetValue(config, key, v);
                    CFRelease(v);
                } else {
                    CFDictionaryRemoveValue(config, key);
                }
                CFRelease(key);
            }
            if (!SCNetworkProtocolSetConfiguration(proxies, config)) {
                *error = scError("SCNetworkProtocolSetConfiguration");
                ok = false;
            }
            CFRelease(config);
        });
        if (ok && (!SCPreferencesCommitChanges(prefs.get()) || !SCPreferencesApplyChanges(prefs.get()))) {
            *error = scError("SCPreferencesCommitChanges") + " (changing network settings needs an administrator)";
            ok = false;
        }
        SCPreferencesUnlock(prefs.get());
        return ok;
    }
};

} // namespace

std::unique_ptr<MacProxyStore> createMacProxyStore()
{
    return std::make_unique<RealMacProxyStore>();
}

} // namespace dfproxy::desktop
