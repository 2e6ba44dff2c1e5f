"""Shared body of the agent's launchers (spec H.1): the agent runs `python -u /workdir/src/train.py` (or
inference.py), and each launcher hands over to `node <repo>/dist/src/<entry>.js`, found relative to this file, so
the same files work in the image (/workdir/src/) and in a built checkout (python3 -u src/train.py).

The launcher replaces itself with node (os.execvp). When it is PID 1 (the container's first process) and tini is
installed, it execs node under tini instead: node as PID 1 ignores SIGTERM and never reaps children. SLY_NODE
selects another node binary. If the build or node is missing it prints a crash line the agent can read, exit 1.
"""
import datetime
import json
import os
import sys

TINI = "/usr/bin/tini"


def crash(main_name, reason):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    line = {"message": "Unexpected exception in main.", "main_name": main_name,
            "event_type": "EventType.TASK_CRASHED", "exc_str": reason, "timestamp": now, "level": "fatal",
            "stack": [reason]}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    sys.exit(1)


def command(node, entry, args, pid, tini_exists):
    """The argv to exec: node on the entry point, under tini when we are PID 1 and tini is there."""
    argv = [node, entry] + list(args)
    if pid == 1 and tini_exists:
        return [TINI, "-g", "--"] + argv
    return argv


def launch(entry_name, main_name):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    entry = os.path.join(repo, "dist", "src", entry_name)
    if not os.path.isfile(entry):
        crash(main_name, "The plugin is not built: %s is missing (run `npm run build`)." % entry)
    node = os.environ.get("SLY_NODE", "node")
    argv = command(node, entry, sys.argv[1:], os.getpid(), os.path.exists(TINI))
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        crash(main_name, "Cannot start %s: %s" % (argv[0], e))
