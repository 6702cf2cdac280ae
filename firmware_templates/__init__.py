"""Firmware templates: shipped with eenn as the package eenn.resources.templates (see eenn.resources)."""
