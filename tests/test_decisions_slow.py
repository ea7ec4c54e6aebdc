"""Slow tier of the curse and finetune laws: recovery on a second simulated study (seed 1).

The shipped emulations are fitted to seed 0; these refit the same designs on seed 1 with the
shipped ATLAS-law emulation as the per-language prior (as the shipped ones are) and check the
truth against the intervals.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayes_atlas
from bayes_atlas.decisions import crossover, expand_languages
from bayes_atlas.scaling import EMULATED_DESIGNS, Fit

pytestmark = pytest.mark.slow

PRIOR = "models/atlas-emulated.nc"


def _designs(runs, law):
    return runs.subset(runs.frame["design"].isin(EMULATED_DESIGNS[law]).to_numpy())


def test_finetune_law_recovers_the_true_crossovers(study, project_root):
    runs, truth = study
    result = bayes_atlas.fit(
        _designs(runs, "finetune"), law="finetune", theta_prior=project_root / PRIOR, random_seed=1, progressbar=False
    )
    assert result.diagnostics.converged, result.diagnostics
    inside = []
    for code in result.languages:
        row = crossover(code, 2e9, posterior=result).iloc[0]
        true = truth.crossover_tokens(code, 2e9)
        inside.append(row["tokens_lower"] <= true <= row["tokens_upper"] if np.isfinite(row["tokens_lower"]) else False)
        print(
            f"{code}: true {true:.3g}, posterior {row['tokens_median']:.3g} [{row['tokens_lower']:.3g}, {row['tokens_upper']:.3g}], p_never {row['p_never']:.2f}"
        )
    print(f"crossover coverage at 2B (90%): {np.mean(inside):.2f} of {len(inside)}")
    head = result.summary().loc[("all", "head_exponent")]
    print(f"head exponent {head['median']:.2f} [{head['lower']:.2f}, {head['upper']:.2f}] (truth {truth.ckpt_exponent})")
    assert np.mean(inside) >= 0.7


def test_curse_law_recovers_phi_psi_and_the_multipliers(study, project_root):
    # Was a strict xfail (2026-11-30: r_hat 1.53 at phi[it], bulk ESS 7, after the truth moved to
    # phi = 0.243 alpha, psi = -0.272 beta, issue 17). With the per-language prior refitted in
    # shares (5e11af9) it passes (2026-12-02, 257 s; r_hat 1.0045, bulk ESS 928, 0 divergences, 0 depth
    # hits): 90% coverage of the true phi 0.93 and psi
    # 0.72 of 57; multipliers at 2/4/8/16 languages cover every printed N and D_total
    # (16K: N x2.16 [1.89, 2.47] vs 1.96, D_total x7.33 [6.84, 7.90] vs 7.52).
    runs, truth = study
    result = bayes_atlas.fit(
        _designs(runs, "curse"), law="curse", theta_prior=project_root / PRIOR, random_seed=1, progressbar=False
    )
    print(f"\ncurse fit on the seed-1 study: {result.diagnostics}")
    assert result.diagnostics.converged, result.diagnostics
    summary = result.summary()
    rates = {}
    for name in ("phi", "psi"):
        rows = summary.xs(name, level="parameter")
        true = truth.languages.loc[rows.index, name]
        rates[name] = float(np.mean((rows["lower"] <= true) & (true <= rows["upper"])))
    print(f"90% coverage of per-language truth: {rates}")
    for r in (2, 4, 8, 16):
        table = expand_languages(r, posterior=result).summary()
        print(r, table.round(3).to_dict("index"))
        for name in ("N", "D_total"):
            assert table.loc[name, "lower"] <= table.loc[name, "printed"] <= table.loc[name, "upper"]
    assert rates["phi"] >= 0.8
    # psi is barely identified per language (K^psi shifts the data term like b does): the
    # pooled mean is recovered, per-language intervals under-cover (0.65 on seed 0).
    phi_mu = result.posterior["phi_mu"].values.ravel()
    psi_mu = result.posterior["psi_mu"].values.ravel()
    fitted = list(result.languages)
    assert np.quantile(phi_mu, 0.005) < truth.languages.loc[fitted, "phi"].mean() < np.quantile(phi_mu, 0.995)
    assert np.quantile(psi_mu, 0.005) < truth.languages.loc[fitted, "psi"].mean() < np.quantile(psi_mu, 0.995)


def test_shipped_decision_posteriors_meet_the_convergence_bar(project_root):
    for name in ("curse-emulated.nc", "finetune-emulated.nc"):
        fit = Fit.load(project_root / "models" / name)
        assert fit.diagnostics.converged, (name, fit.diagnostics)
        assert fit.meta["emulated"]
