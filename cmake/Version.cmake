# SPDX-License-Identifier: Apache-2.0
# The one place the version number lives: the project, the binaries and the packages read it from here.
set(DFPROXY_VERSION 0.1.0)
