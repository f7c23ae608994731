#!/usr/bin/env bash
# The OCI runtime conformance suite (opencontainers/runtime-tools' validation/ tests) against
# tsrun-runtime and runc side by side: one line per test file with each runtime's result and TAP
# counts, then the totals and the files runc passes that tsrun-runtime does not.
#
# usage: scripts/oci-validation.sh [FILTER]        (as root; FILTER: a substring of test names)
# env:   SUITE=/tmp/runtime-tools  OCI_SRC=/work/shared/oci/runtime-tools.tar.gz  RUNC=/usr/sbin/runc
#
# The suite is built once, offline, from the runtime-tools source tarball (its vendor/ tree included)
# with Go 1.23 from bookworm-backports (bookworm's own Go is 1.19, too old).
set -uo pipefail
cd "$(dirname "$0")/.."
FILTER=${1:-}
SUITE=${SUITE:-/tmp/runtime-tools}
OCI_SRC=${OCI_SRC:-$(cd .. && pwd)/shared/oci/runtime-tools.tar.gz}
RUNC=${RUNC:-/usr/sbin/runc}
TSRUN_RT=$PWD/bin/tsrun-runtime
GO=/usr/lib/go-1.23/bin

[ "$(id -u)" = 0 ] || { echo "oci-validation: run as root" >&2; exit 2; }
[ -x build/Release/tsrun-runtime ] || { echo "oci-validation: build tsrun-runtime first (npx node-gyp build)" >&2; exit 2; }

build_suite() {
  if [ ! -x "$GO/go" ]; then
    if ! apt-cache policy golang-1.23-go 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      # deb822 sources (debian.sources) are not matched by a mirror grep: name the suite directly
      echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
      apt-get update -q >/dev/null
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports golang-1.23-go >/dev/null || return 1
  fi
  [ -f "$OCI_SRC" ] || { echo "oci-validation: no suite source at $OCI_SRC" >&2; return 1; }
  rm -rf "$SUITE" && mkdir -p "$SUITE" && tar -xzf "$OCI_SRC" -C "$SUITE" --strip-components=1 &&
    (cd "$SUITE" && PATH=$GO:$PATH GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local make runtimetest validation-executables >/dev/null)
}
if [ ! -x "$SUITE/runtimetest" ]; then
  echo "oci-validation: building the suite in $SUITE" >&2
  build_suite || { echo "oci-validation: could not build the suite" >&2; exit 2; }
fi

# one test file against one runtime: "PASS ok=N not_ok=M" or "FAIL(rc=R) ok=N not_ok=M"
run_one() {
  local rt=$1 t=$2 out rc ok bad
  out=$(cd "$SUITE" && RUNTIME=$rt timeout 120 "./$t" 2>&1); rc=$?
  ok=$(grep -c '^ok ' <<<"$out"); bad=$(grep -c '^not ok ' <<<"$out")
  if [ "$rc" = 0 ] && [ "$bad" = 0 ] && [ "$ok" -gt 0 ]; then echo "PASS $ok $bad"; else echo "FAIL(rc=$rc) $ok $bad"; fi
}

printf '%-44s %-26s %s\n' "test" "tsrun-runtime" "runc"
files=0 ts_pass=0 rc_pass=0 ts_ok=0 ts_bad=0 rc_ok=0 rc_bad=0 regressions=()
for t in $(cd "$SUITE" && ls validation/*/*.t); do
  case "$t" in *"$FILTER"*) ;; *) continue ;; esac
  name=$(basename "$t" .t)
  read -r ts tso tsb < <(run_one "$TSRUN_RT" "$t")
  read -r rn rno rnb < <(run_one "$RUNC" "$t")
  files=$((files + 1))
  ts_ok=$((ts_ok + tso)) ts_bad=$((ts_bad + tsb)) rc_ok=$((rc_ok + rno)) rc_bad=$((rc_bad + rnb))
  [ "$ts" = PASS ] && ts_pass=$((ts_pass + 1))
  [ "$rn" = PASS ] && rc_pass=$((rc_pass + 1))
  [ "$rn" = PASS ] && [ "$ts" != PASS ] && regressions+=("$name")
  printf '%-44s %-26s %s\n' "$name" "$ts ok=$tso not_ok=$tsb" "$rn ok=$rno not_ok=$rnb"
done
echo
echo "files clean: tsrun-runtime $ts_pass/$files, runc $rc_pass/$files"
echo "assertions: tsrun-runtime ok=$ts_ok not_ok=$ts_bad; runc ok=$rc_ok not_ok=$rc_bad"
if [ ${#regressions[@]} -gt 0 ]; then
  echo "runc passes, tsrun-runtime does not: ${regressions[*]}"
  exit 1
fi
echo "every test file runc passes here, tsrun-runtime passes too"
