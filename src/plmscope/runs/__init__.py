"""Orchestration of one CLI verb each: load inputs, call the stage functions, write outputs atomically."""
