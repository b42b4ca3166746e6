"""Simulated energy-IoT devices publishing realistic telemetry over MQTT."""

from wattline.simulator.fleet import FleetPublisher, SimulatedDevice, build_fleet

__all__ = ["FleetPublisher", "SimulatedDevice", "build_fleet"]
