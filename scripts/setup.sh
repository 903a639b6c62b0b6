#!/usr/bin/env bash
# One-command setup: system packages (when root), npm dependencies, then the
# main job (`npm run build`, quick profile). Pass --no-build to stop after
# installing, or --profile full to run the full experiments.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=1
BUILD_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    *) BUILD_ARGS+=("$1") ;;
  esac
  shift
done

# Chromium renders the PDF slides; poppler-utils (pdfinfo) lets the tests count PDF pages; libdnnl-dev (oneDNN)
# and g++/make build the native "onednn" training backend (without them training falls back to wasm); g++, make and
# python3 (node-gyp) also compile better-sqlite3, the results store, when npm finds no prebuilt binary for it.
APT_PACKAGES=(chromium poppler-utils libdnnl-dev g++ make python3)

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pdfinfo >/dev/null 2>&1 || missing+=(poppler-utils)
[ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || missing+=(libdnnl-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${APT_PACKAGES[*]}"
    # A failure here (e.g. Ubuntu, where Chromium is a snap) must not stop the setup: only the PDF needs it.
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${APT_PACKAGES[@]}" >/dev/null; }; then
      echo "setup: apt-get could not install ${APT_PACKAGES[*]}; continuing without them"
      echo "setup: the HTML report is still written; for the PDF install Chromium or Chrome and set LAB_CHROMIUM to its path"
      echo "setup: without libdnnl-dev the onednn backend is not built and training uses wasm (much slower)"
    fi
  else
    echo "setup: missing system packages: ${missing[*]}"
    echo "setup: install them with:  sudo apt-get install -y ${APT_PACKAGES[*]}"
    echo "setup: continuing; without Chromium the HTML report is still written, but not slides.pdf;"
    echo "setup: without libdnnl-dev the onednn backend is not built and training uses wasm (much slower)"
  fi
fi

if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup: Node.js >= 20.19 is required (found $(node --version))" >&2
  exit 1
fi

# tfjs-node / tfjs-node-gpu are optional: their install downloads libtensorflow and may fail offline;
# npm then drops them and training uses the wasm backend. npm 11 lists the other packages' install scripts
# as "not yet covered by allowScripts": none of them is needed (zeromq and esbuild ship prebuilt binaries,
# puppeteer's browser download is replaced by the system Chromium). better-sqlite3's, which is, is allowed in package.json.
export PUPPETEER_SKIP_DOWNLOAD=true
npm ci --no-audit --no-fund
# The oneDNN addon (native/): optional, so a machine without libdnnl-dev still installs; it says why it was skipped.
npm run build:native -- --optional
node bin/minicifar-lab.js compile

if [ "$BUILD" = "1" ]; then
  npm run build -- "${BUILD_ARGS[@]}"
fi
