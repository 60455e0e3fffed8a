"""Analysis: measurements of one decoded photo, one module per analyser."""
