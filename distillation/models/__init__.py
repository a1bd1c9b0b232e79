"""The networks, their files and their comparison."""
