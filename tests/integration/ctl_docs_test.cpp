// SPDX-License-Identifier: Apache-2.0
// `dfproxyctl --help` (and every command's --help) and docs/dfproxyctl.md name the same commands, options, kinds
// and environment variables (issue #27 item 4): a command, option or kind added to one and not the other fails here.
#include "support/testsupport.h"

#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>

#include <gtest/gtest.h>

using namespace dfproxy::test;

namespace {

QString runCtl(const QStringList &args)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(buildBinary("dfproxyctl"), args);
    if (!p.waitForFinished(30000))
        return {};
    return QString::fromUtf8(p.readAll());
}

QSet<QString> matches(const QString &text, const QString &pattern, int group = 1)
{
    QSet<QString> out;
    const QRegularExpression re(pattern, QRegularExpression::MultilineOption);
    for (auto it = re.globalMatch(text); it.hasNext();)
        out.insert(it.next().captured(group));
    return out;
}

QString fencedBlocks(const QString &markdown)
{
    QString out;
    bool inside = false;
    for (const QString &line : markdown.split('\n')) {
        if (line.startsWith("```")) {
            inside = !inside;
            continue;
        }
        if (inside)
            out += line + '\n';
    }
    return out;
}

QStringList sorted(QSet<QString> s)
{
    QStringList l(s.cbegin(), s.cend());
    l.sort();
    return l;
}

const QString kEnvPattern = QStringLiteral("\\b(DFPROXY_[A-Z_]+|KUBE_EDITOR|EDITOR|VISUAL)\\b");
const QString kLongOptionPattern = QStringLiteral("(?<![\\w-])(--[a-z][a-z-]*)");
const QString kShortOptionPattern = QStringLiteral("(?<![\\w-])(-[a-zA-Z])\\b");

class CtlDocs : public ::testing::Test
{
protected:
    void SetUp() override
    {
        QFile f(sourceDir() + "/docs/dfproxyctl.md");
        ASSERT_TRUE(f.open(QIODevice::ReadOnly))
            << "cannot read docs/dfproxyctl.md under " << sourceDir().toStdString();
        page = QString::fromUtf8(f.readAll());
        mainHelp = runCtl({"--help"});
        ASSERT_TRUE(mainHelp.contains("Commands:")) << mainHelp.toStdString();
        commands = matches(mainHelp.section("Commands:", 1).section("\n\n", 0, 0), "^  ([a-z]+)");
        ASSERT_GE(commands.size(), 5) << mainHelp.toStdString();
        allHelp = mainHelp;
        for (const auto &c : commands)
            allHelp += runCtl({c, "--help"});
        const QString kindsLine = mainHelp.section("Kinds:", 1).section(".\n", 0, 0);
        kinds = matches(kindsLine, "([a-z]+)");
    }

    QString page, mainHelp, allHelp;
    QSet<QString> commands, kinds;
};

} // namespace

TEST_F(CtlDocs, EveryCommandOptionKindAndVariableOfTheHelpIsInTheDocs)
{
    QSet<QString> missing;
    for (const auto &c : commands) {
        if (!page.contains("dfproxyctl " + c))
            missing.insert("command " + c);
    }
    for (const auto &o : matches(allHelp, kLongOptionPattern) + matches(allHelp, kShortOptionPattern)) {
        if (!QRegularExpression("(?<![\\w-])" + QRegularExpression::escape(o) + "\\b").match(page).hasMatch())
            missing.insert("option " + o);
    }
    for (const auto &k : kinds) {
        if (!page.contains("`" + k + "`"))
            missing.insert("kind " + k);
    }
    for (const auto &v : matches(allHelp, kEnvPattern)) {
        if (!page.contains(v))
            missing.insert("variable " + v);
    }
    EXPECT_TRUE(missing.isEmpty()) << "in dfproxyctl's help but not in docs/dfproxyctl.md: "
                                   << sorted(missing).join(", ").toStdString();
}

TEST_F(CtlDocs, EveryCommandOptionKindAndVariableOfTheDocsIsInTheHelp)
{
    QSet<QString> missing;
    // Commands as the examples run them.
    for (const auto &c : matches(fencedBlocks(page), "dfproxyctl ([a-z]+)")) {
        if (!commands.contains(c))
            missing.insert("command " + c);
    }
    for (const auto &o : matches(page, kLongOptionPattern)) {
        if (!allHelp.contains(o))
            missing.insert("option " + o);
    }
    // The page's "Kinds:" paragraph names each kind and its short names in backquotes.
    const QString kindsParagraph = page.section("\nKinds:", 1).section("\n\n", 0, 0).section("`-n NS`", 0, 0);
    ASSERT_FALSE(kindsParagraph.isEmpty()) << "docs/dfproxyctl.md has no \"Kinds:\" paragraph";
    for (const auto &k : matches(kindsParagraph, "`([a-z]+)`")) {
        if (!kinds.contains(k))
            missing.insert("kind " + k);
    }
    for (const auto &v : matches(page, kEnvPattern)) {
        if (!allHelp.contains(v))
            missing.insert("variable " + v);
    }
    EXPECT_TRUE(missing.isEmpty()) << "in docs/dfproxyctl.md but not in dfproxyctl's help: "
                                   << sorted(missing).join(", ").toStdString();
}
