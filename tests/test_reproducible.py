"""The same seed gives the same posterior whether or not JAX was started before the fit."""

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
print(json.dumps({"alpha": fit.draws("alpha").tolist(), "method": fit.meta["sampler"]["chain_method"]}))
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
