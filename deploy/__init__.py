"""Deployment files of the examples: the list of examples and the renderer that writes the files."""
