"""Model providers behind one streaming contract."""
