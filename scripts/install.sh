#!/usr/bin/env bash
# Install codeeval, the system tools its sandbox needs (bubblewrap, util-linux) and the
# toolchains of its languages besides Python (g++, a JDK, node, go, rustc).
# As root on Debian/Ubuntu, missing packages are installed with apt-get; otherwise the
# script names them and stops (sandbox tools) or warns (toolchains). Nothing is installed
# when everything is present. EXTRAS selects pip extras, e.g. EXTRAS="[test]";
# LANGUAGES=python skips the other toolchains.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "codeeval needs Python >= 3.11; $PY is $("$PY" --version 2>&1)" >&2
  exit 1
fi

has() { command -v "$1" >/dev/null 2>&1; }
need=()
has bwrap || need+=(bubblewrap)
{ has prlimit && has setpriv; } || need+=(util-linux)
# Toolchains, as codeeval.languages.toolchains finds them (rustup's ~/.cargo/bin counts).
tools=()
if [ "${LANGUAGES:-all}" != python ]; then
  { has g++ && has gcc; } || tools+=(g++)
  { has javac && has jar; } || tools+=(default-jdk-headless)
  { has node || has nodejs; } || tools+=(nodejs)
  { has go || [ -x /usr/local/go/bin/go ]; } || tools+=(golang-go)
  { has rustc || [ -x "$HOME/.cargo/bin/rustc" ]; } || tools+=(rustc)
fi
if [ $((${#need[@]} + ${#tools[@]})) -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && has apt-get; then
    echo "installing Debian packages: ${need[*]} ${tools[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${need[@]}" "${tools[@]}" >/dev/null
  elif [ ${#need[@]} -gt 0 ]; then
    echo "codeeval's sandbox needs the Debian package(s): ${need[*]}" >&2
    echo "install them (sudo apt-get install ${need[*]}) and run this script again" >&2
    exit 1
  else
    echo "warning: no toolchain for some languages; install the Debian package(s)" \
      "${tools[*]} to run them (Python works without)" >&2
  fi
fi

"$PY" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  -e ".${EXTRAS:-[humaneval]}"
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
echo "codeeval installed: $("$PY" -m codeeval --version)" >&2
