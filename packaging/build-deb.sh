#!/usr/bin/env bash
# Builds the Debian package from the repository:
#   packaging/build-deb.sh [BINARY]  ->  target/debian/lovebeat_<version>_amd64.deb
# BINARY defaults to the static build of packaging/build-static.sh (built
# when missing). Plain dpkg-deb: no tool beyond Debian's dpkg is needed, and
# with SOURCE_DATE_EPOCH (default: the last commit's time) the package is
# byte-for-byte reproducible.
#
# Layout: /usr/sbin/lovebeat, /etc/lovebeat.toml (conffile), /etc/lovebeat.conf.d/,
# /lib/systemd/system/lovebeat.service, /usr/lib/nagios/plugins/check_lovebeat,
# /usr/share/doc/lovebeat/{README.md,lovebeat.toml.example,copyright},
# the man page /usr/share/man/man1/lovebeat.1.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$(pwd)

binary="${1:-}"
if [ -z "$binary" ]; then
  binary=$(packaging/build-static.sh --quiet | tail -n 1)
fi
[ -x "$binary" ] || { echo "build-deb: no executable at $binary" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
out_dir="${DEB_OUT_DIR:-$root_dir/target/debian}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg="$stage/lovebeat"

install -D -m 0755 "$binary" "$pkg/usr/sbin/lovebeat"
install -D -m 0644 lovebeat.toml "$pkg/etc/lovebeat.toml"
install -d -m 0755 "$pkg/etc/lovebeat.conf.d"
install -D -m 0644 packaging/lovebeat.service "$pkg/lib/systemd/system/lovebeat.service"
install -D -m 0755 contrib/nagios/check_lovebeat "$pkg/usr/lib/nagios/plugins/check_lovebeat"
install -D -m 0644 README.md "$pkg/usr/share/doc/lovebeat/README.md"
install -D -m 0644 lovebeat.toml "$pkg/usr/share/doc/lovebeat/lovebeat.toml.example"
install -D -m 0644 packaging/debian/copyright "$pkg/usr/share/doc/lovebeat/copyright"
install -d -m 0755 "$pkg/usr/share/man/man1"
# -n: no name or time in the gzip header (reproducible).
gzip -9n < packaging/man/lovebeat.1 > "$pkg/usr/share/man/man1/lovebeat.1.gz"
chmod 0644 "$pkg/usr/share/man/man1/lovebeat.1.gz"

mkdir -p "$pkg/DEBIAN"
installed_kib=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_kib/" \
  packaging/debian/control > "$pkg/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$pkg/DEBIAN/$script"
done

find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out_dir"
deb="$out_dir/lovebeat_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
