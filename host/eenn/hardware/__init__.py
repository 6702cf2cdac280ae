"""The hardware as data: boards (boards/*.toml) and the links between a device and an edge host."""
