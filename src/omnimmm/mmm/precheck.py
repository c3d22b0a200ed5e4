"""Pre-fit checks on the media panel: collinear channels and channels that rarely spend.

An MMM cannot separate two channels whose spends move together: the posterior trades one
effect against the other and the ROIs come out wide or arbitrary. These checks run in
well under a second before any sampling and say which channels are at risk and what to do.

Checks
------
variance inflation factor (VIF)
    For each channel, ``1 / (1 - R^2)`` of regressing its spend on all other channels'
    spends plus a constant (statsmodels' ``variance_inflation_factor``, in numpy). A VIF above
    ``vif_threshold`` (default 10) means the channel is close to a linear combination of
    the others, even when no single pair is strongly correlated.
pairwise correlation
    Pearson correlation of weekly spends; pairs with ``|r| > corr_threshold`` (default
    0.8) are flagged.
zero-spend weeks
    Share of weeks with no spend per channel; a channel dark in more than
    ``max_zero_share`` of weeks (default 0.8) has little variation to learn from.
constant channels
    A channel whose spend never changes cannot be told apart from the intercept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnimmm.errors import DataError, numbered

__all__ = ["PrecheckResult", "precheck_spend"]

_COLLINEAR_REMEDIES = [
    "merge the channels into one (their summed spend gets one ROI)",
    "add a lift test or geo experiment for one of them, or an ROI prior from one "
    "(plan keys [[calibration]] / roi_prior), so the data only has to split the rest",
    "use longer data, or data from periods or markets where they were flighted separately",
]


@dataclass(frozen=True)
class PrecheckResult:
    """Outcome of :func:`precheck_spend`.

    Attributes
    ----------
    vif : pandas.Series
        Variance inflation factor per channel (``inf`` for an exact linear combination,
        NaN for a constant channel).
    correlation : pandas.DataFrame
        Pearson correlation matrix of the channels' weekly spend.
    zero_share : pandas.Series
        Share of weeks with zero spend, per channel.
    collinear_pairs : tuple of (str, str, float)
        Channel pairs with ``|r| > corr_threshold`` and their correlation, strongest first.
    high_vif : tuple of str
        Channels with VIF above ``vif_threshold``, highest first.
    vif_partners : dict
        For each high-VIF channel, the other channels that explain it most (largest
        standardized coefficients in its auxiliary regression).
    sparse_channels : tuple of str
        Channels with zero spend in more than ``max_zero_share`` of weeks.
    constant_channels : tuple of str
        Channels whose spend never changes.
    vif_threshold, corr_threshold, max_zero_share : float
        The thresholds used.
    """

    vif: pd.Series
    correlation: pd.DataFrame
    zero_share: pd.Series
    collinear_pairs: tuple[tuple[str, str, float], ...]
    high_vif: tuple[str, ...]
    vif_partners: dict[str, tuple[str, ...]]
    sparse_channels: tuple[str, ...]
    constant_channels: tuple[str, ...]
    vif_threshold: float
    corr_threshold: float
    max_zero_share: float

    @property
    def collinear_channels(self) -> tuple[str, ...]:
        """Every channel flagged by VIF or by a correlated pair, in column order."""
        flagged = set(self.high_vif)
        for a, b, _ in self.collinear_pairs:
            flagged.update((a, b))
        return tuple(c for c in self.vif.index if c in flagged)

    @property
    def ok(self) -> bool:
        """True when no channel is collinear, constant or mostly dark."""
        return not (self.collinear_channels or self.sparse_channels or self.constant_channels)

    @property
    def warnings(self) -> tuple[str, ...]:
        """One readable paragraph per problem found (empty when :attr:`ok`)."""
        out = []
        for c in self.constant_channels:
            out.append(
                f"Channel {c!r} spends the same amount every week, so its effect cannot be "
                "separated from the baseline. Drop it from the plan, or give it an ROI prior."
            )
        for a, b, r in self.collinear_pairs:
            out.append(
                f"Channels {a!r} and {b!r} move together (correlation {r:+.2f} > "
                f"{self.corr_threshold:g} in absolute value; VIF {self._fmt_vif(a)} and "
                f"{self._fmt_vif(b)}): the model cannot reliably split credit between them."
            )
        paired = {c for a, b, _ in self.collinear_pairs for c in (a, b)}
        for c in self.high_vif:
            if c in paired:
                continue
            partners = ", ".join(repr(p) for p in self.vif_partners.get(c, ()))
            out.append(
                f"Channel {c!r} is nearly a linear combination of {partners} "
                f"(VIF {self._fmt_vif(c)} > {self.vif_threshold:g}): its ROI will be poorly "
                "identified."
            )
        for c in self.sparse_channels:
            out.append(
                f"Channel {c!r} has no spend in {self.zero_share[c]:.0%} of weeks (more than "
                f"{self.max_zero_share:.0%}): its ROI rests on a few flights and will be "
                "uncertain. Consider an ROI prior or a lift test for it, or merging it with a "
                "similar channel."
            )
        return tuple(out)

    def message(self) -> str:
        """All warnings as one text block with numbered remedies, or a one-line all-clear."""
        if self.ok:
            return "media pre-check: no collinear, constant or mostly-dark channels"
        text = "media pre-check found problems:\n" + "\n".join(f"- {w}" for w in self.warnings)
        if self.collinear_channels:
            text += f"\nFor the collinear channels, try:\n{numbered(_COLLINEAR_REMEDIES)}"
        return text

    def table(self) -> pd.DataFrame:
        """Per-channel summary: VIF, zero-spend share, strongest correlation, flags."""
        values = self.correlation.to_numpy(dtype=float, copy=True)
        np.fill_diagonal(values, np.nan)
        abs_corr = pd.DataFrame(
            np.abs(values), index=self.correlation.index, columns=self.correlation.columns
        )
        return pd.DataFrame(
            {
                "vif": self.vif,
                "zero_share": self.zero_share,
                "max_abs_corr": abs_corr.max(axis=1),
                "most_correlated_with": [
                    row.idxmax() if row.notna().any() else None for _, row in abs_corr.iterrows()
                ],
                "collinear": [c in self.collinear_channels for c in self.vif.index],
                "sparse": [c in self.sparse_channels for c in self.vif.index],
            }
        )

    def _fmt_vif(self, channel: str) -> str:
        v = float(self.vif[channel])
        return "inf" if np.isinf(v) else f"{v:.1f}"


def _vif(x: pd.DataFrame) -> pd.Series:
    """VIF per column: ``1 / (1 - R^2)`` of each column on the others and a constant.

    The same numbers as statsmodels' ``variance_inflation_factor`` (standardized columns,
    centred R^2 clipped to ``[0, 1 - 1e-15]``) without importing statsmodels, whose import
    alone took longer than every other check of ``omnimmm validate``.
    """
    values = x.to_numpy(dtype=float)
    std = values.std(axis=0)
    safe = std > 1e-10
    z = values.copy()
    z[:, safe] = (values[:, safe] - values[:, safe].mean(axis=0)) / std[safe]
    design = np.column_stack([np.ones(len(x)), z])
    out = np.empty(x.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        for j in range(x.shape[1]):
            target = design[:, j + 1]
            others = np.delete(design, j + 1, axis=1)
            coef = np.linalg.pinv(others, rcond=1e-15) @ target
            resid = target - others @ coef
            centred = target - target.mean()
            r_sq = 1.0 - float(resid @ resid) / float(centred @ centred)
            out[j] = 1.0 / (1.0 - np.clip(r_sq, 0.0, 1.0 - 1e-15))
    vif = pd.Series(out, index=x.columns, dtype=float, name="vif")
    # An exact linear combination gives R^2 = 1 up to rounding: report it as infinite.
    return vif.where(~(vif > 1e12), np.inf)


def _partners(x: pd.DataFrame, channel: str, top: int = 3) -> tuple[str, ...]:
    """Channels with the largest standardized coefficients when regressing ``channel``."""
    z = (x - x.mean()) / x.std(ddof=0)
    others = [c for c in x.columns if c != channel]
    coef, *_ = np.linalg.lstsq(z[others].to_numpy(), z[channel].to_numpy(), rcond=None)
    weight = pd.Series(np.abs(coef), index=others, dtype=float).sort_values(ascending=False)
    largest = float(weight.to_numpy()[0])
    keep = weight.index[weight.to_numpy() >= 0.25 * largest][:top]
    return tuple(str(c) for c in keep)


def precheck_spend(
    spend: pd.DataFrame,
    *,
    vif_threshold: float = 10.0,
    corr_threshold: float = 0.8,
    max_zero_share: float = 0.8,
) -> PrecheckResult:
    """Check weekly channel spends for collinearity, constant and mostly-dark channels.

    Parameters
    ----------
    spend : pandas.DataFrame
        One column per channel (named as the channel), one row per week.
    vif_threshold : float, default 10
        Channels with a VIF above this are flagged.
    corr_threshold : float, default 0.8
        Pairs with absolute Pearson correlation above this are flagged.
    max_zero_share : float, default 0.8
        Channels with zero spend in a larger share of weeks are flagged as sparse.

    Returns
    -------
    PrecheckResult
        Frozen result; ``result.ok`` is False when anything was flagged and
        ``result.message()`` explains what and what to do.

    Raises
    ------
    omnimmm.errors.DataError
        If a spend column is missing values or not numeric, or there are fewer weeks than
        channels + 2 (VIF needs more observations than regressors).
    """
    if spend.shape[1] == 0:
        raise DataError("no spend columns to check")
    x = spend.apply(pd.to_numeric, errors="coerce").astype(float)
    for c in x.columns:
        bad = ~np.isfinite(x[c].to_numpy())
        if bad.any():
            raise DataError(
                f"spend column {c!r} has {int(bad.sum())} missing or non-numeric values "
                f"(first at row {spend.index[int(np.argmax(bad))]}); fill them with 0 for weeks "
                "without spend"
            )
    if len(x) < x.shape[1] + 2:
        raise DataError(
            f"{len(x)} weeks are too few to check {x.shape[1]} channels for collinearity "
            f"(need at least {x.shape[1] + 2})"
        )

    zero_share = (x == 0).mean().rename("zero_share")
    constant = tuple(c for c in x.columns if x[c].std(ddof=0) == 0)
    varying = x.drop(columns=list(constant))

    corr = x.corr()
    pairs = []
    cols = list(varying.columns)
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            r = float(corr.loc[a, b])
            if abs(r) > corr_threshold:
                pairs.append((a, b, r))
    pairs.sort(key=lambda p: -abs(p[2]))

    vif = pd.Series(np.nan, index=x.columns, dtype=float, name="vif")
    if varying.shape[1] == 1:
        vif[varying.columns[0]] = 1.0
    elif varying.shape[1] > 1:
        vif.update(_vif(varying))
    high = vif[vif > vif_threshold].sort_values(ascending=False)
    partners = {c: _partners(varying, c) for c in high.index}

    sparse = tuple(c for c in x.columns if c not in constant and zero_share[c] > max_zero_share)
    return PrecheckResult(
        vif=vif,
        correlation=corr,
        zero_share=zero_share,
        collinear_pairs=tuple(pairs),
        high_vif=tuple(high.index),
        vif_partners=partners,
        sparse_channels=sparse,
        constant_channels=constant,
        vif_threshold=vif_threshold,
        corr_threshold=corr_threshold,
        max_zero_share=max_zero_share,
    )
