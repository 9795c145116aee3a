"""The learned linker: how likely two cells are one cell, and three cells a division, from all the evidence.

The paper averages the visual and spatial similarities and thresholds them; the overlap is a fallback,
and distance is not used at all. Here each kind of evidence is an input of a small logistic model whose
weights are fitted on the training movies' ground truth (``tools/train_linker.py``) and stored in the
config, so that a confident but wrong head cannot outvote a large displacement, and the weights say
what the linker relies on:

* a **link** (cell i in t, cell j in t-1, same cell): :data:`LINK_FEATURES`. A head enters as a *margin*
  (:func:`candidate_margins`): how much more the head believes in j than in i's best other candidate,
  not its raw score. On a movie unlike the training data a head can call every pair "same" (the visual
  head does on the dim Fluo-N2DH-SIM+ 02: median similarity of different nearby cells 0.9999); its
  margins are then near 0 and the decision falls to displacement and overlap, instead of linking
  neighbours and calling daughters the mother. A cell's *lone* candidate has no margin (nothing to rank it
  against); there the heads enter as their agreement (:func:`lone_agreement`: the log-odds of the head that
  believes in the pair least, floored at 0), fitted after the other weights and with them held, so that it can
  only lift a lone candidate that every head calls the same cell -- a cell that moved further than usual with
  nothing else near it (on GOWT1 01 the three links the learned rule alone missed, 6.5-10.4 displacement scales
  away, heads >= 0.998) -- and never changes how any other pair is weighed;
* a **division** (mother m in t-1, daughters a, b in t): :data:`DIVISION_FEATURES`, symmetric in a, b:
  geometry only (displacements, spacing, areas). It is fitted on exactly the candidates the rule decides
  on (those the one-to-one links leave open, :func:`open_divisions`); with the heads' margins and the
  overlaps among its inputs it called hundreds of false divisions on unseen synthetic movies.

Distances are in units of the training data's typical displacement (``displacement_scale``, pixels),
so the weights carry over to movies of the same magnification.

:func:`learned_rule` turns the probabilities into links: a one-to-one assignment of the links (most
total log-odds, only links with probability >= ``link_threshold``), then divisions, most probable first,
each needing probability >= ``division_threshold``, a mother that does not continue into a third cell,
and daughters that are unlinked or linked to that mother. A fragment next to a cell is thereby a new
track, never a "daughter" that cuts the cell's track. Last, the **rescue**: a second one-to-one
assignment among the cells both steps leave open (a cell of t with no t-1 cell, a t-1 cell neither continued
nor divided), down to probability ``rescue_threshold``. A link's probability is fitted over all candidates,
most of which have a better partner; a pair that is each other's only open end is far likelier the same
cell than that, and without the rescue a cell that moved or changed shape more than usual broke its track
(a new track and an ended one, side by side).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from .linking import Links, _no_links, max_weight_matching, runs

__all__ = ["LINK_FEATURES", "SECOND_STEP_FEATURES", "DIVISION_FEATURES", "LinkModel", "candidate_margins",
           "lone_agreement", "fit_logistic", "fit_link_weights", "one_to_one_links",
           "daughter_link_features", "mother_goes_on", "open_divisions", "decided_divisions", "learned_rule", "rescue_links"]

LINK_FEATURES = ("visual_margin", "spatial_margin", "iou", "distance", "distance_squared", "area_change",
                 "lone_agreement")
# Fitted after the others, with their log-odds held, without a bias of its own (fit_link_model's second step).
SECOND_STEP_FEATURES = ("lone_agreement",)
DIVISION_FEATURES = ("near_daughter", "far_daughter", "daughter_spacing", "midpoint_offset", "area_sum",
                     "area_imbalance")


def _logit(probability, eps: float = 1e-4) -> np.ndarray:
    p = np.clip(probability, eps, 1 - eps)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))


def candidate_margins(pairs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(E,) each pair's log-odds minus those of its cell's best other candidate (0 for a lone candidate).

    Args:
        pairs: (E, 2) candidate pairs (index in t, index in t-1), grouped by the cell of t (sorted, as
            ``linking.merge_pairs`` returns them).
        scores: (E,) a head's log-odds per pair.

    A head enters the link model only through how it *ranks* a cell's candidates, never through its raw
    score: on a movie unlike its training data a head's raw scores drift as a whole -- the visual head calls
    almost every nearby pair "same" on the dim Fluo-N2DH-SIM+ 02 (raw similarity ~1) and almost every pair
    "different" on synthetic nuclei it never saw (true pairs at log-odds ~ -2) -- while its ranking still
    carries evidence. A head that scores all candidates alike gives them all a margin near 0 (no evidence),
    and a lone candidate gets 0 (nothing to rank it against), so displacement and overlap decide. Margins
    against "a new cell" (log-odds 0) as well, the earlier form, broke every track on such synthetic movies
    (``benchmarks/linker_validation.py``).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(pairs) == 0:
        return np.zeros(0)
    cells = pairs[:, 0]
    starts, sizes = runs(cells)
    group = np.repeat(np.arange(len(starts)), sizes)
    best = np.maximum.reduceat(scores, starts)
    first_best = np.minimum.reduceat(np.where(scores == best[group], np.arange(len(cells)), len(cells)), starts)
    others = scores.copy()
    others[first_best] = -np.inf
    second = np.maximum.reduceat(others, starts)  # -inf for a lone candidate
    competitor = np.where(np.arange(len(cells)) == first_best[group], second[group], best[group])
    return np.where(np.isfinite(competitor), scores - competitor, 0.0)


def lone_agreement(pairs: np.ndarray, head_scores: Sequence[np.ndarray]) -> np.ndarray:
    """(E,) for a cell's only candidate, the smallest of the heads' log-odds floored at 0; 0 for the others.

    Args:
        pairs: (E, 2) candidate pairs grouped by the cell of t (as for :func:`candidate_margins`).
        head_scores: each head's (E,) log-odds (the heads that are on; none: all 0).

    A lone candidate has no margin (nothing to rank it against), so only this carries the heads' view of it.
    The weaker head decides, as in the paper's rule (both heads must pick the cell), and a head that doubts
    the pair gives 0, not a penalty: on a movie unlike its training data a head can call true pairs
    "different" (log-odds ~ -2 on synthetic nuclei), and that must not break every lone track.
    """
    if len(pairs) == 0 or not len(head_scores):
        return np.zeros(len(pairs))
    starts, sizes = runs(pairs[:, 0])
    lone = np.repeat(sizes == 1, sizes)
    weakest = np.min(np.stack([np.asarray(s, dtype=np.float64) for s in head_scores]), axis=0)
    return np.where(lone, np.maximum(weakest, 0.0), 0.0)


@dataclass(frozen=True)
class LinkModel:
    """Weights (features..., bias) of the link and division models and the displacement scale (pixels)."""

    link_weights: tuple
    division_weights: tuple
    displacement_scale: float

    def __post_init__(self):
        for name, weights, features in (("LINK_WEIGHTS", self.link_weights, LINK_FEATURES),
                                        ("DIVISION_WEIGHTS", self.division_weights, DIVISION_FEATURES)):
            if len(weights) != len(features) + 1:
                raise ValueError(f"CELLTRACK.TRACKER.{name}: expected {len(features) + 1} numbers (one per "
                                 f"feature of {features}, then a bias), got {len(weights)}; fit them with "
                                 f"tools/train_linker.py")
        if not self.displacement_scale > 0:
            raise ValueError("CELLTRACK.TRACKER.DISPLACEMENT_SCALE must be > 0 pixels; fit it with tools/train_linker.py")

    @classmethod
    def from_config(cls, cfg) -> Optional["LinkModel"]:
        """The config's model, or None when it has no fitted weights.

        Raises ValueError when the weights were fitted for other features than this version's (an older
        config): read as these, they would link silently wrong.
        """
        tracker = cfg.CELLTRACK.TRACKER
        if not tracker.LINK_WEIGHTS:
            return None
        for key, expected in (("LINK_FEATURES", LINK_FEATURES), ("DIVISION_FEATURES", DIVISION_FEATURES)):
            if tuple(tracker[key]) != expected:
                raise ValueError(f"CELLTRACK.TRACKER.{key} is {list(tracker[key])}, but this version's learned rule "
                                 f"reads {list(expected)}: the weights were fitted for other features; refit them with "
                                 f"tools/train_linker.py (--refit keeps the track head)")
        return cls(tuple(tracker.LINK_WEIGHTS), tuple(tracker.DIVISION_WEIGHTS), float(tracker.DISPLACEMENT_SCALE))

    def write_to(self, tracker_cfg) -> None:
        """Store the model in a config's CELLTRACK.TRACKER (weights rounded to 5 decimals, with their features)."""
        tracker_cfg.LINK_WEIGHTS = [round(float(w), 5) for w in self.link_weights]
        tracker_cfg.DIVISION_WEIGHTS = [round(float(w), 5) for w in self.division_weights]
        tracker_cfg.LINK_FEATURES = list(LINK_FEATURES)
        tracker_cfg.DIVISION_FEATURES = list(DIVISION_FEATURES)
        tracker_cfg.DISPLACEMENT_SCALE = round(float(self.displacement_scale), 3)

    # ------------------------------------------------------------------------------------------- links
    def link_features(self, pairs: np.ndarray, similarities: Mapping[str, np.ndarray], iou: np.ndarray,
                      centers_t: np.ndarray, centers_prev: np.ndarray, areas_t: np.ndarray,
                      areas_prev: np.ndarray) -> np.ndarray:
        """(E, len(LINK_FEATURES)) evidence of candidate pairs (rows: index in t, index in t-1).

        A head that is off (or absent from ``similarities``) contributes 0: no evidence.
        """
        distance = np.linalg.norm(centers_t[pairs[:, 0]] - centers_prev[pairs[:, 1]], axis=1) / self.displacement_scale
        zeros = np.zeros(len(pairs))
        scores = {head: _logit(similarities[head]) for head in ("visual", "spatial") if head in similarities}
        with np.errstate(divide="ignore", invalid="ignore"):
            area_change = np.abs(np.log(areas_t[pairs[:, 0]] / areas_prev[pairs[:, 1]]))
        return np.stack([
            candidate_margins(pairs, scores["visual"]) if "visual" in scores else zeros,
            candidate_margins(pairs, scores["spatial"]) if "spatial" in scores else zeros,
            iou, distance, distance**2, np.nan_to_num(area_change, nan=0.0, posinf=5.0),
            lone_agreement(pairs, list(scores.values())),
        ], axis=1)

    def link_probability(self, features: np.ndarray) -> np.ndarray:
        return _sigmoid(features @ np.asarray(self.link_weights[:-1]) + self.link_weights[-1])

    # --------------------------------------------------------------------------------------- divisions
    def division_candidates(self, pairs: np.ndarray, link_probability: np.ndarray, per_mother: int = 4) -> np.ndarray:
        """(D, 3) rows (mother in t-1, daughter a, daughter b in t), a < b: every two of the ``per_mother``
        candidate cells of t most likely linked to each t-1 cell."""
        if len(pairs) == 0:
            return np.zeros((0, 3), dtype=np.int64)
        order = np.lexsort((-link_probability, pairs[:, 1]))
        mothers, cells = pairs[order, 1], pairs[order, 0]
        starts, sizes = runs(mothers)
        rows = []
        for first in range(per_mother):
            for second in range(first + 1, per_mother):
                groups = starts[sizes > second]
                a, b = cells[groups + first], cells[groups + second]
                rows.append(np.stack([mothers[groups], np.minimum(a, b), np.maximum(a, b)], axis=1))
        return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), dtype=np.int64)

    def division_features(self, divisions: np.ndarray, pairs: np.ndarray, pair_features: np.ndarray,
                          centers_t: np.ndarray, centers_prev: np.ndarray, areas_t: np.ndarray,
                          areas_prev: np.ndarray) -> np.ndarray:
        """(D, len(DIVISION_FEATURES)) evidence of candidate divisions (rows of ``division_candidates``).

        ``pairs`` are the candidate pairs (sorted, unique, as ``linking.merge_pairs`` returns them) and
        ``pair_features`` their link features.
        """
        if len(divisions) == 0:
            return np.zeros((0, len(DIVISION_FEATURES)))
        mother, a, b = divisions.T
        fa, fb = daughter_link_features(divisions, pairs, pair_features, len(centers_prev))
        scale = self.displacement_scale
        spacing = np.linalg.norm(centers_t[a] - centers_t[b], axis=1) / scale
        midpoint = np.linalg.norm((centers_t[a] + centers_t[b]) / 2 - centers_prev[mother], axis=1) / scale
        with np.errstate(divide="ignore", invalid="ignore"):
            area_sum = np.nan_to_num((areas_t[a] + areas_t[b]) / areas_prev[mother], nan=1.0, posinf=5.0)
            imbalance = np.nan_to_num(np.abs(np.log(areas_t[a] / areas_t[b])), nan=0.0, posinf=5.0)
        return np.stack([np.minimum(fa[:, 3], fb[:, 3]), np.maximum(fa[:, 3], fb[:, 3]), spacing, midpoint, area_sum,
                         imbalance], axis=1)

    def division_probability(self, features: np.ndarray) -> np.ndarray:
        return _sigmoid(features @ np.asarray(self.division_weights[:-1]) + self.division_weights[-1])


def daughter_link_features(divisions: np.ndarray, pairs: np.ndarray, pair_features: np.ndarray,
                           num_prev: int) -> tuple:
    """The link features (``LINK_FEATURES``) of (daughter a, mother) and of (daughter b, mother) of each
    candidate division: two (D, len(LINK_FEATURES)) arrays. ``pairs`` sorted and unique, as
    ``linking.merge_pairs`` returns them, holding every (daughter, mother) pair."""
    mother, a, b = divisions.T
    codes = pairs[:, 0] * num_prev + pairs[:, 1]
    fa = pair_features[np.searchsorted(codes, a * num_prev + mother)].reshape(-1, len(LINK_FEATURES))
    fb = pair_features[np.searchsorted(codes, b * num_prev + mother)].reshape(-1, len(LINK_FEATURES))
    return fa, fb


def mother_goes_on(divisions: np.ndarray, pairs: np.ndarray, pair_features: np.ndarray,
                   division_features: np.ndarray, num_prev: int, max_area_sum: float = np.inf,
                   mother_iou: float = 0.0) -> np.ndarray:
    """(D,) bool: candidate divisions that are the mother going on beside a newcomer, not a division.

    Mitosis conserves the cell's mass; a cell that enters the field beside another, or a neighbour taken for
    the second daughter, brings its own area. So a candidate is refused when the daughters' areas add up to
    more than ``max_area_sum`` times the mother's and one daughter overlaps the mother by mask IoU >=
    ``mother_iou`` (it is plainly the mother; 0: the area alone decides). A real mitosis whose mother had
    shrunk (a rounded, condensed mother) gives daughters larger than her but neither overlapping her much.
    """
    if len(divisions) == 0 or not np.isfinite(max_area_sum):
        return np.zeros(len(divisions), dtype=bool)
    fa, fb = daughter_link_features(divisions, pairs, pair_features, num_prev)
    iou = LINK_FEATURES.index("iou")
    too_large = division_features[:, DIVISION_FEATURES.index("area_sum")] > max_area_sum
    return too_large & (np.maximum(fa[:, iou], fb[:, iou]) >= mother_iou)


def one_to_one_links(pairs: np.ndarray, link_probability: np.ndarray, num_t: int, num_prev: int,
                     link_threshold: float = 0.5) -> np.ndarray:
    """(N_t,) the t-1 cell each cell of t continues (-1: none): the one-to-one assignment of the pairs with
    probability >= ``link_threshold`` that has the most total log-odds (the first step of :func:`learned_rule`)."""
    allowed = link_probability >= link_threshold
    log_odds = _logit(link_probability, 1e-9)
    return max_weight_matching(pairs[allowed], log_odds[allowed] + 1e-6, num_t, num_prev)


def open_divisions(divisions: np.ndarray, matched: np.ndarray, num_prev: int) -> np.ndarray:
    """(D,) bool: which candidate divisions the one-to-one links leave open -- each daughter unlinked or
    linked to the mother, and the mother not continued by a third cell. These are the only divisions
    :func:`learned_rule` decides on, so they are also what the division model is fitted on."""
    if len(divisions) == 0:
        return np.zeros(0, dtype=bool)
    taken_by = np.full(num_prev, -1, dtype=np.int64)
    taken_by[matched[matched >= 0]] = np.flatnonzero(matched >= 0)
    mother, a, b = divisions.T
    return (((matched[a] == -1) | (matched[a] == mother)) & ((matched[b] == -1) | (matched[b] == mother))
            & ((taken_by[mother] == -1) | (taken_by[mother] == a) | (taken_by[mother] == b)))


def decided_divisions(model: "LinkModel", pairs: np.ndarray, link_probability: np.ndarray, num_t: int, num_prev: int,
                      link_threshold: float = 0.5) -> tuple:
    """The first step of :func:`learned_rule` and the divisions it leaves to decide: (matched, divisions),
    the pairs' :func:`one_to_one_links` and the ``model``'s candidate divisions those links leave open."""
    matched = one_to_one_links(pairs, link_probability, num_t, num_prev, link_threshold)
    # Only a t-1 cell with an unlinked candidate can be the mother of an open division (of two daughters one
    # at most is linked to her): the candidates of the others are never open, and are not built.
    may_divide = np.zeros(num_prev, dtype=bool)
    may_divide[pairs[matched[pairs[:, 0]] == -1, 1]] = True
    keep = may_divide[pairs[:, 1]]
    divisions = model.division_candidates(pairs[keep], link_probability[keep])
    return matched, divisions[open_divisions(divisions, matched, num_prev)]


def learned_rule(pairs: np.ndarray, link_probability: np.ndarray, num_t: int, num_prev: int,
                 divisions: np.ndarray, division_probability: np.ndarray, link_threshold: float = 0.5,
                 division_threshold: float = 0.5, matched: Optional[np.ndarray] = None,
                 rescue_threshold: float = 1.0) -> Links:
    """Links from the learned probabilities (module docstring).

    Args:
        pairs: (E, 2) candidate pairs (index in t, index in t-1); link_probability: (E,).
        num_t, num_prev: cells in t and t-1.
        divisions: (D, 3) candidate divisions (mother, daughter a, daughter b); division_probability: (D,).
        link_threshold, division_threshold: least probability of a link / a division.
        matched: the pairs' :func:`one_to_one_links`, when the caller has them already (changed in place;
            :func:`decided_divisions` gives both).
        rescue_threshold: least probability of a rescued link (module docstring); >= ``link_threshold``: no
            rescue.

    Returns:
        ``Links``: each t cell's t-1 cell (-1 = new track) and whether it is a daughter.
    """
    if len(pairs) == 0:
        return _no_links(num_t)
    if matched is None:
        matched = one_to_one_links(pairs, link_probability, num_t, num_prev, link_threshold)
    is_daughter = np.zeros(num_t, dtype=bool)
    divided = np.zeros(num_prev, dtype=bool)
    # What the one-to-one links allow (checked once, vectorised); what earlier divisions take, in the loop.
    candidates = np.flatnonzero(open_divisions(divisions, matched, num_prev) & (division_probability >= division_threshold))
    for d in candidates[np.argsort(-division_probability[candidates], kind="stable")]:
        mother, a, b = divisions[d]
        if divided[mother] or is_daughter[a] or is_daughter[b]:
            continue
        matched[a] = matched[b] = mother
        is_daughter[a] = is_daughter[b] = True
        divided[mother] = True
    if rescue_threshold < link_threshold:
        rescue_links(pairs, link_probability, matched, num_prev, rescue_threshold)
    return Links(matched, is_daughter)


def rescue_links(pairs: np.ndarray, link_probability: np.ndarray, matched: np.ndarray, num_prev: int,
                 rescue_threshold: float) -> None:
    """Link, in place, the open cells of t to the open t-1 cells (``matched``: -1 = open; a t-1 cell is open
    when no cell of t is matched to it): one-to-one, most total log-odds above ``rescue_threshold``'s."""
    taken = np.zeros(num_prev, dtype=bool)
    taken[matched[matched >= 0]] = True
    both_open = (matched[pairs[:, 0]] == -1) & ~taken[pairs[:, 1]] & (link_probability >= rescue_threshold)
    if not both_open.any():
        return
    weights = _logit(link_probability[both_open], 1e-9) - _logit(rescue_threshold, 1e-9) + 1e-6
    rescued = max_weight_matching(pairs[both_open], weights, len(matched), num_prev)
    matched[rescued >= 0] = rescued[rescued >= 0]


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, iterations: int = 50,
                 offset: Optional[np.ndarray] = None) -> np.ndarray:
    """Logistic regression by Newton's method on standardised features, with an L2 penalty.

    Each feature is scaled to zero mean and unit variance before the fit, so ``l2`` (the penalty on the
    weights, per sample) pulls every feature alike; near-separable training data then gives moderate
    weights instead of ever larger ones that break on another movie. The weights come back in the units
    of the raw features.

    Args:
        features: (K, F); labels: (K,) 0/1; l2: penalty on the standardised weights (not the bias).
        offset: (K,) log-odds held fixed (an earlier fit's): the fit adds to them, with no bias and with the
            features scaled but not centred, so a feature that is 0 leaves a sample's log-odds as they were.

    Returns:
        (F + 1,) float64 weights for the raw features, bias last; with ``offset``, (F,), no bias.
    """
    raw = np.asarray(features, np.float64)
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    if offset is not None:
        mean = np.zeros_like(mean)
    x = (raw - mean) / std if offset is not None else np.concatenate([(raw - mean) / std, np.ones((len(raw), 1))], axis=1)
    y = np.asarray(labels, np.float64)
    fixed = np.zeros(len(x)) if offset is None else np.asarray(offset, np.float64)
    weights = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2 * len(x))
    if offset is None:
        penalty[-1] = 0.0
    for _ in range(iterations):
        p = _sigmoid(x @ weights + fixed)
        gradient = x.T @ (p - y) + penalty * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    if offset is not None:
        return weights / std
    scaled = weights[:-1] / std
    return np.concatenate([scaled, [weights[-1] - scaled @ mean]])


def fit_link_weights(features: np.ndarray, labels: np.ndarray, l2: float) -> np.ndarray:
    """(len(LINK_FEATURES) + 1,) the link model's weights, bias last, in two steps: every feature but
    :data:`SECOND_STEP_FEATURES` (with the bias), then those with the first step's log-odds held (no bias)."""
    second = np.array([name in SECOND_STEP_FEATURES for name in LINK_FEATURES])
    first_weights = fit_logistic(features[:, ~second], labels, l2)
    held = features[:, ~second] @ first_weights[:-1] + first_weights[-1]
    weights = np.zeros(len(LINK_FEATURES) + 1)
    weights[:-1][~second], weights[-1] = first_weights[:-1], first_weights[-1]
    weights[:-1][second] = fit_logistic(features[:, second], labels, l2, offset=held)
    return weights


def describe(weights: Sequence[float], names: Sequence[str]) -> str:
    """One line: each feature's weight, for logs and the model card."""
    return ", ".join(f"{name} {w:+.2f}" for name, w in zip(list(names) + ["bias"], weights))
