// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "app/connection.h"

#include <QIcon>

namespace dfproxy::gui {

/// The console's icon in the colour of a connection state (green connected, amber connecting, red otherwise); drawn,
/// so no image files are needed.
QIcon stateIcon(ConnectionState state);

} // namespace dfproxy::gui
