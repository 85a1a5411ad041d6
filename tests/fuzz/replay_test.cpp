// SPDX-License-Identifier: Apache-2.0
// Replays every file of tests/fuzz/corpus/<target>/ (seeds and every input that once crashed) through the fuzz
// entry functions in the normal build, so a fixed crash stays fixed without a clang/libFuzzer build.
#include "fuzzentries.h"

#include <QDir>
#include <QFile>

#include <gtest/gtest.h>

namespace dfproxy::fuzz {
// Names the parameter in test names and messages ("http_request" rather than its bytes).
void PrintTo(const Target &target, std::ostream *os)
{
    *os << target.name;
}
} // namespace dfproxy::fuzz

using namespace dfproxy::fuzz;

namespace {

QString corpusRoot()
{
    const QByteArray src = qgetenv("DFPROXY_SOURCE_DIR");
    return QString::fromLocal8Bit(src.isEmpty() ? QByteArray(DFPROXY_SOURCE_DIR_DEFAULT) : src) +
           QStringLiteral("/tests/fuzz/corpus");
}

class FuzzCorpus : public ::testing::TestWithParam<Target>
{
};

TEST_P(FuzzCorpus, EveryCorpusInputRunsCleanly)
{
    const Target target = GetParam();
    QDir dir(corpusRoot() + QLatin1Char('/') + QLatin1String(target.name));
    ASSERT_TRUE(dir.exists()) << dir.path().toStdString();
    const QStringList files = dir.entryList(QDir::Files, QDir::Name);
    ASSERT_FALSE(files.isEmpty()) << "no seeds in " << dir.path().toStdString();
    for (const QString &name : files) {
        QFile f(dir.filePath(name));
        ASSERT_TRUE(f.open(QIODevice::ReadOnly)) << name.toStdString();
        const QByteArray bytes = f.readAll();
        SCOPED_TRACE(name.toStdString());
        // A bug aborts the process (sanitizer or fuzzCheck); the trace above names the input.
        EXPECT_EQ(target.run(reinterpret_cast<const uint8_t *>(bytes.constData()), size_t(bytes.size())), 0);
    }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, FuzzCorpus, ::testing::ValuesIn(targets().begin(), targets().end()),
                         [](const ::testing::TestParamInfo<Target> &info) { return std::string(info.param.name); });

} // namespace
