// SPDX-License-Identifier: Apache-2.0
#include "base/version.h"

#include <QCoreApplication>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("dfproxy");
    QCoreApplication::setApplicationVersion(dfproxy::versionString());
    return 0;
}
