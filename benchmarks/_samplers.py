"""Shared by the sampler benchmarks: one row per sampler and the ratio columns."""

from __future__ import annotations

import pandas as pd

from bayes_atlas.inference import Diagnostics


def diagnostics_row(sampler: str, diagnostics: Diagnostics) -> dict[str, float | str]:
    """Wall time, divergences, worst r_hat, worst bulk ESS and ESS/s of one sampler's run (printed as it lands)."""
    row: dict[str, float | str] = {
        "sampler": sampler,
        "wall_s": diagnostics.wall_time_s,
        "divergences": diagnostics.divergences,
        "max_r_hat": diagnostics.max_r_hat,
        "min_ess_bulk": diagnostics.min_ess_bulk,
        "ess_per_s": diagnostics.min_ess_bulk / diagnostics.wall_time_s,
    }
    print(f"{sampler}: {row}", flush=True)
    return row


def ratio_table(rows: list[dict[str, float | str]], reference: str | None = None) -> pd.DataFrame:
    """The rows indexed by sampler, with wall time and ESS/s relative to ``reference`` (default: the first)."""
    table = pd.DataFrame(rows).set_index("sampler")
    reference = table.index[0] if reference is None else reference
    if reference in table.index:
        table[f"wall_vs_{reference}"] = table["wall_s"] / table.loc[reference, "wall_s"]
        table[f"ess_per_s_vs_{reference}"] = table["ess_per_s"] / table.loc[reference, "ess_per_s"]
    return table
