"""Picture of the training augmentation's coverage: augmented training frames next to real frames.

    python tools/show_augmentation.py --data ../shared/data --output docs/augmentation.png

Top rows: crops of Fluo-N2DH-SIM+ 01 / GOWT1 01 training frames as the network sees them after
CELLTRACK.AUGMENT (random acquisitions) and the inference preprocessing; bottom row: crops of real
frames of other movies (Fluo-N2DH-SIM+ 02) preprocessed for inference, unaugmented.
"""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import celltrack  # noqa: E402,F401
from celltrack.config import get_celltrack_cfg  # noqa: E402
from celltrack.data.ctc import load_ctc_sequence  # noqa: E402
from celltrack.data.mapper import (  # noqa: E402
    PhotometricRanges, outlined_cells, photometric_augment, sample_acquisition)
from celltrack.data.movie import read_frame  # noqa: E402
from celltrack.data.normalize import percentile_normalize, to_network_input  # noqa: E402

CROP = 256


def crop_window(shape, rng) -> tuple[slice, slice]:
    y, x = rng.integers(0, shape[0] - CROP), rng.integers(0, shape[1] - CROP)
    return slice(y, y + CROP), slice(x, x + CROP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder holding the CTC datasets")
    parser.add_argument("--config-file", default="configs/CellTrack-R18-FPN-cpu.yaml")
    parser.add_argument("--output", default="docs/augmentation.png")
    args = parser.parse_args()
    cfg = get_celltrack_cfg(args.config_file)
    ranges, percentiles = PhotometricRanges.from_config(cfg), tuple(cfg.CELLTRACK.NORMALIZE_PERCENTILES)
    smoothing = cfg.CELLTRACK.INPUT_SMOOTHING
    data, rng, columns = Path(args.data), np.random.default_rng(0), 6
    train = [load_ctc_sequence(data / "Fluo-N2DH-SIM+", "01")[30], load_ctc_sequence(data / "Fluo-N2DH-GOWT1", "01")[21]]
    real = [data / "Fluo-N2DH-SIM+/02" / f"t{frame:03d}.tif" for frame in (10, 40, 70, 100, 130, 149)]
    figure, axes = plt.subplots(3, columns, figsize=(2.2 * columns, 7.2))
    for row, record in enumerate(train):
        raw, cells = read_frame(record["file_name"]), outlined_cells(record)
        window = crop_window(raw.shape, rng)
        for column in range(columns):
            acquisition = sample_acquisition(ranges, rng)
            image = photometric_augment(percentile_normalize(raw, *percentiles), acquisition, rng, cells)
            axes[row, column].imshow(to_network_input(image, percentiles, smoothing)[window][..., 0], cmap="gray")
            axes[row, column].set_title(f"{record['sequence'][10:]} c={acquisition['contrast']:.2f} "
                                        f"n={acquisition['gaussian_noise']:.2f}", fontsize=7)
    for column, path in enumerate(real):
        raw = read_frame(path)
        axes[2, column].imshow(to_network_input(raw, percentiles, smoothing)[crop_window(raw.shape, rng)][..., 0],
                               cmap="gray")
        axes[2, column].set_title(f"real: SIM+ 02 {path.stem}", fontsize=7)
    for axis in axes.ravel():
        axis.set_axis_off()
    figure.suptitle("Rows 1-2: training crops under CELLTRACK.AUGMENT (c = contrast, n = Gaussian noise);"
                    " row 3: real SIM+ 02 crops. All after the inference preprocessing.", fontsize=9)
    figure.tight_layout()
    figure.savefig(args.output, dpi=90)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
