"""CellTrackPredictor: one frame in, its cells out (masks, boxes, scores, centres, track-head embeddings),
ready for the tracker. A movie is driven through it by ``celltrack.tracking.frame_loop``."""
import time
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Tuple

import numpy as np
import torch

from detectron2.data import transforms as T
from detectron2.modeling import build_model
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import Boxes, Instances

from ..checkpoint import load_trained_weights
from ..config import MIRRORS, check_celltrack_cfg
from ..data.normalize import noise_level, temporal_smooth, to_network_input
from ..modeling.roi_heads import scaled_about_centres
from .labels import boxes_from_labels, centers_from_labels, labels_from_masks, track_label_image  # noqa: F401
from .state import expect_keys
from .tracker import GIVEN_CELLS, Detections, Similarity, Tracker

EMBEDDING_FIELDS = ("visual_embeddings", "spatial_embeddings")


def track_head_similarity(track_head: torch.nn.Module) -> Similarity:
    """A track head's ``similarity`` in the tracker's terms (see ``tracker.Similarity``).

    Embeddings are tensors on the head's device (what the predictor's cells carry: they stay there, and
    the similarity runs there) or numpy arrays (cached on disk, a resumed state), which are moved there
    first. Scored without gradients; only the (E,) scores come back, as numpy arrays.
    """
    device = next(track_head.parameters()).device

    @torch.no_grad()
    def similarity(embeddings_t: Mapping, embeddings_prev: Mapping, pairs: np.ndarray) -> Dict[str, np.ndarray]:
        def to_device(embeddings: Mapping) -> Dict[str, torch.Tensor]:
            return {name: torch.as_tensor(value, device=device) for name, value in embeddings.items()}

        pairs = torch.as_tensor(pairs, dtype=torch.long, device=device)
        scores = track_head.similarity(to_device(embeddings_t), to_device(embeddings_prev), pairs)
        return {name: value.cpu().numpy() for name, value in scores.items()}

    return similarity


def instance_embeddings(cells: Instances) -> Dict[str, torch.Tensor]:
    """{"visual": (N, D), "spatial": (N, D)}: the track head's embeddings the cells carry, by head name."""
    return {name: cells.get(f"{name}_embeddings") for name in ("visual", "spatial") if cells.has(f"{name}_embeddings")}


def suppress_overlapping_masks(masks: np.ndarray, threshold: float) -> np.ndarray:
    """Mask-overlap suppression: (N,) bool, which detections to keep, one per nucleus.

    ``masks`` (N, H, W) come highest score first. A detection is dropped when more than ``threshold`` of
    its own pixels are covered by detections kept before it: box NMS lets a partial second detection of
    one nucleus through (small box, low box IoU), and each such fragment would otherwise become a cell,
    then a false "daughter" of its neighbour. ``threshold`` >= 1 keeps everything.
    """
    masks = np.asarray(masks).astype(bool, copy=False)
    keep = np.ones(len(masks), dtype=bool)
    if threshold >= 1 or len(masks) < 2:
        return keep
    covered = np.zeros(masks.shape[1:], dtype=bool)
    for i, mask in enumerate(masks):
        area = mask.sum()
        if area and (covered & mask).sum() > threshold * area:
            keep[i] = False
        else:
            covered |= mask
    return keep


@torch.no_grad()
def embed_positions(roi_heads: torch.nn.Module, cells: Instances, centers: np.ndarray, scale: float) -> None:
    """Replace ``cells.spatial_embeddings`` by the embeddings of ``centers`` (frame pixels; ``scale``
    network-input pixels per frame pixel) among themselves.

    The ROI heads embed positions among every raw box (scores >= 0.05, duplicates included); the tracker
    links only the cells kept, so their neighbours must be each other, as in training.
    """
    if not cells.has("spatial_embeddings") or len(cells) == 0:
        return
    device = cells.spatial_embeddings.device
    points = torch.as_tensor(centers * scale, dtype=torch.float32, device=next(roi_heads.parameters()).device)
    cells.spatial_embeddings = roi_heads.embed_positions(points).to(device)


def detections_from_instances(cells: Instances, overlap_threshold: float = 1.0) -> Tuple[Instances, Detections]:
    """Detected cells (frame coordinates, highest score first) -> (the cells kept, their ``Detections``).

    Detections mostly covered by better ones are dropped first (:func:`suppress_overlapping_masks` with
    ``overlap_threshold``, ``CELLTRACK.MASK_OVERLAP_THRESHOLD``).

    Masks become one label image, higher-scoring cells winning contested pixels; a detection entirely
    hidden under higher-scoring ones is a duplicate (it has no pixels) and is dropped. A cell's centre is
    the centroid of its pixels in that label image, as for label images given by the user. The Detections
    carry the cells' embeddings (``instance_embeddings``) and scores; cell i of the kept Instances has label i + 1.
    Shared by the predictor and the evaluator, so both link exactly the same cells.
    """
    if len(cells) > 1 and overlap_threshold < 1:
        cells = cells[torch.as_tensor(suppress_overlapping_masks(cells.pred_masks.numpy(), overlap_threshold))]
    labels = labels_from_masks(cells.pred_masks.numpy())
    visible = np.bincount(labels.ravel(), minlength=len(cells) + 1)[1:] > 0
    if not visible.all():
        cells = cells[torch.as_tensor(visible)]
        labels = labels_from_masks(cells.pred_masks.numpy())
    return cells, Detections(centers_from_labels(labels, len(cells)), labels, instance_embeddings(cells),
                             cells.scores.numpy() if cells.has("scores") else None)


DETECTION_FIELDS = ("pred_boxes", "scores", "pred_classes", "pred_masks")


def mirrored_boxes(boxes: Boxes, dims: Tuple[int, ...], image_size: Tuple[int, int]) -> Boxes:
    """``boxes`` in an ``image_size`` (height, width) image flipped along ``dims`` (-1: columns, left-right;
    -2: rows, up-down; see ``MIRRORS``), as ``torch.flip`` flips it; mirroring twice gives the boxes back."""
    height, width = image_size
    mirrored = boxes.tensor.clone()
    if -1 in dims:
        mirrored[:, [0, 2]] = width - boxes.tensor[:, [2, 0]]
    if -2 in dims:
        mirrored[:, [1, 3]] = height - boxes.tensor[:, [3, 1]]
    return Boxes(mirrored)


_NONE = object()  # no frame at all (an empty movie)
# The raw frames t-1 and t+1 of a frame (None at a movie's ends), for temporal smoothing.
Neighbours = Tuple[Optional[np.ndarray], Optional[np.ndarray]]


def neighbouring(frames: Iterable) -> Iterator[Tuple[Any, Tuple[Any, Any]]]:
    """``frames`` (any items, in movie order) -> ``(frame, (previous, following))`` for each, None at the ends;
    reads one frame ahead. E.g. ``for image, neighbours in neighbouring(images): predictor.segment(image,
    neighbours=neighbours)``."""
    frames = iter(frames)
    previous, current = None, next(frames, _NONE)
    if current is _NONE:
        return
    for following in frames:
        yield current, (previous, following)
        previous, current = current, following
    yield current, (previous, None)


def detection_score(cfg) -> float:
    """The least score the predictor detects: ``CELLTRACK.TRACKER.MIN_SCORE``, or ``CONTINUE_SCORE`` if lower
    (cells between the two may only continue a track; the tracker decides)."""
    return min(cfg.CELLTRACK.TRACKER.MIN_SCORE, cfg.CELLTRACK.TRACKER.CONTINUE_SCORE)


def _to_cpu_but_embeddings(cells: Instances) -> Instances:
    """``cells.to("cpu")`` except the track-head embeddings, which stay on the model's device for the
    tracker's similarity (only the scores of candidate pairs cross to the CPU)."""
    moved = cells.to("cpu")
    for name in EMBEDDING_FIELDS:
        if cells.has(name):
            moved.set(name, cells.get(name))
    return moved


class CellTrackPredictor:
    """Like detectron2's DefaultPredictor, for the cells of one frame of a movie, ready to link.

    Each call takes a frame as a raw 2-D array (any dtype; smoothed and normalised by percentiles exactly
    as in training) and returns ``Instances`` in frame coordinates with ``pred_masks``, ``pred_boxes``,
    ``scores``, ``pred_classes``, ``pred_centers`` ((N, 2) x, y: the centroid of the cell's pixels in the
    frame's label image) and the track head's ``visual_embeddings`` / ``spatial_embeddings`` (on the
    model's device). :meth:`segment` also returns the frame's ``Detections`` (label image: cell i has
    label i + 1), what the tracker links. :func:`celltrack.tracking.frame_loop.track_frames` drives a
    movie through both, with a tracker from :meth:`make_tracker`.

    With ``labels`` (a label image of cells segmented elsewhere, e.g. Cellpose, 0 = background) the
    detector is skipped: the track head embeds the given cells.

    ``frames`` / ``seconds`` / ``smoothed_frames``: frames segmented so far, the time spent on them and how many
    of them were smoothed in time (its state, :meth:`state_dict`, so that a resumed run reports the whole movie's).
    """

    def __init__(self, cfg, model: Optional[torch.nn.Module] = None):
        self.cfg = cfg.clone()
        if model is None:
            model = build_model(self.cfg)
            load_trained_weights(model, cfg.MODEL.WEIGHTS)
        self.model = model.eval()
        self.resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
        self.percentiles = tuple(cfg.CELLTRACK.NORMALIZE_PERCENTILES)
        self.smoothing = cfg.CELLTRACK.INPUT_SMOOTHING
        self.temporal_smoothing = cfg.CELLTRACK.TEMPORAL_SMOOTHING
        self.temporal_smoothing_noise = cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE
        self.min_score = detection_score(cfg)
        self.overlap_threshold = cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD
        self.mask_threshold = cfg.CELLTRACK.MASK_THRESHOLD
        self.mask_flip = cfg.CELLTRACK.MASK_FLIP
        check_celltrack_cfg(cfg)
        self.mirrored_detection = tuple(cfg.CELLTRACK.MIRRORED_DETECTION)
        self.similarity: Similarity = track_head_similarity(self.model.roi_heads.track_head)  # built once
        self.reset()

    def reset(self) -> None:
        """Zero the counters (a new movie)."""
        self.frames, self.seconds, self.smoothed_frames = 0, 0.0, 0

    def make_tracker(self, given_cells: bool = False) -> Tracker:
        """A fresh tracker for one movie: the config's ``CELLTRACK.TRACKER`` and this model's similarity.

        ``given_cells``: the movie's cells are label images segmented elsewhere; then no short track is
        discarded and no gap is closed (``MIN_TRACK_LENGTH`` and ``MAX_GAP`` are for the detector's flickers
        and misses; ``tracker.GIVEN_CELLS``).
        """
        return Tracker(self.cfg, similarity=self.similarity, **(GIVEN_CELLS if given_cells else {}))

    def state_dict(self) -> Dict[str, Any]:
        return {"frames": self.frames, "seconds": self.seconds, "smoothed_frames": self.smoothed_frames}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        expect_keys(state, ("frames", "seconds"), "CellTrackPredictor")
        self.frames, self.seconds = int(state["frames"]), float(state["seconds"])
        self.smoothed_frames = int(state.get("smoothed_frames", 0))

    def _input_scale(self, frame_shape) -> float:
        """Network-input pixels per frame pixel."""
        height, width = frame_shape[:2]
        new_height, _ = T.ResizeShortestEdge.get_output_shape(
            height, width, self.cfg.INPUT.MIN_SIZE_TEST, self.cfg.INPUT.MAX_SIZE_TEST) \
            if self.cfg.INPUT.MIN_SIZE_TEST else (height, width)
        return new_height / height

    def model_input(self, image: np.ndarray, neighbours: Neighbours = (None, None)) -> dict:
        """The model's input for one raw frame: smoothed, normalised, resized, on the model's device.

        ``neighbours``: the raw frames t-1 and t+1 (None where there is none); with
        ``CELLTRACK.TEMPORAL_SMOOTHING`` on and a frame noisier than ``TEMPORAL_SMOOTHING_NOISE``, its input is
        averaged with theirs (:func:`celltrack.data.normalize.temporal_smooth`)."""
        network_image = to_network_input(image, self.percentiles, self.smoothing)
        if self.smooths_in_time(image, neighbours):
            self.smoothed_frames += 1
            network_image = temporal_smooth(network_image, *(
                None if neighbour is None else to_network_input(neighbour, self.percentiles, self.smoothing)
                for neighbour in neighbours), self.temporal_smoothing)
        resized = self.resize.get_transform(network_image).apply_image(network_image)
        tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)), dtype=torch.float32)
        return {"image": tensor.to(self.model.device), "height": image.shape[0], "width": image.shape[1]}

    def smooths_in_time(self, image: np.ndarray, neighbours: Neighbours) -> bool:
        """Whether :meth:`model_input` averages ``image`` with its ``neighbours`` (temporal smoothing on, a
        neighbour given, the frame's ``noise_level`` above ``CELLTRACK.TEMPORAL_SMOOTHING_NOISE``)."""
        if self.temporal_smoothing <= 0 or all(neighbour is None for neighbour in neighbours):
            return False
        for neighbour in neighbours:
            if neighbour is not None and np.shape(neighbour) != np.shape(image):
                raise ValueError(f"a neighbouring frame is {np.shape(neighbour)}, this frame {np.shape(image)}: "
                                 "every frame of a movie must have the same size")
        return noise_level(image, self.percentiles) > self.temporal_smoothing_noise

    @torch.no_grad()
    def detect(self, image: np.ndarray, neighbours: Neighbours = (None, None)) -> Instances:
        """Segment one frame: Instances (frame coordinates) with masks (mask head's probability >=
        CELLTRACK.MASK_THRESHOLD), boxes, scores and embeddings, scores >= CELLTRACK.TRACKER.MIN_SCORE (or
        CONTINUE_SCORE, if lower), highest score first. ``neighbours``: see :meth:`model_input`."""
        inputs = self.model_input(image, neighbours)
        cells, features = self._detected(inputs)  # pred_masks: (N, 1, M, M) probabilities
        if self.mirrored_detection:
            cells = self._with_mirrored_cells(inputs, cells, features)
        if self.mask_flip and len(cells):
            cells.pred_masks = (cells.pred_masks + self._mirrored_masks(inputs, cells)) / 2
        cells = detector_postprocess(cells, inputs["height"], inputs["width"], mask_threshold=self.mask_threshold)
        return _to_cpu_but_embeddings(cells)

    def _detected(self, inputs: dict) -> Tuple[Instances, Dict[str, torch.Tensor]]:
        """The detector's cells scored at least :func:`detection_score` (network-input coordinates, masks as
        (N, 1, M, M) probabilities) and the backbone's features: ``model.inference`` without postprocessing."""
        images = self.model.preprocess_image([inputs])
        features = self.model.backbone(images.tensor)
        proposals, _ = self.model.proposal_generator(images, features, None)
        cells = self.model.roi_heads(images, features, proposals, None)[0][0]
        return cells[cells.scores >= self.min_score], features

    def _with_mirrored_cells(self, inputs: dict, cells: Instances, features: Dict[str, torch.Tensor]) -> Instances:
        """The plain frame's ``cells`` and those of each ``CELLTRACK.MIRRORED_DETECTION`` pass, mirrored back
        (boxes and mask probabilities), highest score first; every cell's embeddings read from the plain
        frame's ``features`` at its detected box (the mask head's box shrunk by ``MASK_BOX_SCALE``)."""
        found = [cells]
        for mirroring in self.mirrored_detection:
            dims = MIRRORS[mirroring]
            mirrored, _ = self._detected(dict(inputs, image=inputs["image"].flip(dims)))
            boxes = mirrored_boxes(mirrored.pred_boxes, dims, mirrored.image_size)
            found.append(Instances(mirrored.image_size, pred_boxes=boxes, scores=mirrored.scores,
                                   pred_classes=mirrored.pred_classes, pred_masks=mirrored.pred_masks.flip(dims)))
        cells = Instances.cat([Instances(c.image_size, **{k: c.get(k) for k in DETECTION_FIELDS}) for c in found])
        cells = cells[torch.argsort(cells.scores, descending=True)]
        detected = scaled_about_centres(cells.pred_boxes, 1.0 / self.model.roi_heads.mask_box_scale)
        return self.model.roi_heads.embed_cells(features, [cells], [detected])[0]

    def _mirrored_masks(self, inputs: dict, cells: Instances) -> torch.Tensor:
        """(N, 1, M, M) mask probabilities of ``cells`` (network-input coordinates, the boxes the mask head
        read) from the frame mirrored left-right, mirrored back (``CELLTRACK.MASK_FLIP``)."""
        images = self.model.preprocess_image([dict(inputs, image=inputs["image"].flip(-1))])
        features = self.model.backbone(images.tensor)
        boxes = mirrored_boxes(cells.pred_boxes, MIRRORS["horizontal"], cells.image_size)
        mirrored = Instances(cells.image_size, pred_boxes=boxes, pred_classes=cells.pred_classes)
        return self.model.roi_heads._forward_mask(features, [mirrored])[0].pred_masks.flip(-1)

    @torch.no_grad()
    def embed_labels(self, image: np.ndarray, labels: np.ndarray) -> Instances:
        """Embed cells segmented elsewhere: ``labels`` (H, W), cell i has label i + 1 (consecutive)."""
        inputs = self.model_input(image)
        images = self.model.preprocess_image([inputs])
        features = self.model.backbone(images.tensor)
        num_cells = int(labels.max(initial=0))
        boxes = boxes_from_labels(labels, num_cells)
        height, width = inputs["image"].shape[1:]
        scale = np.array([width / image.shape[1], height / image.shape[0]] * 2, dtype=np.float32)
        given = Instances((height, width), pred_boxes=Boxes(torch.as_tensor(boxes * scale, device=self.model.device)))
        given = _to_cpu_but_embeddings(self.model.roi_heads.embed_cells(features, [given])[0])
        cells = Instances(image.shape[:2], **given.get_fields())
        cells.pred_boxes = Boxes(torch.as_tensor(boxes))
        cells.pred_masks = torch.as_tensor(labels[None] == np.arange(1, num_cells + 1)[:, None, None])
        cells.scores = torch.ones(num_cells)
        cells.pred_classes = torch.zeros(num_cells, dtype=torch.long)
        return cells

    def segment(self, image: np.ndarray, labels: Optional[np.ndarray] = None,
                neighbours: Neighbours = (None, None)) -> Tuple[Instances, Detections]:
        """One frame's cells, ready to link, without linking them: detected (or the given ``labels``),
        one detection per nucleus, spatial embeddings among the cells kept. Returns the cells (frame
        coordinates; cell i has label i + 1) and their ``Detections``. ``neighbours``: the raw frames t-1
        and t+1 for temporal smoothing (:meth:`model_input`; :func:`neighbouring` pairs a movie's frames)."""
        start = time.perf_counter()
        if labels is None:
            cells, detections = self.kept_cells(self.detect(image, neighbours), image.shape)
        else:
            detections = Detections.from_labels(labels)  # relabels to consecutive 1..N
            cells, detections = self._positioned(self.embed_labels(image, detections.labels), detections, image.shape)
        self.frames += 1
        self.seconds += time.perf_counter() - start
        return cells, detections

    def kept_cells(self, detected: Instances, frame_shape) -> Tuple[Instances, Detections]:
        """What :meth:`segment` makes of :meth:`detect`'s cells: one detection per nucleus, spatial embeddings
        among the cells kept (and their ``Detections``)."""
        return self._positioned(*detections_from_instances(detected, self.overlap_threshold), frame_shape)

    def _positioned(self, cells: Instances, detections: Detections, frame_shape) -> Tuple[Instances, Detections]:
        embed_positions(self.model.roi_heads, cells, detections.centers, self._input_scale(frame_shape))
        cells.pred_centers = torch.as_tensor(detections.centers)
        return cells, Detections(detections.centers, detections.labels, instance_embeddings(cells), detections.scores)

    def __call__(self, image: np.ndarray, labels: Optional[np.ndarray] = None) -> Instances:
        """The cells of one frame (see the class); :meth:`segment` also gives their ``Detections``."""
        return self.segment(image, labels)[0]
