"""Output: PNG encoding, atomic writes and the names of the files written."""
