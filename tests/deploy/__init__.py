"""Deployment: the runtime-only install, the container image, the Kubernetes manifests."""
