"""CellTrack's napari plugin (``pip install -e .[napari]``; manifest ``napari.yaml``).

* :mod:`.reader` opens a ``tools/track_video.py`` output folder, or any CTC result / ground-truth folder,
  as a labels layer (masks, value = track id) and a tracks layer (the lineage as its graph);
* :mod:`.widget` is the "Track cells" dock widget (Plugins > CellTrack > Track cells): CellTrack on an
  image layer in a background thread, with progress, cancel, and the result layers added at the end.

Only :mod:`.widget` imports napari; :mod:`.reader` returns napari's layer-data tuples from plain arrays.
"""
