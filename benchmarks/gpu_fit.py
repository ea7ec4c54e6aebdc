"""One law fit timed on whatever JAX platform is set (``JAX_PLATFORMS``): the GPU benchmark's driver.

Run: JAX_PLATFORMS=cuda python benchmarks/gpu_fit.py --case emulated [--chains 16 --reference ref.json]
     python benchmarks/gpu_fit.py --list-wheels     # the distributions a bare GPU image lacks

Cases: ``emulated`` (the ATLAS law on the emulated study, 790 runs, 50 languages: the shipped
posterior's fit), ``table10k`` (the Chinchilla law on the cost curve's synthetic 10,000-run,
200-language table), ``tiny`` (the Chinchilla law on 100 runs over 10 languages, 100 + 100
iterations: a check of the script, not a benchmark). On an accelerator
:func:`bayes_atlas.inference.sample_nuts` runs the chains vectorised on the one device; on CPU
in parallel, one host device per chain. Prints one ``RESULT {json}`` line: platform, chain
method, wall time (compilation included), sampler time, min bulk ESS, ESS/s, r_hat,
divergences; with ``--reference`` (a JSON of such results keyed by case, e.g. measured on
CPU) also the ratios ``cpu_wall / wall`` and ``ess_per_s / cpu_ess_per_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Distributions the GPU image already has (../.library/device/KINDS.md, 2026-11-17); the
#: wheels to carry are the fit's import closure less these.
IMAGE = set(
    """absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
    charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
    cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
    flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
    huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
    jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
    llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict
    multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas
    nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile
    nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13
    nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax
    opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy
    portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing
    pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
    python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
    scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
    sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl
    tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision
    tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug
    wheel wrapt xarray xxhash yarl zipp""".split()
)
#: Imported when present (xarray probes for dask), not needed by a fit.
OPTIONAL = {"dask", "distributed", "tblib", "bayes-atlas"}

CASES = {
    "emulated": {"law": "atlas", "chains": 4},
    "table10k": {"law": "chinchilla", "chains": 4},
    "tiny": {"law": "chinchilla", "chains": 4, "tune": 100, "draws": 100},
}


def runs_for(case: str):  # noqa: ANN201 - a RunTable
    if case == "emulated":
        from bayes_atlas.scaling import emulated_study_runs

        return emulated_study_runs(0)
    sys.path.insert(0, str(HERE))
    from cost_curve import synthetic_table

    return synthetic_table(10_000, 200) if case == "table10k" else synthetic_table(100, 10)


def list_wheels() -> list[str]:
    """``name==version`` of every distribution the fit imports that the GPU image lacks."""
    from importlib.metadata import packages_distributions, version

    for case in ("emulated", "tiny"):
        runs_for(case)
    import arviz  # noqa: F401 - diagnostics
    import pymc  # noqa: F401
    import pymc.sampling.jax  # noqa: F401

    import bayes_atlas
    import bayes_atlas.scaling  # noqa: F401

    bayes_atlas.fit  # noqa: B018 - the lazy attribute loads the fit's modules
    owners = packages_distributions()
    names = set()
    for module in list(sys.modules):
        for dist in owners.get(module.split(".")[0], []):
            names.add(dist)

    def normal(name: str) -> str:
        return name.lower().replace("_", "-")

    wanted = sorted({f"{normal(n)}=={version(n)}" for n in names if normal(n) not in IMAGE | OPTIONAL})
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=tuple(CASES), default="tiny")
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", default=None, help="JSON {case: result} to compare with (e.g. CPU)")
    parser.add_argument("--list-wheels", action="store_true")
    args = parser.parse_args()
    if args.list_wheels:
        print("\n".join(list_wheels()))
        return
    settings = {**CASES[args.case]}
    for key in ("chains", "draws", "tune"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    from bayes_atlas import defaults
    from bayes_atlas.inference import configure_jax

    configure_jax(settings["chains"])
    import jax

    import bayes_atlas

    runs = runs_for(args.case)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    fit = bayes_atlas.fit(
        runs,
        law=settings["law"],
        chains=settings["chains"],
        draws=settings.get("draws", defaults.DRAWS),
        tune=settings.get("tune", defaults.TUNE),
        random_seed=args.seed,
        progressbar=False,
        warn=False,
        allow_failed=True,
    )
    wall = time.perf_counter() - start
    d = fit.diagnostics
    result = {
        "case": args.case,
        "platform": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "chain_method": fit.meta.get("sampler", {}).get("chain_method", ""),
        "runs": len(runs),
        "languages": len(runs.languages),
        "chains": settings["chains"],
        "tune": settings.get("tune", defaults.TUNE),
        "draws": settings.get("draws", defaults.DRAWS),
        "wall_s": wall,
        "sampler_s": d.wall_time_s,
        "min_ess_bulk": d.min_ess_bulk,
        "ess_per_s": d.min_ess_bulk / wall,
        "max_r_hat": d.max_r_hat,
        "divergences": d.divergences,
        "load_before": load,
    }
    if args.reference and Path(args.reference).is_file():
        reference = json.loads(Path(args.reference).read_text()).get(args.case)
        if reference:
            result["cpu_wall_s"] = reference["wall_s"]
            result["speedup_wall"] = reference["wall_s"] / wall
            result["ratio_ess_per_s"] = result["ess_per_s"] / reference["ess_per_s"]
            result["cpu_reference"] = reference.get("note", "")
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
