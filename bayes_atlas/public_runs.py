"""Public run tables, fetched from their pinned origin or read from a local mirror.

No copy of these files is committed. Each file is pinned by repository, commit and SHA-256
(:data:`ORIGINS`); :func:`fetch` reads it from the directory named by the environment
variable ``BAYES_ATLAS_DATA_MIRROR`` when that directory holds it (laid out like
``../shared/external``: one sub-directory per dataset), and otherwise downloads it with
:mod:`pooch`, which checks the hash, into the project cache. A mirror file whose hash does not
match is refused.

Every loader returns a :class:`~bayes_atlas.runs.RunTable` whose ``meta`` states the units
and the origin.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_atlas._paths import cache_dir
from bayes_atlas.errors import DatasetError
from bayes_atlas.runs import RunTable

__all__ = ["MIRROR_ENV", "ORIGINS", "Origin", "chinchilla_epoch", "datablations", "fetch", "goldfish", "regmix"]

#: Environment variable naming a local mirror directory (tests point it at ../shared/external).
MIRROR_ENV = "BAYES_ATLAS_DATA_MIRROR"


@dataclass(frozen=True)
class Origin:
    """Where a public file comes from: repository, commit, path and SHA-256 of its bytes."""

    repo: str | None
    commit: str | None
    path: str | None
    sha256: str
    note: str = ""

    @property
    def url(self) -> str | None:
        if self.repo is None:
            return None
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


_EPOCH = ("epoch-research/analyzing-chinchilla", "92258837425e1b5f2851d624287f0120583a3d0e")
_GOLDFISH = ("tylerachang/goldfish", "f0e932209dcf12c7defe4916523dc78c9e29bf28")
_REGMIX = ("sail-sg/regmix", "b004d3a3f39846dcec6b3740da22bcd1ba95a5d0")
_COLPRET = ("IBM/ColPret", "16f23bbe054277ddc4afd07a972dd7cfbe3f48c3")

#: Mirror-relative name -> pinned origin. Hashes are of the byte-for-byte files.
ORIGINS: dict[str, Origin] = {
    "epoch_chinchilla/svg_extracted_data.csv": Origin(
        *_EPOCH, "data/svg_extracted_data.csv", "193478df4e90f040016431996c45682659306840ecdadf83cfb9cd5ca0aa1b30"
    ),
    "goldfish/model_details.json": Origin(
        *_GOLDFISH, "model_details.json", "b4c3bdf09286158df5210a7a7bdecfac8986300d0a133a204b7c3d48ebc177d1"
    ),
    "goldfish/flores_logperplexities.tsv": Origin(
        *_GOLDFISH, "data/flores_logperplexities.tsv", "c34699593f7ace04f332082f3b1e0daa2ca40e42018a958931246f7d606b005c"
    ),
    "datablations/colpret_datablations_losses.csv": Origin(
        *_COLPRET, "aggregated_eval/datablations_losses.csv", "b3c448c2cd1a17128e06ee3120a9c377c4e2bf649e09b2446db59f98ef957b48"
    ),
    # An extraction (dict literals of huggingface/datablations@13701315 utils/parametric_fit.ipynb,
    # decoded as described in the mirror's SOURCE.md): no public file holds these bytes, so it
    # can only come from a mirror.
    "datablations/datablations_final_val_losses.csv": Origin(
        None,
        None,
        None,
        "fca71e2b2da4d943c416e2ea9a1aef65b15cb069a7a663462d7325bf63ced6dd",
        note="extracted from huggingface/datablations@13701315b163f1c54642b94ad237b2699187c3ee "
        "utils/parametric_fit.ipynb; mirror only",
    ),
}
_REGMIX_HASHES = {
    "test_mixture_1B.csv": "dd38052949c0a5f84165bdcb3ae3a331c7f07efd9bb83848bd579dfc4ce75a2c",
    "test_mixture_1m.csv": "197267b7d6f15367e2f46c881e564c35b0d34e51b1754bb09d07e650cf8e1ce8",
    "test_mixture_60m.csv": "197267b7d6f15367e2f46c881e564c35b0d34e51b1754bb09d07e650cf8e1ce8",
    "test_pile_loss_1B.csv": "b2451e2b7fa15400688edc39e4d32f21ccbe0fb356e07d62a0e9ccddf247114f",
    "test_pile_loss_1m.csv": "e027b1674f60140a65a87b5e4a59ab5f09dc33e8fd02c080682678074b160f53",
    "test_pile_loss_60m.csv": "8fe69d59ab7dd4fae4736459f4265ec93c7ed1ad1eca407346052560edc72b5b",
    "train_mixture_1m.csv": "04a32ef4ab594376bf90e11404c033668f887c351d6a03ad3744824c7296a2d8",
    "train_pile_loss_1m.csv": "49a959aa07ce5c20831d5abe3a7896ff0cd90a398bd407c8913fd5588be0465a",
}
for _name, _hash in _REGMIX_HASHES.items():
    ORIGINS[f"regmix/{_name}"] = Origin(*_REGMIX, f"data/{_name}", _hash)


def _sha256(path: Path) -> str:
    import pooch

    return pooch.file_hash(str(path), alg="sha256")


def fetch(name: str) -> Path:
    """Local path of a pinned public file (mirror first, else a verified download).

    Parameters
    ----------
    name
        Mirror-relative name, a key of :data:`ORIGINS` (e.g. ``"goldfish/model_details.json"``).

    Raises
    ------
    DatasetError
        Unknown name, hash mismatch in the mirror, or a failed download.
    """
    if name not in ORIGINS:
        raise DatasetError(f"unknown public file {name!r}; known: {sorted(ORIGINS)}")
    origin = ORIGINS[name]
    mirror = os.environ.get(MIRROR_ENV)
    # Said in every error below: a relative mirror path read from another working directory (a
    # notebook kernel's) silently points nowhere, and the download it falls back to then fails.
    mirror_note = ""
    if mirror:
        candidate = Path(mirror) / name
        mirror_note = (
            f" ({MIRROR_ENV}={mirror!r} resolves to {os.path.abspath(candidate)}, which is not a file"
            + ("; set it to an absolute path" if not Path(mirror).is_absolute() else "")
            + ")"
        )
        if candidate.is_file():
            digest = _sha256(candidate)
            if digest != origin.sha256:
                raise DatasetError(
                    f"{candidate} does not match its pinned SHA-256 ({digest} != {origin.sha256}); "
                    "the mirror copy differs from the public file. Replace it or unset "
                    f"{MIRROR_ENV} to download the pinned version."
                )
            return candidate
    if origin.url is None:
        raise DatasetError(
            f"{name} has no downloadable public origin ({origin.note}). Point {MIRROR_ENV} at a "
            f"directory that holds it (e.g. ../shared/external){mirror_note}."
        )
    import pooch

    target = cache_dir() / "datasets"
    try:
        path = pooch.retrieve(
            origin.url,
            known_hash=f"sha256:{origin.sha256}",
            fname=name.replace("/", "__"),
            path=target,
            progressbar=False,
        )
    except Exception as err:  # network errors come in many types (requests, OSError, ValueError)
        raise DatasetError(
            f"could not download {name} from {origin.url}: {err}. Without network access, set "
            f"{MIRROR_ENV} to a local mirror directory (e.g. ../shared/external){mirror_note}."
        ) from err
    return Path(path)


def chinchilla_epoch() -> RunTable:
    """The 245 Chinchilla runs digitised by Epoch AI (Besiroglu et al. 2024).

    Units: ``params`` = N parameters; ``tokens_en`` = D = C / (6 N) tokens (derived the same
    way as Epoch's notebook); ``loss`` = final loss in nats/token (MassiveText, decoded from the
    figure's colour scale, so quantised). ``training_flop`` = C as digitised. All runs see less
    than one epoch, so no unique-token column.

    Examples
    --------
    >>> runs = chinchilla_epoch()  # doctest: +SKIP
    >>> len(runs)  # doctest: +SKIP
    245
    """
    raw = pd.read_csv(fetch("epoch_chinchilla/svg_extracted_data.csv"))
    frame = pd.DataFrame(
        {
            "run_id": [f"chinchilla_{i:03d}" for i in range(len(raw))],
            "language": "en",
            "params": raw["Model Size"].astype(float),
            "loss": raw["loss"].astype(float),
            "tokens_en": raw["Training FLOP"] / (6.0 * raw["Model Size"]),
            "training_flop": raw["Training FLOP"].astype(float),
        }
    )
    return RunTable.from_frame(
        frame,
        loss_unit="nats/token",
        meta={
            "dataset": "Hoffmann et al. 2022 Fig. 4 runs, digitised by Epoch AI (Besiroglu et al. 2024)",
            "origin": ORIGINS["epoch_chinchilla/svg_extracted_data.csv"].url,
            "units": "params: parameters; tokens_en: D = C/(6N) tokens; loss: nats/token (MassiveText)",
        },
    )


def _flag_divergence(frame: pd.DataFrame, tolerance: float = 0.25) -> pd.Series:
    """True where a run's loss exceeds the best loss of the same model and unique data at fewer tokens."""
    flags = pd.Series(False, index=frame.index)
    group_keys = ["params", "unique_en", "variant"]
    for _, group in frame.fillna({"variant": ""}).groupby(group_keys, sort=False):
        ordered = group.sort_values("tokens_en")
        best_before = ordered["loss"].cummin().shift(1)
        flags.loc[ordered.index] = (ordered["loss"] > best_before + tolerance).to_numpy()
    return flags


def datablations(curves: bool = False) -> RunTable:
    """Data-constrained runs of Muennighoff et al. 2023 (repetition up to 9,000 epochs).

    Parameters
    ----------
    curves
        False (default): the 308 final validation losses the authors fitted their law to (an
        extraction, so it needs a mirror). True: the 48 IsoFLOP validation-loss curves
        republished by ColPret (downloadable), one row per checkpoint.

    Returns
    -------
    RunTable
        ``language`` = ``"en"``; ``tokens_en`` = D total tokens; ``unique_en`` = U unique
        tokens; ``loss`` = validation cross-entropy in nats/token (GPT-2 tokenizer, C4
        validation for the final table). Extra columns: ``epochs`` = D/U, ``seed``,
        ``variant``, ``dedup``, ``note`` and ``diverged``: True where the loss is more than
        0.25 nats above the best loss of the same model and unique data at fewer tokens
        (the tiny-data runs on big models that blow up; a saturating law cannot fit them).
    """
    if curves:
        raw = pd.read_csv(fetch("datablations/colpret_datablations_losses.csv"))
        params = raw["num_params"].str.rstrip("B").astype(float) * 1e9
        frame = pd.DataFrame(
            {
                "run_id": [
                    f"{d}_{n}_{e}ep_{int(t)}"
                    for d, n, e, t in zip(raw["data"], raw["num_params"], raw["epochs"], raw["token_num"], strict=True)
                ],
                "language": "en",
                "params": params,
                "loss": raw["loss"].astype(float),
                "tokens_en": raw["token_num"].astype(float),
                "unique_en": raw["tokens_per_epoch"].astype(float),
                "corpus": raw["data"],
                "epochs": raw["epochs"],
                "curve": [f"{d}_{n}_{e}ep" for d, n, e in zip(raw["data"], raw["num_params"], raw["epochs"], strict=True)],
            }
        )
        frame = frame[frame["tokens_en"] > 0].drop_duplicates(["run_id"]).reset_index(drop=True)
        return RunTable.from_frame(
            frame,
            meta={
                "dataset": "datablations IsoFLOP curves (Muennighoff et al. 2023) via ColPret",
                "origin": ORIGINS["datablations/colpret_datablations_losses.csv"].url,
                "units": "tokens_en: tokens seen so far; unique_en: unique tokens; loss: validation nats/token",
            },
        )
    raw = pd.read_csv(fetch("datablations/datablations_final_val_losses.csv"))
    frame = pd.DataFrame(
        {
            "run_id": raw["run_name"].astype(str),
            "language": "en",
            "params": raw["N_params"].astype(float),
            "loss": raw["val_loss"].astype(float),
            "tokens_en": raw["D_tokens"].astype(float),
            "unique_en": raw["U_unique_tokens"].astype(float),
            "epochs": raw["epochs"].astype(float),
            "seed": raw["seed"],
            "variant": raw["variant"],
            "dedup": raw["dedup"].astype(bool),
            "note": raw["note"],
        }
    )
    frame["diverged"] = _flag_divergence(frame)
    return RunTable.from_frame(
        frame,
        meta={
            "dataset": "datablations final validation losses (Muennighoff et al. 2023)",
            "origin": ORIGINS["datablations/datablations_final_val_losses.csv"].note,
            "units": "params: parameters; tokens_en: D tokens; unique_en: U unique tokens; loss: C4 validation nats/token",
        },
    )


_GOLDFISH_SIZES = ("5mb", "10mb", "100mb", "1000mb", "full")


def goldfish(include_mapped: bool = False) -> RunTable:
    """Goldfish monolingual models (Chang et al. 2024) scored on FLORES-200.

    Losses are **bits per FLORES sentence** (sum of token surprisals in bits over the second
    half of each sentence, aggregated over sentences): ``loss_unit="bits/sequence"``, not nats
    per token, so each language needs its own floor.

    Parameters
    ----------
    include_mapped
        Also return the FLORES varieties scored with a related language's model
        (``lang_mapped=True``); leave them out of monolingual fits.

    Returns
    -------
    RunTable
        One row per (Goldfish model, FLORES language). ``tokens_<lang>`` = tokens seen in
        training (one-epoch dataset tokens x 10 epochs); ``unique_<lang>`` = one-epoch dataset
        tokens; ``params`` = parameters including embeddings. Extra columns: ``size``
        (5mb ... full), ``flores_lang``, ``model``, ``lang_mapped``, ``vocab_size``,
        ``byte_premium``.
    """
    from bayes_atlas.languages import normalize_code

    with open(fetch("goldfish/model_details.json"), encoding="utf-8") as handle:
        models = json.load(handle)
    scores = pd.read_csv(fetch("goldfish/flores_logperplexities.tsv"), sep="\t")
    rows = []
    for record in scores.itertuples(index=False):
        flores = record.flores_lang
        used = record.goldfish_used
        if not isinstance(used, str):
            continue
        mapped = used != flores
        if mapped and not include_mapped:
            continue
        for size in _GOLDFISH_SIZES:
            value = getattr(record, f"goldfish_{size}")
            model_name = f"{used}_{size}"
            if pd.isna(value) or model_name not in models:
                continue
            details = models[model_name]
            rows.append(
                {
                    "run_id": f"{model_name}@{flores}",
                    "language": normalize_code(flores),
                    "source": normalize_code(used),
                    "params": float(details["model_parameters"]),
                    "loss": float(value),
                    "tokens": float(details["dataset_tokens"]) * float(details["train_epochs"]),
                    "unique_tokens": float(details["dataset_tokens"]),
                    "size": size,
                    "flores_lang": flores,
                    "model": model_name,
                    "lang_mapped": mapped,
                    "vocab_size": float(details["tokenizer_vocab_size"]),
                    "byte_premium": float(details["language_byte_premium"]),
                }
            )
    frame = pd.DataFrame(rows)
    return RunTable.from_frame(
        frame,
        loss_unit="bits/sequence",
        meta={
            "dataset": "Goldfish (Chang et al. 2024) FLORES-200 log-perplexities",
            "origin": ORIGINS["goldfish/flores_logperplexities.tsv"].url,
            "units": "loss: bits per FLORES sentence (second half); tokens: training tokens (10 epochs); "
            "unique: one-epoch dataset tokens; params: parameters incl. embeddings",
        },
    )


_REGMIX_BUDGETS = {"1m": 1e9, "1B": 25e9, "60m": None}


def regmix(size: str = "1m", split: str = "train", total_tokens: float | None = None) -> RunTable:
    """RegMix (Liu et al. 2024): Pile domain mixtures -> per-domain validation loss.

    Parameters
    ----------
    size
        ``"1m"`` (train 512 / test 256 mixtures, 1B tokens each), ``"60m"`` (test 256) or
        ``"1B"`` (test 64, 25B tokens each).
    split
        ``"train"`` (only for ``"1m"``) or ``"test"``.
    total_tokens
        Training tokens per run. Known for 1m (1e9) and 1B (25e9) from the repository's
        README; the 60M budget is not stated there, so it must be given.

    Returns
    -------
    RunTable
        ``kind="domain"``: ``language`` is the evaluated Pile domain (e.g. ``pile_cc``),
        ``tokens_<domain>`` = mixture weight x total tokens, ``loss`` in nats/token
        (GPT-NeoX tokenizer). ``params`` is the nominal size (1e6, 6e7, 1e9).
    """
    if size not in _REGMIX_BUDGETS:
        raise ValueError(f"size must be one of {list(_REGMIX_BUDGETS)}, got {size!r}")
    if split not in ("train", "test") or (split == "train" and size != "1m"):
        raise ValueError(f"split must be 'test' (or 'train' for size='1m'), got {split!r} for size {size!r}")
    budget = total_tokens if total_tokens is not None else _REGMIX_BUDGETS[size]
    if budget is None:
        raise ValueError("the 60M RegMix token budget is not stated in the repository; pass total_tokens=...")
    mixtures = pd.read_csv(fetch(f"regmix/{split}_mixture_{size}.csv"))
    losses = pd.read_csv(fetch(f"regmix/{split}_pile_loss_{size}.csv"))
    weight_columns = [c for c in mixtures.columns if c.startswith("train_the_pile_")]
    loss_columns = [c for c in losses.columns if c.startswith("metric/the_pile_")]
    joined = mixtures.merge(losses, on="index", how="inner")
    nominal = {"1m": 1e6, "60m": 6e7, "1B": 1e9}[size]
    rows = []
    for record in joined.to_dict("records"):
        weights = np.array([record[c] for c in weight_columns], dtype=float)
        weights = weights / weights.sum()
        for column in loss_columns:
            domain = column.removeprefix("metric/the_pile_").removesuffix("_val_loss")
            row = {
                "run_id": f"regmix_{size}_{split}_{int(record['index'])}",
                "language": domain,
                "params": nominal,
                "loss": float(record[column]),
                "mixture": f"{split}_{int(record['index'])}",
            }
            for weight_column, weight in zip(weight_columns, weights, strict=True):
                row[f"tokens_{weight_column.removeprefix('train_the_pile_')}"] = weight * budget
            rows.append(row)
    return RunTable.from_frame(
        pd.DataFrame(rows),
        kind="domain",
        meta={
            "dataset": f"RegMix (Liu et al. 2024) {size} {split}",
            "origin": ORIGINS[f"regmix/{split}_mixture_{size}.csv"].url,
            "units": "language: evaluated Pile domain; tokens_<domain>: weight x total tokens; loss: nats/token",
        },
    )
