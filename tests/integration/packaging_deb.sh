#!/usr/bin/env bash
# make deb: the Debian packages logship and logship-broker are built with
# dpkg-buildpackage (tools/deb.sh), lintian reports no error and no warning,
# the control data is right (Depends from dpkg-shlibdeps, conffiles,
# maintainer scripts), and the packages install, configure and purge cleanly.
#
# The install is real dpkg with the real maintainer scripts (adduser, the data
# dirs, deb-systemd-helper), but into a throwaway root: in a private mount
# namespace (unshare --mount) a directory gets copy-on-write overlays of this
# machine's /usr, /etc and /var (uppers on a tmpfs), and `dpkg --root` runs
# the scripts chrooted there. adduser edits the overlay's /etc/passwd, dpkg
# its own copy of the status database; when the namespace ends every mount
# and change is gone, and this machine's users, /etc, /var and dpkg database
# are untouched (checked at the end). Without unshare/overlayfs (no
# CAP_SYS_ADMIN) that part reports SKIP.
source "$(dirname "$0")/../lib/testlib.sh"
q() { "$@" >/dev/null 2>&1; }   # a check whose command talks too much
R=$LOGSHIP_ROOT
D=$R/build/deb

if [[ "${1:-}" == --inside ]]; then
  # ---- inside the private mount namespace ---------------------------------
  W=$2
  set -u
  mount -t tmpfs -o mode=0755 logship-test "$W/up" || { nok "tmpfs for the overlay uppers"; exit 1; }
  C=$W/root
  mkdir -p "$C"
  for d in usr etc var; do
    mkdir -p "$W/up/$d" "$W/up/$d.work" "$C/$d"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$W/up/$d,workdir=$W/up/$d.work" "$C/$d" ||
      { nok "overlay of /$d"; exit 1; }
  done
  for l in bin lib lib64 sbin; do [[ -L /$l ]] && ln -s "$(readlink /$l)" "$C/$l"; done
  mkdir -p "$C/dev" "$C/proc" "$C/run" "$C/tmp" "$C/root"
  mount --rbind /dev "$C/dev"
  mount -t proc proc "$C/proc"
  mount -t tmpfs tmpfs "$C/run"     # no /run/systemd/system: scripts do not call systemctl
  mount -t tmpfs tmpfs "$C/tmp"
  inr() { chroot "$C" "$@"; }

  # Start from a root where neither package nor user exists.
  inr dpkg --purge logship logship-broker >/dev/null 2>&1
  for u in logship logship-broker; do inr deluser --quiet --system "$u" >/dev/null 2>&1; done
  inr getent passwd logship >/dev/null && { nok "throwaway root: user logship could not be removed"; exit 1; }

  debs=$(ls "$D"/logship_*.deb "$D"/logship-broker_*.deb)
  if dpkg --root="$C" --no-triggers -i $debs >"$W/dpkg-i.log" 2>&1; then
    ok "dpkg -i logship logship-broker into the throwaway root"
  else
    nok "dpkg -i into the throwaway root: $(tail -5 "$W/dpkg-i.log")"
  fi
  for p in logship logship-broker; do
    st=$(dpkg --root="$C" -s "$p" 2>/dev/null | sed -n 's/^Status: //p')
    check "$p: $st" test "$st" = "install ok installed"
  done
  pw=$(chroot "$C" getent passwd logship)
  check "postinst: system user logship, home /var/lib/logship, nologin ($pw)" \
    test "${pw#*:/var/lib/logship:}" = /usr/sbin/nologin
  check "postinst: system user logship-broker" q inr getent passwd logship-broker
  uid=$(inr id -u logship 2>/dev/null)
  check "postinst: logship is a system user (uid $uid < 1000)" test "${uid:-9999}" -lt 1000
  groups=" $(inr id -nG logship 2>/dev/null) "
  check "postinst: logship in group adm ($groups)" test "${groups/ adm /}" != "$groups"
  if inr getent group systemd-journal >/dev/null; then
    check "postinst: logship in group systemd-journal" test "${groups/ systemd-journal /}" != "$groups"
  fi
  groups_b=" $(inr id -nG logship-broker 2>/dev/null) "
  check "postinst: logship-broker in no extra group ($groups_b)" test "$groups_b" = " logship-broker "
  check "postinst: /var/lib/logship owned by logship, mode 750" \
    test "$(inr stat -c '%U:%G %a' /var/lib/logship 2>/dev/null)" = "logship:logship 750"
  check "postinst: /var/lib/logship-broker owned by logship-broker, mode 750" \
    test "$(inr stat -c '%U:%G %a' /var/lib/logship-broker 2>/dev/null)" = "logship-broker:logship-broker 750"
  for u in logship logship-broker; do
    check "postinst: $u.service enabled (multi-user.target.wants)" \
      test -L "$C/etc/systemd/system/multi-user.target.wants/$u.service"
  done
  check "dpkg records the conffiles" \
    bash -c "dpkg --root='$C' -s logship | grep -q '/etc/logship/logship.yaml [0-9a-f]\{32\}'"
  # The installed binaries run with the installed libraries, as their users.
  check "installed agent config is valid, checked as user logship" \
    q chroot --userspec=logship:logship "$C" /usr/sbin/logship --check -c /etc/logship/logship.yaml
  check "installed broker config is valid, checked as user logship-broker" \
    q chroot --userspec=logship-broker:logship-broker "$C" /usr/sbin/logship-broker --check -c /etc/logship/broker.yaml
  check "logshipctl on PATH in the installed root" q inr logshipctl --version

  # Reinstall (upgrade path: postinst configure with the old version) keeps the users and dirs.
  touch "$C/var/lib/logship-broker/keep"
  check "dpkg -i again (upgrade path)" q dpkg --root="$C" --no-triggers -i $debs
  check "upgrade keeps the broker's data" test -f "$C/var/lib/logship-broker/keep"

  # remove keeps data and configs; purge deletes them (users stay, as in Debian).
  check "dpkg --remove both" q dpkg --root="$C" --no-triggers --remove logship logship-broker
  check "remove keeps the conffiles and data" \
    test -f "$C/etc/logship/logship.yaml" -a -d "$C/var/lib/logship"
  check "dpkg --purge both" q dpkg --root="$C" --no-triggers --purge logship logship-broker
  check "purge deletes /etc/logship, /var/lib/logship and /var/lib/logship-broker" \
    test ! -e "$C/etc/logship" -a ! -e "$C/var/lib/logship" -a ! -e "$C/var/lib/logship-broker"
  check "purge removes the enablement symlinks" \
    test ! -e "$C/etc/systemd/system/multi-user.target.wants/logship.service"
  check "purge leaves the system users (Debian practice)" q inr getent passwd logship
  exit $T_FAILED
fi

# ---- build ------------------------------------------------------------------
t0=$SECONDS
if bash "$R/tools/deb.sh" >"$T_TMP/deb.log" 2>&1; then
  ok "make deb: dpkg-buildpackage and lintian ($((SECONDS - t0)) s)"
else
  nok "make deb: $(tail -20 "$T_TMP/deb.log")"
fi
agent_deb=$(ls "$D"/logship_*_*.deb 2>/dev/null | head -1)
broker_deb=$(ls "$D"/logship-broker_*_*.deb 2>/dev/null | head -1)
check "build/deb/ holds logship_*.deb" test -f "$agent_deb"
check "build/deb/ holds logship-broker_*.deb" test -f "$broker_deb"
[[ -f "$agent_deb" && -f "$broker_deb" ]] || t_finish

# ---- lintian ----------------------------------------------------------------
L=$D/lintian.txt
check "lintian ran on the .changes" test -s "$L" -o -f "$L"
e=$(grep -c '^E: ' "$L"); w=$(grep -c '^W: ' "$L")
check "lintian: no errors ($(grep '^E: ' "$L" | head -3 | tr '\n' ' '))" test "$e" -eq 0
check "lintian: no warnings ($(grep '^W: ' "$L" | head -3 | tr '\n' ' '))" test "$w" -eq 0

# ---- control data -------------------------------------------------------------
dep_a=$(dpkg-deb -f "$agent_deb" Depends); dep_b=$(dpkg-deb -f "$broker_deb" Depends)
# libcurl4 is loaded on first use (common/curl_lazy.c), so control names it.
for lib in libc6 libyaml-0-2 libzstd1 zlib1g libsystemd0 librdkafka1 libcurl4 libssl3 adduser; do
  check "logship Depends on $lib" grep -qE "(^|, )$lib( |,|$)" <<<"$dep_a"
done
for lib in libc6 libyaml-0-2 libzstd1 libsystemd0 adduser; do
  check "logship-broker Depends on $lib" grep -qE "(^|, )$lib( |,|$)" <<<"$dep_b"
done
check "logship-broker does not depend on librdkafka/libcurl (linked --as-needed)" \
  bash -c "! grep -qE 'librdkafka|libcurl' <<<'$dep_b'"
X=$T_TMP/ctl; mkdir -p "$X/a" "$X/b"
dpkg-deb -e "$agent_deb" "$X/a"; dpkg-deb -e "$broker_deb" "$X/b"
check "logship conffiles: /etc/logship/logship.yaml and conf.d/README" \
  test "$(sort "$X/a/conffiles" | tr '\n' ' ')" = "/etc/logship/conf.d/README /etc/logship/logship.yaml "
check "logship-broker conffiles: /etc/logship/broker.yaml" \
  test "$(cat "$X/b/conffiles")" = "/etc/logship/broker.yaml"
for p in a b; do
  for s in postinst postrm prerm; do check "maintainer script $p/$s present" test -x "$X/$p/$s"; done
  check "maintainer scripts $p/*: sh -n" sh -n "$X/$p/postinst"
done
check "logship postinst creates the user with adduser --system" grep -q 'adduser --system' "$X/a/postinst"
check "logship-broker postinst creates the user with adduser --system" grep -q 'adduser --system' "$X/b/postinst"

# ---- contents -----------------------------------------------------------------
ca=$(dpkg-deb -c "$agent_deb" | awk '{print $6}'); cb=$(dpkg-deb -c "$broker_deb" | awk '{print $6}')
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
for f in ./usr/sbin/logship ./usr/bin/logshipctl ./etc/logship/logship.yaml ./etc/logship/conf.d/README \
         ./usr/share/man/man8/logship.8.gz ./usr/share/man/man1/logshipctl.1.gz ".$unitdir/logship.service" \
         ./usr/share/doc/logship/copyright; do
  check "logship.deb contains $f" grep -qxF "$f" <<<"$ca"
done
for f in ./usr/sbin/logship-broker ./etc/logship/broker.yaml ./usr/share/man/man8/logship-broker.8.gz \
         ".$unitdir/logship-broker.service" ./usr/share/doc/logship-broker/copyright; do
  check "logship-broker.deb contains $f" grep -qxF "$f" <<<"$cb"
done
check "logship.deb does not contain the broker" bash -c "! grep -q 'logship-broker' <<<'$ca'"
check "no package ships /var/lib (the postinst makes it, owned by the user)" \
  bash -c "! grep -q '^./var' <<<'$ca$cb'"
x=$T_TMP/x; dpkg-deb -x "$agent_deb" "$x"
check "packaged logship runs (--version)" q "$x/usr/sbin/logship" --version
check "packaged binary is hardened: PIE and BIND_NOW" \
  bash -c "readelf -h '$x/usr/sbin/logship' | grep -q 'DYN' && readelf -d '$x/usr/sbin/logship' | grep -q 'BIND_NOW'"

# ---- install / upgrade / remove / purge in a throwaway root --------------------
before=$(md5sum /etc/passwd /etc/group /var/lib/dpkg/status | md5sum)
if unshare --mount true 2>/dev/null && grep -qw overlay /proc/filesystems; then
  mkdir -p "$T_TMP/ns/up"
  # --propagation private: nothing mounted inside shows outside.
  unshare --mount --propagation private bash "$0" --inside "$T_TMP/ns"
  rc=$?
  [[ $rc -eq 0 ]] || T_FAILED=$((T_FAILED + 1))
else
  ok "install into a throwaway root # SKIP no unshare/overlayfs here (needs CAP_SYS_ADMIN)"
fi
after=$(md5sum /etc/passwd /etc/group /var/lib/dpkg/status | md5sum)
check "this machine's /etc/passwd, /etc/group and dpkg status are untouched" test "$before" = "$after"
check "no user logship on this machine" bash -c "! getent passwd logship >/dev/null"
t_finish
