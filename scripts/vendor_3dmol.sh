#!/usr/bin/env bash
# Vendor 3Dmol.js (npm package "3dmol", BSD-3-Clause) into src/plmscope/viz/assets/ for the offline viewer.
#
# The viewer inlines build/3Dmol-min.js into every HTML page it writes, so the page makes no network
# request. Run from the repository root to refresh the vendored copy; the checksums below pin the
# exact release and the script refuses anything else. To upgrade: change VERSION, run with
# UPDATE=1 once to print the new checksums, review the release, then pin them here.
set -euo pipefail

VERSION="2.5.5"
TARBALL_SHA256="26d91c5036d4efe78fc032c22cb692fea92bbb3cb1e65d20bf3869673fb3d8f5"
MINJS_SHA256="f7cc78921ae72e7623e89cdd111434f58c2efddd2ffda1cd212644b406fb8016"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo/src/plmscope/viz/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "3dmol@$VERSION" >/dev/null)
tgz="$work/3dmol-$VERSION.tgz"
tar -xzf "$tgz" -C "$work"
got_tgz="$(sha256sum "$tgz" | cut -d' ' -f1)"
got_js="$(sha256sum "$work/package/build/3Dmol-min.js" | cut -d' ' -f1)"
if [[ "${UPDATE:-0}" == 1 ]]; then
    echo "TARBALL_SHA256=\"$got_tgz\""
    echo "MINJS_SHA256=\"$got_js\""
    exit 0
fi
[[ "$got_tgz" == "$TARBALL_SHA256" ]] || { echo "3dmol-$VERSION.tgz: sha256 $got_tgz, expected $TARBALL_SHA256" >&2; exit 1; }
[[ "$got_js" == "$MINJS_SHA256" ]] || { echo "3Dmol-min.js: sha256 $got_js, expected $MINJS_SHA256" >&2; exit 1; }
# The page inlines the file inside <script>; a closing tag in it would end the block early.
if grep -qi '</script' "$work/package/build/3Dmol-min.js"; then
    echo "3Dmol-min.js contains '</script' and cannot be inlined as is" >&2
    exit 1
fi

mkdir -p "$dest"
install -m 0644 "$work/package/build/3Dmol-min.js" "$dest/3Dmol-min.js"
install -m 0644 "$work/package/LICENSE" "$dest/3Dmol-LICENSE.txt"
printf '3dmol %s\n' "$VERSION" > "$dest/3Dmol-VERSION.txt"
echo "vendored 3dmol $VERSION into $dest"
