"""Each shim of celltrack.compat, checked through the detectron2 code that needs it."""

import numpy as np
import pytest
import torch
from PIL import Image

import celltrack  # noqa: F401  (installs the shims)
from celltrack import compat


@pytest.mark.skipif(compat.has_compiled_ops(), reason="official detectron2 with compiled ops installed")
def test_layers_import_and_missing_ops_raise_a_clear_error():
    import detectron2.layers  # imports detectron2._C at import time
    from detectron2.layers.rotated_boxes import pairwise_iou_rotated

    boxes = torch.tensor([[10.0, 10.0, 4.0, 4.0, 0.0]])
    with pytest.raises(compat.MissingCompiledOpError, match="box_iou_rotated.*official detectron2"):
        pairwise_iou_rotated(boxes, boxes)
    assert detectron2.layers.ROIAlign is not None


def test_pillow_linear_used_by_extent_transform():
    from detectron2.data.transforms import ExtentTransform

    assert Image.LINEAR == Image.BILINEAR
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = ExtentTransform(src_rect=(0, 0, 8, 8), output_size=(4, 4)).apply_image(image)
    assert out.shape == (4, 4)


def test_numpy_aliases_used_by_training_loader_histogram():
    from detectron2.data.build import print_instances_class_histogram

    records = [{"annotations": [{"category_id": 0, "iscrowd": 0}] * 3}]
    print_instances_class_histogram(records, ["cell"])


def test_checkpointer_save_and_resume_under_weights_only(tmp_path):
    from detectron2.solver import LRMultiplier, WarmupParamScheduler
    from fvcore.common.param_scheduler import MultiStepParamScheduler

    from celltrack.checkpoint import CellTrackCheckpointer

    def build():
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = LRMultiplier(
            optimizer, WarmupParamScheduler(MultiStepParamScheduler([1, 0.1], milestones=[5], num_updates=10), 0.1, 0.2), 10
        )
        return model, optimizer, scheduler

    model, optimizer, scheduler = build()
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    for _ in range(6):
        scheduler.step()
    saver = CellTrackCheckpointer(model, str(tmp_path), optimizer=optimizer, scheduler=scheduler)
    saver.save("model_0000005", iteration=5)

    model2, optimizer2, scheduler2 = build()
    loader = CellTrackCheckpointer(model2, str(tmp_path), optimizer=optimizer2, scheduler=scheduler2)
    extra = loader.resume_or_load("", resume=True)
    assert extra["iteration"] == 5
    assert torch.equal(model2.weight, model.weight)
    assert optimizer2.state_dict()["state"][0]["momentum_buffer"].shape == (2, 3)
    assert scheduler2.state_dict()["last_epoch"] == scheduler.state_dict()["last_epoch"]


class _Payload:
    def __reduce__(self):
        return (print, ("pickle executed",))


def test_checkpoint_with_pickled_objects_is_refused(tmp_path):
    from celltrack.checkpoint import CellTrackCheckpointer, UnsafeCheckpointError

    path = tmp_path / "untrusted.pth"
    torch.save({"model": {}, "payload": _Payload()}, path)
    with pytest.raises(UnsafeCheckpointError, match="untrusted.pth.*weights_only"):
        CellTrackCheckpointer(torch.nn.Linear(1, 1)).load(str(path))


def test_collect_env_reports_detectron2_source():
    from celltrack.collect_env import collect_env

    text = collect_env()
    assert "detectron2 source" in text and "compiled ops" in text and "torch" in text
