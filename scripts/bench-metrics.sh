#!/usr/bin/env bash
# What a metrics scrape costs with many rules: a policy of N public /24 IP
# rules is applied to a fresh pin directory (nothing attached), then timed:
# `vaultwallctl metrics` once (its drift check included), with and without
# --no-rule-metrics, `verify`, and a `metrics --listen` server's first scrape
# (drift check) against its next ones (check cached for --verify-interval),
# plain and gzipped. Not a test: it reports.
#   scripts/bench-metrics.sh [RULES]   (default 13760, at most 13760 here)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "bench-metrics.sh: needs root (bpffs pins)" >&2
	exit 1
fi
rules=${1:-13760}
build_dir=${BUILD_DIR:-build}
cmake --build "$build_dir" -j 2 --target vaultwallctl vaultwall-loader >/dev/null
ctl=$build_dir/ctl/vaultwallctl
loader=$build_dir/loader/vaultwall-loader
pin=/sys/fs/bpf/vwtest-benchmetrics-$$
tmp=$(mktemp -d)
port=$((20000 + $$ % 20000))
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$pin" "$tmp"
}
trap cleanup EXIT
export VAULTWALL_JOURNAL=$tmp/journal.jsonl

python3 - "$rules" >"$tmp/policy.json" <<'PY'
import json, sys
count = int(sys.argv[1])
skip = {0, 10, 100, 127, 169, 172, 192, 198, 203}  # private, shared, documentation
rules = [{"value": f"{a}.{b}.7.0/24"} for a in range(1, 224) if a not in skip for b in range(0, 256, 4)]
print(json.dumps({
    "id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-bench",
    "properties": {"publicNetworkAccess": "Enabled", "networkAcls": {
        "defaultAction": "Deny", "bypass": "None", "ipRules": rules[:count], "virtualNetworkRules": []}},
    "vaultwall": {"profile": "akv-current", "limits": {"maxIpRules": 16383},
                  "dataPlane": {"ports": ["tcp/443"], "addresses": ["192.0.2.10"]}}}))
PY
"$loader" --pin-dir "$pin" load >/dev/null
"$ctl" --pin-dir "$pin" apply -f "$tmp/policy.json" >/dev/null
echo "rules: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["properties"]["networkAcls"]["ipRules"]))' "$tmp/policy.json")"

# seconds COMMAND...: wall time of one run, stdout discarded.
seconds() {
	local start end
	start=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s.%N)
	python3 -c "print(f'{$end - $start:.3f}')"
}
for i in 1 2 3; do
	echo "metrics once: $(seconds "$ctl" --pin-dir "$pin" metrics) s;" \
		"--no-rule-metrics: $(seconds "$ctl" --pin-dir "$pin" metrics --no-rule-metrics) s;" \
		"verify: $(seconds "$ctl" --pin-dir "$pin" verify) s"
done
"$ctl" --pin-dir "$pin" metrics >"$tmp/all.prom"
"$ctl" --pin-dir "$pin" metrics --no-rule-metrics >"$tmp/few.prom"
echo "scrape size: $(wc -c <"$tmp/all.prom") bytes, --no-rule-metrics $(wc -c <"$tmp/few.prom") bytes"

"$ctl" --pin-dir "$pin" metrics --listen "127.0.0.1:$port" 2>"$tmp/server.log" &
server=$!
for ((i = 0; i < 50; i++)); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
scrape() { curl -s -o /dev/null -w "%{time_total} s, %{size_download} bytes" "$@" "http://127.0.0.1:$port/metrics"; }
echo "server, first scrape (drift check): $(scrape)"
for i in 1 2 3 4 5; do echo "server, scrape $((i + 1)) (check cached): $(scrape)"; done
echo "server, gzip: $(scrape -H 'Accept-Encoding: gzip')"
