#!/usr/bin/env bash
# The law fits on a GPU (issue 16): the emulated-study ATLAS fit with vectorised chains and the
# 10k-run synthetic table, printing wall time, ESS/s and the ratio to the same fit on CPU
# (benchmarks/gpu_reference.json: measured on the project's 2-core CPU machine).
#
# Not yet run on a GPU: no session so far was lent one (see benchmarks/README.md).
#
#   bash benchmarks/gpu.sh --download        # HERE (a registry): the wheels the GPU image lacks -> .whl/ (~24 MiB)
#   bash benchmarks/gpu.sh                   # ON THE GPU MACHINE: carry .whl; JAX_PLATFORMS=cuda (default)
#   JAX_PLATFORMS=cpu bash benchmarks/gpu.sh --tiny   # check the script on CPU (100 runs, 100 + 100 iterations)
#
# The device tool: run(command="bash benchmarks/gpu.sh", carry=[".whl"], timeout_s=600).
# Options: --tiny, --download, --chains N (extra emulated run with N vectorised chains; 0: skip),
# CASE_TIMEOUT (seconds per fit, default 200), PYTHON (default: .venv/bin/python on CPU if present, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
chains=16
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny) mode=tiny ;;
    --download) mode=download ;;
    --chains) chains="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ "$mode" = download ]; then
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  .venv/bin/python benchmarks/gpu_fit.py --list-wheels > .whl.txt
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl -r .whl.txt
  rm -f .whl.txt
  du -sh .whl
  exit 0
fi

export JAX_PLATFORMS="${JAX_PLATFORMS:-cuda}"
PY="${PYTHON:-python3}"
if [ -z "${PYTHON:-}" ] && [ "$JAX_PLATFORMS" = cpu ] && [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
if ! "$PY" -c "import pymc, arviz, pandera" 2>/dev/null; then
  [ -d .whl ] || { echo "pymc/arviz/pandera missing and no .whl/ carried: run 'bash benchmarks/gpu.sh --download' here first" >&2; exit 1; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$PWD/.cache/jax}"
export PYTHONUNBUFFERED=1
if [ "$JAX_PLATFORMS" = cuda ]; then nvidia-smi --query-gpu=name,memory.total --format=csv; fi
"$PY" -c "import jax, numpyro, pymc; print('jax', jax.__version__, jax.devices(), 'numpyro', numpyro.__version__, 'pymc', pymc.__version__)"

ref=benchmarks/gpu_reference.json
fit() { timeout "${CASE_TIMEOUT:-200}" "$PY" benchmarks/gpu_fit.py --reference "$ref" "$@" || echo "fit $* failed or timed out (rc $?)"; }

if [ "$mode" = tiny ]; then
  fit --case tiny
  exit 0
fi
# On an accelerator sample_nuts runs the chains vectorised on the one device.
fit --case emulated                      # defaults: 4 chains x (700 + 1300), the shipped posterior's fit
fit --case table10k --tune 150 --draws 150   # 10,000 runs, 200 languages: as measured on CPU (cost_curve.py)
if [ "$chains" -gt 0 ]; then
  fit --case emulated --chains "$chains" --draws $((1300 * 4 / chains + 1))  # the same kept draws over more chains
fi
