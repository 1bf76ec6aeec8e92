"""The runtime: loads a bundle read-only and exchanges tokens. Imports neither schema nor compiler."""
