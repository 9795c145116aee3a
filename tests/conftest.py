"""Shared test fixtures. Tests build their data with the project's own synthetic generator."""
from pathlib import Path

import pytest

import celltrack.data  # noqa: F401  (installs the detectron2 shims first)
from celltrack.data.synthetic import make_synthetic_sequence


@pytest.fixture
def ctc_root(tmp_path) -> Path:
    """A fresh tiny CTC dataset ``<tmp>/Synthetic/01`` (128x128, 8 frames, 8 cells, with divisions)."""
    root = tmp_path / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=8, num_cells=8, height=128, width=128, seed=0,
                            cell_radius=(6.0, 10.0), cell_cycle=(3, 12))
    return root


@pytest.fixture(scope="session")
def bright_sequence(tmp_path_factory) -> Path:
    """``<tmp>/Synthetic/01`` (96x96, 6 frames, bright cells that divide quickly): the baselines' test movie,
    shared by the package's and the benchmark's tests. Read only."""
    root = tmp_path_factory.mktemp("bright") / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=6, num_cells=6, height=96, width=96, seed=2,
                            cell_radius=(7.0, 10.0), cell_cycle=(3, 6), signal=(150.0, 250.0))
    return root


TINY_CONFIG = Path(__file__).parents[1] / "configs" / "CellTrack-R18-FPN-tiny.yaml"


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory):
    """A tiny CellTrack trained briefly (CellTrackTrainer, CPU) on a synthetic movie.

    Returns (cfg, weights path, dataset root). Good enough to exercise inference end to end, not to
    be accurate: tests that need accuracy link given masks instead.
    """
    from celltrack.config import get_celltrack_cfg
    from celltrack.data import register_ctc_dataset
    from celltrack.trainer import CellTrackTrainer

    work = tmp_path_factory.mktemp("trained_tiny")
    root = work / "Synthetic"
    make_synthetic_sequence(root, "01", num_frames=10, num_cells=6, height=128, width=128, seed=1,
                            cell_radius=(7.0, 10.0), cell_cycle=(4, 12))
    register_ctc_dataset("tests-trained-tiny/01", root, sequences=["01"])
    cfg = get_celltrack_cfg(str(TINY_CONFIG), [
        "DATASETS.TRAIN", "('tests-trained-tiny/01',)", "DATASETS.TEST", "()",
        "SOLVER.MAX_ITER", "40", "SOLVER.WARMUP_ITERS", "10", "SOLVER.STEPS", "(30,)",
        "OUTPUT_DIR", str(work / "model"), "SEED", "3",
    ])
    trainer = CellTrackTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    return cfg, work / "model" / "model_final.pth", root
