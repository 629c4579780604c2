"""Settings for the test suite: the project's settings, run with keys a test run may make up.

tests/environment.py puts those keys into the environment; it must be imported before
config.settings reads them, which the import order below does (a plain `import` sorts before
`from ... import`).
"""

import tests.environment  # noqa: F401  (sets the keys; see above)
from config.settings import *  # noqa: F403
