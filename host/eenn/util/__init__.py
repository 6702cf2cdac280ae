"""Small helpers every step uses: all-or-nothing writes, plots, capturing native output."""
