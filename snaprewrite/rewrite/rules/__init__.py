"""One module per kind of object the rewrite changes."""
