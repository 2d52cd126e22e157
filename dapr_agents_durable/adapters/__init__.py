"""One package per agent framework; each wraps only its framework's seams."""
