#!/usr/bin/env bash
# Mutation score of the code that decides results: the scalar mix, the placements, the metrics and the report's
# statistics ([tool.mutmut] in pyproject.toml names the modules and their unit tests). Slow (tens of minutes on one
# core) and not in CI. Usage, from the repository root:  bash benchmarks/mutation_score.sh
# Prints mutmut's summary; `mutmut results` lists the survivors and `mutmut show NAME` shows one.
# With mutant names as arguments (e.g. the survivors of the last run, after adding tests) only those run again and
# the rest of mutants/ is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE MKL_NUM_THREADS=1
export ELMO_LAB_SHARED="${ELMO_LAB_SHARED:-$PWD/../shared}"  # tests/ is copied into mutants/, one folder deeper
export ELMO_LAB_SHARED="$(cd "$ELMO_LAB_SHARED" && pwd)"
unset PYTHONPATH  # mutmut puts its mutated copy (mutants/) first; the project's own path would shadow it
if [ $# -eq 0 ]; then rm -rf mutants; fi
nice -n 10 mutmut run --max-children 1 "$@"
mutmut results > mutants/survivors.txt || true
python - <<'PY'
import collections, json, pathlib
counts = collections.Counter()
names = {0: "survived", 1: "killed", 33: "no test covers it", -24: "timeout (killed)", None: "not run"}
for meta in pathlib.Path("mutants").rglob("*.meta"):
    for code in json.loads(meta.read_text())["exit_code_by_key"].values():
        counts[names.get(code, f"exit {code}")] += 1
total = sum(counts.values())
killed = counts["killed"] + counts["timeout (killed)"]
print(dict(counts), f"killed {killed} of {total} = {killed / total:.1%}" if total else "no mutants")
PY
