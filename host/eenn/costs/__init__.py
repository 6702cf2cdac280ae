"""What a generated model costs on a CPU: predicting from per-CPU tables, and timing layers
under QEMU to fit those tables."""
