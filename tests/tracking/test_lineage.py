"""The lineage table and its CTC checks."""
import numpy as np
import pytest

from celltrack.tracking.lineage import LineageTable, check_lineage, count_divisions, divisions


def test_lineage_table_grows_and_extends():
    table = LineageTable()
    first = table.new_tracks(0, np.zeros(1500, dtype=np.int64))  # beyond the initial capacity
    assert first.tolist() == list(range(1, 1501))
    table.extend(first[:10], 1)
    daughters = table.new_tracks(2, [1, 1])
    assert daughters.tolist() == [1501, 1502]
    rows = table.rows()
    assert rows.shape == (1502, 4)
    assert rows[0].tolist() == [1, 0, 1, 0] and rows[10].tolist() == [11, 0, 0, 0]
    assert rows[-1].tolist() == [1502, 2, 2, 1]
    assert table.parent_of([1502, 3]).tolist() == [1, 0]
    check_lineage(rows)
    np.testing.assert_array_equal(LineageTable(rows).rows(), rows)


def test_divisions_tell_two_children_from_a_gap_link():
    rows = np.array([[1, 0, 3, 0], [2, 4, 6, 1], [3, 4, 5, 1], [4, 0, 2, 0], [5, 4, 6, 4]])
    assert divisions(rows).tolist() == [1] and count_divisions(rows) == 1
    assert count_divisions(np.zeros((0, 4))) == 0


@pytest.mark.parametrize(
    "rows, message",
    [
        ([[0, 0, 1, 0]], ">= 1"),
        ([[1, 0, 1, 0], [1, 2, 3, 0]], "twice"),
        ([[1, 3, 1, 0]], "ends"),
        ([[1, 0, 1, 7]], "not another track"),
        ([[1, 0, 1, 1]], "not another track"),
        ([[1, 0, 2, 0], [2, 2, 3, 1]], "before the child begins"),
    ],
)
def test_check_lineage_names_the_problem(rows, message):
    with pytest.raises(ValueError, match=message):
        check_lineage(np.array(rows))
