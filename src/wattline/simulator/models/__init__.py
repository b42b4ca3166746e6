"""Physics models behind the simulated devices.

Every model is deterministic given its `random.Random`, and every reading it returns is
self-consistent (P = V*I*PF computed from the values actually reported), so downstream
validation code can be tested against the simulator without tolerance hacks.
"""

from wattline.simulator.models.base import DeviceModel, EnergyCounter, MeanReverting
from wattline.simulator.models.grid import AcMeter
from wattline.simulator.models.home import HomeSensorNode
from wattline.simulator.models.plug import SmartPlug
from wattline.simulator.models.rail import DcRailMeter, TrainPhase
from wattline.simulator.models.solar import SolarInverter, clear_sky_irradiance_w_m2

__all__ = [
    "AcMeter",
    "DcRailMeter",
    "DeviceModel",
    "EnergyCounter",
    "HomeSensorNode",
    "MeanReverting",
    "SmartPlug",
    "SolarInverter",
    "TrainPhase",
    "clear_sky_irradiance_w_m2",
]
