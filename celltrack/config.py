"""CellTrack's configuration keys. Every key has its meaning and, where the paper sets one, its value."""
from detectron2.config import CfgNode as CN

from .data.normalize import DEFAULT_PERCENTILES


def add_celltrack_config(cfg: CN) -> None:
    """Add CellTrack's keys (MODEL.TRACK_HEAD.*, CELLTRACK.*) to a detectron2 config, in place."""
    cfg.MODEL.TRACK_HEAD = CN()
    # Registered name of the track head in TRACK_HEAD_REGISTRY.
    cfg.MODEL.TRACK_HEAD.NAME = "SiameseTrackHead"
    # Width of the shared FC that embeds a cell before the Siamese difference (paper: 256).
    cfg.MODEL.TRACK_HEAD.FC_DIM = 256
    # Which Siamese heads are on; turning one off reproduces the paper's ablation (paper: both).
    cfg.MODEL.TRACK_HEAD.VISUAL_ON = True
    cfg.MODEL.TRACK_HEAD.SPATIAL_ON = True
    # Number of nearest cells in the relative position encoding, length 2n (paper: n=4).
    cfg.MODEL.TRACK_HEAD.NUM_NEIGHBORS = 4
    # How a cell's neighbourhood is encoded for the spatial branch: "nearest" (the paper: offsets to the n
    # nearest cells, nearest first, length 2n) or "polar" (a soft polar occupancy grid of the n nearest
    # cells, 4 rings x 8 directions: order-independent, so it does not jump when two neighbours swap rank).
    cfg.MODEL.TRACK_HEAD.POSITION_ENCODING = "nearest"
    # Offsets to neighbours are divided by this many pixels (in network input scale) so that
    # typical values are O(1); the paper says only "normalised".
    cfg.MODEL.TRACK_HEAD.POSITION_SCALE = 64.0
    # Weight of loss_track in the total loss (paper: 1, L = L_rpn + L_cls + L_box + L_mask + L_track).
    cfg.MODEL.TRACK_HEAD.LOSS_WEIGHT = 1.0
    # Foreground proposals per frame that enter the cross-frame pairs (caps the pair count per image).
    cfg.MODEL.TRACK_HEAD.PROPOSALS_PER_FRAME = 64
    # Fraction of positive (same-cell) pairs in the sampled pairs; negatives are far more numerous.
    cfg.MODEL.TRACK_HEAD.POSITIVE_FRACTION = 0.25
    # Pairs sampled per image pair for the track loss.
    cfg.MODEL.TRACK_HEAD.PAIRS_PER_IMAGE = 256
    # Whether a daughter and its mother count as the same cell (label 1) in training; the tracker calls a
    # division when two cells in t match one cell in t-1, so they must look alike to the head.
    cfg.MODEL.TRACK_HEAD.DAUGHTER_IS_POSITIVE = True

    cfg.CELLTRACK = CN()
    # Folder holding CTC datasets; DATASETS.TRAIN/TEST name sequences in it as "<dataset>/<sequence>",
    # e.g. "Fluo-N2DH-SIM+/01". Empty: the environment variable CELLTRACK_DATA, else ./datasets.
    cfg.CELLTRACK.DATA_ROOT = ""
    # Intensity percentiles mapped to 0 and 1 before the network, per image, in training and inference.
    cfg.CELLTRACK.NORMALIZE_PERCENTILES = DEFAULT_PERCENTILES  # (1.0, 99.8)
    # Gaussian sigma (pixels, native resolution) that smooths every frame before normalisation, in training
    # and inference: dim nuclei sit barely above the noise, and averaging over a few pixels lifts them out
    # of it without moving the outline of a 30-90 px nucleus (not in the paper; 0 = off). The shipped model was
    # trained with 1.5; at inference, 2-4 gained a little SEG on the dim rungs of benchmarks/acquisition_ladder.py
    # (SIM+ 01 frames 55-64) but lost SEG and DET on GOWT1 01 (benchmarks/ladder/), so 1.5 stays.
    cfg.CELLTRACK.INPUT_SMOOTHING = 1.5
    # At inference a noisy frame's network input is the average of its own and its neighbours' in time (frames
    # t-1 and t+1, each weighing this; 0 = off). A nucleus moves a few pixels between frames and the noise does
    # not repeat, so three frames lift a dim nucleus out of noise that one frame cannot (not in the paper). It
    # blurs a moving outline a little, so it applies only above TEMPORAL_SMOOTHING_NOISE. 0.25 had the best SEG
    # on SIM+ 01 frames 55-64 and GOWT1 01 re-acquired dimmer (python benchmarks/temporal_smoothing.py:
    # benchmarks/temporal_smoothing.json), but tracking the validation movies' own cells with it lost (mean SEG +
    # TRA + CT 2.0692 at best against 2.0799; SIM+ 01 dimmer, whose frames straddle the gate, CT 0.725 -> 0.486:
    # benchmarks/linker_validation_continue_smoothing.json), so the shipped model has it off.
    cfg.CELLTRACK.TEMPORAL_SMOOTHING = 0.0
    # Temporal smoothing applies to frames whose noise (``celltrack.data.normalize.noise_level``: robust pixel
    # noise in units of the frame's normalised range) is above this; SIM+ 01 and GOWT1 01 as acquired: 0.02-0.03.
    cfg.CELLTRACK.TEMPORAL_SMOOTHING_NOISE = 0.099
    # Mask-overlap suppression: a detection with more than this share of its pixels under higher-scoring
    # detections is dropped (one detection per nucleus; 1 = off). Not in the paper.
    cfg.CELLTRACK.MASK_OVERLAP_THRESHOLD = 0.5
    # At inference the mask head reads each detected box enlarged by this factor about its centre, so a box
    # drawn a little too tight does not cut the nucleus' mask (the cell's box becomes the enlarged one; its
    # embedding still reads the detected box). 1 = Mask R-CNN's own; chosen on validation frames.
    cfg.CELLTRACK.MASK_BOX_SCALE = 1.0
    # A pixel belongs to a detected cell where the mask head's probability is at least this (Mask R-CNN's own:
    # 0.5). The outline of a dim nucleus fades into the background, where the head is less sure. 0.5: the best
    # mean SEG of 0.3-0.55 on SIM+ 01 frames 55-64 as acquired and dimmer with the shipped model
    # (`python benchmarks/mask_settings.py`: 0.820; 0.45: 0.820, 0.4: 0.816, 0.3: 0.797; mask_settings.json).
    cfg.CELLTRACK.MASK_THRESHOLD = 0.5
    # At inference the mask head also reads the frame mirrored left-right, for the same boxes, and each cell's
    # mask probability is the mean of the two (test-time augmentation of the masks only: boxes, scores and
    # embeddings are the plain frame's). Costs a second backbone pass. Not in the paper. Off: on SIM+ 01 frames
    # 55-64 as acquired and dimmer it did not pay with the shipped model (`python benchmarks/mask_settings.py`:
    # mean SEG 0.820 with it at 0.5, 0.820 without; mask_settings.json).
    cfg.CELLTRACK.MASK_FLIP = False
    # At inference the detector also reads the frame mirrored ("horizontal": left-right, "vertical": up-down,
    # "both": both at once), once per entry; the mirrored passes' cells, mirrored back, join the plain frame's
    # and one detection per nucleus is kept as always (MASK_OVERLAP_THRESHOLD, highest score first): a dim
    # nucleus the detector misses in one orientation may be found in another (test-time augmentation of the
    # detections; not in the paper). Every cell's track-head embeddings are read from the plain frame. Each
    # entry costs one more detector pass. Empty = off: on the validation ladder (python
    # benchmarks/mirrored_detection.py: benchmarks/mirrored_detection.json) SEG went 0.766 -> 0.771 with one mirror and 0.776
    # with all three, the gain on the dim rungs, at 1.95x / 3.8x the time per frame; not yet benchmarked as the default.
    cfg.CELLTRACK.MIRRORED_DETECTION = ()
    # Training pairs frame t with frame t-gap, gap drawn from 1..MAX_FRAME_GAP (paper: 1).
    cfg.CELLTRACK.MAX_FRAME_GAP = 1
    # Modules that train (names of the model's modules, e.g. "roi_heads.mask_head"; each with its submodules);
    # every other parameter is frozen. Empty: all train (what MODEL.BACKBONE.FREEZE_AT leaves). A fine-tune of
    # the detection heads on the frozen backbone keeps the features the track head reads, so the trained linker
    # (and linkers trained from the same weights) stay valid. Not in the paper.
    cfg.CELLTRACK.TRAIN_ONLY = []

    cfg.CELLTRACK.AUGMENT = CN()
    # Geometric augmentations, identical on both frames of a pair.
    cfg.CELLTRACK.AUGMENT.FLIP = True
    cfg.CELLTRACK.AUGMENT.ROTATE_90 = True
    # Random crop (height, width) in pixels before resizing; (0, 0) turns cropping off.
    cfg.CELLTRACK.AUGMENT.CROP_SIZE = (0, 0)
    # Simulated acquisition (the ranges below), one setting per training pair, noise drawn per frame. The
    # ranges cover dimmer, noisier, unevenly lit microscopes than the training movies (issue #10: cells of
    # Fluo-N2DH-SIM+ 02 sit ~0.08 above background under noise ~0.07 once normalised).
    cfg.CELLTRACK.AUGMENT.PHOTOMETRIC = True
    # Factor on the signal above the background (median): 0.2 = cells at a fifth of their contrast.
    cfg.CELLTRACK.AUGMENT.CONTRAST = (0.2, 1.25)
    # Factor on the signal of each cell on top of CONTRAST (log-uniform, the same for a cell in both frames):
    # dim and bright nuclei side by side, as in movies whose brightest cells set the normalisation.
    cfg.CELLTRACK.AUGMENT.CELL_CONTRAST = (0.25, 1.5)
    # Gamma on the normalised frame (log-uniform); > 1 dims faint cells more than bright ones.
    cfg.CELLTRACK.AUGMENT.GAMMA = (0.6, 1.8)
    # Largest background offset added or subtracted, in units of the normalised range.
    cfg.CELLTRACK.AUGMENT.BACKGROUND_OFFSET = 0.1
    # Largest relative amplitude of a linear illumination ramp across the frame (uneven illumination).
    cfg.CELLTRACK.AUGMENT.ILLUMINATION = 0.3
    # Gaussian blur sigma (pixels) of the optics.
    cfg.CELLTRACK.AUGMENT.BLUR_SIGMA = (0.0, 1.5)
    # Additive Gaussian (read-out) noise, standard deviation in units of the normalised range.
    cfg.CELLTRACK.AUGMENT.GAUSSIAN_NOISE = (0.0, 0.12)
    # Signal-dependent (Poisson-like shot) noise: standard deviation k * sqrt(signal), k in this range.
    cfg.CELLTRACK.AUGMENT.POISSON_NOISE = (0.0, 0.1)
    # Share of the training pairs whose frames enter averaged with their neighbours in time (frames t-1 and t+1,
    # each weighing CELLTRACK.TEMPORAL_SMOOTHING), as the predictor averages a noisy movie's frames, so the network
    # learns to outline a cell in an averaged frame; 0 = none. Not in the paper.
    cfg.CELLTRACK.AUGMENT.TEMPORAL_SMOOTHING = 0.0

    cfg.CELLTRACK.TRACKER = CN()
    # Linking rule: "paper" (per-cell agreement of visual and spatial argmax, overlap fallback)
    # or "global" (one-to-one Hungarian assignment of the fused scores, then divisions). Default "global":
    # on Fluo-N2DH-SIM+ 02 ground-truth masks it links far better (CT 0.752 vs 0.390, BC(2) 0.851 vs
    # 0.564, benchmarks/RESULTS.md); the paper's rule lets a cell that enters claim a neighbour.
    cfg.CELLTRACK.TRACKER.METHOD = "global"
    # Least mask IoU with a t-1 cell for an overlap link (paper: 0.1, where a cell whose best overlap is below
    # it starts a new track; the "global" and "learned" rules may still link it by similarity).
    cfg.CELLTRACK.TRACKER.ALPHA = 0.1
    # Frames a lost track may be resumed after (0 = the paper: tracks end when nothing matches). With
    # MIN_TRACK_LENGTH k > 1 only a track that lasted k frames is resumed (flickers are not chained).
    cfg.CELLTRACK.TRACKER.MAX_GAP = 3
    # A resumed track goes on through its gap: each frame it was missed in gets its last mask moved along the
    # line to the resumed cell (where no other cell is), instead of the gap being a parent link with one child
    # (the CTC form of a gap). Outputs then lag at least MAX_GAP frames. MAX_GAP 3 with FILL_GAPS: the best mean
    # CT + TRA of gaps 0, 1, 2 and 1, 2, 3 filled on benchmarks/linker_validation.py's six movies with the shipped
    # detector's own cells (1.360 against 1.356 for no gap; 1, 2 unfilled: 1.352, 1.345, their parent links cut
    # tracks; linker_validation.json). A rerun with RESCUE_THRESHOLD 0.2 chose 1 filled by 0.0005, within noise;
    # the benchmark with 1 was lower on SIM+ 02 (CT 0.281 against 0.289), so 3 stays (linker_validation_rerun.json,
    # its note). A Tracker built without a config: 0 / off. Cells given as label images
    # (track_video --masks) get no gap closing (tracker.GIVEN_CELLS).
    cfg.CELLTRACK.TRACKER.FILL_GAPS = True
    # Candidate t-1 cells considered per cell in t (nearest by centre); bounds the linker's cost.
    cfg.CELLTRACK.TRACKER.NUM_CANDIDATES = 10
    # Pixels; t-1 cells farther than this are candidates only if their masks overlap (0 = no limit).
    cfg.CELLTRACK.TRACKER.MAX_DISTANCE = 0.0
    # Fused similarity from which a pair may link without overlap ("global" rule and gap closing).
    cfg.CELLTRACK.TRACKER.MIN_SIMILARITY = 0.5
    # Minimum link weight (fused similarity + IoU, in [0, 2]) of a second daughter in the "global" rule.
    cfg.CELLTRACK.TRACKER.DIVISION_MIN_SCORE = 0.5
    # The "learned" rule (celltrack/tracking/link_model.py): logistic weights of the link and division models
    # (one per feature, then a bias) and the displacement scale (pixels) that distances are measured in.
    # Fitted on training ground truth by tools/train_linker.py, which writes them into the config it saves;
    # empty here, so that METHOD learned without them is an error.
    cfg.CELLTRACK.TRACKER.LINK_WEIGHTS = []
    cfg.CELLTRACK.TRACKER.DIVISION_WEIGHTS = []
    # The features those weights belong to, in order (link_model.LINK_FEATURES / DIVISION_FEATURES when
    # fitted): weights fitted for other features are refused instead of being read as these.
    cfg.CELLTRACK.TRACKER.LINK_FEATURES = []
    cfg.CELLTRACK.TRACKER.DIVISION_FEATURES = []
    cfg.CELLTRACK.TRACKER.DISPLACEMENT_SCALE = 0.0
    # L2 penalty of those fits (link_model.fit_logistic, on standardised features). 1e-4: the best mean CT of
    # 1e-4, 1e-3, 1e-2, 0.1 on benchmarks/linker_validation.py's six movies (0.889 against 0.880 for 0.1;
    # 1e-3 and 1e-2 fitted division models that called almost no divisions on the synthetic movies).
    cfg.CELLTRACK.TRACKER.FIT_PENALTY = 1e-4
    # Least probability of a link and of a division under the "learned" rule.
    cfg.CELLTRACK.TRACKER.LINK_THRESHOLD = 0.5
    cfg.CELLTRACK.TRACKER.DIVISION_THRESHOLD = 0.5
    # "learned" rule: a candidate division is the mother going on beside a newcomer, and refused, when the
    # daughters' areas add up to more than DIVISION_MAX_AREA_SUM times the mother's and one daughter overlaps
    # the mother by mask IoU >= DIVISION_MOTHER_IOU (mitosis conserves the cell's mass; a cell that enters
    # beside another, taken for its second daughter, brings its own area; a real mitosis whose mother had
    # shrunk gives larger daughters, but neither overlaps her much). 0 = no bound. Not in the paper. 1.5 and
    # 0.3: the best mean CT of no bound and 2, 1.5, 1.25 each with IoU 0 and 0.3 on the ground-truth cells of
    # `benchmarks/linker_validation.py --area-sums`' six movies (0.916 against 0.892 with no bound; 1.5 with
    # the area alone 0.913, losing two true SIM+ 01 divisions whose mother had shrunk;
    # benchmarks/linker_validation_area_sum.json).
    cfg.CELLTRACK.TRACKER.DIVISION_MAX_AREA_SUM = 1.5
    cfg.CELLTRACK.TRACKER.DIVISION_MOTHER_IOU = 0.3
    # Least probability of a rescued link: after the links and divisions, a cell of t left without a t-1
    # cell may still continue a t-1 cell that nothing continued (one-to-one, link_model.rescue_links).
    # 0.2: the best mean CT of off, 0.2, 0.1, 0.05, 0.02 on benchmarks/linker_validation.py's six movies with the
    # shipped link models and GOWT1 01's cells as its TRA markers in every frame (0.892 against 0.891 for 0.1 and
    # 0.05, 0.875 off; GOWT1 01 0.807 against 0.800, the other movies equal). >= LINK_THRESHOLD: off (the paper).
    cfg.CELLTRACK.TRACKER.RESCUE_THRESHOLD = 0.2
    # A division stands only if both daughters are seen in their first this many frames; when one daughter's
    # track ends sooner (a fragment or duplicate next to a cell) the other continues the mother's track and
    # the short one loses its parent. Outputs then lag this many frames - 1 behind the linking. 2: the best
    # mean CT of 0, 2, 3, 4 on benchmarks/linker_validation.py's six movies with the earlier link models; with
    # the shipped ones 0 and 2 tie there (ground-truth cells have no fragments to undo), and 2 halves the
    # divisions called on GOWT1 01's own detections (2 for 2, 4 without; benchmarks/results.json). Longer
    # probations also undo true divisions whose daughter's track a link error cuts. 0 or 1 = off (the paper).
    cfg.CELLTRACK.TRACKER.DIVISION_PERSISTENCE = 2
    # A track without parent or daughters that ends before it has lasted this many frames is discarded (its cells
    # are not written): a detector's flicker on a faint out-of-focus nucleus or debris, not a cell. Outputs then
    # lag this many frames - 1 (+ MAX_GAP) behind the linking; tracks still going when the movie ends are kept.
    # 5: the best mean CT + TRA of off, 2, 3, 4, 5, 7, 10 on benchmarks/linker_validation.py's six movies with the
    # shipped detector's own cells (linker_validation.json): 1.356 against 1.302 off (CT 0.487 against 0.429; GOWT1
    # 01 0.535 against 0.183, where faint out-of-focus nuclei flicker in and out). CT alone keeps rising (0.494 at
    # 10) while TRA falls (0.860 at 10, 0.869 at 5, 0.873 off): short tracks of real cells the detector loses go too.
    # Cells given as label images (track_video --masks) are never discarded. 0 or 1 = off (the paper; a Tracker
    # built without a config).
    cfg.CELLTRACK.TRACKER.MIN_TRACK_LENGTH = 5
    # Each cell's mask as written is the per-pixel majority of its own mask and its track's masks in the frames
    # before and after, each moved to the middle of their two centroids (a temporal median of the shape: a mask
    # jitters with each frame's noise, a nucleus changes slowly). Outputs lag at least one frame. Not in the paper.
    # Off: `python benchmarks/linker_validation.py --continue-scores` (own cells of its six movies and SIM+ 01 at the
    # acquisition ladder's dimmest rung) found it raises SEG only on the dimmest movie (0.725 -> 0.740) and lowers
    # it on every other (SIM+ 01 frames 55-64 0.821 -> 0.801, every 2nd frame 0.854 -> 0.800; mean SEG + TRA + CT
    # 2.075 against 2.080; benchmarks/linker_validation_continue.json).
    cfg.CELLTRACK.TRACKER.TEMPORAL_MASKS = False
    # Least score of a detection that starts a track (and takes part in the links, divisions and gap closing).
    cfg.CELLTRACK.TRACKER.MIN_SCORE = 0.5
    # Least score of a detection that may only continue a track: cells scored from CONTINUE_SCORE up to MIN_SCORE
    # are kept when they continue, one to one, a track of the frame before that nothing else continued and that
    # lasted MIN_TRACK_LENGTH frames, and dropped otherwise (ByteTrack's low-score association, Zhang et al., ECCV
    # 2022: a dim nucleus scored low for a few frames is not lost, a low-scored flicker starts nothing).
    # >= MIN_SCORE: off. Not in the paper. Off: `python benchmarks/linker_validation.py --continue-scores` chose
    # MIN_SCORE 0.2 with it off by mean SEG + TRA + CT over its seven movies' own cells (2.0799), 0.2 with 0.1 a
    # near tie (2.0795: DET up on the dim movies, SIM+ 01 dimmest 0.953 -> 0.955, synthetic B 0.619 -> 0.627, CT
    # down on GOWT1 01, 0.559 -> 0.535, whose faint out-of-focus nuclei the reference does not annotate); MIN_SCORE
    # 0.4 with 0.1 the best on GOWT1 01 (DET 0.982, CT 0.645) and worse on the dim movies (2.067).
    cfg.CELLTRACK.TRACKER.CONTINUE_SCORE = 1.0


# CELLTRACK.MIRRORED_DETECTION's mirrorings: the image axes (torch.flip's dims) each flips.
MIRRORS = {"horizontal": (-1,), "vertical": (-2,), "both": (-2, -1)}


def check_celltrack_cfg(cfg: CN) -> None:
    """ValueError for a CellTrack value no run can use. :func:`get_celltrack_cfg` checks each config it makes
    (so a tool reports a wrong value as a user error, before any work), the predictor each config it gets."""
    unknown = [m for m in cfg.CELLTRACK.MIRRORED_DETECTION if m not in MIRRORS]
    if unknown:
        raise ValueError(f"CELLTRACK.MIRRORED_DETECTION: unknown mirroring {', '.join(map(repr, unknown))}; "
                         f"use any of {', '.join(MIRRORS)}")


def get_celltrack_cfg(config_file: str = None, opts=()) -> CN:
    """detectron2's defaults + CellTrack's keys, then ``config_file`` (through ``_BASE_``), then ``opts``."""
    from detectron2.config import get_cfg

    cfg = get_cfg()
    add_celltrack_config(cfg)
    if config_file:
        cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    check_celltrack_cfg(cfg)
    return cfg
