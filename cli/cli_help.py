"""One help style for every command: defaults shown after each option, examples kept as written."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``ArgumentDefaultsHelpFormatter`` that leaves epilogs' line breaks alone."""
