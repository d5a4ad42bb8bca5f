"""Kafka plumbing without Faust: topic names, a typed gateway producer, the simulator."""
