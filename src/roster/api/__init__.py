"""HTTP: one Litestar app serving every dialect at its documented prefix."""
