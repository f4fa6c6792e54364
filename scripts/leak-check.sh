#!/usr/bin/env bash
# Leak check of the native tests (docs/reliability.md): builds vla_tests in build-asan/ with
# AddressSanitizer + LeakSanitizer (-DVLA_TTT_SANITIZE=address; g++ or clang), runs the whole
# suite (or the tests matching FILTER) with leak detection on, and writes
# bench/results/reliability/leaks.json. Exits non-zero on any leak, ASan report or test failure.
#
#   scripts/leak-check.sh [FILTER]        (JOBS=2 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-}
jobs=${JOBS:-2}
build=build-asan

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVLA_TTT_SANITIZE=address -DVLA_TTT_CUDA=OFF \
  >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target vla_tests
mkdir -p "$build/results"
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")

# Positive control: LeakSanitizer must work here (it needs ptrace, which some containers deny),
# or "0 leaks" would mean nothing. A program that leaks 64 bytes must be reported.
printf '#include <cstdlib>\nvoid* lost;\nint main() { lost = std::malloc(64); lost = nullptr; return 0; }\n' >"$build/results/control.cc"
"$cxx" -O0 -g -fsanitize=address "$build/results/control.cc" -o "$build/results/control"
set +e
ASAN_OPTIONS=detect_leaks=1:exitcode=23 "$build/results/control" >"$build/results/control.log" 2>&1
control_rc=$?
set -e
if [ $control_rc -ne 23 ] || ! grep -q "Direct leak of 64 byte" "$build/results/control.log"; then
  echo "leak-check: LeakSanitizer did not report the control leak (exit $control_rc); cannot check leaks here" >&2
  cat "$build/results/control.log" >&2
  exit 1
fi

log="$build/results/vla_tests.log"
start=$(date +%s.%N)
set +e
# detect_leaks: LeakSanitizer at exit; exitcode 23 tells a leak or ASan report from a test failure.
ASAN_OPTIONS=detect_leaks=1:exitcode=23:halt_on_error=1 LSAN_OPTIONS=report_objects=1 \
  "$build/vla_tests" ${filter:+"$filter"} >"$log" 2>&1
rc=$?
set -e
end=$(date +%s.%N)
python3 - "$log" "$rc" "$start" "$end" "$filter" "$("$cxx" --version | head -n 1)" <<'PY'
import datetime, json, re, sys
log, rc, start, end, filter_, compiler = sys.argv[1:]
text = open(log, errors="replace").read()
ok = re.findall(r"^\[  OK  \] (\S+)", text, re.M)
failed = re.findall(r"^\[ FAIL \] (\S+)", text, re.M)
skipped = re.findall(r"^\[ SKIP \] ([^:]+): (.*)$", text, re.M)
leaks = re.findall(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)", text, re.M)
reports = [l for l in text.splitlines() if l.startswith("SUMMARY: AddressSanitizer") or "ERROR: AddressSanitizer" in l]
json.dump({
    "generated_by": "scripts/leak-check.sh",
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "tool": "AddressSanitizer + LeakSanitizer (-fsanitize=address, ASAN_OPTIONS=detect_leaks=1)",
    "control": "a program leaking 64 bytes, built and run the same way, was reported (LeakSanitizer works here)",
    "compiler": compiler,
    "build": "build-asan, CMAKE_BUILD_TYPE=RelWithDebInfo, VLA_TTT_SANITIZE=address, VLA_TTT_CUDA=OFF",
    "filter": filter_ or None,
    "seconds": round(float(end) - float(start), 1),
    "exit_code": int(rc),
    "tests_passed": len(ok),
    "tests_failed": failed,
    "tests_skipped": [{"test": t, "reason": r} for t, r in skipped],
    "tests_run": ok + failed,
    "leaks_found": len(leaks),
    "leaks": [{"kind": k, "bytes": int(b), "objects": int(o)} for k, b, o in leaks],
    "asan_reports": reports,
}, open("bench/results/reliability/leaks.json", "w"), indent=2)
print(f"leak-check: {len(ok)} passed, {len(failed)} failed, {len(skipped)} skipped, {len(leaks)} leaks "
      f"({float(end) - float(start):.0f} s); wrote bench/results/reliability/leaks.json")
PY
exit $rc
