#!/usr/bin/env bash
# Install and package: `cmake --install` puts the binary, the descriptor set and the docs in
# the GNU places; scripts/package builds autoenroll_<version>_<arch>.deb, which is unpacked
# into a throw-away root and checked: its files and dependencies, its conffiles, what its
# maintainer scripts do, its systemd unit (systemd-analyze verify when there is one), and
# that the installed binary starts and its readiness check sees /readyz answer 200.
#   package_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="$1"
build="$2"
tmp="$(mktemp -d)"
engine=""
cleanup() {
  if [ -n "$engine" ]; then kill "$engine" 2>/dev/null || true; wait "$engine" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { [ -e "$1" ] || fail "missing $1"; }

# cmake --install into a prefix of our own.
cmake --install "$build" --prefix "$tmp/inst" >/dev/null
for f in bin/autoenroll share/autoenroll/events.desc share/doc/autoenroll/README.md \
         share/doc/autoenroll/SECURITY.md share/doc/autoenroll/api.md etc/autoenroll/autoenroll.toml \
         lib/systemd/system/autoenroll.service libexec/autoenroll/wait-ready; do
  has "$tmp/inst/$f"
done
[ -x "$tmp/inst/bin/autoenroll" ] || fail "the installed binary is not executable"
cmp -s "$src/events/events.desc" "$tmp/inst/share/autoenroll/events.desc" ||
  fail "the installed descriptor set is not events/events.desc"

# The package.
deb="$("$src/scripts/package" --build-dir "$src/build-package" --out "$tmp/out" | tail -1)"
version="$(sed -n 's/^project(autoenroll VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")"
arch="$(dpkg --print-architecture)"
[ "$(basename "$deb")" = "autoenroll_${version}_${arch}.deb" ] || fail "package named $(basename "$deb")"
[ "$(dpkg-deb -f "$deb" Package)" = autoenroll ] || fail "Package field"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version field"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "Depends: $depends"
for lib in adduser librocksdb libprotobuf librdkafka libssl libc6 libstdc++6; do
  grep -q "$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done

root="$tmp/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$tmp/control"
for f in usr/bin/autoenroll usr/share/autoenroll/events.desc \
         usr/share/autoenroll/proto/autoenroll/events/v1/events.proto \
         usr/share/doc/autoenroll/README.md usr/lib/systemd/system/autoenroll.service \
         usr/libexec/autoenroll/wait-ready etc/autoenroll/autoenroll.toml etc/default/autoenroll; do
  has "$root/$f"
done
grep -qx /etc/autoenroll/autoenroll.toml "$tmp/control/conffiles" || fail "the TOML is not a conffile"
grep -qx /etc/default/autoenroll "$tmp/control/conffiles" || fail "/etc/default/autoenroll is not a conffile"

# The maintainer scripts: valid shell; postinst creates the system user and the data
# directory with mode 0700.
for s in postinst prerm postrm; do
  has "$tmp/control/$s"
  sh -n "$tmp/control/$s" || fail "$s is not valid sh"
done
post="$tmp/control/postinst"
grep -Eq 'adduser --system .*autoenroll' <(tr -d '\\\n' <"$post") || fail "postinst creates no system user"
grep -q 'mkdir -p /var/lib/autoenroll' "$post" || fail "postinst creates no data dir"
grep -q 'chown autoenroll:autoenroll /var/lib/autoenroll' "$post" || fail "postinst does not give the data dir to the user"
grep -q 'chmod 0700 /var/lib/autoenroll' "$post" || fail "postinst leaves the data dir open"

# The unit.
unit="$root/usr/lib/systemd/system/autoenroll.service"
for line in 'Type=exec' 'User=autoenroll' 'StateDirectory=autoenroll' 'ProtectSystem=strict' \
            'NoNewPrivileges=yes' 'Restart=on-failure' \
            'ExecStartPost=/usr/libexec/autoenroll/wait-ready ${AUTOENROLL_LISTEN} 170'; do
  grep -qxF "$line" "$unit" || fail "the unit lacks $line"
done
grep -q '^ExecStart=/usr/bin/autoenroll serve --config /etc/autoenroll/autoenroll.toml --data-dir /var/lib/autoenroll ' "$unit" ||
  fail "the unit does not run /usr/bin/autoenroll serve with /etc/autoenroll/autoenroll.toml on /var/lib/autoenroll"
if command -v systemd-analyze >/dev/null; then
  # Verified inside the unpacked root, where /usr/bin/autoenroll and the readiness check are;
  # the targets the unit names come from this machine's systemd.
  for t in /usr/lib/systemd/system/*.target /lib/systemd/system/*.target; do
    [ -e "$t" ] && [ ! -e "$root/usr/lib/systemd/system/$(basename "$t")" ] &&
      cp -a "$t" "$root/usr/lib/systemd/system/"
  done
  out="$(systemd-analyze verify --root="$root" /usr/lib/systemd/system/autoenroll.service 2>&1)" ||
    fail "systemd-analyze verify: $out"
  [ -z "$out" ] || fail "systemd-analyze verify: $out"
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze: not installed, unit not verified"
fi

# The installed binary starts on the configuration file the package ships, as the unit runs
# it, and the unit's readiness check sees it ready.
"$root/usr/bin/autoenroll" config show --config "$root/etc/autoenroll/autoenroll.toml" >/dev/null ||
  fail "the shipped configuration file does not load"
"$root/usr/bin/autoenroll" serve --config "$root/etc/autoenroll/autoenroll.toml" \
  --data-dir "$tmp/data" --listen 127.0.0.1:0 \
  >"$tmp/engine.out" 2>"$tmp/engine.err" &
engine=$!
timeout 60 bash -c "until grep -q '^listening on ' '$tmp/engine.out'; do
  kill -0 $engine 2>/dev/null || exit 1; sleep 0.1; done" ||
  fail "the installed binary did not start: $(cat "$tmp/engine.err")"
addr="$(sed -n 's|^listening on http://||p' "$tmp/engine.out")"
"$root/usr/libexec/autoenroll/wait-ready" "$addr" 60 || fail "wait-ready: not ready"
ready="$(curl -s "http://$addr/readyz")"
[ "$ready" = '{"ready":true}' ] || fail "/readyz answered $ready"
[ "$(stat -c %a "$tmp/data")" = 700 ] || fail "data dir mode $(stat -c %a "$tmp/data")"
# And the readiness check fails where nothing listens.
kill "$engine"; wait "$engine" || true; engine=""
if "$root/usr/libexec/autoenroll/wait-ready" "$addr" 2; then fail "wait-ready: ready with no engine"; fi
echo "package: ok ($(basename "$deb"))"
