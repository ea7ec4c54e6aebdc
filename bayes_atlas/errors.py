"""Every exception and warning class of bayes_atlas, and the table of warning codes.

All are exported from ``bayes_atlas``. Errors say what to change; warnings carry a ``code``
(``BAxyz``) and the text separately, so the CLI and JSON output can show both.

Warning codes
-------------
============  ===========================  ===============================================
code          class                        meaning
============  ===========================  ===============================================
``BA101``     :class:`ConvergenceWarning`  divergent transitions after tuning
``BA102``     :class:`ConvergenceWarning`  r_hat above 1.01 (or not finite)
``BA103``     :class:`ConvergenceWarning`  bulk or tail ESS below 400 (or not finite)
``BA104``     :class:`ConvergenceWarning`  draws at the maximum tree depth (time, not validity)
``BA105``     :class:`IdentifiabilityWarning` the design cannot identify a parameter, or its posterior is its prior
``BA201``     :class:`DecisionWarning`     the answer extrapolates beyond the fitted runs (model size, tokens or compute)
``BA202``     :class:`DecisionWarning`     an emulated posterior (fitted to simulated runs)
``BA203``     :class:`DecisionWarning`     the posterior failed its convergence checks
``BA204``     :class:`DecisionWarning`     a language the posterior never saw (population draw)
``BA205``     :class:`DecisionWarning`     part of the answer is missing (its posterior is)
``BA206``     :class:`DecisionWarning`     the answer rests on parameters the data did not identify
``BA207``     :class:`DecisionWarning`     the answer lies outside what the pooled public runs allow
``BA301``     :class:`RunTableWarning`     every ``params`` below 1e4 (model sizes in millions?)
``BA302``     :class:`RunTableWarning`     every run's total tokens below 1e5 (tokens in billions?)
============  ===========================  ===============================================
"""

from __future__ import annotations

__all__ = [
    "WARNING_CODES",
    "BayesAtlasWarning",
    "ConvergenceWarning",
    "DatasetError",
    "DecisionWarning",
    "FitFailedError",
    "FitInputError",
    "IdentifiabilityWarning",
    "OutputPathError",
    "PosteriorFileError",
    "PosteriorKindError",
    "RunTableError",
    "RunTableWarning",
    "TransferInputError",
    "UnknownLanguageError",
]

#: Code -> one-line meaning (the table above).
WARNING_CODES = {
    "BA101": "divergent transitions after tuning",
    "BA102": "r_hat above 1.01 (or not finite)",
    "BA103": "bulk or tail ESS below 400 (or not finite)",
    "BA104": "draws at the maximum tree depth",
    "BA105": "a parameter the design cannot identify (its posterior is its prior)",
    "BA201": "the answer extrapolates beyond the fitted range",
    "BA202": "an emulated posterior is in use",
    "BA203": "the posterior failed its convergence checks",
    "BA204": "a language the posterior never saw",
    "BA205": "part of the answer is missing",
    "BA206": "the answer rests on parameters the data did not identify",
    "BA207": "the answer lies outside what the pooled public runs allow",
    "BA301": "every params value below 1e4: model sizes in millions?",
    "BA302": "every run's total tokens below 1e5: tokens in billions?",
}


class UnknownLanguageError(ValueError):
    """A language code that is malformed or names no language."""


class DatasetError(RuntimeError):
    """A public dataset could not be found, downloaded or verified."""


class RunTableError(ValueError):
    """A run table that breaks the schema. The message names row(s), column, rule and fix."""


class FitInputError(ValueError):
    """A run table or argument the law fit cannot use; the message says what to change."""


class FitFailedError(RuntimeError):
    """The chains did not mix (r_hat far above the bar, stuck chains, most draws divergent).

    ``fit`` holds the failed :class:`bayes_atlas.Fit` for inspection (``fit.diagnostics``,
    ``az.plot_trace(fit.datatree)``); it is not a result to decide from.
    """

    def __init__(self, message: str, fit: object = None) -> None:
        super().__init__(message)
        self.fit = fit

    def __reduce__(self) -> tuple[type, tuple[str, None]]:
        return (type(self), (str(self), None))


class OutputPathError(ValueError):
    """An output path that would destroy an input or a foreign file, or that cannot be written."""


class TransferInputError(ValueError):
    """A transfer matrix or argument the transfer model cannot use."""


class PosteriorFileError(ValueError):
    """A saved posterior that is missing, unreadable or from an incompatible model."""


class PosteriorKindError(PosteriorFileError):
    """A posterior of the wrong kind for the question (e.g. a curse-law fit where an ATLAS-law fit is needed)."""


class BayesAtlasWarning(UserWarning):
    """A caveat with a code: ``code`` (``BAxyz``) and ``text`` (what it means, what to do)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.text = message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # copy / pickle with both arguments
        return (type(self), (self.code, self.text))


class ConvergenceWarning(BayesAtlasWarning):
    """A sampler diagnostic failed its threshold (codes ``BA101``-``BA104``)."""


class IdentifiabilityWarning(BayesAtlasWarning):
    """The run table cannot identify a parameter (code ``BA105``): its posterior is its prior."""


class DecisionWarning(BayesAtlasWarning):
    """A caveat attached to a decision (codes ``BA201``-``BA207``)."""


class RunTableWarning(BayesAtlasWarning):
    """A run table that passes the schema but looks like a units slip (codes ``BA301``, ``BA302``).

    The table is still built; multiply the column to raw counts if the hint fits.
    """
