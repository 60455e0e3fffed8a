"""People: faces of the whole catalog grouped into persons by their identity descriptors."""
