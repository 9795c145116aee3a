"""celltrack/data/geff.py and tools/convert.py: a CTC result as a GEFF graph, read back with ``geff``."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from celltrack.data.ctc import read_lineage
from celltrack.data.geff import ctc_to_graph, read_geff, write_geff
from celltrack.data.synthetic import make_synthetic_sequence

REPO = Path(__file__).parents[2]


@pytest.fixture
def result(tmp_path) -> Path:
    """A CTC result folder: the GT tracking masks of a 96x96, 8-frame synthetic movie with divisions, renamed."""
    make_synthetic_sequence(tmp_path / "data", "01", num_frames=8, num_cells=6, height=96, width=96, seed=0,
                            cell_radius=(6.0, 10.0), cell_cycle=(3, 8))
    folder = tmp_path / "res"
    folder.mkdir()
    for path in sorted((tmp_path / "data" / "01_GT" / "TRA").glob("man_track*.tif")):
        shutil.copy(path, folder / path.name.replace("man_track", "mask"))
    shutil.copy(tmp_path / "data" / "01_GT" / "TRA" / "man_track.txt", folder / "res_track.txt")
    return folder


def cells(folder: Path) -> list:
    """(frame, label) of every cell in the masks."""
    return [(frame, int(label)) for frame, path in enumerate(sorted(folder.glob("mask*.tif")))
            for label in np.unique(tifffile.imread(path)) if label]


def test_geff_holds_a_node_per_cell_and_an_edge_per_link_and_division(result, tmp_path):
    from geff.validate.data import ValidationConfig

    counts = write_geff(result, tmp_path / "tracks.geff")
    graph, metadata = read_geff(tmp_path / "tracks.geff")
    lineage = read_lineage(result / "res_track.txt")
    links = int((lineage[:, 2] - lineage[:, 1]).sum())  # consecutive frames of one track
    parents = lineage[lineage[:, 3] > 0]
    assert len(parents) >= 2, "the synthetic movie should divide"
    assert graph.number_of_nodes() == counts["nodes"] == len(cells(result))
    assert graph.number_of_edges() == counts["edges"] == links + len(parents)
    assert {(data["t"], data["seg_id"]) for _, data in graph.nodes(data=True)} == set(cells(result))

    node_of = {(data["t"], data["track_id"]): node for node, data in graph.nodes(data=True)}
    for daughter, begin, _, mother in parents.tolist():
        mother_end = int(lineage[lineage[:, 0] == mother, 2][0])
        assert list(graph.predecessors(node_of[begin, daughter])) == [node_of[mother_end, mother]]
    for mother in set(parents[:, 3].tolist()):
        mother_end = int(lineage[lineage[:, 0] == mother, 2][0])
        daughters = sorted(graph.nodes[node]["track_id"] for node in graph.successors(node_of[mother_end, mother]))
        assert daughters == sorted(parents[parents[:, 3] == mother, 0].tolist())

    # centroid and area of one node against its mask
    node, data = next(iter(graph.nodes(data=True)))
    mask = tifffile.imread(result / f"mask{data['t']:03d}.tif") == data["seg_id"]
    rows, cols = np.nonzero(mask)
    assert data["area"] == mask.sum() and data["y"] == pytest.approx(rows.mean()) and data["x"] == pytest.approx(
        cols.mean())
    assert [axis.name for axis in metadata.axes] == ["t", "y", "x"]
    assert metadata.track_node_props == {"lineage": "lineage_id", "tracklet": "track_id"}
    # geff's own checks of the graph, its tracklets and lineages
    read_geff_validated = __import__("geff").read(str(tmp_path / "tracks.geff"), data_validation=ValidationConfig(
        graph=True, tracklet=True, lineage=True))
    assert read_geff_validated[0].number_of_nodes() == counts["nodes"]


def test_a_track_continued_after_a_gap_is_no_tracklet(result):
    lines = (result / "res_track.txt").read_text().splitlines()
    mother = next(int(line.split()[3]) for line in lines if int(line.split()[3]))
    daughters = [line for line in lines if int(line.split()[3]) == mother]
    for line in daughters[1:]:  # drop all but one daughter: the mother continues into one track
        label = int(line.split()[0])
        for path in result.glob("mask*.tif"):
            labels = tifffile.imread(path)
            tifffile.imwrite(path, np.where(labels == label, 0, labels).astype(np.uint16))
        lines.remove(line)
    # daughters of the removed daughters lose their parent
    removed = {line.split()[0] for line in daughters[1:]}
    lines = [" ".join(fields[:3] + ["0" if fields[3] in removed else fields[3]]) for fields in map(str.split, lines)]
    (result / "res_track.txt").write_text("\n".join(lines) + "\n")
    graph = ctc_to_graph(result)
    assert not graph["tracklets"]


def test_masks_that_disagree_with_the_lineage_are_refused(result, tmp_path):
    from celltrack.data.movie import DataError

    labels = tifffile.imread(result / "mask002.tif")
    labels[:3, :3] = 999
    tifffile.imwrite(result / "mask002.tif", labels)
    with pytest.raises(DataError, match=r"mask002.tif \(frame 2\): track 999 is in the mask but not listed"):
        write_geff(result, tmp_path / "tracks.geff")
    assert not (tmp_path / "tracks.geff").exists()


def test_convert_tool(result, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("convert", REPO / "tools" / "convert.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    out = tmp_path / "out.geff"
    assert convert.main([result, "--to", "geff", "--output", out]) == 0
    assert f"{len(cells(result))} nodes" in capsys.readouterr().out
    graph, _ = read_geff(out)
    assert graph.number_of_nodes() == len(cells(result))

    assert convert.main([result, "--to", "geff", "--output", out]) == 2  # no silent replacement
    assert "out.geff: already exists" in capsys.readouterr().err
    assert convert.main([result, "--to", "geff", "--output", out, "--overwrite"]) == 0

    not_a_result = tmp_path / "holiday"
    not_a_result.mkdir()
    tifffile.imwrite(not_a_result / "beach.tif", np.zeros((8, 8), np.uint8))
    assert convert.main([not_a_result, "--to", "geff", "--output", tmp_path / "x.geff"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "holiday: is not a CTC result" in error and len(error.splitlines()) == 1
    assert not (tmp_path / "x.geff").exists()


def test_traccuracy_loads_the_geff_and_the_ctc_result(result, tmp_path):
    pytest.importorskip("traccuracy")
    from traccuracy.loaders import load_ctc_data, load_geff_data

    write_geff(result, tmp_path / "tracks.geff")
    from_geff = load_geff_data(str(tmp_path / "tracks.geff"))
    from_ctc = load_ctc_data(str(result), str(result / "res_track.txt"))
    assert from_geff.graph.number_of_nodes() == from_ctc.graph.number_of_nodes() == len(cells(result))
    assert from_geff.graph.number_of_edges() == from_ctc.graph.number_of_edges()
