"""Simulated energy-IoT devices publishing realistic telemetry over MQTT."""

from wattline.simulator.fleet import (
    SIMULATE_ID_PREFIX,
    FleetPublisher,
    SimulatedDevice,
    build_fleet,
)

__all__ = ["SIMULATE_ID_PREFIX", "FleetPublisher", "SimulatedDevice", "build_fleet"]
