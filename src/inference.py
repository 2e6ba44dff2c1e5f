"""Launcher of the inference task: the agent runs `python -u /workdir/src/inference.py` (spec H.1).

It replaces itself with `node <repo>/dist/src/inference.js`, found relative to this file, so the same file works
in the image (/workdir/src/inference.py) and in a built checkout (python3 -u src/inference.py). Set SLY_NODE to use
another node binary. If the build or node is missing it prints a crash line the agent can read and exits 1.
"""
import datetime
import json
import os
import sys

ENTRY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dist", "src", "inference.js")


def crash(reason):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    line = {"message": "Unexpected exception in main.", "main_name": "TFJS_SEGMENTATION_INFERENCE",
            "event_type": "EventType.TASK_CRASHED", "exc_str": reason, "timestamp": now, "level": "fatal",
            "stack": [reason]}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    sys.exit(1)


if not os.path.isfile(ENTRY):
    crash("The plugin is not built: %s is missing (run `npm run build`)." % ENTRY)
node = os.environ.get("SLY_NODE", "node")
try:
    os.execvp(node, [node, ENTRY] + sys.argv[1:])
except OSError as e:
    crash("Cannot start %s: %s" % (node, e))
