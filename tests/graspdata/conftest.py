"""Workers fork from a server started once per session and inherit its environment, so the
crash-test marker variable is set here, before any worker exists."""

import os
import tempfile

from tests.graspdata.policies import CRASH_MARKER

os.environ.setdefault(CRASH_MARKER, os.path.join(tempfile.mkdtemp(prefix="graspdata-crash-"), "crashed"))
