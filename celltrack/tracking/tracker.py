"""The tracker: links the cells of a movie frame by frame and keeps the lineage.

The linking decisions are the pure functions of ``celltrack.tracking.linking``; this module only holds
what must live across frames (the previous frame's cells and track ids, recently lost tracks, the
lineage) and turns links into track ids.

Decisions the paper leaves open, and what the tracker does:

* Overlap measure: mask IoU, from label images (``linking.mask_overlaps``).
* Candidates: each cell of t is scored against its ``num_candidates`` nearest t-1 cells by centre
  (within ``max_distance``) and every t-1 cell its mask overlaps. The paper's argmax runs over these
  candidates instead of all t-1 cells, which keeps linking near-linear in the number of cells and only
  excludes cells too far away to be the same cell.
* The paper's agreement test has no minimum similarity: a cell that appears from nowhere still finds
  both heads ranking some candidate first and claims it, often making a false division. ``max_distance``
  bounds how far a claim reaches; the "global" rule instead needs ``min_similarity`` or overlap.
* More than two cells claiming one t-1 cell: the two with the highest link weight (fused similarity +
  IoU) are the daughters, the others start new tracks (``linking.resolve_claims``).
* Division in CTC form: both daughters get new track ids whose parent_id is the mother's track, which
  ends in frame t-1.
* A cell that vanishes for a frame: with ``max_gap = 0`` (the paper) its track ends and the cell comes
  back as a new track. With ``max_gap = k`` a track that ended without dividing is kept for k frames; a
  cell that would otherwise start a parentless track may resume it if its fused similarity to the
  track's last cell is at least ``min_similarity`` or their mask IoU at least ``alpha`` (the "learned"
  rule: if the link model's probability is at least ``link_threshold``), one-to-one, most recently lost
  tracks first, by maximum total link weight. The CTC format forbids gaps inside a
  track (py-ctcmetrics' validation wants a track's label in every frame from first to last), so the
  resumed cell gets a new track id whose parent_id is the lost track: a gap is recorded as a parent
  link with one child, which is how it is told from a division. With ``fill_gaps`` the track goes on
  instead, and each frame it was missed in gets a cell: its last mask moved along the line to the
  resumed cell, where no other cell is (a detector's miss of a dim cell mid-track is a cell there, not
  a break of its track); outputs lag at least ``max_gap`` frames.
* A division must be a real event: with ``division_persistence = k > 1`` both daughters must be seen in
  their first k frames. When one daughter's track ends sooner (a fragment or a duplicate detection next
  to a cell, taken as its second daughter) while the other goes on, the division is undone: the other
  daughter continues the mother's track (which is not cut) and the short one becomes a track without
  parent. Track ids of the last ``lag = k - 1`` frames may therefore still change; ``frame_ids`` gives
  them as they stand, and the frame loop writes a frame only once they are final. Under the "learned" rule
  a candidate division that is the mother going on beside a newcomer (the daughters' areas add up to more
  than ``division_max_area_sum`` times the mother's, one daughter overlapping her by IoU >=
  ``division_mother_iou``) is refused: a cell that enters the field beside another brings its own area.
* A track must be a real cell: with ``min_track_length = k > 1`` a track without parent or daughters that
  ends (can no longer be resumed) before it has lasted k frames was a flicker of the detector (a faint
  out-of-focus nucleus, debris), not a cell: it is discarded, its cells get track id 0 and are not written
  (lag ``k - 1 + max_gap``). Tracks still going when the movie ends are kept. Only a track that lasted k
  frames is resumed after a gap (flickers are not chained into tracks).
* A faint cell is kept only if it continues a track: cells the detector scored below ``min_score``
  (``Detections.scores``; the predictor keeps them down to ``CELLTRACK.TRACKER.CONTINUE_SCORE``) take no
  part in the links, divisions and gap closing of the cells above it; afterwards they may continue, one to
  one, the tracks of t-1 that nothing continued and that lasted ``min_track_length`` frames (the same test
  as a resumed gap), and the others get track id 0 and are not written. A dim nucleus that the detector scores low in some frames stays one track,
  while a low-scored flicker never starts one (the two-threshold association of ByteTrack, Zhang et al.,
  ECCV 2022).
* Masks as written: with ``temporal_masks`` each cell's mask is the per-pixel majority of its own and its
  track's masks in the frames before and after (``detections.voted_labels``), so a frame's noise does not
  notch or swell it; outputs lag at least one frame.
"""
from collections import deque
from typing import Any, Deque, Dict, Mapping, NamedTuple, Optional, Tuple

import numpy as np

from detectron2.config import configurable

from .detections import Detections, _to_numpy, voted_labels
from .labels import centers_from_labels
from .lineage import LineageTable, LostTracks, PendingDivisions
from .link_model import LinkModel, decided_divisions, learned_rule, mother_goes_on
from .linking import Links, fuse_similarities, max_weight_matching
from .rules import global_rule, overlap_allows, paper_rule
from .scoring import Similarity, score_pairs
from .state import expect_keys

__all__ = ["Detections", "Similarity", "Tracker", "METHODS", "GIVEN_CELLS"]

METHODS = ("paper", "global", "learned")
# Tracker options for cells given as label images (a user's segmentation, ground truth): nothing is discarded
# as a flicker and no gap is closed or filled; both are for a detector's errors, and a given cell that
# vanishes has left (closing such "gaps" joined different cells on the validation movies' ground truth).
GIVEN_CELLS = {"min_track_length": 0, "max_gap": 0}


class _Frame(NamedTuple):
    """One tracked frame, kept while its tracks may still be linked."""

    frame: int
    detections: Detections
    track_ids: np.ndarray  # (N,) int64


class Tracker:
    """Links detections frame by frame into tracks with a CTC lineage.

    ``update(frame, detections)`` once per frame, in order, returns each cell's track id and parent;
    ``lineage()`` gives the (T, 4) CTC rows (track_id, first_frame, last_frame, parent_id). A movie is
    driven through it by ``celltrack.tracking.frame_loop.track_frames``, the one loop over a movie's frames.

    Memory holds the last ``max_gap + 1`` frames' detections and the lineage, not the movie.
    """

    @configurable
    def __init__(
        self,
        *,
        similarity: Optional[Similarity] = None,
        method: str = "global",
        alpha: float = 0.1,
        max_gap: int = 0,
        num_candidates: int = 10,
        max_distance: float = np.inf,
        min_similarity: float = 0.5,
        division_min_score: float = 0.5,
        link_model: Optional[LinkModel] = None,
        link_threshold: float = 0.5,
        division_threshold: float = 0.5,
        division_max_area_sum: float = np.inf,
        division_mother_iou: float = 0.0,
        rescue_threshold: float = 1.0,
        division_persistence: int = 0,
        min_track_length: int = 0,
        fill_gaps: bool = False,
        min_score: float = 0.0,
        temporal_masks: bool = False,
    ):
        """
        Args:
            similarity: scores candidate pairs per head (see ``Similarity``); None links by overlap only.
            method: "paper" (per-cell argmax agreement, overlap fallback, ``linking.paper_rule``) or
                "global" (one-to-one assignment of fused scores, then divisions, ``linking.global_rule``).
            alpha: minimum mask IoU of an overlap link (paper: 0.1).
            max_gap: frames a track may be missing and still be resumed (0 = the paper: never).
            num_candidates: nearest t-1 cells by centre scored per cell of t.
            max_distance: pixels; t-1 cells farther than this are candidates only if the masks overlap.
            min_similarity: fused similarity from which a pair may link without overlap ("global" rule
                and gap closing).
            division_min_score: minimum link weight (fused similarity + IoU, in [0, 2]) of a second
                daughter in the "global" rule. Without a similarity the weight is the IoU alone: lower
                it (e.g. to ``alpha``) for overlap-only linking to find divisions.
            link_model: fitted link and division models, needed by the "learned" rule
                (``link_model.learned_rule``).
            link_threshold, division_threshold, rescue_threshold: least probability of a link / a division /
                a rescued link ("learned", ``link_model.learned_rule``; rescue >= ``link_threshold``: off).
            division_max_area_sum, division_mother_iou: a division whose daughters' areas add up to more than
                ``division_max_area_sum`` mother's areas, one of them overlapping the mother by IoU >=
                ``division_mother_iou``, is the mother going on beside a newcomer ("learned";
                ``link_model.mother_goes_on``; inf: off).
            division_persistence: frames from its birth that each daughter of a division must be seen in
                for the division to stand (0 or 1: every division stands at once).
            min_track_length: least frames of a track without parent or daughters (0 or 1: keep all).
            fill_gaps: a resumed track goes on through its gap, filled with its moved last cell
                (``max_gap`` > 0); else the gap is a parent link with one child.
            min_score: cells whose ``Detections.scores`` are below it may only continue a track (cells
                without scores: any cell may start one).
            temporal_masks: each cell's mask as written (``frame_detections``) is the majority of its own and
                its track's masks in the frames before and after (``detections.voted_labels``); lag >= 1.
        """
        if method not in METHODS:
            raise ValueError(f"Tracker: method must be one of {METHODS}, got {method!r}")
        if method == "learned" and link_model is None:
            raise ValueError("Tracker: the 'learned' rule needs fitted weights (CELLTRACK.TRACKER.LINK_WEIGHTS, "
                             "DIVISION_WEIGHTS, DISPLACEMENT_SCALE): use a config written by tools/train_linker.py, "
                             "or CELLTRACK.TRACKER.METHOD global")
        if max_gap < 0 or num_candidates < 1 or division_persistence < 0 or min_track_length < 0:
            raise ValueError(f"Tracker: need max_gap, division_persistence, min_track_length >= 0 and num_candidates "
                             f">= 1, got {max_gap}, {division_persistence}, {min_track_length}, {num_candidates}")
        self.similarity = similarity
        self.method = method
        self.alpha = float(alpha)
        self.max_gap = int(max_gap)
        self.num_candidates = int(num_candidates)
        self.max_distance = float(max_distance)
        self.min_similarity = float(min_similarity)
        self.division_min_score = float(division_min_score)
        self.link_model = link_model
        self.link_threshold = float(link_threshold)
        self.division_threshold, self.rescue_threshold = float(division_threshold), float(rescue_threshold)
        if not division_max_area_sum > 0:
            raise ValueError(f"Tracker: division_max_area_sum must be > 0 (inf: no bound), got {division_max_area_sum}")
        self.division_max_area_sum, self.division_mother_iou = float(division_max_area_sum), float(division_mother_iou)
        self.division_persistence, self.min_track_length = int(division_persistence), int(min_track_length)
        probation = self.min_track_length - 1 + self.max_gap if self.min_track_length > 1 else 0
        self.fill_gaps = bool(fill_gaps) and self.max_gap > 0
        self.min_score = float(min_score)
        self.temporal_masks = bool(temporal_masks)
        # frames whose track ids (and, filling gaps, cells; voting masks, the next frame) may still change
        self.lag = max(self.division_persistence - 1, probation, self.max_gap if self.fill_gaps else 0,
                       int(self.temporal_masks))
        self._reset()

    @classmethod
    def from_config(cls, cfg, similarity: Optional[Similarity] = None) -> Dict[str, Any]:
        tracker = cfg.CELLTRACK.TRACKER
        max_distance = tracker.MAX_DISTANCE
        return {
            "similarity": similarity,
            "method": tracker.METHOD,
            "alpha": tracker.ALPHA,
            "max_gap": tracker.MAX_GAP,
            "num_candidates": tracker.NUM_CANDIDATES,
            "max_distance": max_distance if max_distance > 0 else np.inf,
            "min_similarity": tracker.MIN_SIMILARITY,
            "division_min_score": tracker.DIVISION_MIN_SCORE,
            "link_model": LinkModel.from_config(cfg),
            "link_threshold": tracker.LINK_THRESHOLD,
            "division_threshold": tracker.DIVISION_THRESHOLD,
            "division_max_area_sum": tracker.DIVISION_MAX_AREA_SUM if tracker.DIVISION_MAX_AREA_SUM > 0 else np.inf,
            "division_mother_iou": tracker.DIVISION_MOTHER_IOU,
            "rescue_threshold": tracker.RESCUE_THRESHOLD,
            "division_persistence": tracker.DIVISION_PERSISTENCE,
            "min_track_length": tracker.MIN_TRACK_LENGTH,
            "fill_gaps": tracker.FILL_GAPS,
            "min_score": tracker.MIN_SCORE,
            "temporal_masks": tracker.TEMPORAL_MASKS,
        }

    def _reset(self) -> None:
        self._lineage = LineageTable()
        # voting masks, a frame being written also needs the frame before it
        self._recent: Deque[_Frame] = deque(maxlen=max(self.max_gap, self.lag) + 1 + int(self.temporal_masks))
        self._pending = PendingDivisions(self.division_persistence)
        self._lost = LostTracks()

    # ---------------------------------------------------------------------------------------------
    def update(self, frame: int, detections: Detections) -> Tuple[np.ndarray, np.ndarray]:
        """Link the cells of ``frame`` to the tracks so far.

        Args:
            frame: index of this frame; the first call may start anywhere, later calls must be
                consecutive (pass ``Detections(np.zeros((0, 2)))`` for a frame without cells).
            detections: the cells of this frame.

        Returns:
            track_ids: (N,) int64 track id (>= 1) of each cell.
            parent_ids: (N,) int64 parent_id of each cell's track (0 for none).
        """
        if not isinstance(detections, Detections):
            raise TypeError(f"Tracker.update: expected Detections, got {type(detections).__name__}")
        frame = int(frame)
        if self._recent and frame != self._recent[-1].frame + 1:
            raise ValueError(
                f"Tracker.update: frame {frame} after frame {self._recent[-1].frame}; frames must be consecutive "
                "(pass empty Detections for a frame without cells, or a new Tracker for a new movie)"
            )
        previous = self._recent[-1] if self._recent else None
        num_cells = detections.num_cells
        tentative = np.zeros(num_cells, dtype=bool) if detections.scores is None else detections.scores < self.min_score
        links = Links(np.full(num_cells, -1, dtype=np.int64), np.zeros(num_cells, dtype=bool))
        if previous is not None and num_cells and previous.detections.num_cells:
            links = self._link(detections, previous, tentative)
            if tentative.any():
                links = self._continue_tracks(detections, previous, tentative, links)
        unconfirmed = tentative & (links.matched < 0)  # track id 0: not written, never linked

        continues = (links.matched >= 0) & ~links.is_daughter
        daughters = (links.matched >= 0) & links.is_daughter
        track_ids = np.zeros(num_cells, dtype=np.int64)
        new_parents = np.zeros(num_cells, dtype=np.int64)
        if previous is not None:
            track_ids[continues] = previous.track_ids[links.matched[continues]]
            new_parents[daughters] = previous.track_ids[links.matched[daughters]]
        if self.max_gap > 0:
            resumed, origins = self._close_gaps(frame, detections, (links.matched < 0) & ~tentative)
            if self.fill_gaps:
                filled = self._fill_gaps(frame, detections, resumed, origins)
                track_ids[filled], continues[filled], resumed[filled] = resumed[filled], True, 0
            new_parents += resumed
        starts = ~continues & ~unconfirmed
        track_ids[starts] = self._lineage.new_tracks(frame, new_parents[starts])
        self._lineage.extend(track_ids[continues], frame)
        for kept, mother in self._pending.update(self._lineage, frame, track_ids, daughters).items():
            for ids in [self._lost.track_ids] + [recent.track_ids for recent in self._recent]:
                ids[ids == kept] = mother  # an undone division: the daughter that went on is the mother

        ended = np.zeros(0, dtype=np.int64)  # tracks that can no longer go on
        if previous is not None:
            stops = previous.track_ids > 0  # a cell of no track (unconfirmed, discarded) neither stops nor goes on
            stops[links.matched[links.matched >= 0]] = False  # continued or divided
            ended = previous.track_ids[stops]
            if self.max_gap > 0:
                self._lost.add(ended, previous.frame, np.flatnonzero(stops))
        self._recent.append(_Frame(frame, detections, track_ids))
        if self.max_gap > 0:
            # A track lost in frame f can be resumed up to frame f + max_gap + 1.
            ended = self._lost.forget(self._lost.frames < frame - self.max_gap)
        if self.min_track_length > 1:
            self._discard(self._lineage.short_lone_tracks(ended[ended > 0], self.min_track_length))
        return track_ids, self._lineage.parent_of(track_ids)

    def lineage(self) -> np.ndarray:
        """(T, 4) int64 CTC rows (track_id, first_frame, last_frame, parent_id), sorted by track_id."""
        return self._lineage.rows()

    @property
    def last_frame(self) -> Optional[int]:  # the last frame linked (None before the first)
        return self._recent[-1].frame if self._recent else None

    def _recent_frame(self, frame: int) -> _Frame:
        for kept in self._recent:
            if kept.frame == frame:
                return kept
        raise KeyError(f"Tracker: frame {frame} is not among the last {self._recent.maxlen} frames linked")

    def frame_ids(self, frame: int) -> Tuple[np.ndarray, np.ndarray]:
        """(track_ids, parent_ids) of the cells of a recent ``frame`` as they stand now (final once
        ``frame <= last_frame - lag``)."""
        track_ids = self._recent_frame(frame).track_ids.copy()
        return track_ids, self._lineage.parent_of(track_ids)

    def frame_detections(self, frame: int) -> Detections:
        """The cells of a recent ``frame`` as they are written: as linked, with ``temporal_masks`` their masks
        voted with the frames before and after (when both are at hand and the cells have a label image)."""
        kept = self._recent_frame(frame)
        cells = kept.detections
        around = [recent for recent in self._recent if recent.frame in (frame - 1, frame + 1)]
        if not self.temporal_masks or len(around) < 2 or cells.labels is None or not cells.num_cells \
                or any(recent.detections.labels is None for recent in around):
            return cells
        labels = voted_labels(cells, kept.track_ids, around[0].detections, around[0].track_ids,
                              around[1].detections, around[1].track_ids)
        return Detections(centers_from_labels(labels, cells.num_cells), labels, cells.embeddings, cells.scores)

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue tracking after a restart (not the similarity function), as plain
        values and numpy arrays (``celltrack.tracking.state`` saves it without pickle).

        Holds the lineage, the divisions on probation and the last ``max(max_gap, lag) + 1`` frames' cells
        (centres, label image, embeddings).
        """
        return {
            "lineage": self._lineage.table(),
            "pending_divisions": self._pending.rows.copy(),
            "recent": [{"frame": f.frame, "centers": f.detections.centers, "labels": f.detections.labels,
                        "embeddings": {name: _to_numpy(value) for name, value in f.detections.embeddings.items()},
                        "track_ids": f.track_ids} for f in self._recent],
            "lost": self._lost.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state_dict()``; the tracker's options are its own, not the saved ones.

        Raises ValueError for a state that is not a tracker's (missing entries, inconsistent cells).
        """
        expect_keys(state, ("lineage", "recent", "lost"), "Tracker")
        self._reset()
        self._lineage = LineageTable(np.asarray(state["lineage"], dtype=np.int64).reshape(-1, 4))
        self._pending = PendingDivisions(self.division_persistence, state.get("pending_divisions"))
        for saved in state["recent"][-self._recent.maxlen :]:
            expect_keys(saved, ("frame", "centers", "labels", "embeddings", "track_ids"), "Tracker")
            detections = Detections(saved["centers"], saved["labels"], saved["embeddings"])
            track_ids = np.asarray(saved["track_ids"], dtype=np.int64)
            if track_ids.shape != (detections.num_cells,):
                raise ValueError(f"Tracker.load_state_dict: frame {saved['frame']} has {detections.num_cells} cells "
                                 f"and {track_ids.shape} track ids")
            self._recent.append(_Frame(int(saved["frame"]), detections, track_ids))
        if self.max_gap > 0:
            expect_keys(state["lost"], LostTracks.KEYS, "Tracker")
            self._lost = LostTracks(state["lost"])
            if self._recent:
                self._lost.forget(self._lost.frames < self._recent[-1].frame - self.max_gap)

    # ---------------------------------------------------------------------------------------------
    def _link(self, detections: Detections, last: _Frame, tentative: np.ndarray) -> Links:
        """Links of the cells of t scored ``min_score`` or more to the tracked cells of t-1 (``last``)."""
        previous, tracked = last.detections, last.track_ids > 0
        cells = previous_cells = None  # all
        if tentative.any() or not tracked.all():
            cells, previous_cells = np.flatnonzero(~tentative), np.flatnonzero(tracked)
        pairs, similarities, iou = self._score(detections, previous, cells, previous_cells)
        if self.method == "learned":
            return self._learned_links(detections, previous, pairs, similarities, iou)
        if self.method == "paper":
            return paper_rule(pairs, similarities, iou, detections.num_cells, previous.num_cells, self.alpha)
        return global_rule(pairs, similarities, iou, detections.num_cells, previous.num_cells, alpha=self.alpha,
                           min_similarity=self.min_similarity, division_min_score=self.division_min_score)

    def _learned_links(self, detections: Detections, previous: Detections, pairs: np.ndarray,
                       similarities: Dict[str, np.ndarray], iou: np.ndarray) -> Links:
        model = self.link_model
        areas_t, areas_prev = detections.areas, previous.areas
        features = model.link_features(pairs, similarities, iou, detections.centers, previous.centers, areas_t, areas_prev)
        link_probability = model.link_probability(features)
        matched, divisions = decided_divisions(model, pairs, link_probability, detections.num_cells,
                                               previous.num_cells, self.link_threshold)
        division_features = model.division_features(divisions, pairs, features, detections.centers, previous.centers,
                                                    areas_t, areas_prev)
        division_probability = model.division_probability(division_features)
        division_probability[mother_goes_on(divisions, pairs, features, division_features, previous.num_cells,
                                            self.division_max_area_sum, self.division_mother_iou)] = 0
        return learned_rule(pairs, link_probability, detections.num_cells, previous.num_cells, divisions,
                            division_probability, self.link_threshold, self.division_threshold, matched=matched,
                            rescue_threshold=self.rescue_threshold)

    def _score(self, detections: Detections, previous: Detections, cells: Optional[np.ndarray] = None,
               previous_cells: Optional[np.ndarray] = None) -> Tuple[np.ndarray, Dict[str, np.ndarray], np.ndarray]:
        """Candidate pairs between (a subset of) two frames, their similarities per head and mask IoU."""
        return score_pairs(detections, previous, self.similarity, self.num_candidates, self.max_distance,
                           cells, previous_cells)

    def _link_weights(self, detections: Detections, previous: Detections, pairs: np.ndarray,
                      similarities: Dict[str, np.ndarray], iou: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(E,) weight and (E,) bool "may link" of candidate pairs linked one to one outside the frame's main
        assignment (a resumed gap, a tentative cell): the "learned" rule's link probability, at least
        ``link_threshold``; otherwise the fused similarity (at least ``min_similarity``, or an overlap link)
        plus the IoU."""
        if self.method == "learned":  # the link model's probability (across a gap: the displacement across it)
            model = self.link_model
            weight = model.link_probability(model.link_features(
                pairs, similarities, iou, detections.centers, previous.centers, detections.areas, previous.areas))
            return weight, weight >= self.link_threshold
        weight = fuse_similarities(similarities, len(pairs))
        return weight + iou, (weight >= self.min_similarity) | overlap_allows(iou, self.alpha)

    def _lasted(self, track_ids: np.ndarray) -> np.ndarray:
        """(n,) bool: which tracks lasted ``min_track_length`` frames, so may be resumed or continued by a cell
        below ``min_score`` (a track not yet long enough to be a cell, a flicker, is not drawn out)."""
        if self.min_track_length <= 1 or len(track_ids) == 0:
            return np.ones(len(track_ids), dtype=bool)
        return self._lineage.lengths(track_ids) >= self.min_track_length

    def _continue_tracks(self, detections: Detections, last: _Frame, tentative: np.ndarray, links: Links) -> Links:
        """``links`` with the ``tentative`` cells of t (scored below ``min_score``) continuing, one to one, the
        tracked cells of t-1 that nothing continued or divided from (:meth:`_link_weights`); as for a resumed
        gap, only tracks that lasted ``min_track_length`` frames (a flicker is not drawn out into a track)."""
        open_cells = last.track_ids > 0
        open_cells[links.matched[links.matched >= 0]] = False
        open_cells[open_cells] = self._lasted(last.track_ids[open_cells])
        cells, previous_cells = np.flatnonzero(tentative), np.flatnonzero(open_cells)
        if len(previous_cells) == 0:
            return links
        pairs, similarities, iou = self._score(detections, last.detections, cells, previous_cells)
        if len(pairs) == 0:
            return links
        weight, allowed = self._link_weights(detections, last.detections, pairs, similarities, iou)
        matched = max_weight_matching(pairs[allowed], weight[allowed], detections.num_cells, last.detections.num_cells)
        took = np.flatnonzero(matched >= 0)
        linked = links.matched.copy()
        linked[took] = matched[took]
        return Links(linked, links.is_daughter)

    def _close_gaps(self, frame: int, detections: Detections, new: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(N,) id of the lost track each new cell resumes (0 for none) and (N, 2) the frame and index of
        that track's last cell; resumed tracks leave the lost set."""
        resumed = np.zeros(detections.num_cells, dtype=np.int64)
        origins = np.full((detections.num_cells, 2), -1, dtype=np.int64)
        eligible = new.copy()
        for past in reversed(list(self._recent)[:-1]):  # most recently lost first; t-1 was linked already
            lost = np.flatnonzero(self._lost.frames == past.frame)
            lost = lost[self._lasted(self._lost.track_ids[lost])]
            if len(lost) == 0:
                continue
            cells = np.flatnonzero(eligible)
            if len(cells) == 0:
                break
            previous_cells = self._lost.cells[lost]
            pairs, similarities, iou = self._score(detections, past.detections, cells, previous_cells)
            if len(pairs) == 0:
                continue
            weight, allowed = self._link_weights(detections, past.detections, pairs, similarities, iou)
            matched = max_weight_matching(pairs[allowed], weight[allowed], detections.num_cells, past.detections.num_cells)
            took = np.flatnonzero(matched >= 0)
            resumed[took] = past.track_ids[matched[took]]
            origins[took, 0], origins[took, 1] = past.frame, matched[took]
            eligible[took] = False
            self._lost.forget(np.isin(self._lost.track_ids, resumed[took]))
        return resumed, origins

    def _fill_gaps(self, frame: int, detections: Detections, resumed: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(N,) bool: the resumed cells whose track goes on through its gap. Each frame it was missed in gets
        the track's last cell moved along the line to the resumed cell, on pixels no cell holds; where that
        leaves it no pixel, the gap stays (a parent link)."""
        filled = np.zeros(len(resumed), dtype=bool)
        for cell in np.flatnonzero(resumed):
            last = self._recent_frame(int(origins[cell, 0]))
            last_cell, start = int(origins[cell, 1]), last.detections.centers[origins[cell, 1]]
            steps = []
            for index, kept in enumerate(self._recent):
                if not last.frame < kept.frame < frame:
                    continue
                shift = (detections.centers[cell] - start) * (kept.frame - last.frame) / (frame - last.frame)
                center, mask = start + shift, None
                if last.detections.labels is not None:
                    mask = last.detections.moved_mask(last_cell, shift) & (kept.detections.labels == 0)
                    if not mask.any():
                        break
                    ys, xs = np.nonzero(mask)
                    center = (xs.mean(), ys.mean())
                steps.append((index, center, mask))
            else:
                embeddings = {name: value[last_cell:last_cell + 1] for name, value in last.detections.embeddings.items()}
                for index, center, mask in steps:
                    kept = self._recent[index]
                    self._recent[index] = _Frame(kept.frame, kept.detections.with_cell(center, mask, embeddings),
                                                 np.append(kept.track_ids, resumed[cell]))
                filled[cell] = True
        return filled

    def _discard(self, track_ids: np.ndarray) -> None:
        """Remove short lone tracks: from the lineage, and their cells' ids (0) in the frames kept."""
        if len(track_ids) == 0:
            return
        self._lineage.discard(track_ids)
        for kept in self._recent:
            kept.track_ids[np.isin(kept.track_ids, track_ids)] = 0
