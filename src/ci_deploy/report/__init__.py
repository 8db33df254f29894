"""Renderers of core events and results for a terminal, GitHub, GitLab, Jenkins and JSON."""
