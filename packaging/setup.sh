#!/usr/bin/env bash
# Compression Studio set-up: installs what is missing from Debian's packages, configures,
# builds, then either launches the studio on its demo workspace (`run`, the default) or
# runs the whole test suite (`test`). Used by the README's two quick-start commands and
# by .ci/run. Idempotent: a second run only rebuilds what changed.
#
#   bash packaging/setup.sh run     # install + build + open the studio (demo workspace)
#   bash packaging/setup.sh test    # install + build + run every test (ctest)
#   bash packaging/setup.sh build   # install + build only
#
# Environment: BUILD_DIR (default build), CMAKE_ARGS (extra configure args, e.g.
# -DCMAKE_PREFIX_PATH=/opt/libtorch/share/cmake for another LibTorch), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-$(nproc)}"

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread
  qt6-base-dev qt6-svg-dev libqcustomplot-dev
  libopencv-dev libsqlitecpp-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
  dataset-fashion-mnist fortunes
  xvfb xauth
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# LibTorch's CPU matmuls must run on OpenBLAS (15x faster than the reference BLAS here).
if command -v update-alternatives >/dev/null; then
  blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
  case "$blas" in *openblas*) ;; *) echo "setup: warning: libblas.so.3 is '$blas', not OpenBLAS" >&2 ;; esac
fi

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$JOBS"

case "$mode" in
  build) ;;
  test)
    # Every test runs; none is hidden. Output on failure.
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j 1 --timeout 900
    ;;
  run)
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      echo "setup: no display; starting the studio under Xvfb (screenshot: $BUILD_DIR/demo.png)" >&2
      xvfb-run -a "$BUILD_DIR/app/gui/compression-studio" --demo --screenshot "$BUILD_DIR/demo.png"
      echo "setup: wrote $BUILD_DIR/demo.png" >&2
    else
      exec "$BUILD_DIR/app/gui/compression-studio" --demo
    fi
    ;;
  *) echo "usage: $0 [run|test|build]" >&2; exit 2 ;;
esac
