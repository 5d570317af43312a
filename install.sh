#!/bin/sh
# Installs switchboard-server and switchboard from a GitHub release, for Linux and macOS
# (x86_64, aarch64). Download it, read it, run it; it never pipes what it downloads to a shell:
#
#   curl -fsSLO https://github.com/OWNER/REPO/releases/latest/download/install.sh
#   sh install.sh [--prefix DIR] [--version vX.Y.Z]
#
# It picks the archive for this OS and architecture, downloads it and SHA256SUMS into a
# temporary folder, refuses to go on unless the archive's sha256 is the one SHA256SUMS lists,
# then installs both executables into PREFIX/bin (default ~/.local/bin), replacing old ones.
#
# Environment: SWITCHBOARD_PREFIX, SWITCHBOARD_VERSION (a tag; default: the latest release),
# SWITCHBOARD_REPO (owner/name on GitHub), SWITCHBOARD_BASE_URL (where the archives and
# SHA256SUMS are, overriding the GitHub address: a mirror, or a test server).
set -eu

REPO=${SWITCHBOARD_REPO:-switchboard/switchboard}
PREFIX=${SWITCHBOARD_PREFIX:-${HOME:-}/.local}
VERSION=${SWITCHBOARD_VERSION:-latest}
BASE_URL=${SWITCHBOARD_BASE_URL:-}
TARGET=

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}
usage() {
  cat <<'EOF'
Usage: sh install.sh [--prefix DIR] [--version vX.Y.Z] [--target TRIPLE]

Installs switchboard-server and switchboard into DIR/bin (default ~/.local/bin) from a release,
after checking the archive against the release's SHA256SUMS.

  --prefix DIR       install into DIR/bin (or SWITCHBOARD_PREFIX)
  --version TAG      a release tag such as v0.1.0 (or SWITCHBOARD_VERSION; default: latest)
  --target TRIPLE    the build to take (default: this machine's), e.g. aarch64-apple-darwin
  SWITCHBOARD_BASE_URL=URL   take the files from URL instead of the GitHub release
EOF
}

while [ $# -gt 0 ]; do
  case $1 in
  --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX=$2; shift 2 ;;
  --version) [ $# -ge 2 ] || die "--version needs a tag"; VERSION=$2; shift 2 ;;
  --target) [ $# -ge 2 ] || die "--target needs a triple"; TARGET=$2; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[ -n "$PREFIX" ] || die "Cannot pick a folder: HOME is not set; give --prefix DIR"

if [ -z "$TARGET" ]; then
  os=$(uname -s)
  arch=$(uname -m)
  case $arch in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) die "Cannot install on $arch: the releases are for x86_64 and aarch64" ;;
  esac
  case $os in
  Linux) TARGET=$arch-unknown-linux-gnu ;;
  Darwin)
    # A shell under Rosetta reports x86_64 on Apple silicon: take the native build.
    if [ "$arch" = x86_64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
      arch=aarch64
    fi
    TARGET=$arch-apple-darwin
    ;;
  *) die "Cannot install on $os with this script: on Windows, take the .zip from the release page" ;;
  esac
fi
case $TARGET in
x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu | x86_64-apple-darwin | aarch64-apple-darwin) ;;
*) die "Cannot install $TARGET: this script installs the Linux and macOS builds" ;;
esac

if [ -z "$BASE_URL" ]; then
  if [ "$VERSION" = latest ]; then
    BASE_URL=https://github.com/$REPO/releases/latest/download
  else
    BASE_URL=https://github.com/$REPO/releases/download/$VERSION
  fi
fi
ASSET=switchboard-$TARGET.tar.gz

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 2 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "Cannot download: install curl or wget"
  fi
}

sha256() { # FILE: prints its sha256 in hex
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    die "Cannot check the download: install sha256sum, shasum or openssl"
  fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

say "downloading $ASSET and SHA256SUMS from $BASE_URL"
download "$BASE_URL/SHA256SUMS" "$tmp/SHA256SUMS" || die "Cannot download $BASE_URL/SHA256SUMS"
download "$BASE_URL/$ASSET" "$tmp/$ASSET" || die "Cannot download $BASE_URL/$ASSET"

# SHA256SUMS lines are "<hex>  <name>" (or "<hex> *<name>").
expected=$(awk -v f="$ASSET" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
[ -n "$expected" ] || die "Refusing to install: SHA256SUMS has no line for $ASSET"
actual=$(sha256 "$tmp/$ASSET")
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
if [ "$actual" != "$expected" ]; then
  die "Refusing to install: the sha256 of $ASSET is $actual, but SHA256SUMS says $expected (a corrupt or tampered download; nothing was installed)"
fi

mkdir "$tmp/x"
tar -xzf "$tmp/$ASSET" -C "$tmp/x" || die "Cannot unpack $ASSET"
for exe in switchboard-server switchboard; do
  [ -f "$tmp/x/$exe" ] || die "Cannot install: $ASSET has no $exe"
done

mkdir -p "$PREFIX/bin" || die "Cannot create $PREFIX/bin"
for exe in switchboard-server switchboard; do
  # Copied beside the old one, then renamed over it: a running old binary is not disturbed.
  cp "$tmp/x/$exe" "$PREFIX/bin/.$exe.new" || die "Cannot write to $PREFIX/bin"
  chmod 755 "$PREFIX/bin/.$exe.new"
  mv -f "$PREFIX/bin/.$exe.new" "$PREFIX/bin/$exe"
done

installed=$("$PREFIX/bin/switchboard" --version 2>/dev/null || true)
say "installed switchboard-server and switchboard ${installed:-?} ($TARGET) in $PREFIX/bin"
case ":${PATH:-}:" in
*":$PREFIX/bin:"*) ;;
*) say "$PREFIX/bin is not in PATH: add it, e.g. export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
