"""`python -m eems_check` and the `eems-check` command.

The command line is imported inside `run`, so that Ctrl+C while its libraries load ends quietly (exit 130) like
Ctrl+C at any later point, instead of with a traceback.
"""

import sys


def run() -> int:
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("eems-check: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
