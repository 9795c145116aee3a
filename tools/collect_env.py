#!/usr/bin/env python
"""Print the environment: Python, torch, device, detectron2 and where it came from."""
import sys

from celltrack.cli import ToolParser, tool
from celltrack.collect_env import collect_env


@tool()
def main(argv=None) -> int:
    ToolParser(description=__doc__).parse_args(argv)
    print(collect_env())
    return 0


if __name__ == "__main__":
    sys.exit(main())
