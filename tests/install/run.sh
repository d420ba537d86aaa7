#!/usr/bin/env bash
# Install test: the installed package is usable by a project of its own.
#
#   tests/install/run.sh [BUILD_DIR]     (default: build/release, already built)
#
# Installs BUILD_DIR with `cmake --install` into a temporary prefix, configures
# and builds examples/ standalone against it (find_package(edge) through
# CMAKE_PREFIX_PATH), then runs each built example whose source supports
# `--self-test`. Exits non-zero on the first failure. KEEP=1 keeps the prefix.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="$(cd "${1:-$root/build/release}" && pwd)"
[[ -f "$build_dir/CMakeCache.txt" ]] || {
  echo "install test: $build_dir is not a configured build directory" >&2
  exit 2
}

work="$(mktemp -d "${TMPDIR:-/tmp}/edge-install-test.XXXXXX")"
cleanup() {
  if [[ "${KEEP:-0}" == 1 ]]; then echo "install test: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

prefix="$work/prefix"
echo "== install $build_dir -> $prefix"
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; exit 1; }

# The package must be self-contained: headers, library, binaries and config files.
for f in include/edge/config/config.hpp bin/edged; do
  [[ -e "$prefix/$f" ]] || { echo "install test: missing $prefix/$f" >&2; exit 1; }
done
for f in libedge.a edgeConfig.cmake edgeConfigVersion.cmake edgeTargets.cmake; do
  [[ -n "$(find "$prefix" -name "$f" -print -quit)" ]] ||
    { echo "install test: $f not installed under $prefix" >&2; exit 1; }
done

launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)

echo "== configure examples/ against the installed package"
cmake -S "$root/examples" -B "$work/examples" "${generator[@]}" "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
echo "== build examples/"
cmake --build "$work/examples" -j "${JOBS:-$(nproc)}"

shopt -s nullglob
sources=("$root"/examples/*.cpp)
if ((${#sources[@]} == 0)); then
  echo "install test: examples/ has no sources; the package configured but nothing was built"
fi
for src in "${sources[@]}"; do
  name="$(basename "$src" .cpp)"
  exe="$work/examples/$name"
  [[ -x "$exe" ]] || { echo "install test: example $name was not built" >&2; exit 1; }
  if grep -q -- '--self-test' "$src"; then
    echo "== $name --self-test"
    timeout 60 "$exe" --self-test
  else
    echo "== $name: built (no --self-test)"
  fi
done
echo "install test: ok"
