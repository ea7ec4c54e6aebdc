#!/usr/bin/env bash
# The emulated-study law fit on a GPU with many chains (issue 4). Not run yet: no task so far
# was lent a device. Needs a CUDA build of jaxlib in the environment (jax[cuda12]==0.12.0.1);
# the device machine cannot reach package registries, so that wheel must be carried in.
# Usage: bash benchmarks/gpu.sh [chains]
set -euo pipefail
chains="${1:-32}"
export JAX_PLATFORMS=cuda
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$PWD/.cache/jax}"
nvidia-smi --query-gpu=name,memory.total --format=csv
.venv/bin/python -c "import jax; print(jax.devices())"
# sample_nuts runs the chains vectorised when JAX is on an accelerator.
.venv/bin/python benchmarks/law_fit.py --chains "$chains"
