#!/usr/bin/env bash
# Installs what is missing (Debian), builds, and runs parconv with the given
# arguments: with none, the default workload (100 kernels of 10x10 on a
# 1000x1000 matrix, all four strategies).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
pc_install "${PC_BUILD_PACKAGES[@]}"
pc_build build
exec build/tools/parconv "$@"
