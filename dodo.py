"""perfgate's stages as doit tasks: `doit list`, `doit baseline`, `doit gate`."""
from perfgate.tasks import *  # noqa: F401,F403
