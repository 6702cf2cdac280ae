"""Firmware images for a board, flashing them, and compiling generated C for the host."""
