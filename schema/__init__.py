"""The config language: loading YAML with positions, the model, and located diagnostics."""
