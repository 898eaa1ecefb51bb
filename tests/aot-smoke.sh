#!/usr/bin/env bash
# The NativeAOT build of kvmsim is what the performance numbers in the README are measured with. This check
# publishes it and runs it against the ordinary (JIT) build on the repository's samples: the same figures, a
# datacenter document and a policy document read, the report written. Prints PASS or FAIL as its last line.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/kvmsim-aot.XXXXXX)
fail() { echo "aot-smoke: $*"; echo FAIL; exit 1; }

dotnet publish sim -c Release -r linux-x64 -p:PublishAot=true -o "$out/bin" >"$out/publish.log" 2>&1 \
  || { tail -20 "$out/publish.log"; fail "publish failed"; }
dotnet build sim -c Release >"$out/build.log" 2>&1 || fail "JIT build failed"

day=(run --trace planetlab:samples/traces/planetlab-sample --datacenter cloudsim-planetlab:hosts=50 --policy lr-mmt-1.2 --cloudsim-compat)
"$out/bin/kvmsim" "${day[@]}" --out "$out/report" >"$out/aot.json" || fail "AOT run failed"
dotnet sim/bin/Release/net10.0/kvmsim.dll "${day[@]}" >"$out/jit.json" || fail "JIT run failed"
strip() { sed -e 's/"wallSeconds":[0-9.eE+-]*,//' "$1"; }
[ "$(strip "$out/aot.json")" = "$(strip "$out/jit.json")" ] || fail "AOT and JIT figures differ: $(cat "$out/aot.json") vs $(cat "$out/jit.json")"
for f in summary.json timeseries.csv power.png power.svg report.html; do [ -s "$out/report/$f" ] || fail "no $f"; done

"$out/bin/kvmsim" run --trace csv:samples/traces/sample.csv --datacenter samples/datacenters/lab.yaml \
  --policy policies/power-saving.yaml >"$out/lab.json" || fail "YAML datacenter/policy run failed"
grep -q '"vms":3' "$out/lab.json" || fail "lab run: $(cat "$out/lab.json")"
"$out/bin/kvmsim" policy check policies/balanced.yaml | grep -q '^balancer: evenly-distributed' || fail "policy check"

# The AOT build has no cluster: asking for a replay through one is a usage error that says where to go instead.
"$out/bin/kvmsim" run --trace csv:samples/traces/sample.csv --datacenter samples/datacenters/lab.yaml \
  --policy policies/power-saving.yaml --through-cluster >"$out/tc.out" 2>&1
code=$?
[ "$code" -eq 2 ] && grep -q "NativeAOT build" "$out/tc.out" || fail "--through-cluster in the AOT build: exit $code, $(cat "$out/tc.out")"

rm -rf "$out"
echo PASS
