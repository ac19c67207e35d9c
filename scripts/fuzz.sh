#!/usr/bin/env bash
# Runs every fuzz target of the module for a given time each, one at a
# time, and ends with a table of each target's exec count.
#
#   scripts/fuzz.sh 5m                 every target, 5 minutes each
#   scripts/fuzz.sh 30s ./shared/rt    only the targets of some packages
#
# The ordinary test command (go test ./...) already runs every target on
# its seed corpus (f.Add and testdata/fuzz/<Name>/). This script searches
# for new inputs. A target that fails leaves its input under
# testdata/fuzz/<Name>/ of its package, where it becomes a seed; the script
# goes on with the other targets and exits non-zero at the end.
#
# Environment: FUZZ_PARALLEL (workers per target, default 2: the machine
# has 2 cores), FUZZ_MINIMIZE (-fuzzminimizetime, default 10s).
set -uo pipefail

if [[ $# -lt 1 ]]; then
	echo "usage: $0 DURATION [PACKAGE...]   e.g. $0 5m" >&2
	exit 2
fi
fuzztime=$1
shift
pkgs=("$@")
parallel=${FUZZ_PARALLEL:-2}
minimize=${FUZZ_MINIMIZE:-10s}

cd "$(dirname "$0")/.."

# Only packages with a fuzz target are listed: listing runs each package's
# TestMain, and some start emulators.
if [[ ${#pkgs[@]} -eq 0 ]]; then
	mapfile -t pkgs < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u)
fi

# go test -list prints each package's matching names, then "ok  <pkg> …".
listing=$(go test -run '^$' -list '^Fuzz' "${pkgs[@]}" 2>&1) || {
	echo "$listing" >&2
	echo "fuzz.sh: listing the fuzz targets failed" >&2
	exit 1
}
targets=()
names=()
while read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(awk '{print $2}' <<<"$line")
		for n in "${names[@]}"; do targets+=("$pkg $n"); done
		names=()
		;;
	esac
done <<<"$listing"

if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz.sh: no fuzz targets found in ${pkgs[*]}" >&2
	exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, $fuzztime each, $parallel workers"

logdir=$(mktemp -d)
results=()
failed=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	log="$logdir/${pkg//\//_}.$name.log"
	echo "=== $pkg $name"
	go test -count=1 -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" \
		-parallel "$parallel" "$pkg" >"$log" 2>&1
	rc=$?
	# The last progress line holds the total: "fuzz: elapsed: 5m0s, execs: N (…/sec), …".
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | awk '{print $2}')
	status=ok
	if [[ $rc -ne 0 ]]; then
		status=FAIL
		failed=$((failed + 1))
		tail -n 30 "$log"
	fi
	echo "    $status, ${execs:-0} execs"
	results+=("$(printf '%-50s %-28s %12s  %s' "$pkg" "$name" "${execs:-0}" "$status")")
done

echo
echo "fuzz.sh: exec counts, $fuzztime per target (logs in $logdir)"
printf '%-50s %-28s %12s  %s\n' package target execs result
for r in "${results[@]}"; do echo "$r"; done
if [[ $failed -gt 0 ]]; then
	echo "fuzz.sh: $failed target(s) failed; their inputs are under testdata/fuzz/ of their packages" >&2
	exit 1
fi
