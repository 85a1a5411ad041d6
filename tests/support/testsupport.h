// SPDX-License-Identifier: Apache-2.0
// Everything in tests/support in one include.
#include "support/gtestqt.h"
#pragma once

#include "support/binaries.h"
#include "support/curl.h"
#include "support/dfproxyprocess.h"
#include "support/dnsmasq.h"
#include "support/managedprocess.h"
#include "support/origin.h"
#include "support/seed.h"
#include "support/tempdir.h"
#include "support/testca.h"
#include "support/wait.h"
