"""Kept for `python -m competitions.cli`: the student CLI lives in podium_client (its own
distribution, client/), installed with the server too."""

import sys

from podium_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
