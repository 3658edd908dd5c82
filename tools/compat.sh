#!/usr/bin/env bash
# Declared support is tested: run the controller-side suites (tests/unit and tests/playbooks) on the
# oldest ansible-core that meta/runtime.yml claims (requires_ansible) and on the newest that
# requirements.txt allows (pip's pick today), each in its own venv under .build/compat/.
# The venvs are created (from PyPI) when missing; the newest is upgraded at every run.
#   COMPAT_PYTHON   interpreter for the venvs (default python3; ansible-core 2.15 runs on 3.9-3.11,
#                   the collection's controller code needs >= 3.10)
#   COMPAT_SUITES   default "tests/unit tests/playbooks"
#   COMPAT_DIR      where the venvs live (default .build/compat)
#   COMPAT_ONLY     "oldest" or "newest" to run one of the two
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${COMPAT_PYTHON:-python3}
suites=${COMPAT_SUITES:-tests/unit tests/playbooks}
oldest=$(sed -n 's/^requires_ansible: *">=\([0-9][0-9.]*\)".*/\1/p' meta/runtime.yml)
newest=$(grep -E '^ansible-core([<>=!~ ]|$)' requirements.txt | head -n1)
[ -n "$oldest" ] || { echo "compat: no requires_ansible \">=X\" in meta/runtime.yml" >&2; exit 1; }
[ -n "$newest" ] || { echo "compat: no ansible-core line in requirements.txt" >&2; exit 1; }
# The test tools and the controller's own needs, at the versions requirements.txt asks for.
mapfile -t deps < <(grep -E '^(pytest|hypothesis|netaddr|pyyaml)([<>=!~ ]|$)' requirements.txt)

dir=${COMPAT_DIR:-.build/compat}
summary=$dir/summary.txt
mkdir -p "$dir"
: > "$summary"

# Create (or refresh) one venv: $1 name, $2 ansible-core requirement.
prepare() {
  local name=$1 spec=$2 venv=$dir/$1 want
  want="$("$python" -c 'import sys; print(sys.version)' | head -n1) $spec ${deps[*]}"
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.spec" 2>/dev/null)" != "$want" ]; then
    rm -rf "$venv"
    "$python" -m venv "$venv"
  fi
  # --upgrade keeps the newest the newest (the pinned oldest stays as it is)
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$spec" "${deps[@]}"
  echo "$want" > "$venv/.spec"
}

# Run the suites in one venv; the last line of its log is its summary line.
run_suites() {
  local name=$1 venv=$dir/$1 core pyver start rc=0 secs counts
  core=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
  pyver=$("$venv/bin/python" -c 'import platform; print(platform.python_version())')
  start=$(date +%s)
  # shellcheck disable=SC2086  # suites is a list of paths
  "$venv/bin/python" -m pytest -q -p no:cacheprovider $suites > "$venv/pytest.log" 2>&1 || rc=$?
  secs=$(( $(date +%s) - start ))
  counts=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$venv/pytest.log" | tail -n1 | sed 's/=//g; s/^ *//; s/ *$//')
  echo "$name: ansible-core $core, Python $pyver: ${counts:-no result} (${secs} s)" > "$venv/summary"
  return "$rc"
}

names=()
for spec in "ansible-core==$oldest" "$newest"; do
  case $spec in *==*) name=oldest ;; *) name=newest ;; esac
  [ -z "${COMPAT_ONLY:-}" ] || [ "$COMPAT_ONLY" = "$name" ] || continue
  echo "=== compat $name: $spec"
  prepare "$name" "$spec"
  names+=("$name")
done

# Both at once: two cores, and each suite spends most of its time in ansible-playbook processes.
start=$(date +%s)
declare -A pids
for name in "${names[@]}"; do
  run_suites "$name" & pids[$name]=$!
done
failed=""
for name in "${names[@]}"; do
  wait "${pids[$name]}" || failed="$failed $name"
  echo "=== compat $name: $suites"
  tail -n 25 "$dir/$name/pytest.log"
  cat "$dir/$name/summary" >> "$summary"
done
echo "--- compat summary (both suites at once: $(( $(date +%s) - start )) s)"
cat "$summary"
[ -z "$failed" ] || { echo "compat failed on:$failed" >&2; exit 1; }
