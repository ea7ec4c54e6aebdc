"""The same seed gives the same posterior, of a law fit and of the transfer model, whether or not JAX was started first."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
if sys.argv[1] == "jax-first":
    import jax
    jax.numpy.zeros(1).block_until_ready()  # JAX starts with one host device
import bayes_atlas
from bayes_atlas.simulate import atlas_study
runs, _ = atlas_study(seed=0)
keep = (runs.frame["design"] == "monolingual") & runs.frame["language"].isin(["en", "fr"])
fit = bayes_atlas.fit(runs.subset(keep.to_numpy()), law="chinchilla", draws=60, tune=60, random_seed=5, progressbar=False, warn=False)
from bayes_atlas.datasets import transfer_matrix
from bayes_atlas.transfer import TransferModel
codes = ["en", "es", "ca", "zh"]
transfer = TransferModel().fit(transfer_matrix().sel(target=codes, source=codes), draws=40, tune=40, chains=2,
                               random_seed=5, progressbar=False, warn=False)
print(json.dumps({"alpha": fit.draws("alpha").tolist(), "method": fit.meta["sampler"]["chain_method"],
                  "intercept": transfer.draws("intercept").tolist()}))
"""


def _run(script, mode: str) -> dict:
    out = subprocess.run([sys.executable, str(script), mode], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_same_seed_same_posterior_whether_or_not_jax_started_first(tmp_path):
    # A plain script file with no `if __name__ == "__main__":` guard, as users write them.
    script = tmp_path / "my_fit.py"
    script.write_text(SCRIPT)
    fresh, jax_first = _run(script, "fresh"), _run(script, "jax-first")
    assert fresh["method"] == jax_first["method"] == "parallel"
    assert fresh["alpha"] == jax_first["alpha"]
    # The transfer model as well: with JAX already running on one host device its chains would
    # run in turn (another posterior for the seed); it samples in a fresh process instead. (One
    # script for both: each Python process here costs 10-15 s of imports and compiles.)
    assert fresh["intercept"] == jax_first["intercept"]
