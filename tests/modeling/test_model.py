"""CellTrackRCNN end to end on hand-made frames: training losses, inference outputs, registries, config."""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import celltrack  # noqa: F401
from celltrack.config import get_celltrack_cfg
from detectron2.modeling import META_ARCH_REGISTRY, ROI_HEADS_REGISTRY, build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from celltrack.modeling import TRACK_HEAD_REGISTRY

TINY = str(Path(__file__).parents[2] / "configs" / "CellTrack-R18-FPN-tiny.yaml")


def disc_frame(centers, size=128, radius=9):
    """A frame (as the mapper returns it) with one bright disc per centre; track id i+1 for centre i."""
    yy, xx = np.mgrid[:size, :size]
    masks = np.stack([(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2 for cx, cy in centers])
    image = np.full((size, size), 40.0) + 180.0 * masks.any(0)
    instances = Instances((size, size))
    boxes = [[cx - radius, cy - radius, cx + radius + 1, cy + radius + 1] for cx, cy in centers]
    instances.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
    instances.gt_classes = torch.zeros(len(centers), dtype=torch.long)
    instances.gt_masks = BitMasks(torch.from_numpy(masks))
    instances.gt_track_ids = torch.arange(1, len(centers) + 1)
    instances.gt_parent_ids = torch.zeros(len(centers), dtype=torch.long)
    return {
        "image": torch.from_numpy(np.repeat(image[None], 3, 0)).float(),
        "height": size,
        "width": size,
        "instances": instances,
    }


def pair(shift=3.0):
    rng = np.random.default_rng(0)
    centers = rng.uniform(20, 108, size=(6, 2))
    current = disc_frame(centers + shift)
    current["previous"] = disc_frame(centers)
    return current


@pytest.fixture(scope="module")
def tiny_cfg():
    return get_celltrack_cfg(TINY)


def test_registries_hold_celltrack_parts(tiny_cfg):
    assert META_ARCH_REGISTRY.get("CellTrackRCNN") is not None
    assert ROI_HEADS_REGISTRY.get("CellTrackROIHeads") is not None
    assert TRACK_HEAD_REGISTRY.get("SiameseTrackHead") is not None
    model = build_model(tiny_cfg)
    assert type(model).__name__ == "CellTrackRCNN"
    assert type(model.roi_heads).__name__ == "CellTrackROIHeads"


def test_config_round_trip(tiny_cfg, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(tiny_cfg.dump())
    again = get_celltrack_cfg(str(path))
    assert yaml.safe_load(again.dump()) == yaml.safe_load(tiny_cfg.dump())
    assert again.MODEL.TRACK_HEAD.NUM_NEIGHBORS == 4 and again.CELLTRACK.TRACKER.ALPHA == 0.1


def test_training_step_reports_track_loss_and_inference_returns_embeddings(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9)
    model.train()
    for _ in range(3):
        with EventStorage():
            losses = model([pair(), pair(shift=-2.0)])
        assert {"loss_rpn_cls", "loss_cls", "loss_box_reg", "loss_mask", "loss_track"} <= set(losses)
        total = sum(losses.values())
        assert torch.isfinite(total)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        frame = pair()
        outputs = model([{"image": frame["image"], "height": 128, "width": 128}])
    cells = outputs[0]["instances"]
    fc_dim = tiny_cfg.MODEL.TRACK_HEAD.FC_DIM
    assert cells.visual_embeddings.shape == (len(cells), fc_dim)
    assert cells.spatial_embeddings.shape == (len(cells), fc_dim)
    assert cells.pred_masks.shape[1:] == (128, 128)


def test_daughter_pairs_are_positive_and_ablation_drops_a_branch(tiny_cfg):
    cfg = tiny_cfg.clone()
    cfg.defrost()
    cfg.MODEL.TRACK_HEAD.SPATIAL_ON = False
    model = build_model(cfg)
    assert model.roi_heads.track_head.spatial is None
    heads = model.roi_heads
    previous = Instances((10, 10), gt_track_ids=torch.tensor([1, 2]), gt_parent_ids=torch.tensor([0, 0]))
    current = Instances((10, 10), gt_track_ids=torch.tensor([1, 3, 4]), gt_parent_ids=torch.tensor([0, 2, 2]))
    pairs, labels = heads._sample_pairs([previous, current])
    positive = {tuple(p) for p, label in zip(pairs.tolist(), labels.tolist()) if label}
    # (cell in t, cell in t-1), t indices offset by the 2 cells of frame t-1.
    assert positive == {(2, 0), (3, 1), (4, 1)}
    assert len(pairs) == 6


def test_track_loss_falls_on_a_fixed_pair(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = [pair(), pair(shift=-3.0)]
    track_losses = []
    for _ in range(25):
        with EventStorage():
            losses = model(batch)
        track_losses.append(losses["loss_track"].item())
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    assert np.mean(track_losses[-5:]) < 0.7 * np.mean(track_losses[:5])


def test_cells_without_an_outline_train_no_mask(tiny_cfg):
    """Cells known from a tracking marker only (gt_mask_valid False) leave loss_mask at zero, not the rest."""
    torch.manual_seed(0)
    model = build_model(tiny_cfg).train()
    batch = [pair(), pair(shift=-2.0)]
    for item in batch:
        for frame in (item, item["previous"]):
            frame["instances"].gt_mask_valid = torch.zeros(len(frame["instances"]), dtype=torch.bool)
    with EventStorage():
        losses = model(batch)
    assert losses["loss_mask"].item() == 0.0
    assert losses["loss_cls"].item() > 0 and losses["loss_track"].item() > 0
    batch[0]["instances"].gt_mask_valid[:3] = True
    with EventStorage():
        assert model(batch)["loss_mask"].item() > 0


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_mask_box_scale_enlarges_the_mask_box_not_the_embedding_box(tiny_cfg, scale):
    torch.manual_seed(0)
    model = build_model(tiny_cfg).eval()
    cfg = tiny_cfg.clone()
    cfg.CELLTRACK.MASK_BOX_SCALE = scale
    scaled = build_model(cfg).eval()
    scaled.load_state_dict(model.state_dict())
    frame = pair()
    boxes = torch.tensor([[20.0, 30.0, 40.0, 46.0], [60.0, 60.0, 80.0, 90.0]])
    outputs = []
    with torch.no_grad():
        for net in (model, scaled):
            images = net.preprocess_image([{"image": frame["image"]}])
            features = net.backbone(images.tensor)
            cells = Instances((128, 128), pred_boxes=Boxes(boxes.clone()), pred_classes=torch.zeros(2, dtype=torch.long))
            outputs.append(net.roi_heads.forward_with_given_boxes(features, [cells])[0])
    plain, enlarged = outputs
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert torch.allclose(enlarged.pred_boxes.get_centers(), centres)
    assert torch.allclose(enlarged.pred_boxes.tensor[:, 2:] - enlarged.pred_boxes.tensor[:, :2],
                          (boxes[:, 2:] - boxes[:, :2]) * scale)
    assert torch.allclose(enlarged.visual_embeddings, plain.visual_embeddings)  # read from the detected box
    assert torch.equal(enlarged.pred_masks, plain.pred_masks) == (scale == 1.0)
