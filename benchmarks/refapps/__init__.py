"""Reference apps the HTTP benchmark compares against, written the way their docs show."""
