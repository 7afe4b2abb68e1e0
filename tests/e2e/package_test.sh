#!/usr/bin/env bash
# package_test.sh - the install layout, the .deb, the systemd units and the
# bash completions, checked the way an operator would meet them.
#
#   package_test.sh SOURCE_DIR BUILD_DIR NETNS_LIB
#
# 1. `cmake --install` into a DESTDIR: every file where the layout says
#    (/usr/sbin, /etc/vaultwall, /usr/lib/systemd/system, /usr/libexec,
#    /usr/share/vaultwall/service-tags, bash completions), nothing left
#    unsubstituted, the shipped sample policy validates.
# 2. The units: systemd-analyze verify (when systemd-analyze exists), and the
#    start order load -> apply -> attach.
# 3. `cpack -G DEB`: control fields (one Depends on libbpf1, zlib1g, ...),
#    conffiles, maintainer scripts (deb-systemd-helper, never systemctl
#    but daemon-reload), copyright and changelog, contents, and lintian
#    with no errors or warnings.
# 4. (root) The unit's own command lines, taken from the packaged
#    vaultwall.service and run in order with the packaged binaries, helper
#    and sample policy, in a namespace with eth0..eth2: the filter comes up
#    (allowed source in, denied source out), a restart and a reload are no
#    errors, stop keeps the filter (VAULTWALL_ON_STOP=keep), purge removes it;
#    vaultwall-agent.service's command, with its environment, covers the
#    interfaces and stops on SIGTERM detaching nothing.
# 5. The bash completions (vaultwall-loader, vaultwallctl, vaultwall-agent)
#    cover every subcommand and option --help lists,
#    and complete subcommands and values (when bash-completion is installed).
#
# Exit 0 when every check passed, 1 otherwise, 77 when cpack/dpkg-deb are
# missing. Without root, part 4 is skipped (and said so).
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR NETNS_LIB" >&2; exit 2; }
SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
# shellcheck source=../../scripts/lib/netns.sh
source "$3"

for c in cmake cpack dpkg-deb; do
	command -v "$c" >/dev/null || { echo "SKIP: $c is missing (apt-get install cmake dpkg)"; exit 77; }
done
[ -f "$BUILD/CPackConfig.cmake" ] || { echo "no CPackConfig.cmake in $BUILD (configure first)" >&2; exit 1; }

VW_PREFIX=vwp$$
PIN_DIR=/sys/fs/bpf/vwp-e2e-$$
[ "$(id -u)" -eq 0 ] && vw_sweep_stale vwp vwp-e2e-
vw_install_cleanup_trap

# check and fatal come from scripts/lib/checks.sh (sourced by netns.sh).
quiet() { "$@" >"$TMP/last-command.out" 2>&1 || { sed 's/^/  | /' "$TMP/last-command.out" | head -30; return 1; }; }
contains() { grep -qF -- "$2" "$1" || { echo "  ($1 lacks: $2)"; return 1; }; }

vw_mktemp_dir TMP || fatal "create a temporary directory"
# The change journal of this run, not the host's /var/lib/vaultwall.
export VAULTWALL_JOURNAL=$TMP/journal.jsonl

# Where the build puts things (a developer may have chosen another prefix).
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
if [ "$PREFIX" = /usr ]; then ETC=/etc/vaultwall; else ETC=$PREFIX/etc/vaultwall; fi
UNITDIR=$(sed -n 's/^VAULTWALL_SYSTEMD_UNITDIR:PATH=//p' "$BUILD/CMakeCache.txt")
COMPDIR=$(sed -n 's/^VAULTWALL_BASH_COMPLETIONDIR:PATH=//p' "$BUILD/CMakeCache.txt")
echo "install prefix $PREFIX, configuration $ETC, units $UNITDIR"
LAYOUT=(
	"$PREFIX/sbin/vaultwall-loader:x"
	"$PREFIX/sbin/vaultwallctl:x"
	"$PREFIX/sbin/vaultwall-agent:x"
	"$PREFIX/libexec/vaultwall/vaultwall-service:x"
	"$ETC/vault.json:f"
	"$ETC/vaultwall.env:f"
	"$UNITDIR/vaultwall.service:f"
	"$UNITDIR/vaultwall-log.service:f"
	"$UNITDIR/vaultwall-agent.service:f"
	"$UNITDIR/vaultwall-metrics.service:f"
	"$UNITDIR/vaultwall-metrics-textfile.service:f"
	"$UNITDIR/vaultwall-metrics-textfile.timer:f"
	"$PREFIX/share/vaultwall/service-tags/ServiceTags_Public_subset.json:f"
	"$PREFIX/share/vaultwall/prometheus/vaultwall.rules.yml:f"
	"$PREFIX/share/vaultwall/schema/deny-log.schema.json:f"
	"$COMPDIR/vaultwall-loader:f"
	"$COMPDIR/vaultwallctl:f"
	"$COMPDIR/vaultwall-agent:f"
	"$PREFIX/share/doc/vaultwall/README.md:f"
	"$PREFIX/share/doc/vaultwall/copyright:f"
	"$PREFIX/share/doc/vaultwall/changelog.gz:f"
	"$PREFIX/share/zsh/vendor-completions/_vaultwall:f"
	"$PREFIX/share/man/man8/vaultwallctl.8.gz:f"
	"$PREFIX/share/man/man8/vaultwall-loader.8.gz:f"
	"$PREFIX/share/man/man8/vaultwall-agent.8.gz:f"
	"$PREFIX/share/man/man5/vaultwall.json.5.gz:f"
	"$PREFIX/share/man/man5/vaultwall-host.json.5.gz:f"
)
in_layout() { # in_layout ROOT: every file of LAYOUT is there, executables executable
	local root=$1 entry path kind ok=0
	for entry in "${LAYOUT[@]}"; do
		path=${entry%:*} kind=${entry##*:}
		if [ "$kind" = x ] && [ ! -x "$root$path" ]; then echo "  (missing or not executable: $path)"; ok=1; fi
		if [ "$kind" = f ] && [ ! -f "$root$path" ]; then echo "  (missing: $path)"; ok=1; fi
	done
	return $ok
}

# ---- 1. cmake --install into a DESTDIR ----------------------------------------------
ROOT=$TMP/root
check "cmake --install $BUILD into a DESTDIR" quiet env DESTDIR="$ROOT" cmake --install "$BUILD"
check "install layout: sbin, /etc/vaultwall, systemd units, libexec helper, service tags, completions, doc" \
	in_layout "$ROOT"
check "no @VAR@ left unsubstituted in installed text files" \
	bash -c "! grep -rl '@VW_[A-Z]*@' '$ROOT$ETC' '$ROOT$UNITDIR' '$ROOT$PREFIX/libexec/vaultwall'"
check "configuration files are not world-writable or executable" \
	test "$(stat -c %a "$ROOT$ETC/vault.json") $(stat -c %a "$ROOT$ETC/vaultwall.env")" = "644 644"
CTL_INSTALLED=$ROOT$PREFIX/sbin/vaultwallctl
TAGS=$PREFIX/share/vaultwall/service-tags/ServiceTags_Public_subset.json
check "the sample policy points at the installed service tags ($TAGS)" contains "$ROOT$ETC/vault.json" "\"$TAGS\""
# Validated where it is installed; only the service-tags path is moved into the DESTDIR.
sed "s|\"$TAGS\"|\"$ROOT$TAGS\"|" "$ROOT$ETC/vault.json" >"$TMP/vault.json"
check "the installed vaultwallctl validates the shipped sample policy" quiet "$CTL_INSTALLED" validate -f "$TMP/vault.json"
check "the installed binaries answer --help" \
	quiet bash -c "'$ROOT$PREFIX/sbin/vaultwall-loader' --help && '$CTL_INSTALLED' --help && '$ROOT$PREFIX/sbin/vaultwall-agent' --help"
check "the attach/stop helper is valid sh" quiet sh -n "$ROOT$PREFIX/libexec/vaultwall/vaultwall-service"

# ---- 2. the units --------------------------------------------------------------------
UNIT=$ROOT$UNITDIR/vaultwall.service
exec_lines() { sed -n "s/^$1=//p" "$UNIT"; }
start_order() {
	local lines
	lines=$(exec_lines ExecStart)
	[ "$(wc -l <<<"$lines")" -eq 3 ] &&
		grep -q 'vaultwall-loader .* load$' <<<"$(sed -n 1p <<<"$lines")" &&
		grep -q 'vaultwall-service apply$' <<<"$(sed -n 2p <<<"$lines")" &&
		grep -q 'vaultwall-service attach$' <<<"$(sed -n 3p <<<"$lines")" ||
		{ echo "  (ExecStart lines:"; sed 's/^/  |   /' <<<"$lines"; echo "  )"; return 1; }
}
check "vaultwall.service starts load -> apply -> attach" start_order
check "vaultwall.service: oneshot, RemainAfterExit" \
	bash -c "grep -qx 'Type=oneshot' '$UNIT' && grep -qx 'RemainAfterExit=yes' '$UNIT'"
check "vaultwall.service: reload re-applies the policy" contains "$UNIT" "ExecReload=$PREFIX/libexec/vaultwall/vaultwall-service apply"
check "vaultwall.service: bpffs mount dependency" contains "$UNIT" "RequiresMountsFor=/sys/fs/bpf"
check "vaultwall.service: up before the network (network-pre.target)" contains "$UNIT" "Before=network-pre.target"
check "vaultwall.service: capabilities bounded to CAP_BPF CAP_NET_ADMIN CAP_PERFMON" \
	contains "$UNIT" "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON"
check "vaultwall-log.service follows the log as JSON lines" \
	contains "$ROOT$UNITDIR/vaultwall-log.service" "log --follow -o jsonl"
METRICS_UNIT=$ROOT$UNITDIR/vaultwall-metrics.service
check "vaultwall-metrics.service serves --listen on VAULTWALL_METRICS_LISTEN, sandboxed" bash -c "
	grep -q 'metrics --listen \${VAULTWALL_METRICS_LISTEN} \$VAULTWALL_METRICS_ARGS' '$METRICS_UNIT' &&
	grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_PERFMON' '$METRICS_UNIT' && grep -qx 'ProtectSystem=strict' '$METRICS_UNIT'"
check "vaultwall-metrics-textfile: a timer every minute runs metrics --textfile" bash -c "
	grep -qx 'OnUnitActiveSec=1min' '$ROOT$UNITDIR/vaultwall-metrics-textfile.timer' &&
	grep -q 'metrics --textfile \${VAULTWALL_METRICS_TEXTFILE_DIR}' '$ROOT$UNITDIR/vaultwall-metrics-textfile.service'"
check "the installed alerting rules pass promtool check rules" \
	quiet promtool check rules "$ROOT$PREFIX/share/vaultwall/prometheus/vaultwall.rules.yml"
AGENT_UNIT=$ROOT$UNITDIR/vaultwall-agent.service
check "vaultwall-agent.service: Type=notify with a watchdog, restarted always (not after a usage error)" \
	bash -c "grep -qx 'Type=notify' '$AGENT_UNIT' && grep -qx 'WatchdogSec=30s' '$AGENT_UNIT' && grep -qx 'Restart=always' '$AGENT_UNIT' && grep -qx 'RestartPreventExitStatus=2' '$AGENT_UNIT'"
check "vaultwall-agent.service: after and part of vaultwall.service" \
	bash -c "grep -qx 'After=vaultwall.service' '$AGENT_UNIT' && grep -qx 'PartOf=vaultwall.service' '$AGENT_UNIT' && grep -qx 'Wants=vaultwall.service' '$AGENT_UNIT'"
check "vaultwall-agent.service: reads the env file, runs the installed agent" \
	bash -c "grep -qxF 'EnvironmentFile=-$ETC/vaultwall.env' '$AGENT_UNIT' && grep -qxF 'ExecStart=$PREFIX/sbin/vaultwall-agent \$VAULTWALL_AGENT_ARGS' '$AGENT_UNIT'"
check "vaultwall-agent.service: capabilities bounded like vaultwall.service" \
	contains "$AGENT_UNIT" "CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON"
if command -v systemd-analyze >/dev/null; then
	# Checked against the host's systemd (its targets and mounts), with the
	# units' commands pointed at the DESTDIR, where the binaries are.
	mkdir -p "$TMP/units"
	METRICS_UNITS="vaultwall-metrics.service vaultwall-metrics-textfile.service vaultwall-metrics-textfile.timer"
	for u in vaultwall.service vaultwall-log.service vaultwall-agent.service $METRICS_UNITS; do
		sed -e "s|$PREFIX/sbin/|$ROOT$PREFIX/sbin/|g" -e "s|$PREFIX/libexec/|$ROOT$PREFIX/libexec/|g" \
			"$ROOT$UNITDIR/$u" >"$TMP/units/$u"
	done
	verify_units() {
		local out
		# shellcheck disable=SC2046 # one word per unit
		out=$(systemd-analyze verify --man=no "$TMP/units/vaultwall.service" "$TMP/units/vaultwall-log.service" \
			"$TMP/units/vaultwall-agent.service" $(printf "$TMP/units/%s " $METRICS_UNITS) 2>&1)
		out=$(grep -E 'vaultwall' <<<"$out" || true)
		[ -z "$out" ] || { sed 's/^/  | /' <<<"$out"; return 1; }
	}
	check "systemd-analyze verify: the units clean (with the metrics service, textfile service and timer)" verify_units
	systemd-analyze security --offline=yes --root="$ROOT" "$UNIT" 2>/dev/null |
		tail -1 | sed 's/^/  vaultwall.service exposure: /'
else
	echo "NOTE: systemd-analyze not found; units not verified"
fi

# ---- 3. the .deb -----------------------------------------------------------------------
check "cpack -G DEB builds the package" quiet cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$TMP/cpack"
DEB=$(ls "$TMP"/cpack/vaultwall_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || fatal "no vaultwall_*.deb produced"
echo "  package: $(basename "$DEB"), $(stat -c %s "$DEB") bytes"
dpkg-deb -I "$DEB" >"$TMP/info.txt"
dpkg-deb -c "$DEB" >"$TMP/contents.txt"
dpkg-deb -f "$DEB" Depends | sed 's/^/  Depends: /'
depends_on() { dpkg-deb -f "$DEB" Depends | tr ',' '\n' | awk -v p="$1" '$1 == p {found = 1} END {exit !found}' || { echo "  (no Depends on $1)"; return 1; }; }
check "control: Package vaultwall, Architecture $(dpkg --print-architecture)" \
	test "$(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Architecture)" = "vaultwall $(dpkg --print-architecture)"
for dep in libbpf1 zlib1g libc6 libstdc++6; do
	check "control: Depends on $dep" depends_on "$dep"
done
check "control: libbpf1 is named once in Depends" \
	test "$(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | awk '$1 == "libbpf1"' | wc -l)" -eq 1
check "contents: Debian copyright file and compressed changelog" bash -c "
	grep -qE ' \./usr/share/doc/vaultwall/copyright\$' '$TMP/contents.txt' &&
	grep -qE ' \./usr/share/doc/vaultwall/changelog\.gz\$' '$TMP/contents.txt'"
if command -v lintian >/dev/null; then
	# Errors and warnings fail; pedantic and info tags are printed only.
	lintian --info "$DEB" >"$TMP/lintian.txt" 2>&1
	sed 's/^/  lintian: /' "$TMP/lintian.txt" | grep -v 'running with root privileges' | head -20
	check "lintian: no errors or warnings" bash -c "! grep -qE '^[EW]: ' '$TMP/lintian.txt'"
else
	echo "NOTE: lintian not installed (scripts/setup.sh installs it); package not linted"
fi
check "control: conffiles list /etc/vaultwall/vault.json and vaultwall.env" \
	bash -c "dpkg-deb --ctrl-tarfile '$DEB' | tar -xO ./conffiles | sort | tr '\n' ' ' | grep -qx '$ETC/vault.json $ETC/vaultwall.env '"
check "control: postinst, prerm, postrm present and valid sh" bash -c "
	mkdir -p '$TMP/ctrl' && dpkg-deb -e '$DEB' '$TMP/ctrl' &&
	for s in postinst prerm postrm; do [ -x '$TMP/ctrl/'\$s ] && sh -n '$TMP/ctrl/'\$s || exit 1; done"
in_deb() {
	local absent=0 entry path
	for entry in "${LAYOUT[@]}"; do
		path=${entry%:*}
		grep -qE " \.$path\$" "$TMP/contents.txt" || { echo "  (not in the package: $path)"; absent=1; }
	done
	return $absent
}
check "contents: the same layout as cmake --install" in_deb
check "contents: no test or benchmark binaries, no build paths" \
	bash -c "! grep -E 'bench|_tests|/build' '$TMP/contents.txt'"
check "contents: binaries stripped (vaultwallctl under 8 MB)" \
	test "$(awk '$6 ~ /sbin\/vaultwallctl$/ {print $3}' "$TMP/contents.txt")" -lt 8000000
check "dpkg-deb --info reads the package" grep -q "Package: vaultwall" "$TMP/info.txt"

# ---- 4. the unit's commands bring the filter up ---------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "NOTE: not root; the unit's commands are not run (part 4 skipped)"
elif ! command -v nc >/dev/null || ! mountpoint -q /sys/fs/bpf; then
	echo "NOTE: nc or bpffs missing; part 4 skipped"
else
	X=$TMP/deb
	dpkg-deb -x "$DEB" "$X" || fatal "dpkg-deb -x"
	NS=${VW_PREFIX}host NS_C=${VW_PREFIX}cli
	vw_register_pin_dir "$PIN_DIR"
	vw_ns_add "$NS" || fatal "namespace $NS"
	vw_ns_add "$NS_C" || fatal "namespace $NS_C"
	# eth0 faces the client; eth1 and eth2 are the sample's virtual-network segments.
	vw_veth_add "$NS" "${VW_PREFIX}a" 192.0.2.10/24 "$NS_C" "${VW_PREFIX}b" 192.0.2.20/24 || fatal "veth"
	ip -n "$NS" link set "${VW_PREFIX}a" down && ip -n "$NS" link set "${VW_PREFIX}a" name eth0 &&
		ip -n "$NS" link set eth0 up || fatal "eth0"
	for i in 1 2; do
		vw_veth_add "$NS" "${VW_PREFIX}s$i" - "$NS" "${VW_PREFIX}p$i" - || fatal "veth $i"
		ip -n "$NS" link set "${VW_PREFIX}s$i" down && ip -n "$NS" link set "${VW_PREFIX}s$i" name "eth$i" &&
			ip -n "$NS" link set "eth$i" up || fatal "eth$i"
	done
	ip -n "$NS_C" addr add 198.51.100.7/32 dev "${VW_PREFIX}b" && ip -n "$NS_C" addr add 203.0.113.9/32 dev "${VW_PREFIX}b" &&
		ip -n "$NS" route add 198.51.100.7/32 dev eth0 && ip -n "$NS" route add 203.0.113.9/32 dev eth0 || fatal "addresses"
	VW_BG_LOG=$TMP/nc.log vw_in_ns_bg "$NS" nc -lk 443
	vw_wait_tcp_listen "$NS" 443 10 || fatal "listener on tcp/443"

	# The unit's environment: its Environment= defaults, then the packaged
	# env file, then this test's interfaces and pin directory.
	UNIT_X=$X$UNITDIR/vaultwall.service
	{
		sed -n 's/^Environment=//p' "$UNIT_X"
		grep -E '^[A-Z_]+=' "$X$ETC/vaultwall.env"
		echo "VAULTWALL_INTERFACES=\"eth0 eth1 eth2\""
		echo "VAULTWALL_PIN_DIR=$PIN_DIR"
		echo "VAULTWALL_POLICY=$X$ETC/vault.json"
	} >"$TMP/unit.env"
	# The packaged policy and helper, with their /usr paths moved into the extracted package.
	sed -i "s|\"$TAGS\"|\"$X$TAGS\"|" "$X$ETC/vault.json"
	sed -i "s|$PREFIX/sbin/|$X$PREFIX/sbin/|" "$X$PREFIX/libexec/vaultwall/vaultwall-service"
	# with_env FILE COMMAND: evals COMMAND with the variables FILE sets exported,
	# as systemd's EnvironmentFile= does. It changes the shell it runs in: call
	# it in a subshell, ( with_env ... ) or with_env ... &.
	with_env() {
		set -a
		# shellcheck disable=SC1090
		source "$1"
		set +a
		eval "$2"
	}
	# unit_run KEY: runs the unit's KEY= command lines (ExecStart, ExecReload,
	# ExecStop) in order, as systemd would (stop at the first failure), in
	# the host namespace NS, with the unit's environment.
	unit_run() {
		local key=$1 line
		while IFS= read -r line; do
			line=${line//$PREFIX\/sbin\//$X$PREFIX/sbin/}
			line=${line//$PREFIX\/libexec\//$X$PREFIX/libexec/}
			echo "  $key: ${line//$X/}"
			(with_env "$TMP/unit.env" "vw_in_ns \"\$NS\" timeout 30 $line") >>"$TMP/unit.out" 2>&1 || { sed 's/^/  | /' "$TMP/unit.out" | tail -15; return 1; }
		done < <(sed -n "s/^$key=//p" "$UNIT_X")
	}
	status_json() { vw_in_ns "$NS" "$X$PREFIX/sbin/vaultwall-loader" --pin-dir "$PIN_DIR" status -o json; }
	attached_ifaces() { status_json | jq -r '[.interfaces[].interface] | sort | join(" ")'; }
	tcp_from() { vw_in_ns "$NS_C" timeout 4 nc -z -w 2 -s "$1" 192.0.2.10 443; }
	tcp_blocked() { ! tcp_from "$1"; }

	check "systemctl start (ExecStart lines, in order) succeeds with the shipped example" unit_run ExecStart
	check "the filter is attached to eth0 eth1 eth2" test "$(attached_ifaces)" = "eth0 eth1 eth2"
	check "[started] 198.51.100.7 (sample IP rule 198.51.100.0/24) connects to tcp/443" tcp_from 198.51.100.7
	check "[started] 203.0.113.9 (no rule) is dropped on tcp/443" tcp_blocked 203.0.113.9
	# vaultwall-metrics-textfile.service's commands (what its timer starts),
	# with the unit's environment and a test directory for the file.
	TEXTFILE_UNIT_X=$X$UNITDIR/vaultwall-metrics-textfile.service
	mkdir -p "$TMP/textfile"
	{
		sed -n 's/^Environment=//p' "$TEXTFILE_UNIT_X"
		grep -E '^[A-Z_]+=' "$X$ETC/vaultwall.env"
		echo "VAULTWALL_PIN_DIR=$PIN_DIR"
		echo "VAULTWALL_METRICS_TEXTFILE_DIR=$TMP/textfile"
	} >"$TMP/textfile.env"
	textfile_run() {
		local key line
		for key in ExecCondition ExecStart; do
			line=$(sed -n "s/^$key=//p" "$TEXTFILE_UNIT_X")
			line=${line//$PREFIX\/sbin\//$X$PREFIX/sbin/}
			(with_env "$TMP/textfile.env" "vw_in_ns \"\$NS\" timeout 30 $line") >>"$TMP/textfile.out" 2>&1 || { sed 's/^/  | /' "$TMP/textfile.out" | tail -5; return 1; }
		done
	}
	check "vaultwall-metrics-textfile.service's commands write vaultwall.prom" textfile_run
	check "... promtool-clean, in sync, eth0 attached" bash -c "
		promtool check metrics <'$TMP/textfile/vaultwall.prom' &&
		grep -qx 'vaultwall_policy_in_sync 1' '$TMP/textfile/vaultwall.prom' &&
		grep -qE '^vaultwall_interface_attached\{interface=\"eth0\",mode=\"[a-z]+\"\} 1$' '$TMP/textfile/vaultwall.prom'"
	# vaultwall-agent.service's command line with its environment, started as
	# systemd would after vaultwall.service, and stopped before its stop step.
	AGENT_UNIT_X=$X$UNITDIR/vaultwall-agent.service
	{
		sed -n 's/^Environment=//p' "$AGENT_UNIT_X"
		grep -E '^[A-Z_]+=' "$X$ETC/vaultwall.env"
		echo "VAULTWALL_INTERFACES=\"eth0 eth1 eth2\""
		echo "VAULTWALL_PIN_DIR=$PIN_DIR"
	} >"$TMP/agent.env"
	agent_line=$(sed -n 's/^ExecStart=//p' "$AGENT_UNIT_X")
	agent_line=${agent_line//$PREFIX\/sbin\//$X$PREFIX/sbin/}
	with_env "$TMP/agent.env" "exec nsenter --net=/run/netns/$NS -- $agent_line" >"$TMP/agent.log" 2>&1 </dev/null &
	AGENT_PID=$!
	VW_STARTED_PIDS+=("$AGENT_PID")
	agent_covers_all() {
		local i
		for ((i = 0; i < 60; i++)); do
			[ "$(grep -cE 'eth[012]: covered' "$TMP/agent.log")" -ge 3 ] && return 0
			sleep 0.05
		done
		sed 's/^/  | /' "$TMP/agent.log"
		return 1
	}
	check "vaultwall-agent.service's command, with the unit's environment, reports eth0 eth1 eth2 covered" agent_covers_all
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	agent_status=$?
	check "... and stops on SIGTERM with status 0, nothing detached" \
		test "$agent_status $(attached_ifaces)" = "0 eth0 eth1 eth2"
	# Fleet mode: the apply step boots with the last policy the agent applied.
	mkdir -p "$TMP/fleet-state"
	sed 's|"198.51.100.0/24"|"203.0.113.0/24"|' "$X$ETC/vault.json" \
		>"$TMP/fleet-state/applied.json"
	fleet_boot_apply() {
		(with_env "$TMP/unit.env" 'VAULTWALL_FLEET_VAULT=kv-package VAULTWALL_FLEET_STATE_DIR=$TMP/fleet-state \
			vw_in_ns "$NS" timeout 30 "$X$PREFIX/libexec/vaultwall/vaultwall-service" apply') >>"$TMP/unit.out" 2>&1 || { sed 's/^/  | /' "$TMP/unit.out" | tail -5; return 1; }
	}
	check "fleet mode: the apply step applies the agent's last policy (STATE_DIR/applied.json)" fleet_boot_apply
	check "[fleet boot] 203.0.113.9 connects: the fleet policy, not vault.json, is enforced" tcp_from 203.0.113.9
	check "systemctl reload (ExecReload) succeeds: policy re-applied, interfaces already attached" unit_run ExecReload
	check "[reloaded, not in fleet mode] vault.json again: 203.0.113.9 dropped" tcp_blocked 203.0.113.9
	check "systemctl stop with VAULTWALL_ON_STOP=keep leaves the filter attached" unit_run ExecStop
	check "[stopped, keep] still attached to eth0 eth1 eth2" test "$(attached_ifaces)" = "eth0 eth1 eth2"
	check "[stopped, keep] 203.0.113.9 still dropped" tcp_blocked 203.0.113.9
	check "systemctl start again (restart) succeeds with the filter in place" unit_run ExecStart
	check "[restarted] still attached to eth0 eth1 eth2" test "$(attached_ifaces)" = "eth0 eth1 eth2"
	echo "VAULTWALL_ON_STOP=purge" >>"$TMP/unit.env"
	check "systemctl stop with VAULTWALL_ON_STOP=purge" unit_run ExecStop
	check "[purged] pin directory removed" test ! -e "$PIN_DIR"
	check "[purged] 203.0.113.9 connects again (nothing enforces)" tcp_from 203.0.113.9
fi

# ---- 5. bash completion -------------------------------------------------------------------
COMP_CTL=$SRC/packaging/bash-completion/vaultwallctl
COMP_LOADER=$SRC/packaging/bash-completion/vaultwall-loader
COMP_AGENT=$SRC/packaging/bash-completion/vaultwall-agent
LOADER_BIN=$BUILD/loader/vaultwall-loader CTL_BIN=$BUILD/ctl/vaultwallctl AGENT_BIN=$BUILD/agent/vaultwall-agent
# help_words BIN [SUB...]: subcommands and options that BIN SUB --help lists.
help_subcommands() { "$@" --help 2>/dev/null | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'; }
help_options() { "$@" --help 2>/dev/null | grep -oE '^ +(-[A-Za-z],)?--[a-z][a-z-]*' | tr ',' '\n' | tr -d ' ' | grep -v '^$'; }
covers_help() { # covers_help COMPLETION_FILE BIN: every subcommand and option of --help is in the file
	local file=$1 bin=$2 missing=() sub subsub word
	for word in $(help_options "$bin"); do grep -qF -- "$word" "$file" || missing+=("$word"); done
	for sub in $(help_subcommands "$bin"); do
		grep -qw -- "$sub" "$file" || missing+=("$sub")
		for word in $(help_options "$bin" "$sub"); do grep -qF -- "$word" "$file" || missing+=("$sub $word"); done
		for subsub in $(help_subcommands "$bin" "$sub"); do
			grep -qw -- "$subsub" "$file" || missing+=("$sub $subsub")
			for word in $(help_options "$bin" "$sub" "$subsub"); do
				grep -qF -- "$word" "$file" || missing+=("$sub $subsub $word")
			done
		done
	done
	[ ${#missing[@]} -eq 0 ] || { echo "  (not completed: ${missing[*]})"; return 1; }
}
check "vaultwall-loader completion covers every subcommand and option of --help" covers_help "$COMP_LOADER" "$LOADER_BIN"
check "vaultwallctl completion covers every subcommand and option of --help" covers_help "$COMP_CTL" "$CTL_BIN"
check "vaultwall-agent completion covers every option of --help" covers_help "$COMP_AGENT" "$AGENT_BIN"
if [ -f /usr/share/bash-completion/bash_completion ]; then
	# complete WORDS...: what bash offers for the last (possibly empty) word.
	complete_words() {
		bash -c '
			source /usr/share/bash-completion/bash_completion
			source "$1"; source "$2"; source "$3"; shift 3
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
			COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
			fn=$(complete -p "$1" | sed "s/.*-F \([^ ]*\) .*/\1/")
			"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
			echo "${COMPREPLY[*]}"' _ "$COMP_CTL" "$COMP_LOADER" "$COMP_AGENT" "$@"
	}
	offers() { # offers "EXPECTED" WORDS...
		local want=$1 got
		shift
		got=$(complete_words "$@")
		[ "$got" = "$want" ] || { echo "  ($* -> '$got', expected '$want')"; return 1; }
	}
	check "completion: vaultwallctl n<TAB> -> network-rule" offers "network-rule" vaultwallctl n
	check "completion: vaultwallctl network-rule <TAB>" offers "add remove list" vaultwallctl network-rule ""
	check "completion: vaultwallctl update --default-action <TAB>" offers "Allow Deny" vaultwallctl update --default-action ""
	check "completion: vaultwallctl --pin-dir /x update --m<TAB>" offers "--max-input-size --mode" vaultwallctl --pin-dir /x update --m
	check "completion: vaultwallctl explain 1.2.3.4 --proto <TAB>" offers "tcp udp" vaultwallctl explain 1.2.3.4 --proto ""
	check "completion: vaultwall-loader <TAB>" offers "load attach detach status" vaultwall-loader ""
	check "completion: vaultwall-loader attach --mode <TAB>" offers "auto native generic" vaultwall-loader attach --mode ""
	check "completion: vaultwall-loader detach --<TAB>" offers "--all --purge --output --help --pin-dir --journal --verbose --no-headers --help-all" vaultwall-loader detach --
	check "completion: vaultwall-agent --mode <TAB>" offers "auto native generic" vaultwall-agent --mode ""
	check "completion: vaultwall-agent --i<TAB>" offers "--interface" vaultwall-agent --i
else
	echo "NOTE: bash-completion not installed; completion behaviour not exercised"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
