# shellcheck shell=bash
# lib.sh - what the CLI tests share: run a binary and keep its stdout,
# stderr and exit code; checks that read as specifications; JSON probes.
# Source it; do not execute it.
#
#   run vaultwallctl validate -f doc.json    # sets OUT, ERR, RC
#   expect_exit 0 "validate accepts a good document"
#   expect_json "validate -o json"           # OUT parses and has schemaVersion
#   check "the rule is listed" grep -q 198.51.100.7 <<<"$OUT"
#   xfail "BUG: ..." some_command           # known bug: reported, not failed
#   finish                                   # summary; exit 1 if anything failed

PASSED=0
FAILED=0
XFAILED=0
OUT=
ERR=
RC=0
_CLI_ERR_FILE=$(mktemp "/tmp/vwc-stderr.$$.XXXXXX")
_cli_remove_err_file() { rm -f "$_CLI_ERR_FILE"; }

# run CMD...: runs a command (60 s at most), keeping stdout in OUT, stderr
# in ERR and the exit code in RC.
run() {
	OUT=$(timeout 60 "$@" 2>"$_CLI_ERR_FILE")
	RC=$?
	ERR=$(<"$_CLI_ERR_FILE")
}

_pass() {
	echo "PASS: $1"
	PASSED=$((PASSED + 1))
}

# What the last run printed, for a failure message.
_fail() {
	echo "FAIL: $1"
	[ $# -gt 1 ] && echo "      $2"
	echo "      last command exit $RC; stdout: ${OUT:0:600}"
	echo "      stderr: ${ERR:0:600}"
	FAILED=$((FAILED + 1))
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local what=$1
	shift
	if "$@"; then _pass "$what"; else _fail "$what"; fi
}

# expect_exit CODE DESCRIPTION: the last run exited with CODE.
expect_exit() {
	if [ "$RC" -eq "$1" ]; then _pass "$2 (exit $1)"; else _fail "$2" "expected exit $1, got $RC"; fi
}

# expect_out / expect_err TEXT DESCRIPTION: the last run's stdout / stderr
# contains TEXT (fixed string).
expect_out() {
	if grep -qF -- "$1" <<<"$OUT"; then _pass "$2"; else _fail "$2" "stdout lacks: $1"; fi
}
expect_err() {
	if grep -qF -- "$1" <<<"$ERR"; then _pass "$2"; else _fail "$2" "stderr lacks: $1"; fi
}

# expect_err_ends_with HINT DESCRIPTION: the last line of stderr ends with
# HINT (error messages end with the next thing to try).
expect_err_ends_with() {
	local last
	last=$(tail -n 1 <<<"$ERR")
	if [[ $last == *"$1" ]]; then _pass "$2"; else _fail "$2" "last stderr line does not end with: $1"; fi
}

# is_json_with_schema_version: stdin is one JSON object with schemaVersion.
is_json_with_schema_version() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
sys.exit(0 if isinstance(d, dict) and "schemaVersion" in d else 3)' 2>/dev/null
}

# expect_json DESCRIPTION: the last run's stdout parses as JSON and has a
# schemaVersion.
expect_json() {
	local why
	why=$(python3 -c 'import json, sys
try:
    d = json.load(sys.stdin)
except ValueError as e:
    print("stdout is not JSON: %s" % e); sys.exit(1)
if not isinstance(d, dict) or "schemaVersion" not in d:
    print("no schemaVersion field"); sys.exit(1)' <<<"$OUT")
	if [ $? -eq 0 ]; then _pass "$1: JSON with schemaVersion"; else _fail "$1" "$why"; fi
}

# json_value EXPRESSION: evaluates a Python expression over the last run's
# stdout parsed as `d`, e.g. json_value 'd["generation"]'. Prints the value
# (JSON for lists and objects, Python's str otherwise); empty on error.
json_value() {
	python3 -c 'import json, sys
d = json.loads(sys.argv[2])
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$1" "$OUT" 2>/dev/null
}

# expect_json_value EXPRESSION WANT DESCRIPTION
expect_json_value() {
	local got
	got=$(json_value "$1")
	if [ "$got" = "$2" ]; then _pass "$3"; else _fail "$3" "$1: expected '$2', got '$got'"; fi
}

# xfail DESCRIPTION COMMAND...: a check that fails because of a known bug
# (described in DESCRIPTION). Its failure is reported as XFAIL and does not
# fail the run; when it passes, XPASS says the mark can be removed.
xfail() {
	local what=$1
	shift
	if "$@"; then
		echo "XPASS: $what (the bug is fixed: turn this xfail into a check)"
		PASSED=$((PASSED + 1))
	else
		echo "XFAIL: $what"
		XFAILED=$((XFAILED + 1))
	fi
}

# finish: prints the summary; exits 1 when any check failed, else 0.
finish() {
	echo "$PASSED passed, $FAILED failed, $XFAILED expected failures (known bugs)"
	[ "$FAILED" -eq 0 ] && exit 0
	exit 1
}
