"""The built-in PA simulator: an AFNOR XP Z12-013 Flow Service subset (contract section 5).

Public surface: :class:`SimConfig`, :func:`create_app`, :func:`run` (``efacture serve
pa-sim``) and :class:`SimServer` (tests). Importing this package does no I/O.
"""

from services.transmit.pa_sim.app import Simulator, create_app
from services.transmit.pa_sim.config import SimConfig, config_from_env
from services.transmit.pa_sim.server import SimServer, free_port, run

__all__ = ["SimConfig", "SimServer", "Simulator", "config_from_env", "create_app", "free_port",
           "run"]
