"""The linker benchmark runs (its timings are printed by ``python -m celltrack.tracking.benchmark``)."""
from celltrack.tracking.benchmark import benchmark_linker, main, synthetic_movie, timing_link_model


def test_synthetic_movie_shapes():
    movie = list(synthetic_movie(9, 3, embedding_dim=4))
    assert len(movie) == 3 and movie[0].num_cells == 9
    assert movie[0].embeddings["visual"].shape == (9, 4) and movie[0].labels.max() == 9


def test_benchmark_linker_runs(capsys):
    result = benchmark_linker(10, num_frames=3, method="global", max_gap=1)
    assert result["ms_per_frame"] > 0 and result["tracks"] >= 10
    main(["--cells", "10", "--frames", "2", "--methods", "paper", "--max-gap", "0"])
    assert "ms/frame" in capsys.readouterr().out


def test_timing_link_model_times_the_learned_rule():
    result = benchmark_linker(20, num_frames=3, method="learned", link_model=timing_link_model())
    assert result["ms_per_frame"] > 0 and result["tracks"] >= 20
