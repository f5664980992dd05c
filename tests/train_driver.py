"""Runs tools/train.py's main once per argument list, in this one process.

    python tests/train_driver.py PLAN.json   (or as torchrun's script)

``PLAN.json`` holds ``{"runs": [[train.py arguments], ...]}``. The resume
tests start it in a new process (or a torchrun launch) so that each run of
a plan shares one start-up of mmagic.
"""
import json
import sys

from conftest import load_tool

if __name__ == '__main__':
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    tool = load_tool('train')
    for argv in plan['runs']:
        sys.argv = ['train.py'] + argv
        tool.main()
