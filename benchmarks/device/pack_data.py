#!/usr/bin/env python
"""Pack CTC sequences into one file small enough for the device tool's 64 MiB working tree, and unpack them.

    python benchmarks/device/pack_data.py pack --data ../shared/data --out .devdata/data.pack \\
        Fluo-N2DH-SIM+/01 Fluo-N2DH-GOWT1/01
    python benchmarks/device/pack_data.py unpack .devdata/data.pack --data /tmp/data   # on the device machine

Every TIFF of each sequence (raw frames, SEG and TRA labels) and its man_track.txt is stored as its pixel array
(lzma, lossless); unpacking writes the same arrays back in the CTC layout as uncompressed TIFFs and checks each
against the sha256 of its array taken at packing. The packed file never goes into the repository (CTC terms).
"""
import argparse
import hashlib
import lzma
import pickle
import sys
from pathlib import Path

import numpy as np
import tifffile


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes() + str(array.dtype).encode() + str(array.shape).encode()).hexdigest()


def pack(data: Path, sequences, out: Path) -> None:
    entries = []
    for name in sequences:
        dataset, sequence = name.split("/")
        if not (data / dataset / sequence).is_dir():
            sys.exit(f"error: {data / dataset / sequence} is not a folder")
        for folder in (data / dataset / sequence, data / dataset / f"{sequence}_GT"):
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.suffix == ".tif":
                    array = tifffile.imread(path)
                    entries.append((str(path.relative_to(data)), "tif", array, digest(array)))
                elif path.suffix == ".txt":
                    entries.append((str(path.relative_to(data)), "txt", path.read_bytes(), ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(pickle.dumps(entries, protocol=4), preset=9 | lzma.PRESET_EXTREME))
    print(f"{out}: {len(entries)} files, {out.stat().st_size / 2**20:.1f} MiB")


def unpack(packed: Path, data: Path) -> None:
    entries = pickle.loads(lzma.decompress(packed.read_bytes()))
    for relative, kind, content, expected in entries:
        path = data / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "txt":
            path.write_bytes(content)
            continue
        tifffile.imwrite(path, content)
        if digest(tifffile.imread(path)) != expected:
            sys.exit(f"error: {path} does not read back as the packed array")
    print(f"{data}: {len(entries)} files unpacked and checked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("sequences", nargs="+", help="<dataset>/<sequence>")
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.data, args.sequences, args.out)
    else:
        unpack(args.packed, args.data)


if __name__ == "__main__":
    main()
