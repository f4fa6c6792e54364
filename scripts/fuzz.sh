#!/usr/bin/env bash
# Coverage-guided fuzzing of the native parsers (docs/reliability.md).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET=60] [TARGET...]     (npm run fuzz -- 300)
#
# Targets: safetensors, json, checkpoint (default: all, one after another, each nice'd). Builds
# build-fuzz/ with clang + libFuzzer + ASan + UBSan (-DVLA_TTT_FUZZ=ON), writes the seeds
# (vla_fuzz_seeds), fuzzes each target from the committed corpus plus the seeds, minimizes what
# it found with -merge=1 and writes the figures to bench/results/reliability/fuzz.json.
# Crashes, leaks, timeouts and OOMs land in build-fuzz/artifacts/<target>/ and fail the script.
#
# Environment: CLANG_DIR (default /usr/lib/llvm-14/bin), JOBS (build parallelism, default 2),
# FUZZ_UPDATE_CORPUS=1 to replace native/fuzz/corpus/<target>/ by the minimized corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors json checkpoint)
clang_dir=${CLANG_DIR:-/usr/lib/llvm-14/bin}
jobs=${JOBS:-2}
build=build-fuzz

if [ ! -x "$clang_dir/clang++" ]; then
  echo "fuzz: needs clang with libFuzzer ($clang_dir/clang++ not found; set CLANG_DIR)" >&2
  exit 1
fi

mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$clang_dir/clang" \
  -DCMAKE_CXX_COMPILER="$clang_dir/clang++" -DVLA_TTT_FUZZ=ON -DVLA_TTT_TESTS=OFF -DVLA_TTT_CUDA=OFF \
  -DVLA_TTT_BLAS=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
build_targets=(vla_fuzz_seeds)
for t in "${targets[@]}"; do build_targets+=("vla_fuzz_$t"); done
cmake --build "$build" -j "$jobs" --target "${build_targets[@]}"

rm -rf "$build/seeds" && "$build/vla_fuzz_seeds" "$build/seeds" >/dev/null
mkdir -p "$build/results"
failed=0
for t in "${targets[@]}"; do
  work="$build/work/$t" merged="$build/merged/$t" artifacts="$build/artifacts/$t"
  rm -rf "$work" "$merged" "$artifacts" && mkdir -p "$work" "$merged" "$artifacts"
  cp native/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  cp "$build/seeds/$t"/* "$work"/
  dict=native/fuzz/$t.dict
  [ "$t" = checkpoint ] && dict=native/fuzz/safetensors.dict
  echo "=== fuzz $t: $seconds s from $(ls "$work" | wc -l) inputs"
  start=$(date +%s.%N)
  set +e
  # -timeout: an input slower than 10 s is a finding (quadratic parsing, say); -rss_limit_mb: so is
  # an allocation the file size does not justify.
  nice -n 5 "$build/vla_fuzz_$t" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 >"$build/results/$t.log" 2>&1
  rc=$?
  set -e
  end=$(date +%s.%N)
  # Minimize: the smallest inputs that keep every feature the run reached.
  nice -n 5 "$build/vla_fuzz_$t" -merge=1 "$merged" "$work" >"$build/results/$t.merge.log" 2>&1
  if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ] && [ $rc -eq 0 ]; then
    # The committed corpus stays small: minimized again on edges alone (not hit counts), then the
    # seeds plus the smallest of those inputs up to FUZZ_CORPUS_BUDGET_KB per target. Named
    # regression inputs (regression-*, each with a test in native/tests/) always stay.
    edges="$build/edges/$t"
    rm -rf "$edges" && mkdir -p "$edges"
    nice -n 5 "$build/vla_fuzz_$t" -merge=1 -use_counters=0 "$edges" "$merged" >"$build/results/$t.edges.log" 2>&1
    python3 - "$build/seeds/$t" "$edges" native/fuzz/corpus/"$t" "${FUZZ_CORPUS_BUDGET_KB:-100}" <<'PY'
import hashlib, os, shutil, sys
seeds, edges, dest, budget_kb = sys.argv[1:]
os.makedirs(dest, exist_ok=True)
for f in os.listdir(dest):
    if not f.startswith("regression-"):
        os.remove(os.path.join(dest, f))
digest = lambda p: hashlib.sha1(open(p, "rb").read()).hexdigest()
kept = set()
for f in sorted(os.listdir(seeds)):
    shutil.copy(os.path.join(seeds, f), os.path.join(dest, "seed-" + f))
    kept.add(digest(os.path.join(seeds, f)))
total = 0
for f in sorted(os.listdir(edges), key=lambda f: (os.path.getsize(os.path.join(edges, f)), f)):
    path = os.path.join(edges, f)
    if digest(path) in kept:
        continue
    if total + os.path.getsize(path) > int(budget_kb) * 1024:
        break
    shutil.copy(path, os.path.join(dest, f))
    total += os.path.getsize(path)
PY
  fi
  python3 - "$t" "$build/results/$t.log" "$start" "$end" "$rc" "$merged" "$artifacts" "$build/results/$t.json" \
    native/fuzz/corpus/"$t" <<'PY'
import json, os, re, sys
name, log, start, end, rc, merged, artifacts, out, committed = sys.argv[1:]
text = open(log, errors="replace").read()
def stat(key):
    m = re.search(r"stat::%s:\s*(\d+)" % key, text)
    return int(m.group(1)) if m else None
cov = re.findall(r"cov: (\d+) ft: (\d+)", text)
files = sorted(os.listdir(merged))
found = sorted(os.listdir(artifacts))
summary = [l for l in text.splitlines() if l.startswith("SUMMARY:") or "ERROR: libFuzzer" in l]
json.dump({
    "seconds": round(float(end) - float(start), 1),
    "executions": stat("number_of_executed_units"),
    "exec_per_s": stat("average_exec_per_sec"),
    "coverage_edges": int(cov[-1][0]) if cov else None,
    "coverage_features": int(cov[-1][1]) if cov else None,
    "new_units_added": stat("new_units_added"),
    "peak_rss_mb": stat("peak_rss_mb"),
    "corpus_files": len(files),
    "corpus_bytes": sum(os.path.getsize(os.path.join(merged, f)) for f in files),
    "committed_corpus_files": len(os.listdir(committed)),
    "committed_corpus_bytes": sum(os.path.getsize(os.path.join(committed, f)) for f in os.listdir(committed)),
    "exit_code": int(rc),
    "findings": [{"artifact": f, "report": summary} for f in found],
}, open(out, "w"), indent=2)
PY
  if [ $rc -ne 0 ]; then
    echo "fuzz $t: FOUND A PROBLEM (exit $rc): $(ls "$artifacts")" >&2
    grep -E "^SUMMARY|ERROR: libFuzzer|==ERROR" "$build/results/$t.log" >&2 || true
    failed=1
  fi
  grep -E "^Done|DONE" "$build/results/$t.log" | tail -n 1 || true
done

# Every target's latest run, the build and the fixes found so far (native/fuzz/findings.json).
python3 - "$build/results" "$clang_dir" <<'PY'
import json, os, platform, subprocess, sys, datetime
results, clang_dir = sys.argv[1:]
targets = {}
for t in ("safetensors", "json", "checkpoint"):
    p = os.path.join(results, t + ".json")
    if os.path.exists(p):
        targets[t] = json.load(open(p))
version = subprocess.run([os.path.join(clang_dir, "clang++"), "--version"], capture_output=True, text=True).stdout.splitlines()[0]
out = {
    "generated_by": "scripts/fuzz.sh (npm run fuzz -- SECONDS)",
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "compiler": version,
    "flags": "-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all; -timeout=10 -rss_limit_mb=2048, nice -n 5",
    "machine": {"cpus": os.cpu_count(), "system": platform.platform()},
    "targets": targets,
    "fixed_findings": json.load(open("native/fuzz/findings.json")),
}
os.makedirs("bench/results/reliability", exist_ok=True)
json.dump(out, open("bench/results/reliability/fuzz.json", "w"), indent=2)
print("fuzz: wrote bench/results/reliability/fuzz.json")
PY
exit $failed
