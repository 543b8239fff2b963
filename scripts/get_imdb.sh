#!/usr/bin/env bash
# Downloads the official IMDB archive (aclImdb_v1.tar.gz, 84 MB, train and
# test) into data/imdb/, checks its SHA-256 before anything uses it, and
# prints its path: one of the places examples/imdb looks in by default. An
# archive already there with the right checksum is not downloaded again.
#
#   scripts/get_imdb.sh
#
# Offline, a local copy works without this script: pass it to the example
# (--data PATH) or set TOADSTOOL_IMDB (an archive or an aclImdb/ folder).
# TOADSTOOL_IMDB_URL overrides the address (a mirror, or a file:// URL).
set -euo pipefail
cd "$(dirname "$0")/.."

url="${TOADSTOOL_IMDB_URL:-https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz}"
sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
target=data/imdb/aclImdb_v1.tar.gz

matches() { echo "$sha256  $1" | sha256sum --check --status; }

if [ -f "$target" ] && matches "$target"; then
  echo "$target"
  exit 0
fi
if ! command -v curl >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    curl ca-certificates >/dev/null
fi
mkdir -p "$(dirname "$target")"
partial="$target.part"
trap 'rm -f "$partial"' EXIT  # nothing half-downloaded stays behind
echo "get_imdb: downloading $url" >&2
curl --fail --location --retry 3 --output "$partial" "$url"
if ! matches "$partial"; then
  rm -f "$partial"
  echo "get_imdb: the download's SHA-256 is not $sha256 (truncated or not the official archive); removed" >&2
  exit 1
fi
mv "$partial" "$target"
echo "$target"
