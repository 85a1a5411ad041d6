// SPDX-License-Identifier: Apache-2.0
// The libFuzzer entry of one fuzz binary; DFPROXY_FUZZ_ENTRY names the function of fuzzentries.h it drives.
#include "fuzzentries.h"

#include <QCoreApplication>

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    // ConfigStore and friends are QObjects with timers: give them an application object for the whole run.
    static QCoreApplication app(*argc, *argv);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return dfproxy::fuzz::DFPROXY_FUZZ_ENTRY(data, size);
}
