#!/usr/bin/env bash
# Create (or reuse) a Python virtual environment and install a requirements file into it
# with pip as this machine configures it (its wheel mirror). Used by the Make targets that
# run real Python engines (the trainer check, the Hugging Face cache check).
#
#   test/python/make-venv.sh VENV_DIR REQUIREMENTS_FILE
#
# It fails, never skips: a missing python3 or an unavailable wheel is an error that says so.
# The install is skipped when the venv already holds exactly this requirements file.
set -euo pipefail
venv="${1:?usage: make-venv.sh VENV_DIR REQUIREMENTS_FILE}"
req="${2:?usage: make-venv.sh VENV_DIR REQUIREMENTS_FILE}"
[ -f "$req" ] || { echo "make-venv: no requirements file $req" >&2; exit 1; }
py="${PYTHON:-python3}"
# The wheel mirror is an extra index beside an unreachable default one: fail over at once
# instead of retrying the default index five times per package.
export PIP_RETRIES="${PIP_RETRIES:-0}"
command -v "$py" >/dev/null || { echo "make-venv: $py not found; install Python 3.10+ (apt-get install python3 python3-venv)" >&2; exit 1; }
stamp="$venv/.requirements-$(basename "$req")"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then exit 0; fi
"$py" -m venv "$venv" || { echo "make-venv: '$py -m venv' failed; install python3-venv" >&2; exit 1; }
"$venv/bin/python" -m pip install --quiet -r "$req" || {
  echo "make-venv: pip could not install $req into $venv (is the wheel mirror configured? pip config list)" >&2; exit 1; }
cp "$req" "$stamp"
