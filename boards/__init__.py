"""Board files: data shipped with eenn as the package eenn.resources.boards (see eenn.resources)."""
