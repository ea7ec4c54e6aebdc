"""Answers read straight off the published transfer matrix (no model, no intervals).

These are the point answers of the paper. The Bayesian transfer model supersedes them with
posterior intervals; until then they are what ``bayes-atlas helpers`` prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayes_atlas.datasets import transfer_matrix
from bayes_atlas.languages import languages, normalize_code
from bayes_atlas.laws import tau_from_bts

__all__ = ["published_helpers"]


def published_helpers(target: str, k: int = 5) -> pd.DataFrame:
    """Source languages ranked by published BTS(source -> target).

    Parameters
    ----------
    target
        ISO 639 code of the target language; must be one of the 38 of the matrix.
    k
        Number of sources to return (1-37).

    Returns
    -------
    pandas.DataFrame
        Index ``source`` (best first); columns ``name``, ``bts`` (rounded to 0.1 as printed),
        ``tau`` (= BTS / (2 - BTS)), ``measured`` (True for the directly measured 9 x 9
        block, else predicted by the paper's random forest), ``same_script``, ``same_family``.
        Ties keep the matrix order.

    Raises
    ------
    ValueError
        If ``target`` is not among the 38 languages or ``k`` is out of range.

    Examples
    --------
    >>> published_helpers("ms", k=1).index[0]
    'id'
    """
    matrix = transfer_matrix()
    code = normalize_code(target)
    if code not in matrix.target.values:
        raise ValueError(
            f"{target!r} is not one of the 38 languages of the published transfer matrix "
            f"({', '.join(matrix.target.values)}); the Bayesian transfer model answers other languages "
            "from their script and family"
        )
    if not 1 <= k <= len(matrix.source) - 1:
        raise ValueError(f"k must be between 1 and {len(matrix.source) - 1}, got {k}")
    row = matrix.sel(target=code).drop_sel(source=code)
    meta = languages(list(row.source.values))
    # Printed to 0.1; +0.0 turns the paper's "-0.0" cells into 0.0 for display.
    bts = np.round(row.to_numpy(), 1) + 0.0
    table = pd.DataFrame(
        {
            "name": meta["name"].to_numpy(),
            "bts": bts,
            "tau": tau_from_bts(bts) + 0.0,
            "measured": row.measured.to_numpy(),
            "same_script": (row.source_script == row.target_script).to_numpy(),
            "same_family": (row.source_family == row.target_family).to_numpy(),
        },
        index=pd.Index(row.source.values, name="source"),
    )
    table = table.sort_values("bts", ascending=False, kind="stable").head(k)
    table.attrs["target"] = code
    table.attrs["provenance"] = matrix.attrs["provenance"]
    return table
