#!/usr/bin/env python
"""Train (or evaluate) CellTrack.

    python tools/train_net.py --config-file configs/CellTrack-R18-FPN-cpu.yaml OUTPUT_DIR output/cpu
    python tools/train_net.py --config-file ... --resume          # continue from OUTPUT_DIR/last_checkpoint
    python tools/train_net.py --config-file ... --eval-only MODEL.WEIGHTS output/cpu/model_final.pth
    python tools/train_net.py --config-file ... --num-gpus 8      # one machine, 8 GPUs (or 8 CPU processes)
    python tools/train_net.py --config-file ... --num-machines 2 --machine-rank 0 --dist-url tcp://host:port

Datasets are named "<CTC dataset>/<sequence>" (e.g. "Fluo-N2DH-SIM+/01") and found under
CELLTRACK.DATA_ROOT (or $CELLTRACK_DATA).

Exit status: 0 done; 2 an input cannot be used (one line says which file and what to do; --debug shows
the traceback); 130 interrupted (--resume continues from the last checkpoint).
"""
import sys

import celltrack  # noqa: F401  (compat shims + registrations, before detectron2)
from celltrack.checkpoint import CellTrackCheckpointer
from celltrack.cli import ToolParser, load_config, tool
from celltrack.data.catalog import register_named_sequences
from celltrack.trainer import CellTrackTrainer
from detectron2.engine import default_argument_parser, default_setup, launch
from detectron2.evaluation import verify_results


def setup(args):
    cfg = load_config(args.config_file, args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    register_named_sequences(list(cfg.DATASETS.TRAIN) + list(cfg.DATASETS.TEST), cfg)
    return cfg


def train(args):
    cfg = setup(args)
    if args.eval_only:
        model = CellTrackTrainer.build_model(cfg)
        CellTrackCheckpointer(model, save_dir=cfg.OUTPUT_DIR).resume_or_load(cfg.MODEL.WEIGHTS, resume=args.resume)
        results = CellTrackTrainer.test(cfg, model)
        verify_results(cfg, results)
        return results
    trainer = CellTrackTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


@tool(resumable=True)
def main(argv=None) -> int:
    parser = ToolParser(description=__doc__, parents=[default_argument_parser()], add_help=False)
    args = parser.parse_args(argv)
    launch(train, args.num_gpus, args.num_machines, args.machine_rank, args.dist_url, args=(args,))
    return 0


if __name__ == "__main__":
    sys.exit(main())
