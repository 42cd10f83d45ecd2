#!/usr/bin/env bash
# make install into a DESTDIR: the tree (binaries, configs, conf.d/, man pages,
# units, data dirs), the paths rewritten for PREFIX/sysconfdir, the installed
# configs valid for the installed binaries, the man pages free of groff
# warnings, and both systemd units passing `systemd-analyze verify` (against
# the staged binaries and man pages) with a hardening exposure score from
# `systemd-analyze security --offline`.
source "$(dirname "$0")/../lib/testlib.sh"
B=$LOGSHIP_BUILD
R=$LOGSHIP_ROOT
mk() { make -s --no-print-directory -C "$R" B="$B" "$@"; }

# ---- the Debian layout: PREFIX=/usr ---------------------------------------
S=$T_TMP/stage
if mk install DESTDIR="$S" PREFIX=/usr >"$T_TMP/install.log" 2>&1; then
  ok "make install DESTDIR=... PREFIX=/usr"
else
  nok "make install DESTDIR=... PREFIX=/usr: $(tail -5 "$T_TMP/install.log")"
fi
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
for f in usr/sbin/logship usr/sbin/logship-broker usr/bin/logshipctl; do
  check "installed $f, executable" test -x "$S/$f"
done
for f in etc/logship/logship.yaml etc/logship/broker.yaml etc/logship/conf.d/README \
         usr/share/man/man8/logship.8 usr/share/man/man8/logship-broker.8 \
         usr/share/man/man1/logshipctl.1 \
         "${unitdir#/}/logship.service" "${unitdir#/}/logship-broker.service"; do
  check "installed $f (mode 644)" test "$(stat -c %a "$S/$f" 2>/dev/null)" = 644
done
check "conf.d/ holds only its README (no config is merged by default)" \
  test "$(ls "$S/etc/logship/conf.d")" = README
for d in var/lib/logship var/lib/logship-broker; do
  check "data dir $d created (mode 750)" test "$(stat -c %a "$S/$d" 2>/dev/null)" = 750
done
check "installed logship runs (--version)" "$S/usr/sbin/logship" --version
check "installed logship-broker runs (--version)" "$S/usr/sbin/logship-broker" --version
check "installed logshipctl runs (--version)" "$S/usr/bin/logshipctl" --version
check "installed agent config passes logship --check (conf.d/README ignored)" \
  "$S/usr/sbin/logship" --check -c "$S/etc/logship/logship.yaml" >/dev/null
check "installed broker config passes logship-broker --check" \
  "$S/usr/sbin/logship-broker" --check -c "$S/etc/logship/broker.yaml" >/dev/null

# Configs and units agree on where data lives.
agent_dd=$("$S/usr/sbin/logship" --check -c "$S/etc/logship/logship.yaml" | sed -n 's/^data_dir: //p')
broker_dd=$("$S/usr/sbin/logship-broker" --check -c "$S/etc/logship/broker.yaml" | sed -n 's/^data_dir: //p')
U=$S$unitdir
check "agent data_dir ($agent_dd) is logship.service's StateDirectory" \
  test "$agent_dd" = "/var/lib/$(sed -n 's/^StateDirectory=//p' "$U/logship.service")"
check "broker data_dir ($broker_dd) is logship-broker.service's StateDirectory" \
  test "$broker_dd" = "/var/lib/$(sed -n 's/^StateDirectory=//p' "$U/logship-broker.service")"

# The units' contract.
for u in logship logship-broker; do
  f=$U/$u.service
  check "$u.service: Type=notify" grep -qx 'Type=notify' "$f"
  check "$u.service: ExecReload sends SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$f"
  check "$u.service: ExecStart is the installed binary with /etc/logship" \
    grep -qE "^ExecStart=/usr/sbin/$u -c /etc/logship/" "$f"
  check "$u.service: User=$u" grep -qx "User=$u" "$f"
  check "$u.service: WatchdogSec set" grep -q '^WatchdogSec=' "$f"
  for k in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes 'ReadWritePaths=/var/lib/' \
           'RestrictAddressFamilies=' 'ProtectHome='; do
    check "$u.service: $k" grep -q "^$k" "$f"
  done
done
check "logship.service: SupplementaryGroups=adm systemd-journal" \
  grep -qx 'SupplementaryGroups=adm systemd-journal' "$U/logship.service"

# Man pages: no groff/man warnings (lintian runs the same check).
for m in man8/logship.8 man8/logship-broker.8 man1/logshipctl.1; do
  w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$S/usr/share/man/$m" 2>&1 >/dev/null)
  check "man page $m renders without warnings${w:+: $w}" test -z "$w"
done
# Man pages name every option the binaries' --help shows.
for pair in "logship:man8/logship.8" "logship-broker:man8/logship-broker.8" "logshipctl:man1/logshipctl.1"; do
  bin=${pair%%:*}; m=${pair#*:}
  dir=sbin; [[ $bin == logshipctl ]] && dir=bin
  opts=$("$S/usr/$dir/$bin" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
  missing=""
  for o in $opts; do
    grep -q -- "$(sed 's/-/\\\\-/g' <<<"$o")" "$S/usr/share/man/$m" || missing+=" $o"
  done
  check "man page of $bin documents every --help option${missing:+ (missing:$missing)}" test -z "$missing"
done

# systemd-analyze verify checks the units as systemd would load them: the
# ExecStart binaries must exist and the Documentation= man pages resolve. The
# binaries are staged, so the test runs on copies pointing at the stage and
# with MANPATH at the staged man pages (nothing on this machine is touched).
V=$T_TMP/verify; mkdir -p "$V"
for u in logship logship-broker; do
  sed "s,/usr/sbin/,$S/usr/sbin/,g" "$U/$u.service" >"$V/$u.service"
done
if command -v systemd-analyze >/dev/null; then
  out=$(cd "$V" && MANPATH=$S/usr/share/man systemd-analyze verify ./logship.service ./logship-broker.service 2>&1)
  rc=$?
  check "systemd-analyze verify logship.service logship-broker.service${out:+: $out}" \
    test $rc -eq 0 -a -z "$out"
  for u in logship logship-broker; do
    score=$(systemd-analyze security --offline=yes --no-pager "$V/$u.service" 2>/dev/null |
      sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    check "systemd-analyze security: $u.service exposure ${score:-?} <= 2.5 (OK)" \
      awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.5) }'
  done
else
  nok "systemd-analyze is not installed (package systemd)"
fi

# ---- the default layout: PREFIX=/usr/local, and sysconfdir -----------------
L=$T_TMP/local
mk install DESTDIR="$L" sysconfdir=/opt/lsetc >"$T_TMP/install2.log" 2>&1
check "make install with the defaults: binaries in /usr/local/{s,}bin" \
  test -x "$L/usr/local/sbin/logship" -a -x "$L/usr/local/sbin/logship-broker" -a -x "$L/usr/local/bin/logshipctl"
check "make install with the defaults: units in /usr/local/lib/systemd/system" \
  test -f "$L/usr/local/lib/systemd/system/logship.service"
check "sysconfdir=/opt/lsetc: configs in /opt/lsetc/logship/" \
  test -f "$L/opt/lsetc/logship/logship.yaml" -a -f "$L/opt/lsetc/logship/broker.yaml" -a -f "$L/opt/lsetc/logship/conf.d/README"
check "units rewritten: ExecStart=/usr/local/sbin/logship -c /opt/lsetc/logship/logship.yaml" \
  grep -qx 'ExecStart=/usr/local/sbin/logship -c /opt/lsetc/logship/logship.yaml' "$L/usr/local/lib/systemd/system/logship.service"
check "man pages rewritten: FILES names /opt/lsetc/logship/logship.yaml" \
  grep -q '/opt/lsetc/logship/logship.yaml' "$L/usr/local/share/man/man8/logship.8"
check "man pages in /usr/local/share/man" test -f "$L/usr/local/share/man/man1/logshipctl.1"
t_finish
