"""Launcher of the training task: the agent runs `python -u /workdir/src/train.py` (spec H.1).
It execs node on dist/src/train.js; see sly_launch.py."""
from sly_launch import launch

launch("train.js", "TFJS_SEGMENTATION_TRAIN")
