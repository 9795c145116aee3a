#!/usr/bin/env python
"""Put a trained model into the package's model zoo (float16 weights, the full config), for track_video's default.

    python tools/ship_model.py --config-file output/linker/config.yaml --weights output/linker/model_final.pth \\
        --name CellTrack-R18-FPN-cpu [KEY VALUE ...]

Writes ``celltrack/model_zoo/NAME/config.yaml`` (MODEL.WEIGHTS left empty: the zoo fills it in) and
``model_final.pth`` (model weights only, float16). The model card (MODEL_CARD.md) is written by hand.
The repository keeps every version of a shipped file: replace a model only when the benchmark improves.
"""
import sys

import celltrack  # noqa: F401
from celltrack import model_zoo
from celltrack.cli import ToolParser, load_config, tool


@tool()
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__)
    parser.add_argument("--config-file", required=True, help="the config the weights go with")
    parser.add_argument("--weights", help="trained CellTrack weights (.pth); without, the shipped weights stay "
                        "and only the config is replaced (e.g. refitted link models)")
    parser.add_argument("--name", default=model_zoo.DEFAULT_MODEL, help="model name (folder in celltrack/model_zoo)")
    parser.add_argument("opts", nargs="*", help="config overrides baked into the shipped config: KEY VALUE ...")
    args = parser.parse_intermixed_args(argv)
    cfg = load_config(args.config_file, list(args.opts) + ["MODEL.WEIGHTS", ""])
    folder = model_zoo.HERE / args.name
    folder.mkdir(exist_ok=True)
    if args.weights:
        size = model_zoo.slim_checkpoint(args.weights, folder / "model_final.pth")
        print(f"wrote {folder / 'model_final.pth'} ({size / 1e6:.1f} MB)")
    elif not (folder / "model_final.pth").is_file():
        raise FileNotFoundError(f"{folder / 'model_final.pth'}: no shipped weights to keep; pass --weights")
    (folder / "config.yaml").write_text(cfg.dump())
    print(f"wrote {folder / 'config.yaml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
