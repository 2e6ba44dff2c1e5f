"""Launcher of the inference task: the agent runs `python -u /workdir/src/inference.py` (spec H.1).
It execs node on dist/src/inference.js; see sly_launch.py."""
from sly_launch import launch

launch("inference.js", "TFJS_SEGMENTATION_INFERENCE")
