"""The embedded MQTT broker and configuration for external brokers."""
