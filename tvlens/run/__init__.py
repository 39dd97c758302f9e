"""`tvlens run` and `tvlens grid`: the protocol, its output folder (lock, atomic files,
resume), statistics, seeds and grids."""
