"""Hypothesis keeps its working files (a cache of the code's constants) in a temporary
directory, not in the work tree."""
import atexit
import shutil
import tempfile

from hypothesis.configuration import set_hypothesis_home_dir

_HOME = tempfile.mkdtemp(prefix="pwportal-hypothesis-")
set_hypothesis_home_dir(_HOME)
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
