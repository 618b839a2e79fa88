"""Experiments behind the lecture notebooks: one module per notebook topic, each function tested."""
