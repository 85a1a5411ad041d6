// SPDX-License-Identifier: Apache-2.0
// dfproxyctl: a kubectl-like command line for the dfproxy admin API.
#include "ctl/ctl.h"

#include <QCoreApplication>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("dfproxyctl");
    QTextStream out(stdout);
    QTextStream err(stderr);
    dfproxy::ctl::Ctl ctl(out, err);
    const int rc = ctl.run(QCoreApplication::arguments());
    out.flush();
    err.flush();
    return rc;
}
