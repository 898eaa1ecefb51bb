#!/usr/bin/env bash
# Runs every test of KvmCluster, as CI does. It installs the system packages the tests need (Debian, as root,
# only when missing), builds the solution, runs `dotnet test`, checks the formatting, then prints one line "N passed, N failed".
# Tests that need Redis or QEMU start what they need themselves, or fail loudly — they never skip silently.
set -uo pipefail
cd "$(dirname "$0")"

# System packages the tests use. Keep this list in step with the tests.
# gcc, libc6-dev, zlib1g-dev: linking the NativeAOT build of kvmsim (tests/aot-smoke.sh).
# redis-server: the cluster tests start their own servers on loopback ports (grain state, reminders, clustering).
# qemu-system-x86, qemu-utils: the QEMU driver's tests run real QEMU (TCG on this machine kind) and make qcow2 disks
# with qemu-img; gcc also builds their test guest.
# iproute2: the multi-host tests run each silo in its own network namespace (ip netns, veth pairs, a bridge).
# busybox-static, cpio, file: the Linux test guest's initramfs (tests/linux-guest/build.sh; its kernel is downloaded
# from the Debian archive at test time).
packages=(gcc libc6-dev zlib1g-dev redis-server qemu-system-x86 qemu-utils iproute2 busybox-static cpio file)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

results=$(mktemp -d /tmp/kvmcluster-tests.XXXXXX)
# -m:1: one test assembly at a time. The multi-host fault tests load both cores for minutes; beside them the
# simulator's through-the-cluster replays missed Orleans' 30 s response timeout.
dotnet test KvmCluster.sln -m:1 -c Release --logger "trx" --logger "console;verbosity=minimal" --results-directory "$results"
status=$?

passed=0
failed=0
skipped=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  e=$(sed -n 's/.* error="\([0-9]*\)".*/\1/p' <<<"$counters")
  # Skipped tests are not counted as notExecuted in xunit's TRX: they are the ones of the total not executed.
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$counters")
  x=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$counters")
  s=$(( ${t:-0} - ${x:-0} ))
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0}))
  skipped=$((skipped + ${s:-0}))
done
# Why tests were skipped (each says so in its message), once per distinct reason.
reasons=$(cat "$results"/*.trx 2>/dev/null | awk '/outcome="NotExecuted"/ {skip=1} skip && /<Message>/ {sub(/.*<Message>/, ""); sub(/<\/Message>.*/, ""); print; skip=0}' | sort -u | paste -sd ';' -)
# A build failure or a crashed test host produces no counts: report it as a failure, not as "0 failed".
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

# The NativeAOT build (the benchmark binary) gives the same figures as the JIT build: one more test.
if tests/aot-smoke.sh | tee "$results/aot-smoke.log" | tail -n 1 | grep -q '^PASS$'; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); status=1
fi
# Formatting as .editorconfig says (whitespace, import order): one more test. `dotnet format KvmCluster.sln` fixes it.
if dotnet format KvmCluster.sln --verify-no-changes --no-restore > "$results/format.log" 2>&1; then
  passed=$((passed + 1))
else
  echo "formatting differs from .editorconfig (run: dotnet format KvmCluster.sln):"; head -n 20 "$results/format.log"
  failed=$((failed + 1)); status=1
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed ($skipped skipped: $reasons)"
else
  echo "$passed passed, $failed failed"
fi
exit "$status"
