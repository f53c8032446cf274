"""Pure miner-economics maths: no I/O, units in every name, sources in every docstring.

References: ``reference/economics.md`` (shipped in the design notes) and Bitcoin Core consensus code.
"""
