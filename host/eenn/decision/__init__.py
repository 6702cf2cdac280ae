"""When to leave: the exit mechanisms (bit-exact with the firmware), risks, risk control, the
calibration of thresholds, sensor streams and the accuracy/cost trade-off."""
