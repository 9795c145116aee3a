#!/usr/bin/env python
"""Print the environment: Python, torch, device, detectron2 and where it came from."""
from celltrack.collect_env import collect_env

if __name__ == "__main__":
    print(collect_env())
