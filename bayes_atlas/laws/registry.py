"""The registry of laws: name -> :class:`bayes_atlas.laws.spec.LawSpec`.

Adding a law = one new module in ``bayes_atlas/laws/`` defining ``SPEC`` and one line in
:data:`REGISTRY`; the PyMC builder, ``Fit.predict``, decisions, point fits and the contract
tests pick it up from here (new prior fields go in ``LawConfig``, and the name in
``cli.LAW_CHOICES``, which a test keeps equal to :data:`LAWS`).
"""

from __future__ import annotations

from bayes_atlas.laws import atlas, chinchilla, curse, dcsl, finetune, msl
from bayes_atlas.laws.spec import LawSpec

__all__ = ["LAWS", "REGISTRY", "get_law"]

REGISTRY: dict[str, LawSpec] = {
    spec.name: spec for spec in (atlas.SPEC, chinchilla.SPEC, dcsl.SPEC, msl.SPEC, curse.SPEC, finetune.SPEC)
}
#: Registered law names.
LAWS = tuple(REGISTRY)


def get_law(name: str) -> LawSpec:
    """The spec of law ``name``; ``ValueError`` naming the registered laws otherwise.

    Examples
    --------
    >>> get_law("atlas").parameter_names
    ('log_E', 'a', 'alpha', 'b', 'beta', 'lam', 'tau_other', 'tau')
    """
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"law must be one of {LAWS}, got {name!r}") from None
