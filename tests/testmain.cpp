// SPDX-License-Identifier: Apache-2.0
// The main of every test binary: a QCoreApplication (or QApplication for GUI tests) exists for the whole run, so
// tests can create QObjects, sockets and timers and spin the event loop with QTest::qWaitFor / QEventLoop.
#include <gtest/gtest.h>

#include <QCoreApplication>
#ifdef QT_WIDGETS_LIB
#include <QApplication>
#endif

int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
#ifdef QT_WIDGETS_LIB
    // GUI tests never open windows on the developer's desktop, and gtest_discover_tests runs this binary at build
    // time without ctest's environment: default to the offscreen platform.
    if (!qEnvironmentVariableIsSet("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
#else
    QCoreApplication app(argc, argv);
#endif
    return RUN_ALL_TESTS();
}
