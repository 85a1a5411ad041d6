// SPDX-License-Identifier: Apache-2.0
#include "support/seed.h"

#include "support/binaries.h"

#include <QFile>

namespace dfproxy::test {
namespace {
QByteArray readExample(const char *name)
{
    QFile f(sourceDir() + QStringLiteral("/resources/examples/seed/") + QLatin1String(name));
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(f.fileName()));
    return f.readAll();
}
} // namespace

QByteArray seedBackendYaml()
{
    return readExample("dfp-backend.yaml");
}

QByteArray seedRouteYaml()
{
    return readExample("dfp-httproute.yaml");
}

QByteArray seedManifests()
{
    return seedBackendYaml() + "---\n" + seedRouteYaml();
}

} // namespace dfproxy::test
