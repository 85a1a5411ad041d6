// SPDX-License-Identifier: Apache-2.0
// README.md's five-step walkthrough and its commands against the real binaries (issue #27 item 5): step 4 shows
// what steps 1 and 2 made, the PATH line reaches every program the page runs, `dfproxy --help` lists `service`.
#include "support/testsupport.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

QString readme()
{
    QFile f(sourceDir() + "/README.md");
    return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}

// The first fenced block after `heading`.
QString blockAfter(const QString &page, const QString &heading)
{
    const QString rest = page.section(heading, 1);
    return rest.section("```", 1, 1).section('\n', 1);
}

} // namespace

TEST(Readme, StepFourShowsWhatTheWalkthroughCreated)
{
    const QString steps = blockAfter(readme(), "## The DFP in five steps");
    ASSERT_FALSE(steps.isEmpty()) << "README.md has no five-step walkthrough";
    QStringList gets;
    for (const QString &line : steps.split('\n')) {
        if (line.startsWith("dfproxyctl get "))
            gets.append(line);
    }
    ASSERT_GE(gets.size(), 2) << steps.toStdString();

    DfproxyProcess proxy;
    ASSERT_TRUE(proxy.start()) << proxy.describe().toStdString();
    const auto applied = proxy.ctl({"apply", "-f", "-"}, seedManifests());
    ASSERT_EQ(applied.exitCode, 0) << applied.err.toStdString();
    for (const QString &line : gets) {
        const QStringList args = line.section('#', 0, 0).split(' ', Qt::SkipEmptyParts).mid(1);
        const auto r = proxy.ctl(args);
        EXPECT_EQ(r.exitCode, 0) << line.toStdString() << "\n" << r.err.toStdString();
        EXPECT_FALSE(r.err.contains("No resources found")) << line.toStdString() << "\n" << r.err.toStdString();
        EXPECT_TRUE(r.out.contains("dfp-")) << line.toStdString() << "\n" << r.out.toStdString();
    }
}

// `export PATH=...` in the walkthrough must reach dfproxyctl, dfproxy and dfproxy-console (the page runs all three).
TEST(Readme, ThePathLineReachesEveryProgramThePageRuns)
{
    const QString page = readme();
    static const QRegularExpression exportLine(QStringLiteral("^export PATH=(\\S+)$"),
                                               QRegularExpression::MultilineOption);
    const auto m = exportLine.match(page);
    ASSERT_TRUE(m.hasMatch()) << "README.md has no export PATH line";
    // The line is written for the release preset run from the source directory ($PWD).
    QStringList dirs;
    for (QString dir : m.captured(1).split(':')) {
        if (dir == "$PATH")
            continue;
        ASSERT_TRUE(dir.startsWith("$PWD/build/release/")) << dir.toStdString();
        dirs.append(buildDir() + "/" + dir.mid(QStringLiteral("$PWD/build/release/").size()));
    }
    QStringList programs{"dfproxyctl", "dfproxy"};
    if (!buildBinary("dfproxy-console").isEmpty())
        programs.append("dfproxy-console");
    for (const QString &program : programs) {
        ASSERT_TRUE(page.contains(program));
        const bool found = std::any_of(dirs.begin(), dirs.end(), [&](const QString &d) {
            return QFileInfo(QDir(d).filePath(program)).isExecutable();
        });
        EXPECT_TRUE(found) << program.toStdString() << " is in none of " << dirs.join(':').toStdString();
    }
}

TEST(Readme, DfproxyHelpListsTheServiceCommand)
{
    ASSERT_TRUE(readme().contains("dfproxy service install"));
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(buildBinary("dfproxy"), {"--help"});
    ASSERT_TRUE(p.waitForFinished(30000));
    const QString help = QString::fromUtf8(p.readAll());
    EXPECT_TRUE(help.contains("dfproxy service install|uninstall|start|stop|status")) << help.toStdString();
}
