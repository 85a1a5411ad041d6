// SPDX-License-Identifier: Apache-2.0
#include "pac/pacsettings.h"

#include <QJsonValue>

namespace dfproxy::pac {

namespace {

constexpr int kMaxAgeLimitS = 86400;

bool isLabel(QStringView l)
{
    if (l.isEmpty() || l.size() > 63 || l.front() == u'-' || l.back() == u'-')
        return false;
    for (const QChar c : l) {
        if (!((c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9') || c == u'-'))
            return false;
    }
    return true;
}

// A lower-case RFC 1123 host name; a trailing dot or an IP address spelling is not one.
bool isHostName(const QString &s)
{
    if (s.isEmpty() || s.size() > 253)
        return false;
    for (const auto l : QStringView(s).split(u'.')) {
        if (!isLabel(l))
            return false;
    }
    return true;
}

// True when no bit after the first `prefix` bits of `a` is set.
bool hostBitsClear(const QHostAddress &a, int prefix)
{
    if (a.protocol() == QAbstractSocket::IPv4Protocol) {
        const quint32 v = a.toIPv4Address();
        return prefix >= 32 || (v & (0xffffffffu >> prefix)) == 0;
    }
    const Q_IPV6ADDR v = a.toIPv6Address();
    for (int bit = prefix; bit < 128; ++bit) {
        if (v[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    }
    return true;
}

// An IP address in its canonical spelling only ("10.0.0.1", "fe80::1"): "10.1" or "010.0.0.1" would mean different
// things to different readers (the browser's PAC engine, the OS proxy settings), so they are refused, not guessed.
bool parseAddress(const QString &text, QHostAddress *out, QString *why)
{
    QHostAddress a;
    if (!a.setAddress(text) || !a.scopeId().isEmpty()) {
        *why = QStringLiteral("\"%1\" is not an IP address").arg(text);
        return false;
    }
    if (a.toString() != text) {
        *why = QStringLiteral("write the address \"%1\" as \"%2\"").arg(text, a.toString());
        return false;
    }
    *out = a;
    return true;
}

bool parseCidrEntry(const QString &text, BypassEntry *out, QString *why)
{
    const qsizetype slash = text.indexOf(u'/');
    const QString addrText = slash < 0 ? text : text.left(slash);
    QHostAddress a;
    if (!parseAddress(addrText, &a, why))
        return false;
    const int bits = a.protocol() == QAbstractSocket::IPv4Protocol ? 32 : 128;
    int prefix = bits;
    if (slash >= 0) {
        const QString p = text.mid(slash + 1);
        bool ok = !p.isEmpty() && p.size() <= 3 && !(p.size() > 1 && p.front() == u'0');
        for (const QChar c : p)
            ok = ok && c.isDigit();
        prefix = ok ? p.toInt() : -1;
        if (prefix < 0 || prefix > bits) {
            *why = QStringLiteral("the prefix length of \"%1\" must be 0..%2").arg(text).arg(bits);
            return false;
        }
    }
    if (!hostBitsClear(a, prefix)) {
        *why = QStringLiteral("\"%1\" has bits set after its /%2 prefix (a network address is expected)")
                   .arg(text)
                   .arg(prefix);
        return false;
    }
    out->kind = BypassEntry::Kind::Cidr;
    out->text = text;
    out->network = a;
    out->prefixLength = prefix;
    return true;
}

bool isDigitsAndDots(const QString &s)
{
    for (const QChar c : s) {
        if (!(c.isDigit() || c == u'.'))
            return false;
    }
    return true;
}

} // namespace

QStringList PacSettings::bypassTexts() const
{
    QStringList out;
    for (const auto &e : bypass)
        out.append(e.text);
    return out;
}

bool parseBypassEntry(const QString &text, BypassEntry *out, QString *why)
{
    QString ignored;
    QString &reason = why ? *why : ignored;
    BypassEntry e;
    const QString t = text.toLower();
    if (t.isEmpty()) {
        reason = QStringLiteral("an entry is empty");
        return false;
    }
    if (t == QLatin1String("<local>")) {
        e.kind = BypassEntry::Kind::PlainHostNames;
        e.text = t;
    } else if (t.startsWith(QLatin1String("*."))) {
        if (!isHostName(t.mid(2))) {
            reason = QStringLiteral("\"%1\" is not \"*.\" followed by a host name").arg(text);
            return false;
        }
        e.kind = BypassEntry::Kind::DomainSuffix;
        e.text = t;
        e.host = t.mid(1);
    } else if (t.contains(u':') || t.contains(u'/') || isDigitsAndDots(t)) {
        // IPv6, a CIDR, or digits and dots, which are an IPv4 address or nothing ("10.1" is refused, not taken as
        // a host name that would never match the address a browser sees).
        if (!parseCidrEntry(t, &e, &reason))
            return false;
    } else if (isHostName(t)) {
        e.kind = BypassEntry::Kind::Host;
        e.text = t;
        e.host = t;
    } else {
        reason = QStringLiteral("\"%1\" is neither \"<local>\", a host name, \"*.\" and a host name, an IP address nor "
                                "a CIDR block")
                     .arg(text);
        return false;
    }
    *out = e;
    return true;
}

QList<BypassEntry> defaultBypass()
{
    static const QList<BypassEntry> list = [] {
        QList<BypassEntry> l;
        for (const char *t : {"<local>", "localhost", "127.0.0.0/8", "::1", "169.254.0.0/16", "fe80::/10",
                              "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}) {
            BypassEntry e;
            parseBypassEntry(QString::fromLatin1(t), &e, nullptr);
            l.append(e);
        }
        return l;
    }();
    return list;
}

PacSettings parsePacSettings(const QJsonObject &annotations, QList<PacSettingsError> *errors)
{
    PacSettings s;
    s.bypass = defaultBypass();
    auto fail = [errors](const char *key, const QString &message) {
        if (errors)
            errors->append(PacSettingsError{QString::fromLatin1(key), message});
    };

    if (const QJsonValue v = annotations.value(QLatin1String(FailModeAnnotation)); !v.isUndefined()) {
        if (v.toString() == QLatin1String("closed"))
            s.failMode = FailMode::Closed;
        else if (v.toString() == QLatin1String("open"))
            s.failMode = FailMode::Open;
        else
            fail(FailModeAnnotation, QStringLiteral("must be \"closed\" or \"open\""));
    }

    if (const QJsonValue v = annotations.value(QLatin1String(BypassAnnotation)); !v.isUndefined()) {
        if (!v.isString()) {
            fail(BypassAnnotation, QStringLiteral("must be a string: a comma-separated list"));
        } else {
            // An empty value is an empty list: nothing bypasses dfproxy.
            QList<BypassEntry> list;
            bool ok = true;
            const QString text = v.toString().trimmed();
            const QStringList items = text.isEmpty() ? QStringList() : text.split(u',');
            for (qsizetype i = 0; i < items.size() && ok; ++i) {
                BypassEntry e;
                QString why;
                ok = parseBypassEntry(items[i].trimmed(), &e, &why);
                if (!ok)
                    fail(BypassAnnotation, QStringLiteral("entry %1: %2").arg(i).arg(why));
                else if (!list.contains(e))
                    list.append(e);
            }
            if (ok)
                s.bypass = list;
        }
    }

    if (const QJsonValue v = annotations.value(QLatin1String(MaxAgeAnnotation)); !v.isUndefined()) {
        // A YAML manifest's unquoted 300 arrives as a number: take it as the string it means.
        QString text = v.isString() ? v.toString() : QString();
        if (v.isDouble() && v.toDouble() == double(qint64(v.toDouble())))
            text = QString::number(qint64(v.toDouble()));
        bool ok = !text.isEmpty() && text.size() <= 6;
        for (const QChar c : text)
            ok = ok && c >= u'0' && c <= u'9';
        const int n = ok ? text.toInt() : -1;
        if (n < 0 || n > kMaxAgeLimitS)
            fail(MaxAgeAnnotation, QStringLiteral("must be a number of seconds, 0..%1").arg(kMaxAgeLimitS));
        else
            s.maxAgeS = n;
    }
    return s;
}

} // namespace dfproxy::pac
