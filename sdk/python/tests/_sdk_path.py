"""Puts `sdk/python` on the import path, so `python3 -m unittest discover -s sdk/python/tests`
(which adds only this folder) finds `orch_sdk` from any working directory."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
