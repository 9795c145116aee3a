"""CellTrack: segment and track cells in time-lapse microscopy with one Detectron2 network.

detectron2 and torch are not listed: torch builds differ per machine (CPU/CUDA) and detectron2 has no
PyPI release. `make test` / `make demo` (tools/setup_env.sh) install both; see README.md.
"""
from setuptools import find_packages, setup

setup(
    name="celltrack",
    version="0.1.0",
    description="CellTrack R-CNN: Mask R-CNN with a Siamese tracking head, as a Detectron2 extension",
    python_requires=">=3.10",
    packages=find_packages(include=["celltrack", "celltrack.*"]),
    # The shipped model (track_video's default): config, float16 weights, model card.
    package_data={"celltrack.model_zoo": ["*/config.yaml", "*/model_final.pth", "*/MODEL_CARD.md"],
                  "celltrack.napari": ["napari.yaml"]},
    install_requires=[
        # detectron2 v0.6's own dependencies (its setup.py), which the registry copy does not install
        "Pillow>=7.1",
        "matplotlib",
        "pycocotools>=2.0.2",
        "termcolor>=1.1",
        "yacs>=0.1.8",
        "tabulate",
        "cloudpickle",
        "fvcore>=0.1.5,<0.1.6",
        "iopath>=0.1.7,<0.1.10",
        "omegaconf>=2.1",
        "hydra-core>=1.1",
        "tensorboard",
        # CellTrack's own
        "numpy",
        "scipy",
        "opencv-python-headless",
        "tifffile",
        "imagecodecs",
        "py-ctcmetrics>=1.3.3",
        "tqdm>4.29.0",
        "pandas",
        "scikit-image",
        "geff>=1.3",  # tracks.geff and tools/convert.py (GEFF through its reference implementation)
    ],
    extras_require={
        "dev": ["pytest", "hypothesis", "laptrack"],
        # The napari plugin (celltrack/napari) with a Qt binding; pytest-qt and pytest-xvfb run its tests
        # (tests/napari) headless: pytest-qt needs a Qt binding, so it comes with this extra, not with "dev".
        "napari": ["napari[pyqt5]>=0.5", "pytest-qt", "pytest-xvfb"],
    },
    entry_points={"napari.manifest": ["celltrack = celltrack.napari:napari.yaml"]},
)
