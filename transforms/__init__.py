"""One module per stage: pure functions first, then the Beam transform wrapping them."""
