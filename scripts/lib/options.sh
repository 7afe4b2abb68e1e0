# shellcheck shell=bash
# options.sh - the option loop the scripts share. Sourced, then:
#
#   quick=0 out=""
#   vw_parse_options 2,20 --quick quick=1 --out out= -- "$@"
#
# Pairs of OPTION ASSIGNMENT before --: an assignment ending in = takes the
# option's value (--out FILE sets out=FILE), any other is made as written
# (--quick sets quick=1). -h/--help prints the script's usage comment (its
# lines HELP_LINES, "2,20") and exits 0; any other argument exits 2 naming it.

vw_parse_options() {
	local _vw_help_lines=$1 _vw_script _vw_assignment
	local -A _vw_assignments=()
	shift
	while [ "$1" != -- ]; do
		_vw_assignments[$1]=$2
		shift 2
	done
	shift
	_vw_script=$(basename "$0")
	while [ $# -gt 0 ]; do
		case "$1" in
		-h | --help)
			sed -n "${_vw_help_lines}p" "$0" | sed 's/^# \{0,1\}//'
			exit 0
			;;
		esac
		if [ -z "${_vw_assignments[$1]+set}" ]; then
			echo "$_vw_script: unknown option $1 (try --help)" >&2
			exit 2
		fi
		_vw_assignment=${_vw_assignments[$1]}
		if [[ $_vw_assignment == *= ]]; then
			[ $# -ge 2 ] || { echo "$_vw_script: $1 needs a value" >&2; exit 2; }
			printf -v "${_vw_assignment%=}" '%s' "$2"
			shift
		else
			printf -v "${_vw_assignment%%=*}" '%s' "${_vw_assignment#*=}"
		fi
		shift
	done
}
