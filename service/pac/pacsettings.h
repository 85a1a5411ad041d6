// SPDX-License-Identifier: Apache-2.0
#pragma once
// The PAC settings of one Gateway, read from its annotations (so a manifest stays valid Gateway API):
//   dfproxy.dev/pac-fail-mode: closed|open     what a browser does when dfproxy does not answer (default closed)
//   dfproxy.dev/pac-bypass:    <comma list>    what goes DIRECT (default: defaultBypass())
//   dfproxy.dev/pac-max-age:   <seconds>       Cache-Control max-age of the PAC file (default 300)
// Shared by the PAC file (service/pac/pacgenerator.h) and the system-proxy switch, so both read the same values.
// Pure and thread-safe; depends on nothing but Qt, so config validation can refuse bad values at apply time.

#include <QHostAddress>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace dfproxy::pac {

inline constexpr auto FailModeAnnotation = "dfproxy.dev/pac-fail-mode";
inline constexpr auto BypassAnnotation = "dfproxy.dev/pac-bypass";
inline constexpr auto MaxAgeAnnotation = "dfproxy.dev/pac-max-age";

/// Where a browser goes when dfproxy is not reachable: Closed = nowhere (`PROXY a:p`), Open = direct
/// (`PROXY a:p; DIRECT`). Closed also sends hosts no route names to dfproxy (which refuses them); Open sends them
/// DIRECT.
enum class FailMode { Closed, Open };

/// One entry of the bypass list, in its one canonical spelling (`text`).
struct BypassEntry
{
    enum class Kind {
        PlainHostNames, ///< "<local>": host names without a dot (PAC isPlainHostName)
        Host,           ///< "localhost", "printer.corp.example": that host only
        DomainSuffix,   ///< "*.corp.example": every host under corp.example (not corp.example itself)
        Cidr,           ///< "10.0.0.0/8", "fe80::/10", "::1" (a /32 or /128): IP literals in that block
    };
    Kind kind = Kind::Host;
    QString text;           ///< as written in the annotation, lower-case; "::1" for a single address
    QString host;           ///< Host: the name; DomainSuffix: the suffix with its dot (".corp.example")
    QHostAddress network;   ///< Cidr: the network address (no host bits set)
    int prefixLength = 0;   ///< Cidr: 0..32 or 0..128
    bool operator==(const BypassEntry &o) const { return text == o.text; }
};

struct PacSettings
{
    FailMode failMode = FailMode::Closed;
    QList<BypassEntry> bypass;  ///< in the order written; defaultBypass() unless the annotation is set
    int maxAgeS = 300;          ///< 0..86400

    /// The bypass list as written ("<local>", "localhost", "127.0.0.0/8", ...).
    QStringList bypassTexts() const;
};

/// The default bypass list: "<local>", "localhost", "127.0.0.0/8", "::1", "169.254.0.0/16", "fe80::/10",
/// "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16".
QList<BypassEntry> defaultBypass();

/// One bad annotation value: `annotation` is its key ("dfproxy.dev/pac-bypass").
struct PacSettingsError
{
    QString annotation;
    QString message;
};

/// Parses one bypass entry ("<local>", a host name, "*.suffix", an IP address or a CIDR block). On failure returns
/// false and sets `why` (may be null).
bool parseBypassEntry(const QString &text, BypassEntry *out, QString *why);

/// Reads a Gateway's PAC settings from its metadata.annotations; annotations that are absent keep their default.
/// Each bad value is appended to `errors` (may be null) and leaves that setting at its default.
PacSettings parsePacSettings(const QJsonObject &annotations, QList<PacSettingsError> *errors);

} // namespace dfproxy::pac
