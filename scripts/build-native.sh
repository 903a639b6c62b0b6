#!/usr/bin/env bash
# Builds the oneDNN addon behind the "onednn" backend (native/ -> native/build/Release/minicifar_dnnl.node).
# Needs Debian's libdnnl-dev (oneDNN 2.x) and a C++ compiler. Run through npm (`npm run build:native`), which puts
# its bundled node-gyp on PATH. With --optional, a missing prerequisite or a failed build is reported and the
# script exits 0, so that installation goes on without the backend (wasm is then used).
set -uo pipefail
cd "$(dirname "$0")/../native"
OPTIONAL=0
[ "${1:-}" = "--optional" ] && OPTIONAL=1

fail() {
  echo "build-native: $1" >&2
  echo "build-native: the onednn backend will be unavailable; training falls back to wasm" >&2
  if [ "$OPTIONAL" = "1" ]; then exit 0; else exit 1; fi
}

if [ ! -f /usr/include/oneapi/dnnl/dnnl.hpp ] && [ ! -f /usr/local/include/oneapi/dnnl/dnnl.hpp ]; then
  fail "oneDNN headers not found (oneapi/dnnl/dnnl.hpp); install them with: sudo apt-get install -y libdnnl-dev"
fi
command -v g++ >/dev/null 2>&1 || fail "g++ not found; install it with: sudo apt-get install -y g++ make"
GYP=(node-gyp)
if ! command -v node-gyp >/dev/null 2>&1; then
  NPM_GYP="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$NPM_GYP" ] || fail "node-gyp not found (run this through npm: npm run build:native)"
  GYP=(node "$NPM_GYP")
fi
ARGS=(rebuild)
# Node's headers: Debian's nodejs ships them in /usr/include/node; without --nodedir node-gyp tries to download them.
if [ -f /usr/include/node/node_api.h ]; then ARGS+=(--nodedir=/usr); fi
echo "build-native: building native/build/Release/minicifar_dnnl.node"
if ! "${GYP[@]}" "${ARGS[@]}" >build.log 2>&1; then
  tail -n 30 build.log >&2
  fail "the build failed (full log: native/build.log)"
fi
node -e 'const m=require("./build/Release/minicifar_dnnl.node"); const i=m.info(); console.log(`build-native: ok (oneDNN ${i.version}, ${i.cpuRuntime}, ${i.threads} threads)`)' \
  || fail "the addon was built but does not load"
